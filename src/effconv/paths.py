"""Where things live: the repository, committed results, and the local cache."""

from __future__ import annotations

import os
from pathlib import Path

from effconv.errors import EffconvError


def repo_root() -> Path:
    """The repository root (this package is installed editable from ``src/``).

    ``EFFCONV_ROOT`` overrides it; otherwise the parent of ``src/`` if it looks like the repo,
    else the current directory.
    """
    env = os.environ.get("EFFCONV_ROOT")
    if env:
        return Path(env).resolve()
    here = Path(__file__).resolve()
    candidate = here.parents[2]  # src/effconv/paths.py -> repo
    if (candidate / "pyproject.toml").exists() and (candidate / "src" / "effconv").exists():
        return candidate
    return Path.cwd().resolve()


def results_dir() -> Path:
    """Committed results (``results/`` in the repo), or ``EFFCONV_RESULTS`` if set."""
    env = os.environ.get("EFFCONV_RESULTS")
    return Path(env).resolve() if env else repo_root() / "results"


def cache_dir() -> Path:
    """Local, never committed cache: decoded data, checkpoints, smoke results.

    ``EFFCONV_CACHE`` overrides; default ``$XDG_CACHE_HOME/effconv`` or ``~/.cache/effconv``.
    """
    env = os.environ.get("EFFCONV_CACHE")
    if env:
        path = Path(env)
    else:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        path = Path(base) / "effconv"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise EffconvError(f"cannot create the cache folder {path} ({err.strerror or err}); set EFFCONV_CACHE to a "
                           "writable folder with free space.") from None
    return path.resolve()
