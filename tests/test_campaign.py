"""The campaign: concurrent workers through the store, the budget rule, the archive, the value order."""

from __future__ import annotations

import tarfile

import pytest

from effconv.errors import EffconvError
from effconv.experiments.campaign import TIERS, run_campaign
from effconv.plan import campaign_specs
from effconv.experiments.spec import ExperimentSpec
from effconv.experiments.store import ResultStore
from effconv.paths import results_dir
from effconv.train.recipes import recipe_for


def _tiny(name: str, seed: int = 0) -> ExperimentSpec:
    recipe = recipe_for("smoke", train_subset=128, test_subset=64, batch_size=32, eval_batch_size=64)
    return ExperimentSpec(chapter="engine", name=name, model="cifar_quick", model_kwargs={"width": 0.25},
                          recipe=recipe, profile="smoke", seed=seed)


def _snapshot(root):
    return sorted((str(p.relative_to(root)), p.stat().st_mtime_ns) for p in root.rglob("*")) if root.exists() else []


def test_two_workers_train_concurrently_into_the_cache_store(tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    before = _snapshot(results_dir())
    specs = [_tiny("campaign-test", seed) for seed in (101, 102)]
    for spec in specs:  # a previous session's results would make the campaign train nothing
        ResultStore.for_profile("smoke").path(spec).unlink(missing_ok=True)
    archive = tmp_path / "out" / "results.tar.gz"
    record = run_campaign(specs, 5, workers=2, threads=1, archive=archive, log=lambda _: None)
    assert [r["status"] for r in record.runs] == ["stored", "stored"]
    assert record.overlapped(), record.runs
    for spec in specs:
        assert ResultStore.for_profile("smoke").load(spec) is not None
    with tarfile.open(archive) as tar:
        names = sorted(tar.getnames())
    assert names == sorted([f"smoke-results/engine/{s.filename}" for s in specs]
                           + [f"logs/engine/{s.filename.removesuffix('.json')}.log" for s in specs])
    assert _snapshot(results_dir()) == before  # smoke results never touch results/
    # a second campaign finds both stored and trains nothing
    again = run_campaign(specs, 5, workers=2, log=lambda _: None)
    assert again.runs == []


def test_a_run_the_budget_cannot_hold_is_not_started():
    spec = _tiny("campaign-never", 7)
    ResultStore.for_profile("smoke").path(spec).unlink(missing_ok=True)
    lines = []
    record = run_campaign([spec], 1, workers=2, epoch_seconds=lambda s, w: 120.0, log=lines.append)
    assert record.runs == [] and record.skipped == [f"engine/{spec.filename}"]
    assert any("not starting" in line for line in lines)


def test_bad_worker_count_is_refused():
    with pytest.raises(EffconvError, match="workers"):
        run_campaign([], 1, workers=0)


def test_full_order_puts_the_acnet_headline_rows_first():
    specs = campaign_specs("full")
    first = TIERS[0][1]
    head = specs[:12]
    assert {s.chapter for s in head} == {"acnet"} and {s.name for s in head} == set(first)
    assert sorted(s.seed for s in head) == [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]
    assert specs[12].chapter == "dac" and specs[12].name == "vgg16-baseline"
    chapters = [s.chapter for s in specs]
    assert chapters.index("shufflenet") > max(i for i, c in enumerate(chapters) if c == "versatile")


def test_plan_summary_counts_runs_and_core_hours_per_chapter():
    import pandas as pd
    from effconv.plan import plan_summary

    plan = pd.DataFrame({"chapter": ["acnet", "acnet", "dac"], "name": ["a", "b", "c"], "seed": [0, 1, 0],
                         "status": ["stored", "missing", "missing"], "minutes": [30.0, 90.0, float("nan")]})
    table = plan_summary(plan)
    assert table.loc["acnet"].tolist() == [1, 1, 0.5, 1.5]
    assert table.loc["dac"].tolist() == [0, 1, 0.0, 0.0]      # no estimate: counted as a run, not as hours
    assert table.loc["total"].tolist() == [1, 2, 0.5, 1.5]


def test_arms_short_lists_the_missing_seeds_of_each_arm():
    import pandas as pd
    from effconv.plan import arms_short

    plan = pd.DataFrame({"chapter": ["acnet"] * 5 + ["dac"] * 2, "name": ["a", "a", "a", "b", "b", "c", "c"],
                         "seed": [2, 0, 1, 0, 1, 0, 1],
                         "status": ["missing", "stored", "missing", "stored", "stored", "missing", "missing"],
                         "minutes": [30.0, 20.0, 60.0, 5.0, 5.0, 10.0, float("nan")]})
    short = arms_short(plan)
    assert short["arm"].tolist() == ["a", "c"]                 # b has every seed
    a, c = short.iloc[0], short.iloc[1]
    assert (a["seeds stored"], a["missing seeds"], a["core-hours left"]) == ("1/3", "1, 2", 1.5)
    assert (c["seeds stored"], c["missing seeds"]) == ("0/2", "0, 1") and pd.isna(c["core-hours left"])


def test_analyses_count_in_the_start_rule():
    """Training alone would fit the budget; with its analyses it does not, so it is not started."""
    import dataclasses

    spec = dataclasses.replace(_tiny("campaign-analysed", 8), analyses={"some-analysis": {}})
    ResultStore.for_profile("smoke").path(spec).unlink(missing_ok=True)
    lines = []
    # 1 epoch x 20 s of training fits one minute; 50 s of analyses after it do not
    record = run_campaign([spec], 1, workers=1, epoch_seconds=lambda s, w: 20.0,
                          after_seconds=lambda s, w: 50.0 if s.analyses else 0.0, log=lines.append)
    assert record.runs == [] and record.skipped == [f"engine/{spec.filename}"]
    assert any("with its analyses" in line for line in lines)


def test_the_gpu_estimate_counts_analyses_from_the_stored_ratio(tmp_path):
    """Time after training, measured on a stored run as a share of its epoch, carries over to the estimate."""
    import json
    import dataclasses

    from effconv.experiments.window_plan import ASSUMED_AFTER_EPOCHS_PER_ANALYSIS, Throughput, load_throughput

    spec = dataclasses.replace(_tiny("campaign-analysed", 9), analyses={"sweep": {"ranks": [1, 2]}})
    stored = ResultStore(tmp_path / "results")
    stored.save(spec, {"metrics": {"final": {"test_acc": 0.5}, "best": {"test_acc": 0.5, "epoch": 1}},
                       "curve": [{"epoch": 1, "seconds": 10.0}], "analyses": {},
                       "provenance": {"wall_seconds": 70.0, "train_seconds": 10.0, "device": "cpu"}})
    measured = load_throughput(tmp_path / "no-bench", results=tmp_path / "results")
    epoch = measured.epoch_seconds(spec)
    assert measured.after_seconds(spec) == pytest.approx(6.0 * epoch)   # 60 s after a 10 s epoch
    assert measured.run_seconds(spec, 1) == pytest.approx((spec.recipe.epochs + 6.0) * epoch)
    assumed = Throughput("estimate")  # nothing stored: the stated assumption per analysis
    assert assumed.after_seconds(spec) == pytest.approx(ASSUMED_AFTER_EPOCHS_PER_ANALYSIS * epoch)
    assert assumed.after_seconds(_tiny("campaign-plain")) == 0.0
    json.dumps(measured.after_epochs)  # plain data, as stored in a job's summary


def _ignore_sigterm_then_sleep(ready):
    import signal
    import time

    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    ready.set()
    time.sleep(600)


def test_hard_stop_kills_a_child_that_ignores_sigterm():
    import multiprocessing as mp
    import time

    from effconv.experiments.campaign import stop_processes

    context = mp.get_context("spawn")
    ready = context.Event()
    process = context.Process(target=_ignore_sigterm_then_sleep, args=(ready,))
    process.start()
    # a spawned child re-imports this module (and torch) first: on a busy machine that takes seconds
    assert ready.wait(120), "the child never installed its SIGTERM handler"
    started = time.monotonic()
    stop_processes([process], grace_seconds=1.0)
    assert not process.is_alive() and process.exitcode == -9  # SIGKILL after the grace period
    assert time.monotonic() - started < 8


class _FailingJob:
    """A worker that raises: its traceback must land in the run's own log."""

    def __init__(self, spec, **kwargs):
        from effconv.experiments.job import TrainJob

        self.job = TrainJob(spec, **kwargs)

    def __call__(self):
        from effconv.experiments.job import redirect_output

        redirect_output(__import__("pathlib").Path(self.job.log_path))
        print("about to fail")
        raise RuntimeError("the worker broke on purpose")


def test_a_failing_worker_leaves_its_traceback_in_its_log(tmp_path):
    spec = _tiny("campaign-fails", 11)
    ResultStore.for_profile("smoke").path(spec).unlink(missing_ok=True)
    lines = []
    archive = tmp_path / "out" / "results.tar.gz"
    record = run_campaign([spec], 5, workers=1, archive=archive, job_target=_FailingJob, log=lines.append)
    assert [r["status"] for r in record.runs] == ["failed"]
    log_file = tmp_path / "out" / record.runs[0]["log"]
    text = log_file.read_text()
    assert "about to fail" in text and "RuntimeError: the worker broke on purpose" in text and "Traceback" in text
    assert any(str(log_file) in line for line in lines)
    with tarfile.open(archive) as tar:
        assert tar.getnames() == [record.runs[0]["log"]]


def test_a_real_worker_failure_is_logged_by_the_job_itself(tmp_path):
    """TrainJob's own guard: an unknown analysis fails the run; its log names it."""
    import dataclasses

    from effconv.experiments.job import TrainJob

    spec = dataclasses.replace(_tiny("campaign-bad-analysis", 12), analyses={"no-such-analysis": {}})
    ResultStore.for_profile("smoke").path(spec).unlink(missing_ok=True)
    record = run_campaign([spec], 5, workers=1, log_dir=tmp_path / "logs", threads=1, log=lambda _: None)
    assert [r["status"] for r in record.runs] == ["failed"]
    text = (tmp_path / record.runs[0]["log"]).read_text()
    assert "unknown analysis 'no-such-analysis'" in text and "Traceback" in text
    assert TrainJob(spec.to_dict()).checkpoint().function.spec == spec.to_dict()  # submitit requeues the same job
