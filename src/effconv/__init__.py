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

__all__ = ["EffconvError", "__version__"]
