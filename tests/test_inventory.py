"""The results inventory tables: the accuracy sanity check of the engine's plain runs and the JPEG cost."""

import json

import pytest

from effconv.data.cifar import jpeg_scale
from effconv.experiments.inventory import accuracy_checks, jpeg_cost
from effconv.train.recipes import recipe_for


def write_result(root, chapter, name, model, profile, acc, epochs=20, model_kwargs=None, data="jpeg", **recipe):
    spec = {"chapter": chapter, "name": name, "model": model, "profile": profile, "seed": 0, "data": data,
            "model_kwargs": model_kwargs or {}, "recipe": recipe_for(profile, epochs=epochs, **recipe).to_dict()}
    result = {"schema": 1, "key": "0123456789", "spec": spec,
              "metrics": {"final": {"test_acc": acc}, "best": {"test_acc": acc, "epoch": epochs}},
              "curve": [{"epoch": e + 1} for e in range(epochs)], "analyses": {},
              "provenance": {"device": "test cpu", "wall_seconds": 1.0}}
    path = root / chapter / f"{name}-{data}-{epochs}-{len(recipe)}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result))


def test_targets_without_runs_are_not_run(tmp_path):
    table = accuracy_checks(tmp_path)
    assert list(table["verdict"]) == ["not run", "not run"]
    assert set(table["model"]) == {"resnet20", "resnet56"}


def test_each_plain_run_is_judged_against_its_target(tmp_path):
    write_result(tmp_path, "engine", "resnet20", "resnet20", "cpu", 0.8607, epochs=20)
    write_result(tmp_path, "engine", "resnet20", "resnet20", "cpu", 0.8850, epochs=40)
    # neither a narrowed model nor another chapter's run of the same model counts
    write_result(tmp_path, "engine", "resnet20", "resnet20", "cpu", 0.99, epochs=8, model_kwargs={"width": 0.5})
    write_result(tmp_path, "acnet", "resnet20", "resnet20", "cpu", 0.99, epochs=9)
    table = accuracy_checks(tmp_path)
    r20 = table[table["model"] == "resnet20"].set_index("epochs")
    assert sorted(r20.index) == [20, 40]
    assert r20.loc[20, "verdict"] == "missed" and r20.loc[40, "verdict"] == "met"
    assert table.loc[table["model"] == "resnet56", "verdict"].item() == "not run"


def test_a_corrupt_file_is_skipped_not_judged(tmp_path):
    (tmp_path / "engine").mkdir()
    (tmp_path / "engine" / "resnet20-bad.json").write_text("{not json")
    assert list(accuracy_checks(tmp_path)["verdict"]) == ["not run", "not run"]


def test_degraded_data_does_not_count_and_recipe_changes_show(tmp_path):
    write_result(tmp_path, "engine", "resnet20", "resnet20", "cpu", 0.95, data="jpeg-q50")
    write_result(tmp_path, "engine", "resnet20", "resnet20", "cpu", 0.87, epochs=30, batch_size=64, lr=0.05)
    table = accuracy_checks(tmp_path)
    r20 = table[table["model"] == "resnet20"]
    assert len(r20) == 1 and r20["data"].item() == "jpeg" and r20["verdict"].item() == "missed"
    assert r20["recipe_changes"].item() == "batch_size=64, lr=0.05"


def test_jpeg_cost_pairs_identical_runs_and_extrapolates(tmp_path):
    assert (jpeg_scale(75), jpeg_scale(50), jpeg_scale(25)) == (50, 100, 200)
    write_result(tmp_path, "engine", "resnet20", "resnet20", "cpu", 0.86)
    write_result(tmp_path, "engine", "resnet20", "resnet20", "cpu", 0.83, data="jpeg-q50")
    write_result(tmp_path, "engine", "resnet20", "resnet20", "cpu", 0.80, data="jpeg-q25")
    # a different recipe on re-encoded data has no partner, so it is not paired
    write_result(tmp_path, "engine", "resnet20", "resnet20", "cpu", 0.70, epochs=5, data="jpeg-q50")
    # re-encoding at the shipped quality or finer is no step along the scale (and would divide by zero)
    write_result(tmp_path, "engine", "resnet20", "resnet20", "cpu", 0.85, data="jpeg-q75")
    write_result(tmp_path, "engine", "resnet20", "resnet20", "cpu", 0.85, data="jpeg-q90")
    table = jpeg_cost(tmp_path).set_index("data")
    assert sorted(table.index) == ["jpeg-q25", "jpeg-q50"]
    assert table.loc["jpeg-q50", "delta"] == pytest.approx(-0.03) and table.loc["jpeg-q25", "scale_pct"] == 200
    # linear in the quantisation scale: q50 doubles q75's scale, so lossless is as far above q75 as q50 is below
    assert table.loc["jpeg-q50", "estimated_lossless"] == pytest.approx(0.89)
    assert table.loc["jpeg-q25", "estimated_lossless"] == pytest.approx(0.86 + 0.06 * 50 / 150)


def test_jpeg_cost_is_empty_without_pairs(tmp_path):
    write_result(tmp_path, "engine", "resnet20", "resnet20", "cpu", 0.86)
    assert jpeg_cost(tmp_path).empty


def _timed(root, name, model_kwargs, epoch_seconds, epochs=4, after_seconds=None):
    write_result(root, "shufflenet", name, "shufflenet_v1_cifar", "cpu", 0.5, epochs=epochs, model_kwargs=model_kwargs)
    path = next(p for p in (root / "shufflenet").glob(f"{name}-*.json"))
    result = json.loads(path.read_text())
    # the first epoch is slow (warm-up): the median epoch ignores it
    result["curve"] = [{"epoch": e + 1, "seconds": epoch_seconds * (5 if e == 0 else 1)} for e in range(epochs)]
    if after_seconds is not None:
        train = epoch_seconds * (epochs + 4)
        result["provenance"].update(train_seconds=train, wall_seconds=train + after_seconds)
    path.write_text(json.dumps(result))


def test_missing_runs_are_estimated_from_stored_epoch_times(tmp_path):
    from effconv.experiments.inventory import estimate_minutes
    from effconv.studies.shufflenet import plan

    _timed(tmp_path, "g8", {"groups": 8, "width": 0.25, "shuffle": True}, epoch_seconds=60)
    matched = plan.spec("cpu", 8, 0.25, True, 1)          # FLOP-matched widths: timed by the Table 1 run
    other = plan.spec("cpu", 1, 0.25, True, 1)            # nothing comparable stored
    estimates = estimate_minutes([matched, other], root=tmp_path)
    assert estimates[0] == pytest.approx(60 * matched.recipe.epochs / 60)
    assert estimates[1] is None


def test_estimates_add_the_time_spent_after_training(tmp_path):
    """Analyses run after training (DAC's rank sweeps take longer than its training): a run with the same
    model and analyses says how long."""
    from effconv.experiments.inventory import estimate_minutes
    from effconv.studies.shufflenet import plan

    _timed(tmp_path, "g8", {"groups": 8, "width": 0.25, "shuffle": True}, epoch_seconds=60, after_seconds=600)
    spec = plan.spec("cpu", 8, 0.25, True, 1)
    assert estimate_minutes([spec], root=tmp_path) == [pytest.approx(spec.recipe.epochs + 10)]


def test_the_dry_run_prints_estimates_and_the_missing_total(capsys, monkeypatch, tmp_path):
    from effconv import cli
    from effconv.studies.shufflenet import plan

    monkeypatch.setattr("effconv.experiments.inventory.results_dir", lambda: tmp_path)
    _timed(tmp_path, "g8", {"groups": 8, "width": 0.25, "shuffle": True}, epoch_seconds=30)
    specs = [plan.spec("cpu", 8, 0.25, True, s) for s in (1, 2)] + [plan.spec("cpu", 1, 0.25, True, 1)]
    cli.print_plan(specs, [None, None, None])
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith(f"~{30 * specs[0].recipe.epochs / 60:.0f} min")
    assert out[2].endswith("(nothing stored or benchmarked to time it by)")
    assert out[3].startswith("3 missing: about") and out[3].endswith("1 with no estimate")


def _bench(root, finished, rows):
    """A precision-benchmark file: (model_kwargs, fp32 images/s) per configuration."""
    (root / "bench").mkdir(exist_ok=True)
    payload = {"benchmark": "precision", "provenance": {"finished": finished},
               "rows": [{"model": "shufflenet_v1_cifar", "options": json.dumps(kwargs, sort_keys=True), "batch_size": 128,
                         "images_per_second": {"fp32": rate}, "ratio_to_fp32": {"fp32": 1.0}} for kwargs, rate in rows]}
    (root / "bench" / f"precision-cpu-{finished[:4]}.json").write_text(json.dumps(payload))


def test_a_configuration_never_run_is_scaled_by_benchmarked_speed(tmp_path):
    """No stored run of g = 1: a stored g = 8 run's epoch time, scaled by the two configurations' fp32 speeds
    in the newest benchmark that timed both (never a ratio across two machines' files)."""
    from effconv.experiments.inventory import estimate_minutes
    from effconv.studies.shufflenet import plan

    table1_g8 = {"groups": 8, "width": 0.25, "shuffle": True}
    _timed(tmp_path, "g8", table1_g8, epoch_seconds=60)
    g1 = plan.spec("cpu", 1, 0.25, True, 1)
    assert estimate_minutes([g1], root=tmp_path) == [None]  # no benchmark: nothing to scale by
    _bench(tmp_path, "2026-01-01T00:00:00", [(table1_g8, 100.0), (dict(g1.model_kwargs), 300.0)])
    _bench(tmp_path, "2025-01-01T00:00:00", [(table1_g8, 100.0), (dict(g1.model_kwargs), 50.0)])  # older: unused
    assert estimate_minutes([g1], root=tmp_path) == [pytest.approx(20 * g1.recipe.epochs / 60)]
    # a newer file that timed only g = 1 cannot give a ratio; the next file that timed both does
    _bench(tmp_path, "2027-01-01T00:00:00", [(dict(g1.model_kwargs), 1000.0)])
    assert estimate_minutes([g1], root=tmp_path) == [pytest.approx(20 * g1.recipe.epochs / 60)]


def test_epoch_times_keep_machines_precisions_and_variants_apart(tmp_path):
    from effconv.experiments.inventory import epoch_times

    def run(name, kwargs, seconds, **provenance):
        _timed(tmp_path, name, kwargs, epoch_seconds=seconds)
        path = next((tmp_path / "shufflenet").glob(f"{name}-*.json"))
        result = json.loads(path.read_text())
        result["provenance"].update(device="AMD EPYC (1 thread)", **provenance)
        path.write_text(json.dumps(result))

    g8 = {"groups": 8, "width": 0.25, "shuffle": True}
    run("a", g8, 100, cpu_capability="AVX2", precision="32-true")
    run("b", g8, 50, cpu_capability="AVX512", precision="32-true")
    run("c", g8, 40, cpu_capability="AVX512", precision="32-true")
    run("d", g8, 30, cpu_capability="AVX512", precision="bf16-mixed")
    run("e", {**g8, "shuffle": False}, 45, precision="32-true")
    table = epoch_times(tmp_path).set_index(["options", "device", "precision"])
    options = "groups=8, shuffle=True, width=0.25"
    assert table.loc[(options, "AMD EPYC, AVX512", "32-true"), "runs"] == 2
    assert table.loc[(options, "AMD EPYC, AVX512", "32-true"), "seconds_per_epoch"] == 45
    assert table.loc[(options, "AMD EPYC, AVX2", "32-true"), "seconds_per_epoch"] == 100
    assert table.loc[(options, "AMD EPYC, AVX512", "bf16-mixed"), "seconds_per_epoch"] == 30
    assert ("groups=8, shuffle=False, width=0.25", "AMD EPYC, ISA level not recorded", "32-true") in table.index


def _on(root, name, kwargs, seconds, device, capability, after_seconds=None):
    """A stored run of ``name`` timed at ``seconds`` an epoch on one thread of ``device``."""
    _timed(root, name, kwargs, epoch_seconds=seconds, after_seconds=after_seconds)
    path = next((root / "shufflenet").glob(f"{name}-*.json"))
    result = json.loads(path.read_text())
    result["provenance"].update(device=f"{device} (1 thread)", device_type="cpu", cpu_capability=capability)
    path.write_text(json.dumps(result))


def test_machine_names_the_cpu_and_its_vector_unit_not_the_threads():
    from effconv.provenance import machine, this_machine

    assert machine({"device": "AMD EPYC (1 thread)", "device_type": "cpu", "cpu_capability": "AVX2"}) == "AMD EPYC, AVX2"
    assert machine({"device": "AMD EPYC (16 threads)"}) == "AMD EPYC, ISA level not recorded"
    assert machine({"device": "NVIDIA H100", "device_type": "cuda", "cpu_capability": "AVX512"}) == "NVIDIA H100"
    assert "thread" not in this_machine()


def test_a_plan_for_this_machine_uses_its_own_times_and_scales_the_others(tmp_path):
    """Machines differ by several times in epoch time: the estimate for one machine takes its own stored runs
    where it has them, and scales another machine's by the ratio of the two on the configurations both timed."""
    from effconv.experiments.inventory import estimate_minutes, machine_speed
    from effconv.studies.shufflenet import plan

    g8, g3 = {"groups": 8, "width": 0.25, "shuffle": True}, {"groups": 3, "width": 0.25, "shuffle": True}
    _on(tmp_path, "g8-slow", g8, 90, "AMD EPYC", "AVX2")
    _on(tmp_path, "g8-fast", g8, 30, "AMD EPYC", "AVX512")
    _on(tmp_path, "g3-slow", g3, 120, "AMD EPYC", "AVX2", after_seconds=600)
    spec_g8, spec_g3 = plan.spec("cpu", 8, 0.25, True, 1), plan.spec("cpu", 3, 0.25, True, 1)
    epochs = spec_g8.recipe.epochs
    assert machine_speed("AMD EPYC, AVX512", root=tmp_path) == (pytest.approx(1 / 3), 1)
    fast = estimate_minutes([spec_g8, spec_g3], root=tmp_path, here="AMD EPYC, AVX512")
    # g = 8 trained here; g = 3 and the analyses after training (same model) only on the slower machine
    assert fast == [pytest.approx((30 * epochs + 200) / 60), pytest.approx((40 * epochs + 200) / 60)]
    # without a machine (the book's plan tables) every stored run counts as it was timed
    assert estimate_minutes([spec_g8, spec_g3], root=tmp_path) == [pytest.approx((60 * epochs + 600) / 60),
                                                                    pytest.approx((120 * epochs + 600) / 60)]
    # a machine that shares no configuration with the others takes their times as they are
    assert machine_speed("Intel Xeon, AVX512", root=tmp_path) == (1.0, 0)
    assert estimate_minutes([spec_g3], root=tmp_path, here="Intel Xeon, AVX512") == [
        pytest.approx((120 * epochs + 600) / 60)]


def test_history_runs_are_listed_as_history_and_are_no_evidence(tmp_path):
    from effconv.experiments.inventory import results_inventory
    from effconv.experiments.store import keep_as_history

    write_result(tmp_path, "engine", "resnet20", "resnet20", "cpu", 0.80, epochs=20)
    write_result(tmp_path, "engine", "resnet20", "resnet20", "cpu", 0.99, epochs=40)
    keep_as_history(tmp_path / "engine" / "resnet20-jpeg-40-0.json")
    table = results_inventory(tmp_path).set_index("epochs")
    assert table.loc[40, "kept as"] == "history" and table.loc[40, "chapter"] == "engine"
    assert table.loc[20, "kept as"] == "current"
    # the kept run would meet the target; it is not evidence, so the check still sees only the live one
    r20 = accuracy_checks(tmp_path).query("model == 'resnet20'")
    assert list(r20["epochs"]) == [20] and r20["verdict"].item() == "missed"
