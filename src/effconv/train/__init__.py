"""Training: recipes and profiles, the Lightning module, and ``fit``.

Names are imported lazily so that reading recipes or stored results never pays for importing Lightning.
"""

from importlib import import_module

_EXPORTS = {
    "Classifier": "effconv.train.module", "FitOutcome": "effconv.train.trainer", "evaluate": "effconv.train.trainer",
    "fit": "effconv.train.trainer", "PROFILES": "effconv.train.recipes", "Recipe": "effconv.train.recipes",
    "check_profile": "effconv.train.recipes", "recipe_for": "effconv.train.recipes",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'effconv.train' has no attribute {name!r}")
