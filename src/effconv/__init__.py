"""effconv: efficient convolution designs, re-derived and re-run.

The library behind the effconv executable book. Sub-packages, one idea each:

- ``effconv.ops``: building blocks (channel shuffle, ACB, DAC, versatile and octave convs).
- ``effconv.models``: model families, a registry and ``create_model``.
- ``effconv.data``: CIFAR-10 sources and the device-resident loader.
- ``effconv.train``: the Lightning module, recipes and profiles.
- ``effconv.experiments``: experiment specs and the content-addressed results store.
- ``effconv.analysis``: FLOP/param counting, latency, claims tables and plots.
- ``effconv.studies``: one module per book chapter, defining its experiments and tables.
"""

__version__ = "0.1.0"

from effconv.errors import EffconvError

__all__ = ["EffconvError", "__version__", "load_trained"]


def load_trained(chapter: str, name: str, seed: int = 0, *, fused: bool = False):
    """The trained model of a stored run, in eval mode (``effconv.trained.load_trained``): e.g.
    ``effconv.load_trained("acnet", "cifar-quick-acnet", seed=0, fused=True)``."""
    from effconv.trained import load_trained as load  # imported on use: `import effconv` stays light

    return load(chapter, name, seed, fused=fused)
