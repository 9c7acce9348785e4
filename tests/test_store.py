"""Specs, the content-addressed store, the runner's hit/miss/lock logic, and profile choice."""

import json
import threading

import pytest
import torch

from effconv.errors import EffconvError
from effconv.experiments import runner
from effconv.experiments.spec import ExperimentSpec
from effconv.experiments.store import ResultStore, read_result
from effconv.train.recipes import recipe_for


def make_spec(**changes):
    fields = dict(chapter="engine", name="resnet20", model="resnet20", recipe=recipe_for("smoke"), profile="smoke",
                  seed=0, data="jpeg", model_kwargs={"width": 0.25})
    fields.update(changes)
    return ExperimentSpec(**fields)


def test_key_is_stable_and_covers_every_field():
    spec = make_spec()
    assert spec.key == make_spec().key and len(spec.key) == 10
    assert spec.filename == f"resnet20-{spec.key}.json"
    variants = [make_spec(seed=1), make_spec(model_kwargs={"width": 0.5}), make_spec(recipe=recipe_for("smoke", lr=0.2)),
                make_spec(profile="cpu", recipe=recipe_for("smoke")), make_spec(data="raw"), make_spec(data="jpeg-q50"),
                make_spec(analyses={"x": {"k": 1}}), make_spec(epoch_analyses=("y",)), make_spec(code_version=99),
                make_spec(name="other"), make_spec(chapter="acnet"), make_spec(model="resnet32")]
    keys = {v.key for v in variants}
    assert spec.key not in keys and len(keys) == len(variants)
    assert ExperimentSpec.from_dict(spec.to_dict()).key == spec.key
    # the key does not depend on dict ordering or int/float spelling of the same value
    assert make_spec(model_kwargs={"width": 0.25, "conv": "acb"}).key == make_spec(model_kwargs={"conv": "acb", "width": 0.25}).key


def test_spec_validation():
    with pytest.raises(EffconvError, match="lower-case"):
        make_spec(name="Bad Name")
    with pytest.raises(EffconvError, match="profile"):
        make_spec(profile="huge")
    with pytest.raises(EffconvError, match="data source"):
        make_spec(data="png")


def fake_result(spec):
    return {"metrics": {"final": {"test_acc": 0.5}, "best": {"test_acc": 0.5, "epoch": 1}},
            "curve": [{"epoch": e + 1} for e in range(spec.recipe.epochs)],
            "analyses": {}, "provenance": {"wall_seconds": 0.0, "data": {"source": "jpeg"}, "device": "test"}}


def test_save_load_roundtrip_and_atomic_files(tmp_path):
    store, spec = ResultStore(tmp_path), make_spec()
    assert store.load(spec) is None
    path = store.save(spec, fake_result(spec))
    assert path == tmp_path / "engine" / spec.filename
    loaded = store.load(spec)
    assert loaded["key"] == spec.key and loaded["metrics"]["final"]["test_acc"] == 0.5
    assert [p.name for p in path.parent.iterdir()] == [spec.filename]  # no temporary files left behind


def test_corrupt_or_mismatched_files_are_reported_and_not_used(tmp_path, caplog):
    store, spec = ResultStore(tmp_path), make_spec()
    path = store.save(spec, fake_result(spec))
    path.write_text("{ not json")
    assert store.load(spec) is None
    assert "not valid JSON" in caplog.text
    other = make_spec(seed=7)
    payload = {"schema": 1, "key": spec.key, "spec": other.to_dict(), **fake_result(other)}
    path.write_text(json.dumps(payload))
    assert store.load(spec) is None and "different experiment" in caplog.text
    path.write_text("[1, 2")
    with pytest.raises(EffconvError, match="not valid JSON"):
        read_result(path)
    with pytest.raises(EffconvError, match="does not exist"):
        read_result(tmp_path / "missing.json")


def test_runner_trains_once_then_hits(tmp_path, monkeypatch):
    calls = []

    def train(spec, *args, **kwargs):
        calls.append(spec.key)
        return fake_result(spec)

    monkeypatch.setattr(runner, "_train", train)
    monkeypatch.setenv("EFFCONV_CACHE", str(tmp_path / "cache"))
    store, spec = ResultStore(tmp_path / "results"), make_spec()
    first = runner.run_experiment(spec, store=store)
    second = runner.run_experiment(spec, store=store)
    assert calls == [spec.key] and first == second
    runner.run_experiment(spec, store=store, retrain=True)
    assert len(calls) == 2
    store.path(spec).write_text("garbage")  # a corrupt result is re-run, never used
    assert runner.run_experiment(spec, store=store)["key"] == spec.key and len(calls) == 3


def test_concurrent_runs_of_one_spec_train_once(tmp_path, monkeypatch):
    calls, gate = [], threading.Event()

    def slow_train(spec, *args, **kwargs):
        calls.append(1)
        gate.wait(2)
        return fake_result(spec)

    monkeypatch.setattr(runner, "_train", slow_train)
    monkeypatch.setenv("EFFCONV_CACHE", str(tmp_path / "cache"))
    store, spec = ResultStore(tmp_path / "results"), make_spec()
    threads = [threading.Thread(target=runner.run_experiment, args=(spec,), kwargs={"store": store}) for _ in range(3)]
    for t in threads:
        t.start()
    gate.set()
    for t in threads:
        t.join(10)
    assert len(calls) == 1 and store.load(spec) is not None


def test_choose_profile(tmp_path, monkeypatch):
    monkeypatch.setenv("EFFCONV_RESULTS", str(tmp_path))
    store = ResultStore(tmp_path)
    cpu = [make_spec(profile="cpu", seed=s) for s in range(2)]
    full = [make_spec(profile="full", seed=s) for s in range(3)]
    both = {"cpu": cpu, "full": full}
    # nothing stored: the profile this machine would train (no GPU in the tests: cpu), shown as not run
    assert runner.choose_profile(both) == ("full" if torch.cuda.is_available() else "cpu")
    store.save(cpu[0], fake_result(cpu[0]))
    assert runner.choose_profile(both) == "cpu"
    store.save(full[0], fake_result(full[0]))
    assert runner.choose_profile(both) == "full"  # neither complete: the highest profile with any result
    store.save(cpu[1], fake_result(cpu[1]))
    assert runner.choose_profile(both) == "cpu"  # cpu complete beats an incomplete full
    for spec in full[1:]:
        store.save(spec, fake_result(spec))
    assert runner.choose_profile(both) == "full"
    assert runner.choose_profile(both, "cpu") == "cpu"
    with pytest.raises(EffconvError):
        runner.choose_profile(both, "smoke")


def test_another_hosts_temporaries_are_left_alone_on_a_shared_folder(tmp_path):
    """Two nodes write into one results folder: a pid from another host means nothing here."""
    from effconv.io import _host, atomic_write_json, remove_orphans

    target = tmp_path / "r.json"
    theirs = tmp_path / f".r.json.999999@other-node.abc.tmp"
    mine_dead = tmp_path / f".r.json.999999@{_host()}.abc.tmp"
    theirs.write_text("half")
    mine_dead.write_text("half")
    atomic_write_json(target, {"a": 1})
    assert theirs.exists() and not mine_dead.exists()
    assert remove_orphans(target) == []


def test_history_is_kept_but_never_looked_up(tmp_path):
    from effconv.experiments.store import keep_as_history, stored_files

    store, spec, other = ResultStore(tmp_path), make_spec(), make_spec(seed=1)
    path = store.save(spec, fake_result(spec))
    store.save(other, fake_result(other))
    kept = keep_as_history(path)
    assert kept == tmp_path / "engine" / "history" / spec.filename and not path.exists()
    assert store.load(spec) is None and store.load(other) is not None
    assert [p.name for p, _ in store.results("engine")] == [other.filename]
    assert [p.name for p, _ in store.results("engine", history=True)] == [spec.filename]
    assert stored_files(tmp_path) == [store.path(other), kept]
    assert stored_files(tmp_path, history=False) == [store.path(other)]
    # a second copy never replaces the kept one
    again = store.save(spec, fake_result(spec))
    with pytest.raises(EffconvError, match="exists already"):
        keep_as_history(again)
    with pytest.raises(EffconvError, match="in a history folder already"):
        keep_as_history(kept)
