"""Training recipes and the three profiles.

A ``Recipe`` holds every option that changes a training result; it is part of an experiment's spec,
so changing a recipe changes the spec's hash and the result is never reused for a different run.

Profiles, each base recipe written once here (chapters override a few fields per model):

- ``smoke``: seconds, on a small class-balanced slice; used by tests and CI; never committed.
- ``cpu``: about an hour per chapter on 2 CPU cores with narrow models and short schedules, real data.
- ``full``: paper-like models and schedules on a GPU, several seeds; every single run under 10 minutes
  on one H100.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from effconv.checks import check_count, check_number, check_positive
from effconv.errors import EffconvError

PROFILES = ("smoke", "cpu", "full")
SCHEDULES = ("cosine", "onecycle", "constant")
# "auto": bf16 autocast on a GPU that supports it, fp32 on CPU. It depends on the machine, so a spec never keeps
# it: ``ExperimentSpec`` replaces it by its profile's precision below, and the key names what the run uses.
PRECISIONS = ("auto", "32-true", "bf16-mixed")
# What each profile trains in, whatever machine runs it: the cpu profile's runs (every committed one) are fp32,
# the full profile is sized for bf16 autocast on a GPU (``experiments/window_plan.py``).
PROFILE_PRECISION = {"smoke": "32-true", "cpu": "32-true", "full": "bf16-mixed"}


@dataclass(frozen=True)
class Recipe:
    """Everything about how a model is trained."""

    epochs: int
    batch_size: int = 128
    lr: float = 0.1
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4
    decay_norm_and_bias: bool = False   # weight decay on BN parameters and biases too
    schedule: str = "cosine"            # per-iteration: cosine to 0, or one-cycle, after linear warmup
    warmup_epochs: float = 1.0
    label_smoothing: float = 0.0
    train_subset: int | None = None     # class-balanced slice sizes (smoke profile)
    test_subset: int | None = None
    eval_batch_size: int = 1000
    loader: str = "device"              # "device" (GPU-resident) or "torchvision" (DataLoader + PIL)
    compile: bool = False               # torch.compile the model
    channels_last: bool = True
    precision: str = "auto"             # Lightning precision; see PRECISIONS

    def __post_init__(self) -> None:
        check_count("epochs", self.epochs)
        check_count("batch_size", self.batch_size)
        check_count("eval_batch_size", self.eval_batch_size)
        check_count("train_subset", self.train_subset, allow_none=True)
        check_count("test_subset", self.test_subset, allow_none=True)
        check_positive("lr", self.lr)
        check_number("momentum", self.momentum, low=0, high=1, high_open=True)
        check_number("weight_decay", self.weight_decay, low=0)
        # a warm-up longer than the run would never reach the peak learning rate
        check_number("warmup_epochs", self.warmup_epochs, low=0, high=self.epochs)
        check_number("label_smoothing", self.label_smoothing, low=0, high=1, high_open=True)
        for name in ("nesterov", "decay_norm_and_bias", "compile", "channels_last"):
            if not isinstance(getattr(self, name), bool):
                raise EffconvError(f"{name} must be true or false, got {getattr(self, name)!r}.")
        if self.schedule not in SCHEDULES:
            raise EffconvError(f"unknown schedule {self.schedule!r}; use one of {', '.join(SCHEDULES)}.")
        if self.loader not in ("device", "torchvision"):
            raise EffconvError(f"unknown loader {self.loader!r}; use 'device' or 'torchvision'.")
        if self.precision not in PRECISIONS:
            raise EffconvError(f"unknown precision {self.precision!r}; use one of {', '.join(PRECISIONS)}.")

    def replace(self, **changes: Any) -> "Recipe":
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise EffconvError(f"unknown recipe fields {sorted(unknown)}; known: "
                               f"{', '.join(f.name for f in dataclasses.fields(self))}.")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The fields that define the run, ``precision`` included (results stored while "auto" was left out
        were renamed by ``effconv results migrate``)."""
        return dataclasses.asdict(self)

    def for_profile(self, profile: str) -> "Recipe":
        """This recipe with "auto" precision replaced by ``profile``'s (``PROFILE_PRECISION``), so the same
        spec trains, and hashes, the same on every machine."""
        if self.precision != "auto":
            return self
        return self.replace(precision=PROFILE_PRECISION[check_profile(profile)])


_BASE = {
    "smoke": Recipe(epochs=1, batch_size=64, lr=0.05, warmup_epochs=0.0, train_subset=512, test_subset=256,
                    eval_batch_size=256, precision=PROFILE_PRECISION["smoke"]),
    # short schedules on CPU: warmup + cosine and a little label smoothing converge fastest
    "cpu": Recipe(epochs=20, batch_size=128, lr=0.1, warmup_epochs=1.0, label_smoothing=0.1,
                  precision=PROFILE_PRECISION["cpu"]),
    "full": Recipe(epochs=100, batch_size=128, lr=0.1, warmup_epochs=1.0, precision=PROFILE_PRECISION["full"]),
}


def check_profile(profile: str, *, allow_best: bool = False) -> str:
    """``profile`` if it is a training profile (or, where a chapter shows results, ``best``), else one line."""
    known = (*PROFILES, "best") if allow_best else PROFILES
    if profile not in known:
        raise EffconvError(f"unknown profile {profile!r}; use one of {', '.join(known)}.")
    return profile


def recipe_for(profile: str, **overrides: Any) -> Recipe:
    """The profile's base recipe with chapter/model-specific ``overrides``."""
    return _BASE[check_profile(profile)].replace(**overrides)
