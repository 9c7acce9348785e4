"""The findings boxes: key claims named in the ledgers, the scale read from stored results, the HTML."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from effconv.claims.findings import CSS_CLASS, FindingsBox
from effconv.claims.ledger import COLUMNS, load_ledger
from effconv.claims.live import ENV, keep_live, load_live
from effconv.claims.style import VERDICT_COLOURS
from effconv.errors import EffconvError
from effconv.studies import CHAPTERS
from effconv.studies import findings


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


def _result(name, seed, *, profile="cpu", epochs=6, width=0.25, model="m", source="jpeg"):
    return {"spec": {"name": name, "seed": seed, "profile": profile, "model": model,
                     "model_kwargs": {"width": width}, "recipe": {"epochs": epochs}, "data": source},
            "provenance": {"data": {"source": source}}, "metrics": {"final": {}}}


def test_scale_is_read_from_the_results():
    results = [_result("a", 0), _result("a", 1), _result("a", 2), _result("b", 0, epochs=8, width=0.5),
               _result("c", 0, profile="full", epochs=60, width=1.0)]
    cpu = findings.scale(results, "cpu")
    assert (cpu.runs, cpu.arms, cpu.seeds, cpu.epochs) == (4, 2, (1, 3), (6, 8))
    assert cpu.widths == {"m": (0.25, 0.5)} and cpu.data == ("JPEG CIFAR-10 (quality 75)",)
    text = cpu.text()
    assert "profile cpu" in text and "1–3 seeds per arm" in text and "6–8 epochs" in text and "0.25–0.5" in text
    assert "no run stored" in findings.scale(results, "smoke").text()
    assert findings.data_label("jpeg-q25") == "JPEG CIFAR-10 re-encoded at quality 25"


def test_scale_of_a_stored_chapter(tmp_path):
    folder = tmp_path / "toy"
    folder.mkdir()
    (folder / "bad.json").write_text("{not json")  # a corrupt file is skipped here (the store reports it)
    assert findings.stored_results("toy", root=tmp_path) == []


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


def test_results_on_disk_are_json(tmp_path):
    """stored_results reads real result files through the store's reader."""
    folder = tmp_path / "toy"
    folder.mkdir()
    (folder / "x.json").write_text(json.dumps({"spec": {}, "metrics": {}}))
    assert findings.stored_results("toy", root=tmp_path) == []  # fails the schema: skipped
