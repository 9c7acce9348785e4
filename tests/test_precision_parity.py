"""bf16 runs paired with their fp32 twins by seed, and graded by the shared equivalence rule."""

import pytest

from effconv.experiments.inventory import precision_pairs
from effconv.experiments.spec import ExperimentSpec
from effconv.experiments.store import ResultStore
from effconv.studies.precision import precision_parity
from effconv.train.recipes import recipe_for


def store_run(root, *, seed, acc, precision, chapter="engine", name="cifar-quick", kwargs=None, lr=0.1):
    recipe = recipe_for("cpu", epochs=2, lr=lr, **({"precision": precision} if precision == "bf16-mixed" else {}))
    spec = ExperimentSpec(chapter=chapter, name=name, model="cifar_quick", model_kwargs=kwargs or {}, recipe=recipe,
                          profile="cpu", seed=seed, data="jpeg")
    ResultStore(root).save(spec, {
        "metrics": {"final": {"test_acc": acc}, "best": {"test_acc": acc, "epoch": 2}},
        "curve": [{"epoch": 1}, {"epoch": 2}], "analyses": {},
        "provenance": {"wall_seconds": 1.0, "device": "test", "data": {"source": "jpeg"}, "precision": precision}})


def test_twins_pair_across_chapters_and_width_spelling_but_not_across_recipes(tmp_path):
    for seed, (fp32, bf16) in enumerate([(0.790, 0.791), (0.793, 0.7935), (0.789, 0.7895)]):
        # the fp32 arm is a chapter's run (explicit width 1.0), the bf16 arm an `effconv train` run
        store_run(tmp_path, seed=seed, acc=fp32, precision="32-true", chapter="acnet", name="cifar-quick-base",
                  kwargs={"width": 1.0})
        store_run(tmp_path, seed=seed, acc=bf16, precision="bf16-mixed")
    store_run(tmp_path, seed=3, acc=0.5, precision="bf16-mixed")              # no fp32 twin
    store_run(tmp_path, seed=0, acc=0.5, precision="32-true", lr=0.2)          # another recipe: not a twin
    pairs = precision_pairs(tmp_path)
    assert list(pairs["seed"]) == [0, 1, 2] and set(pairs["fp32 run"]) == {"acnet/cifar-quick-base"}
    (row,) = precision_parity(tmp_path).to_dict("records")
    assert row["pairs"] == 3 and row["bf16 - fp32 (pp)"] == pytest.approx(0.0667, abs=1e-3)
    assert row["verdict"] == "reproduced"  # the interval lies within +-0.5 pp
    # the same pairs against a margin narrower than their interval cannot decide
    assert precision_parity(tmp_path, margin=0.05)["verdict"].item() == "inconclusive"


def test_a_bf16_arm_two_points_worse_is_not_the_same_accuracy(tmp_path):
    for seed, fp32 in enumerate([0.790, 0.793, 0.789]):
        store_run(tmp_path, seed=seed, acc=fp32, precision="32-true")
        store_run(tmp_path, seed=seed, acc=fp32 - 0.02 - 0.001 * seed, precision="bf16-mixed")
    row = precision_parity(tmp_path).iloc[0]
    assert row["verdict"] == "not reproduced" and row["bf16 - fp32 (pp)"] == pytest.approx(-2.1, abs=1e-6)


def test_no_pairs_gives_an_empty_table(tmp_path):
    store_run(tmp_path, seed=0, acc=0.5, precision="32-true")
    assert precision_pairs(tmp_path).empty and precision_parity(tmp_path).empty
