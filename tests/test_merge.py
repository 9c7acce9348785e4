"""effconv results merge: new results copied, identical ones kept, conflicts and unsound results refused."""

from __future__ import annotations

import json
import tarfile

import pytest

from effconv.cli import main
from effconv.experiments.merge import merge
from effconv.experiments.migrate import migrate
from effconv.experiments.spec import ExperimentSpec, digest
from effconv.experiments.store import ResultStore
from effconv.train.recipes import recipe_for


def _spec(seed: int) -> ExperimentSpec:
    return ExperimentSpec(chapter="acnet", name="merge-test", model="cifar_quick", recipe=recipe_for("cpu", epochs=1),
                          profile="cpu", seed=seed)


def _result(acc: float, dirty: bool = False, commit: str | None = "143842c" + "0" * 33) -> dict:
    return {"metrics": {"final": {"test_acc": acc}, "best": {"test_acc": acc, "epoch": 1}},
            "curve": [{"epoch": 1, "test_acc": acc}], "analyses": {},
            "provenance": {"wall_seconds": 5.0, "device": "gpu", "git": {"commit": commit, "dirty_src": dirty}}}


@pytest.fixture
def stores(tmp_path):
    incoming, ours = ResultStore(tmp_path / "job" / "results"), ResultStore(tmp_path / "repo" / "results")
    return incoming, ours


def test_new_identical_and_conflicting(stores, tmp_path):
    incoming, ours = stores
    new, same, other = _spec(0), _spec(1), _spec(2)
    for spec in (new, same, other):
        incoming.save(spec, _result(0.8))
    ours.save(same, {**_result(0.8), "provenance": {**_result(0.8)["provenance"], "wall_seconds": 9.0}})
    ours.save(other, _result(0.7))
    before = ours.path(other).read_text()
    report = merge(tmp_path / "job", ours.root)
    status = {name.split("/")[1]: s for name, s, _ in report.rows}
    assert status == {new.filename: "new", same.filename: "identical", other.filename: "conflicting"}
    assert ours.load(new)["metrics"]["final"]["test_acc"] == 0.8
    assert ours.path(other).read_text() == before  # a conflict is never overwritten
    assert report.summary() == "1 new, 1 identical, 1 conflicting, 0 refused"


def test_tampered_and_misnamed_results_are_refused(stores, tmp_path):
    incoming, ours = stores
    tampered, misnamed, dirty, unknown = _spec(3), _spec(4), _spec(5), _spec(6)
    path = incoming.save(tampered, _result(0.8))
    payload = json.loads(path.read_text())
    payload["spec"]["seed"] = 99  # edited after the run: the spec no longer hashes to its key
    path.write_text(json.dumps(payload))
    wrong = incoming.save(misnamed, _result(0.8))
    wrong.rename(wrong.with_name("merge-test-0123456789.json"))
    incoming.save(dirty, _result(0.8, dirty=True))
    incoming.save(unknown, _result(0.8, commit=None))
    report = merge(tmp_path / "job", ours.root)
    reasons = {name.split("/")[1]: (s, why) for name, s, why in report.rows}
    assert reasons[tampered.filename][0] == "refused" and "hashes to" in reasons[tampered.filename][1]
    assert "does not match its content" in reasons["merge-test-0123456789.json"][1]
    assert "uncommitted source" in reasons[dirty.filename][1]
    assert "names no commit" in reasons[unknown.filename][1]
    assert report.count("refused") == 4 and not ours.root.exists()


def test_merging_an_archive_through_the_cli(stores, tmp_path, monkeypatch, capsys):
    incoming, ours = stores
    spec = _spec(7)
    incoming.save(spec, _result(0.75))
    archive = tmp_path / "results.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "job" / "results", arcname="results")
    monkeypatch.setenv("EFFCONV_RESULTS", str(ours.root))
    assert main(["results", "merge", str(archive), "--dry-run"]) == 0
    assert not ours.root.exists()
    assert main(["results", "merge", str(archive)]) == 0
    out = capsys.readouterr().out
    assert f"new         acnet/{spec.filename}" in out and "1 new, 0 identical" in out
    # no plan runs this test's spec: it is kept in the chapter's history, never found as evidence
    assert "no current plan uses it" in out and ours.load(spec) is None
    assert (ours.root / "acnet" / "history" / spec.filename).exists()
    # merging the same archive again: identical, nothing to do
    assert main(["results", "merge", str(archive)]) == 0
    assert "0 new, 1 identical" in capsys.readouterr().out


def test_a_result_under_the_older_hash_is_refused_with_the_migration_to_run(stores, tmp_path):
    incoming, ours = stores
    spec = _spec(7)
    path = incoming.save(spec, {**_result(0.8), "provenance": {**_result(0.8)["provenance"], "precision": "32-true"}})
    payload = json.loads(path.read_text())
    del payload["spec"]["recipe"]["precision"]  # as a checkout from before the precision joined the key wrote it
    payload["key"] = digest(payload["spec"])
    path.unlink()
    path.with_name(f"{spec.name}-{payload['key']}.json").write_text(json.dumps(payload))
    report = merge(tmp_path / "job", ours.root)
    assert report.count("refused") == 1 and "results migrate" in report.rows[0][2]
    migrate(incoming.root)
    assert merge(tmp_path / "job", ours.root).summary() == "1 new, 0 identical, 0 conflicting, 0 refused"
    assert ours.load(spec)["metrics"]["final"]["test_acc"] == 0.8


def test_history_is_merged_into_history(stores, tmp_path):
    incoming, ours = stores
    live, unplanned, kept = _spec(8), _spec(9), _spec(10)
    for spec in (live, unplanned, kept):
        incoming.save(spec, _result(0.8))
    moved = incoming.root / "acnet" / "history" / kept.filename
    moved.parent.mkdir()
    incoming.path(kept).rename(moved)  # the job kept it as history already
    report = merge(tmp_path / "job", ours.root, planned=lambda spec: spec.seed != 9)
    assert report.summary() == "3 new, 0 identical, 0 conflicting, 0 refused"
    assert ours.load(live) is not None and ours.load(unplanned) is None and ours.load(kept) is None
    assert sorted(p.name for p in (ours.root / "acnet" / "history").iterdir()) == sorted([unplanned.filename,
                                                                                        kept.filename])
    again = merge(tmp_path / "job", ours.root, planned=lambda spec: spec.seed != 9)
    assert again.summary() == "0 new, 3 identical, 0 conflicting, 0 refused"
