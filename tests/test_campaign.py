"""The campaign: concurrent workers through the store, the budget rule, the archive, the value order."""

from __future__ import annotations

import tarfile

import pytest

from effconv.errors import EffconvError
from effconv.experiments.campaign import TIERS, campaign_specs, run_campaign
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
    record = run_campaign("smoke", 5, specs=specs, workers=2, threads=1, archive=archive, log=lambda _: None)
    assert [r["status"] for r in record.runs] == ["stored", "stored"]
    assert record.overlapped(), record.runs
    for spec in specs:
        assert ResultStore.for_profile("smoke").load(spec) is not None
    with tarfile.open(archive) as tar:
        names = sorted(tar.getnames())
    assert names == sorted(f"smoke-results/engine/{s.filename}" for s in specs)
    assert _snapshot(results_dir()) == before  # smoke results never touch results/
    # a second campaign finds both stored and trains nothing
    again = run_campaign("smoke", 5, specs=specs, workers=2, log=lambda _: None)
    assert again.runs == []


def test_a_run_the_budget_cannot_hold_is_not_started():
    spec = _tiny("campaign-never", 7)
    ResultStore.for_profile("smoke").path(spec).unlink(missing_ok=True)
    lines = []
    record = run_campaign("smoke", 1, specs=[spec], workers=2, epoch_seconds=lambda s, w: 120.0, log=lines.append)
    assert record.runs == [] and record.skipped == [f"engine/{spec.filename}"]
    assert any("not starting" in line for line in lines)


def test_bad_worker_count_is_refused():
    with pytest.raises(EffconvError, match="workers"):
        run_campaign("smoke", 1, specs=[], workers=0)


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
    from effconv.experiments.campaign import plan_summary

    plan = pd.DataFrame({"chapter": ["acnet", "acnet", "dac"], "name": ["a", "b", "c"], "seed": [0, 1, 0],
                         "status": ["stored", "missing", "missing"], "minutes": [30.0, 90.0, float("nan")]})
    table = plan_summary(plan)
    assert table.loc["acnet"].tolist() == [1, 1, 0.5, 1.5]
    assert table.loc["dac"].tolist() == [0, 1, 0.0, 0.0]      # no estimate: counted as a run, not as hours
    assert table.loc["total"].tolist() == [1, 2, 0.5, 1.5]


def test_arms_short_lists_the_missing_seeds_of_each_arm():
    import pandas as pd
    from effconv.experiments.campaign import arms_short

    plan = pd.DataFrame({"chapter": ["acnet"] * 5 + ["dac"] * 2, "name": ["a", "a", "a", "b", "b", "c", "c"],
                         "seed": [2, 0, 1, 0, 1, 0, 1],
                         "status": ["missing", "stored", "missing", "stored", "stored", "missing", "missing"],
                         "minutes": [30.0, 20.0, 60.0, 5.0, 5.0, 10.0, float("nan")]})
    short = arms_short(plan)
    assert short["arm"].tolist() == ["a", "c"]                 # b has every seed
    a, c = short.iloc[0], short.iloc[1]
    assert (a["seeds stored"], a["missing seeds"], a["core-hours left"]) == ("1/3", "1, 2", 1.5)
    assert (c["seeds stored"], c["missing seeds"]) == ("0/2", "0, 1") and pd.isna(c["core-hours left"])
