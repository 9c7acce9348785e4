"""Experiment specs and their stable hashes.

A spec names everything that changes a result: chapter, name, model and its options, the training
recipe (resolved from the profile, so editing a profile changes the hash), profile, seed, data source,
the analyses run on the trained model, and ``CODE_VERSION``. Two specs with the same content have
the same key on every machine: a recipe's "auto" precision (which the machine would decide) is replaced
by the profile's concrete one when the spec is made, so the key names the precision the run trains in.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from effconv.checks import check_seed
from effconv.data.cifar import check_source
from effconv.errors import EffconvError
from effconv.train.recipes import Recipe, check_profile

# Bump when a change in the engine changes what a spec trains (invalidates every stored result).
CODE_VERSION = 1
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.+=-]*$")


def _canonical(value: Any) -> Any:
    """A JSON-stable form: tuples as lists, mappings with sorted keys, floats rounded for repr noise."""
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in sorted(value.items())}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, float):
        return float(f"{value:.12g}")
    if value is None or isinstance(value, (bool, int, str)):
        return value
    raise EffconvError(f"spec values must be JSON-like (numbers, strings, lists, dicts); got {type(value).__name__}.")


def digest(spec: Mapping[str, Any]) -> str:
    """The key of a spec's canonical dict (``ExperimentSpec.to_dict``, or one stored in a result file)."""
    text = json.dumps(spec, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:10]


@dataclass(frozen=True)
class ExperimentSpec:
    chapter: str
    name: str
    model: str
    recipe: Recipe
    profile: str
    seed: int = 0
    data: str = "jpeg"
    model_kwargs: Mapping[str, Any] = field(default_factory=dict)
    analyses: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # name -> kwargs, after training
    epoch_analyses: tuple[str, ...] = ()                                       # names, at every epoch end
    code_version: int = CODE_VERSION

    def __post_init__(self) -> None:
        check_profile(self.profile)
        check_seed(self.seed)
        if not isinstance(self.recipe, Recipe):
            raise EffconvError(f"an experiment's recipe must be a Recipe (see recipe_for), got {type(self.recipe).__name__}.")
        object.__setattr__(self, "recipe", self.recipe.for_profile(self.profile))  # frozen: set once, here
        for label, value in (("chapter", self.chapter), ("name", self.name)):
            if not isinstance(value, str) or not _NAME.match(value):
                raise EffconvError(f"experiment {label} {value!r} must be lower-case letters, digits and ._+=- "
                                   "(it becomes part of a file name).")
        check_source(self.data)

    def to_dict(self) -> dict[str, Any]:
        return _canonical({
            "chapter": self.chapter, "name": self.name, "model": self.model, "model_kwargs": dict(self.model_kwargs),
            "recipe": self.recipe.to_dict(), "profile": self.profile, "seed": self.seed, "data": self.data,
            "analyses": {k: dict(v) for k, v in self.analyses.items()}, "epoch_analyses": list(self.epoch_analyses),
            "code_version": self.code_version,
        })

    @property
    def key(self) -> str:
        """First 10 hex digits of the SHA-256 of the canonical JSON."""
        return digest(self.to_dict())

    @property
    def filename(self) -> str:
        return f"{self.name}-{self.key}.json"

    @classmethod
    def from_dict(cls, payload: Mapping[str, Any]) -> "ExperimentSpec":
        try:
            fields = dict(payload)
            fields["recipe"] = Recipe(**fields["recipe"])
            fields["epoch_analyses"] = tuple(fields.get("epoch_analyses", ()))
            return cls(**fields)
        except (KeyError, TypeError) as err:
            raise EffconvError(f"not a valid experiment spec ({err}).") from err
