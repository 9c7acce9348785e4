"""Faults around training and storage: divergence, resumed time, cut-off checkpoints, corrupt caches,
stored results with a bad shape, locks held by another process, orphan temporaries, file modes."""

import json
import logging
import os
import stat
import subprocess
import sys
import threading

import numpy as np
import pytest
import torch

from effconv.data import cifar
from effconv.errors import EffconvError
from effconv.experiments.spec import ExperimentSpec
from effconv.experiments.store import HolderLock, ResultStore, read_result, schema_problem
from effconv.io import atomic_write_json, remove_orphans
from effconv.models import create_model
from effconv.train.recipes import Recipe, recipe_for
from effconv.train.trainer import fit

TINY = dict(batch_size=64, eval_batch_size=128, warmup_epochs=0.0, lr=0.05)


def test_resumed_run_records_cumulative_training_time(tiny, tmp_path, single_thread):
    torch.manual_seed(0)
    first = fit(create_model("resnet20", width=0.25), Recipe(epochs=1, **TINY), tiny, seed=0, workdir=tmp_path)
    resumed = fit(create_model("resnet20", width=0.25), Recipe(epochs=2, **TINY), tiny, seed=0, workdir=tmp_path)
    assert resumed.resumed_from_epoch == 1
    # the second session trained one epoch; the run's time includes the first session's as well
    earlier = resumed.wall_seconds - resumed.session_seconds
    # the first session's training time, as saved with its last checkpoint: at least its epoch's own time
    assert first.history[0]["seconds"] <= earlier <= first.wall_seconds
    assert first.wall_seconds == pytest.approx(first.session_seconds)


def test_cut_off_checkpoint_is_dropped_and_reported(tiny, tmp_path, caplog, single_thread):
    (tmp_path / "last.ckpt").write_bytes(b"PK\x03\x04 cut off")
    with caplog.at_level(logging.WARNING, logger="effconv"):
        outcome = fit(create_model("resnet20", width=0.25), Recipe(epochs=1, **TINY), tiny, seed=0, workdir=tmp_path)
    assert outcome.resumed_from_epoch == 0 and len(outcome.history) == 1
    assert "cut off mid-write; dropped it" in caplog.text


def test_non_finite_loss_stops_training_with_a_clear_message(tiny, tmp_path, single_thread):
    recipe = Recipe(epochs=2, **{**TINY, "lr": 1e30})
    with pytest.raises(EffconvError, match="training diverged: the train loss of epoch 1 is (nan|inf)"):
        fit(create_model("resnet20", width=0.25), recipe, tiny, seed=0, workdir=tmp_path)
    assert not (tmp_path / "last.ckpt").exists()


# --- the decoded-data cache ---------------------------------------------------------------------------------

def _small_arrays(source="jpeg"):
    rng = np.random.default_rng(0)
    train_y, test_y = np.repeat(np.arange(10), 5000), np.repeat(np.arange(10), 1000)
    return cifar.CifarArrays(np.zeros((50_000, 32, 32, 3), np.uint8), train_y, np.zeros((10_000, 32, 32, 3), np.uint8),
                             test_y, source, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)) if rng else None


def test_corrupt_decoded_cache_is_reported_deleted_and_rebuilt(tmp_path, caplog):
    path = tmp_path / "cifar10-jpeg-0123.npz"
    arrays = _small_arrays()
    cifar._save_cache(path, arrays)
    assert cifar._load_cached(path, "jpeg").train_x.shape == (50_000, 32, 32, 3)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) // 3])  # a copy cut off mid-write: BadZipFile before this change
    with caplog.at_level(logging.WARNING, logger="effconv"):
        assert cifar._load_cached(path, "jpeg") is None
    assert not path.exists() and "rebuilding it" in caplog.text
    cifar._save_cache(path, arrays)  # what the loader does next
    assert cifar._load_cached(path, "jpeg") is not None
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no temporaries left behind


def test_two_processes_decoding_at_once_use_separate_temporaries(tmp_path, monkeypatch):
    names = []
    real = cifar.tempfile.mkstemp

    def spy(*args, **kwargs):
        fd, name = real(*args, **kwargs)
        names.append(name)
        return fd, name

    monkeypatch.setattr(cifar.tempfile, "mkstemp", spy)
    path, arrays = tmp_path / "cifar10-jpeg-0123.npz", _small_arrays()
    threads = [threading.Thread(target=cifar._save_cache, args=(path, arrays)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(set(names)) == 2 and cifar._load_cached(path, "jpeg") is not None


def test_truncated_archive_says_re_copy(tmp_path, monkeypatch):
    archive = cifar.jpeg_archive_path()
    if not archive.is_file():
        pytest.skip("no offline archive here")
    cut = tmp_path / "cifar10-jpeg.tar.gz"
    with open(archive, "rb") as src:
        cut.write_bytes(src.read(200_000))
    monkeypatch.setenv("EFFCONV_DATA", str(cut))
    monkeypatch.setenv("EFFCONV_CACHE", str(tmp_path / "cache"))
    with pytest.raises(EffconvError, match="truncated or corrupt: re-copy it"):
        cifar.load_cifar10("jpeg")


def test_archive_path_that_is_a_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("EFFCONV_DATA", str(tmp_path))
    with pytest.raises(EffconvError, match="is a folder; point EFFCONV_DATA to the file"):
        cifar.load_cifar10("jpeg")


# --- stored results ----------------------------------------------------------------------------------------

def _spec(**changes):
    fields = dict(chapter="engine", name="resnet20", model="resnet20", recipe=recipe_for("smoke", epochs=2),
                  profile="smoke", model_kwargs={"width": 0.25})
    return ExperimentSpec(**{**fields, **changes})


def _result(spec):
    return {"metrics": {"final": {"test_acc": 0.5}, "best": {"test_acc": 0.5, "epoch": 2}},
            "curve": [{"epoch": 1}, {"epoch": 2}], "analyses": {},
            "provenance": {"wall_seconds": 3.0, "device": "test cpu", "data": {"source": "jpeg"}}}


@pytest.mark.parametrize("damage, problem", [
    (lambda r: r.update(schema=7), "schema version 7, expected 1"),
    (lambda r: r.pop("curve"), "'curve' is missing or not a list"),
    (lambda r: r.update(provenance=[]), "'provenance' is missing or not a dict"),
    (lambda r: r["metrics"]["final"].pop("test_acc"), "metrics.final.test_acc is None"),
    (lambda r: r["metrics"]["final"].update(test_acc=3.0), "not an accuracy in [0, 1]"),
    (lambda r: r["metrics"].update(best=None), "metrics.best is missing"),
    (lambda r: r["provenance"].update(wall_seconds="long"), "provenance.wall_seconds"),
    (lambda r: r.update(curve=[{"epoch": 1}]), "the curve has 1 epochs but the recipe trains 2"),
    (lambda r: r.update(curve=[1, 2]), "per-epoch rows"),
    (lambda r: r.update(analyses=[]), "'analyses' is not a dict"),
])
def test_schema_violations_are_named_and_rerun(tmp_path, caplog, damage, problem):
    store, spec = ResultStore(tmp_path), _spec()
    path = store.save(spec, _result(spec))
    assert schema_problem(json.loads(path.read_text())) is None
    payload = json.loads(path.read_text())
    damage(payload)
    path.write_text(json.dumps(payload))
    with pytest.raises(EffconvError, match="does not match the result schema") as err:
        read_result(path)
    assert problem in str(err.value) and "\n" not in str(err.value)
    with caplog.at_level(logging.WARNING, logger="effconv"):
        assert store.load(spec) is None and store.load(spec) is None
    assert caplog.text.count("does not match the result schema") == 1  # reported once, re-run


def test_committed_results_match_the_schema():
    from effconv.experiments.store import stored_files
    from effconv.paths import results_dir

    paths = stored_files(results_dir())  # the kept history too
    assert paths and any(p.parent.name == "history" for p in paths)
    for path in paths:
        read_result(path)


def test_nan_is_never_written(tmp_path):
    with pytest.raises(EffconvError, match="NaN or infinite"):
        atomic_write_json(tmp_path / "r.json", {"test_acc": float("nan")})
    assert list(tmp_path.iterdir()) == []


def test_results_are_0644_and_orphans_of_dead_writers_are_removed(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    orphan = tmp_path / f".r.json.{int(dead.stdout)}.abcd.tmp"
    mine = tmp_path / f".r.json.{os.getpid()}.efgh.tmp"  # a write in progress in a live process is kept
    orphan.write_text("half")
    mine.write_text("half")
    path = atomic_write_json(tmp_path / "r.json", {"a": 1})
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert not orphan.exists() and mine.exists()
    assert remove_orphans(path) == []


def test_unwritable_results_folder_is_refused_before_training(tmp_path, monkeypatch):
    from effconv.experiments import runner

    if os.geteuid() == 0:
        blocked = tmp_path / "results"
        blocked.write_text("a file where the results folder should be")
    else:
        blocked = tmp_path / "results"
        blocked.mkdir(mode=0o555)
    monkeypatch.setenv("EFFCONV_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(runner, "_train", lambda *a, **k: pytest.fail("trained although the result cannot be written"))
    with pytest.raises(EffconvError, match="cannot write"):
        runner.run_experiment(_spec(), store=ResultStore(blocked))


def test_waiting_on_a_lock_says_who_holds_it(tmp_path):
    messages = []
    holder = HolderLock(tmp_path / "x.lock")
    with holder:
        assert f"pid {os.getpid()}" in holder.holder.read_text()
        waiter = HolderLock(tmp_path / "x.lock", log=messages.append)
        thread = threading.Thread(target=lambda: waiter.__enter__() and waiter.__exit__())
        thread.start()
        thread.join(0.5)
        assert thread.is_alive()  # still waiting
    thread.join(10)
    assert not thread.is_alive()
    assert len(messages) == 1 and f"held by pid {os.getpid()}" in messages[0]
    assert not holder.holder.exists()


def test_cache_folder_that_cannot_be_created(tmp_path, monkeypatch):
    from effconv.paths import cache_dir

    (tmp_path / "file").write_text("not a folder")
    monkeypatch.setenv("EFFCONV_CACHE", str(tmp_path / "file" / "cache"))
    with pytest.raises(EffconvError, match="cannot create the cache folder .*set EFFCONV_CACHE"):
        cache_dir()


def test_writability_probe_creates_nothing(tmp_path):
    from effconv.io import check_writable

    check_writable(tmp_path / "a" / "b")
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "f").write_text("a file")
    with pytest.raises(EffconvError, match="cannot write .*make .* writable or free disk space"):
        check_writable(tmp_path / "f" / "sub")


def test_result_that_cannot_be_stored_is_kept_in_the_cache(tmp_path, monkeypatch):
    from effconv.experiments import runner

    monkeypatch.setenv("EFFCONV_CACHE", str(tmp_path / "cache"))
    spec = _spec()
    monkeypatch.setattr(runner, "_train", lambda *a, **k: _result(spec))
    store = ResultStore(tmp_path / "results")

    def disk_full(*args):
        raise EffconvError(f"cannot write {store.path(spec)} (No space left on device); free disk space.")

    monkeypatch.setattr(store, "save", disk_full)
    with pytest.raises(EffconvError, match=r"No space left on device\); free disk space; the trained result was kept in") as err:
        runner.run_experiment(spec, store=store)
    kept = tmp_path / "cache" / "unsaved" / "engine" / spec.filename
    assert str(kept) in str(err.value) and read_result(kept)["key"] == spec.key
