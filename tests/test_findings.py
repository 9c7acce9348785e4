"""The findings boxes: key claims named in the ledgers, the scale read from the plan, the HTML."""

from __future__ import annotations

import pandas as pd
import pytest

from effconv.claims.findings import CSS_CLASS, FindingsBox
from effconv.claims.ledger import COLUMNS, load_ledger
from effconv.claims.live import ENV, keep_live, load_live
from effconv.claims.style import VERDICT_COLOURS
from effconv.errors import EffconvError
from effconv.experiments.spec import ExperimentSpec
from effconv.paths import results_dir
from effconv.studies import CHAPTERS
from effconv.studies import findings
from effconv.train.recipes import recipe_for


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_key_claims_are_in_the_committed_ledger(chapter):
    """Every key claim names a row of its chapter's ledger: renaming a claim means renaming it here."""
    ledger = load_ledger(chapters=(chapter,))
    names = [name for name, _ in findings.KEY_CLAIMS[chapter]]
    missing = [name for name in names if name not in set(ledger["claim"])]
    assert not missing, f"{chapter}: key claims missing from results/{chapter}/claims.csv: {missing}"
    assert 3 <= len(names) <= 6 and len(set(names)) == len(names)


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_key_claims_mix_counted_and_trained(chapter):
    rows = findings.key_claims(chapter)
    assert set(rows["kind"]) >= {"counted", "trained"}, f"{chapter}: key claims should mix counted and trained"


def test_a_missing_key_claim_is_named():
    ledger = load_ledger(chapters=("dac",))
    with pytest.raises(EffconvError, match="KEY_CLAIMS"):
        findings.key_claims("dac", ledger[ledger["claim"] != findings.KEY_CLAIMS["dac"][0][0]])
    with pytest.raises(EffconvError, match="unknown chapter"):
        findings.key_claims("mobilenet")


def _planned(name, seed, stored, *, epochs=6, width=0.25, source="jpeg-q50"):
    spec = ExperimentSpec(chapter="toy", name=name, model="cifar_quick", model_kwargs={"width": width},
                          recipe=recipe_for("cpu", epochs=epochs), profile="cpu", seed=seed)
    return spec, ({"provenance": {"data": {"source": source}}} if stored else None)


def test_scale_counts_planned_runs_and_their_stored_seeds():
    planned = [_planned("a", 0, True), _planned("a", 1, True), _planned("a", 2, True),
               _planned("b", 0, True, epochs=8, width=0.5), _planned("b", 1, False, epochs=8, width=0.5),
               _planned("b", 2, False, epochs=8, width=0.5),
               _planned("c", 0, False), _planned("c", 1, False), _planned("c", 2, False)]
    cpu = findings.scale(planned, "cpu")
    assert (cpu.planned, cpu.runs, cpu.arms, cpu.seeds, cpu.planned_seeds) == (9, 4, 3, (0, 3), (3, 3))
    assert cpu.epochs == (6, 8) and cpu.widths == {"cifar_quick": (0.25, 0.5)}
    assert cpu.data == ("JPEG CIFAR-10 re-encoded at quality 50",)
    text = cpu.text()
    assert "4 of 9 planned runs stored" in text and "3 arms with 0–3 of 3 planned seeds" in text
    assert "6–8 epochs" in text and "0.25–0.5" in text
    nothing = findings.scale([_planned("a", 0, False)], "cpu").text()
    assert "0 of 1 planned runs stored" in nothing and "not run" in nothing
    assert "plans no run" in findings.scale([], "cpu").text()
    assert findings.data_label("jpeg") == "JPEG CIFAR-10 (quality 75)"


def test_scale_leaves_out_runs_the_plan_does_not_hold():
    """A stored run outside the profile's plan (history, such as an earlier width) is not counted."""
    planned = findings.planned_results("cpu", ("shufflenet",))
    assert {(s.profile, s.chapter) for s, _ in planned} == {("cpu", "shufflenet")}
    history = {p.name for p in (results_dir() / "shufflenet" / "history").glob("*.json")}
    stored = history | {p.name for p in (results_dir() / "shufflenet").glob("*.json")}
    assert history, "the shufflenet history holds runs at Table 1 widths that the plan no longer names"
    assert not history & {s.filename for s, _ in planned}
    assert findings.scale(planned, "cpu").runs == sum(r is not None for _, r in planned) < len(stored)
    assert len({s.key for s, _ in planned}) == len(planned)


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_chapter_box_states_its_scale(chapter):
    box = findings.findings_box(chapter)
    html = box.html()
    assert html.startswith(f'<div class="{CSS_CLASS}">') and "\n\n" not in html
    assert len(box.rows) == len(findings.KEY_CLAIMS[chapter])
    ledger = load_ledger(chapters=(chapter,))
    for profile in findings.trained_profiles(ledger):
        assert f"profile {profile}" in html


def test_box_html_colours_verdicts_and_escapes():
    rows = pd.DataFrame([{c: "" for c in COLUMNS} | {"claim": "a < b", "kind": "trained", "paper": "0.5",
                                                     "ours": "0.7", "n": "3", "interval": "[0.1, 1.3]",
                                                     "verdict": "reproduced"}])
    html = FindingsBox(rows, ["A <beats> B (pp)"], ["scale line"]).html()
    assert "A &lt;beats&gt; B (pp)" in html and 'title="a &lt; b"' in html
    assert VERDICT_COLOURS["reproduced"][0] in html and "trained, 3 seeds" in html and "[0.1, 1.3]" in html
    with pytest.raises(EffconvError, match="one label per claim"):
        FindingsBox(rows, [], [])


def test_intro_box_covers_every_chapter_and_names_the_profile(tmp_path):
    box = findings.intro_findings()
    html = box.html()
    for title in findings.TITLES.values():
        assert title in html
    profiles = findings.trained_profiles(load_ledger(chapters=CHAPTERS))
    assert all(f"the {p} profile" in html or p in html for p in profiles)
    path = findings.write_intro_findings(tmp_path / "findings.md")
    assert path.read_text().startswith(f'<div class="{CSS_CLASS}">')


def test_live_rows_are_kept_only_inside_a_build(tmp_path, monkeypatch):
    table = pd.DataFrame([{c: "" for c in COLUMNS} | {"claim": "faster", "kind": "live", "verdict": "reproduced"},
                          {c: "" for c in COLUMNS} | {"claim": "counted", "kind": "counted", "verdict": "reproduced"}])
    monkeypatch.delenv(ENV, raising=False)
    assert keep_live("dac", table, "a CPU") is None and load_live(("dac",)) == {}
    monkeypatch.setenv(ENV, str(tmp_path / "live"))
    path = keep_live("dac", table, "a CPU")
    kept = load_live(("dac", "acnet"))
    assert path.exists() and list(kept) == ["dac"]
    assert list(kept["dac"]["claim"]) == ["faster"] and kept["dac"]["machine"].iloc[0] == "a CPU"
    with pytest.raises(EffconvError, match="ledger's columns"):
        keep_live("dac", table.drop(columns="verdict"), "a CPU")


def _holm_ledger(chapter: str, p: float) -> pd.DataFrame:
    """The committed ledger of ``chapter`` as ``ClaimsTable(chapter, holm=True)`` would write it, each decided
    trained row given the t test's ``p``."""
    from effconv.claims.ledger import ClaimsTable
    from effconv.claims.multiplicity import DECIDED

    table = ClaimsTable(chapter, holm=True)
    for row in load_ledger(chapters=(chapter,)).to_dict("records"):
        tested = row["kind"] == "trained" and row["verdict"] in DECIDED
        table.add(row["claim"], kind=row["kind"], source=row["source"], paper=row["paper"], ours=row["ours"],
                  verdict=row["verdict"], profile=row["profile"], evidence=row["evidence"], delta=row["delta"],
                  interval=row["interval"], n=int(row["n"]) if row["n"] else None, p=p if tested else None)
    return table.frame(live=False)


def test_a_key_claim_that_fails_holm_is_not_shown_as_reproduced():
    ledger = _holm_ledger("acnet", 0.03)  # p = 0.03 passes alone; times m >= 2 tests it does not
    tests = findings.holm_tests(ledger)
    assert tests is not None and tests >= 2
    box = findings.findings_box("acnet", ledger)
    rows = box.rows.to_dict("records")
    trained = [r for r in rows if r["kind"] == "trained" and r["verdict"] == "reproduced"]
    assert trained, "the acnet box has a raw reproduced trained key claim to adjust"
    shown = repr(box)
    html = box.html()
    assert html.count(">inconclusive (Holm)</td>") == len(trained) and "reproduced at 95% on its own" in html
    # counted key claims are no tests: they keep their verdict
    counted = sum(r["kind"] == "counted" and r["verdict"] == "reproduced" for r in rows)
    assert shown.count("reproduced") == counted
    assert f"Holm adjustment over the chapter's trained tests ({tests})" in " ".join(box.scale)
    # a p that survives any adjustment leaves every verdict as it was
    strong = findings.findings_box("acnet", _holm_ledger("acnet", 1e-9))
    assert "(Holm)</td>" not in strong.html()
    assert repr(strong).endswith(f"({', '.join(strong.rows['verdict'])})")


def test_ledgers_without_holm_columns_keep_their_verdicts_and_say_so():
    from effconv.claims.ledger import HOLM_COLUMNS

    plain = load_ledger(chapters=("acnet",)).drop(columns=HOLM_COLUMNS, errors="ignore")  # as before chapters opted in
    assert findings.holm_tests(plain) is None
    box = findings.findings_box("acnet", plain)
    assert "(Holm)" not in box.html()  # neither a cell nor the note
    assert list(box.rows["verdict"]) == [v for v in repr(box).split("(", 1)[1].rstrip(")").split(", ")]
    assert any("not yet adjusted" in line for line in box.scale)
    # the intro mixes chapters that adjust with chapters that do not yet
    mixed = pd.concat([_holm_ledger("acnet", 0.03).assign(chapter="acnet"),
                       load_ledger(chapters=("dac",)).drop(columns=HOLM_COLUMNS, errors="ignore")], ignore_index=True)
    note = findings.multiplicity_note(mixed)
    assert f"(ACNet: {findings.holm_tests(_holm_ledger('acnet', 0.03))})" in note and "of DAC" in note


def test_box_shows_the_adjusted_verdict_and_refuses_a_bad_one():
    from effconv.claims.findings import shown_verdict

    base = {c: "" for c in COLUMNS} | {"claim": "a > b", "kind": "trained", "n": "3", "verdict": "reproduced"}
    assert shown_verdict(base) == ("reproduced", "")
    assert shown_verdict(base | {"verdict_holm": float("nan")}) == ("reproduced", "")  # a column other chapters have
    assert shown_verdict(base | {"verdict_holm": "reproduced", "p_holm": "0.01"}) == ("reproduced", "")
    verdict, note = shown_verdict(base | {"verdict_holm": "inconclusive", "p_holm": "0.12"})
    assert verdict == "inconclusive" and "reproduced at 95%" in note and "0.12" in note
    html = FindingsBox(pd.DataFrame([base | {"verdict_holm": "inconclusive", "p_holm": "0.12"}]), ["A"]).html()
    assert VERDICT_COLOURS["inconclusive"][0] in html and VERDICT_COLOURS["reproduced"][0] not in html
    with pytest.raises(EffconvError, match="rebuild its ledger"):
        shown_verdict(base | {"verdict_holm": "maybe"})


def test_a_chapter_without_trained_tests_says_there_is_nothing_to_adjust():
    ledger = _holm_ledger("acnet", 0.03)
    untested = ledger.assign(p="", p_holm="", verdict_holm="")
    assert findings.holm_tests(untested) == 0
    note = findings.multiplicity_note(untested)
    assert "no trained verdict" in note.lower() and "(0)" not in note
