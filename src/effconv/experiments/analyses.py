"""Analyses that run on a freshly trained model, in the same process, and are stored in its result.

A chapter registers a function under a name; an experiment spec lists the names (with keyword
arguments) to run after training, or at every epoch end. Weights therefore never need committing:
what the book shows about a trained model (fusion checks, kernel heat maps, pruning curves, rank
sweeps, rotation robustness) is computed right after training and kept in the JSON result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch

from effconv.data.cifar import CifarArrays
from effconv.errors import EffconvError


@dataclass
class AnalysisContext:
    """What an analysis may use besides the model: the data, the device, and a test-set evaluator."""

    data: CifarArrays
    device: torch.device
    spec: Any

    def evaluate(self, model: torch.nn.Module, images=None, labels=None, *, exact: bool = False) -> float:
        """Top-1 accuracy on the test set (or on the given uint8 NHWC images); ``exact=True`` in fp32 with
        TF32 off on any device (for equality claims; see ``effconv.train.trainer.evaluate``)."""
        from effconv.train.trainer import evaluate

        images = self.data.test_x if images is None else images
        labels = self.data.test_y if labels is None else labels
        return evaluate(model, images, labels, mean=self.data.mean, std=self.data.std, device=self.device,
                        exact=exact)

    def exact(self):
        """A context in which the analysis's own forward passes (e.g. a fusion's maximum output error) run
        in fp32 with TF32 off: ``with ctx.exact(): error = (fused(x) - model(x)).abs().max()``."""
        from effconv.train.backends import exact_fp32

        return exact_fp32()


Analysis = Callable[..., Any]  # (model, ctx, **kwargs) -> JSON-serialisable
_ANALYSES: dict[str, Analysis] = {}


def register_analysis(name: str):
    def wrap(fn: Analysis) -> Analysis:
        _ANALYSES[name] = fn
        return fn

    return wrap


def get_analysis(name: str, chapter: str | None = None) -> Analysis:
    """A registered analysis. Chapters register theirs when their package (``effconv.studies.<chapter>``)
    is imported, which whoever built the spec has done; this layer never imports the studies."""
    if name not in _ANALYSES:
        hint = f" (import effconv.studies.{chapter} first: it registers them)" if chapter else ""
        raise EffconvError(f"unknown analysis {name!r}{hint}; known: {', '.join(sorted(_ANALYSES)) or 'none'}.")
    return _ANALYSES[name]
