"""The Lightning engine on a tiny real slice: curves, resume, seeding, block hooks, schedules."""

import math

import pytest
import torch
from torch import nn

from effconv.models import create_model
from effconv.train.module import Classifier, lr_lambda
from effconv.train.recipes import Recipe, recipe_for
from effconv.train.trainer import evaluate, fit

TINY = dict(batch_size=64, eval_batch_size=128, warmup_epochs=0.0, lr=0.05)


def test_fit_records_a_curve_and_resumes(tiny, tmp_path):
    torch.manual_seed(0)
    model = create_model("resnet20", width=0.25)
    first = fit(model, Recipe(epochs=1, **TINY), tiny, seed=0, workdir=tmp_path)
    assert [row["epoch"] for row in first.history] == [1]
    row = first.history[0]
    assert {"train_loss", "train_acc", "test_loss", "test_acc", "lr", "seconds"} <= set(row)
    assert 0 <= row["test_acc"] <= 1 and math.isfinite(row["train_loss"])
    assert (tmp_path / "last.ckpt").exists() and (tmp_path / "csv" / "version_0" / "metrics.csv").exists()
    # the same workdir with a longer recipe resumes after epoch 1 and keeps the earlier curve
    resumed = fit(create_model("resnet20", width=0.25), Recipe(epochs=2, **TINY), tiny, seed=0, workdir=tmp_path)
    assert resumed.resumed_from_epoch == 1
    assert [row["epoch"] for row in resumed.history] == [1, 2]
    assert resumed.history[0] == first.history[0]
    accuracy = evaluate(resumed.model, tiny.test_x, tiny.test_y, mean=tiny.mean, std=tiny.std)
    assert accuracy == pytest.approx(resumed.final["test_acc"], abs=1e-6)


def test_same_seed_same_run_on_cpu(tiny, tmp_path):
    def run(folder):
        torch.manual_seed(3)
        outcome = fit(create_model("cifar_quick", width=0.5), Recipe(epochs=1, **TINY), tiny, seed=3,
                      workdir=tmp_path / folder)
        return [(r["train_loss"], r["test_loss"], r["test_acc"]) for r in outcome.history]

    assert run("a") == run("b")


class Hooked(nn.Module):
    """A block using the training hooks: an auxiliary loss, a post-step clip, a decay-exempt parameter."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.proxy = nn.Parameter(torch.full((4, 3, 3, 3), 0.9))
        self.proxy._no_weight_decay = True
        self.steps = 0

    def forward(self, x):
        return nn.functional.conv2d(x, self.conv.weight * self.proxy, self.conv.bias, padding=1)

    def auxiliary_loss(self):
        return 10.0 * self.proxy.sum()  # pushes the proxy down hard

    def post_step(self):
        self.steps += 1
        with torch.no_grad():
            self.proxy.clamp_(0.0, 1.0)


def test_block_hooks_are_used(tiny, tmp_path):
    block = Hooked()
    model = nn.Sequential(block, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 10))
    outcome = fit(model, Recipe(epochs=1, **TINY), tiny, seed=0, workdir=tmp_path)
    assert block.steps == len(tiny.train_y) // 64
    proxy = block.proxy.detach()
    assert float(proxy.min()) == 0.0 and float(proxy.max()) <= 1.0  # aux loss applied, then clipped
    assert "aux_loss" in outcome.history[0]
    module = Classifier(model, Recipe(epochs=1))
    module.trainer = type("T", (), {"estimated_stepping_batches": 10})()
    groups = module.configure_optimizers()["optimizer"].param_groups
    exempt = {id(p) for p in groups[1]["params"]}
    assert id(block.proxy) in exempt and id(block.conv.bias) in exempt and id(block.conv.weight) not in exempt


def test_schedules():
    cosine = lr_lambda("cosine", total=100, warmup=10)
    assert cosine(0) == pytest.approx(0.1) and cosine(9) == pytest.approx(1.0)
    assert cosine(55) == pytest.approx(0.5) and cosine(100) == pytest.approx(0.0, abs=1e-12)
    onecycle = lr_lambda("onecycle", total=100, warmup=20)
    assert onecycle(19) == pytest.approx(1.0) and onecycle(60) == pytest.approx(0.5)
    assert lr_lambda("constant", total=10, warmup=0)(7) == 1.0


def test_recipe_validation():
    from effconv.errors import EffconvError

    with pytest.raises(EffconvError, match="epochs"):
        Recipe(epochs=0)
    with pytest.raises(EffconvError, match="schedule"):
        recipe_for("cpu", schedule="step")
    with pytest.raises(EffconvError, match="unknown recipe fields"):
        recipe_for("cpu", epoch=3)
    with pytest.raises(EffconvError, match="unknown profile"):
        recipe_for("fast")


@pytest.mark.slow
def test_compiled_training_checkpoints_one_copy_of_the_weights(tiny, tmp_path):
    model = create_model("cifar_quick", width=0.25)
    outcome = fit(model, Recipe(epochs=1, compile=True, **TINY), tiny, seed=0, workdir=tmp_path)
    assert math.isfinite(outcome.history[0]["train_loss"])
    state = torch.load(tmp_path / "last.ckpt", map_location="cpu", weights_only=False)["state_dict"]
    assert state and all(key.startswith("model.") and "_orig_mod" not in key for key in state)
    assert set(state) == {f"model.{key}" for key in model.state_dict()}


def test_lr_scaled_parameters_get_their_own_group():
    block = Hooked()
    block.proxy._lr_scale = 20.0
    model = nn.Sequential(block, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 10))
    module = Classifier(model, Recipe(epochs=1, lr=0.1))
    module.trainer = type("T", (), {"estimated_stepping_batches": 10})()
    groups = module.configure_optimizers()["optimizer"].param_groups
    scaled = [g for g in groups if any(p is block.proxy for p in g["params"])]
    # initial_lr: the rate before the warmup multiplier the scheduler applies from step 0
    assert len(scaled) == 1 and scaled[0]["initial_lr"] == pytest.approx(2.0) and scaled[0]["weight_decay"] == 0.0
    assert groups[0]["initial_lr"] == pytest.approx(0.1) and groups[0]["weight_decay"] > 0


def test_precision_is_a_recipe_field_in_every_key():
    import json

    from effconv.experiments.spec import ExperimentSpec
    from effconv.paths import results_dir

    # A committed fp32 result (renamed by `effconv results migrate`) names its precision and hashes to its name.
    stored = next((results_dir() / "acnet").glob("cifar-quick-base-*.json"))
    payload = json.loads(stored.read_text())
    assert payload["spec"]["recipe"]["precision"] == "32-true"
    fp32 = ExperimentSpec.from_dict(payload["spec"])
    assert fp32.key == payload["key"] and stored.name == fp32.filename
    bf16 = ExperimentSpec.from_dict({**payload["spec"], "recipe": {**payload["spec"]["recipe"],
                                                                   "precision": "bf16-mixed"}})
    assert bf16.key != fp32.key and bf16.to_dict()["recipe"]["precision"] == "bf16-mixed"
    with pytest.raises(Exception, match="unknown precision 'fp8'"):
        Recipe(epochs=1, precision="fp8")


def test_bf16_training_on_cpu(tiny, tmp_path):
    torch.manual_seed(0)
    outcome = fit(create_model("cifar_quick", width=0.5), Recipe(epochs=1, precision="bf16-mixed", **TINY), tiny,
                  seed=0, workdir=tmp_path)
    assert outcome.precision == "bf16-mixed" and math.isfinite(outcome.history[0]["train_loss"])
    assert next(outcome.model.parameters()).dtype == torch.float32  # mixed: the weights stay fp32


def test_onednn_guard_only_for_the_crashing_conv_on_avx2(monkeypatch):
    from effconv.train.trainer import onednn_is_safe

    crashing = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Conv2d(4, 8, 1, stride=2))
    fine = nn.Sequential(nn.Conv2d(3, 8, 3), nn.Conv2d(8, 16, 1, stride=2), nn.Conv2d(4, 8, 1))
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX2")
    assert not onednn_is_safe(crashing, torch.device("cpu"))
    assert onednn_is_safe(fine, torch.device("cpu"))
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX512")
    assert onednn_is_safe(crashing, torch.device("cpu"))
