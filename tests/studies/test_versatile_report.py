"""Chapter 5 report: the CIFAR-10 table and the paired accuracy sentences, from synthetic results (no training)."""

import math

import pytest

from effconv.studies.versatile import plan
from effconv.studies.versatile import report
from effconv.studies.versatile import results as versatile_results
from versatile_fakes import LABELS, counted_frame, cpu_results, fake_result, first_seed


def test_cifar_table_with_nothing_stored():
    specs, results = cpu_results({})
    table = report.cifar_table("cpu", specs, results, counted_frame())
    assert list(table["variant"]) == LABELS
    assert (table["status"] == "not run").all() and table["test_acc_%"].isna().all()
    seeds = table.set_index("variant")["seeds"]
    assert seeds["baseline"] == seeds["versatile v1"] == "0/5" and seeds["versatile v2"] == "0/3"
    assert (table["profile"] == "cpu").all()
    assert (table["complexity from"] == "counted (fresh model)").all()
    by = table.set_index("variant")
    assert by.loc["versatile v1", "params_ratio"] == pytest.approx(0.5)
    assert by.loc["learned masks (b)", "executed_ratio"] == pytest.approx(1.0)
    assert by.loc["learned masks (b)", "mask_kbit"] == pytest.approx(500.0)


def test_cifar_table_partial_uses_stored_complexity_and_accuracy():
    specs, results = cpu_results({"baseline": 0.90, "versatile v1": 0.895})
    results = first_seed(specs, results)
    table = report.cifar_table("cpu", specs, results, counted_frame()).set_index("variant")
    assert table.loc["baseline", "status"] == "partial" and table.loc["versatile v2", "status"] == "not run"
    assert table.loc["versatile v1", "test_acc_%"] == pytest.approx(89.5)
    assert table.loc["versatile v1", "delta_vs_baseline"] == pytest.approx(-0.5)
    assert math.isnan(table.loc["versatile v1", "std_%"])  # one seed: no spread
    assert table.loc["versatile v1", "complexity from"] == "trained model (1 run)"
    assert table.loc["versatile v1", "params_M"] == pytest.approx(0.48)
    assert table.loc["baseline", "complexity from"] == "counted (fresh model)"  # chapter 4's run stores none
    assert math.isnan(table.loc["versatile v2", "delta_vs_baseline"])


def test_cifar_table_over_seeds():
    specs = plan.experiments("full")
    accs = {("baseline", 0): 0.93, ("baseline", 1): 0.94, ("baseline", 2): 0.935, ("versatile v1", 0): 0.93,
            ("versatile v1", 1): 0.92}
    results = [None if (versatile_results.VARIANTS[s.name], s.seed) not in accs else
               fake_result(accs[versatile_results.VARIANTS[s.name], s.seed]) for s in specs]
    table = report.cifar_table("full", specs, results, counted_frame()).set_index("variant")
    assert table.loc["baseline", "seeds"] == "3/3" and table.loc["baseline", "status"] == "stored"
    assert table.loc["versatile v1", "seeds"] == "2/3" and table.loc["versatile v1", "status"] == "partial"
    assert table.loc["baseline", "test_acc_%"] == pytest.approx(93.5)
    assert table.loc["baseline", "std_%"] == pytest.approx(0.5)
    runs = versatile_results.run_table(specs, results)
    assert report.arm_values(runs, "versatile v1") == pytest.approx({0: 93.0, 1: 92.0})
    # paired on seeds 0 and 1 only: differences 0 and -2
    assert "-1.00 points, mean over 2 paired random seeds" in report.comparison_sentence(runs, "versatile v1", "baseline",
                                                                                  "full")


def test_run_table_and_sentences():
    specs, results = cpu_results({"baseline": 0.90, "versatile v1": 0.91})
    results = first_seed(specs, results)
    runs = versatile_results.run_table(specs, results)
    assert (runs["status"] == "stored").sum() == 2 and len(runs) == len(specs)
    assert runs.loc[0, "seconds_per_epoch"] == pytest.approx(12.0) and runs.loc[0, "data"] == "jpeg"
    text = report.comparison_sentence(runs, "versatile v1", "baseline", "cpu")
    assert "+1.00 points, mean over 1 paired random seed (profile cpu)" in text and "interval" not in text
    missing = report.comparison_sentence(runs, "versatile v2", "baseline", "cpu")
    assert missing == "not run yet (versatile v2: no stored cpu run)"
    assert "baseline 12 s" in report.epoch_time_sentence(runs, "cpu")
    empty = versatile_results.run_table(*cpu_results({}))
    assert report.epoch_time_sentence(empty, "cpu").startswith("not run yet")
