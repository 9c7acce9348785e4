"""Where and how a result was produced: device, library versions, commit, command, times.

It sits beside ``paths`` at the bottom of the package: the runner, the benchmarks and the latency
measurements all record it, so it may import nothing of effconv above ``paths``.
"""

from __future__ import annotations

import os
import platform
import re
import socket
import subprocess
import sys
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

import torch

from effconv.errors import EffconvError
from effconv.paths import repo_root


@lru_cache(maxsize=None)
def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def device_name(device: str | torch.device = "cpu") -> str:
    """A human description: the GPU's name, or the CPU model with the threads torch uses."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    threads = torch.get_num_threads()
    return f"{cpu_name()} ({threads} thread{'s' if threads > 1 else ''})"


def machine(provenance: dict[str, Any]) -> str:
    """Where a run ran, as runs are compared: the GPU's name, or the CPU model and its vector unit (the same
    core trains about twice as fast with AVX-512 as with AVX2), without the thread count (every run here
    uses one thread)."""
    device = re.sub(r" \(\d+ threads?\)$", "", provenance.get("device") or "unknown device")
    if provenance.get("device_type", "cpu") != "cpu":
        return device
    return f"{device}, {provenance.get('cpu_capability') or 'ISA level not recorded'}"


def this_machine() -> str:
    """``machine`` of a CPU run started here, now."""
    return machine({"device": device_name("cpu"), "device_type": "cpu",
                    "cpu_capability": torch.backends.cpu.get_cpu_capability()})


COMMIT_ENV = "EFFCONV_COMMIT"
_HEX = frozenset("0123456789abcdef")


def git_state() -> dict[str, Any]:
    """The commit the running code came from and whether ``src/`` differs from it.

    Where ``.git`` did not travel with the code (a working tree copied to a GPU job, a container image,
    a cluster's scratch copy), the commit comes from ``EFFCONV_COMMIT`` (set it before copying:
    ``export EFFCONV_COMMIT=$(git rev-parse HEAD)``); the tree was copied from that commit, so it is
    recorded as clean only if the copier says so with ``EFFCONV_COMMIT_CLEAN=1``, else as unknown (None).
    """
    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", *args], cwd=repo_root(), capture_output=True, text=True, timeout=10)

    try:
        head = run("rev-parse", "HEAD")
        if head.returncode == 0 and head.stdout.strip():
            dirty = bool(run("status", "--porcelain", "--untracked-files=no", "--", "src").stdout.strip())
            return {"commit": head.stdout.strip(), "dirty_src": dirty}
    except (OSError, subprocess.SubprocessError):
        pass
    return commit_from_env()


def commit_from_env() -> dict[str, Any]:
    """``{"commit", "dirty_src"}`` from ``EFFCONV_COMMIT`` (a full or abbreviated hex hash), or both None;
    anything else in the variable is refused with the fix."""
    commit = os.environ.get(COMMIT_ENV, "").strip().lower()
    if not commit:
        return {"commit": None, "dirty_src": None}
    if not 7 <= len(commit) <= 40 or not set(commit) <= _HEX:
        raise EffconvError(f"{COMMIT_ENV}={commit!r} is not a commit hash; set it to the output of "
                           "`git rev-parse HEAD` in the clone the code was copied from.")
    clean = os.environ.get("EFFCONV_COMMIT_CLEAN", "").strip() == "1"
    return {"commit": commit, "dirty_src": False if clean else None, "source": COMMIT_ENV}


def versions() -> dict[str, str]:
    import numpy
    import pytorch_lightning
    import torchvision

    import effconv

    return {"python": platform.python_version(), "torch": torch.__version__, "torchvision": torchvision.__version__,
            "pytorch_lightning": pytorch_lightning.__version__, "numpy": numpy.__version__, "effconv": effconv.__version__,
            "cuda": torch.version.cuda or "none"}


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def provenance(device: str | torch.device = "cpu", git: dict[str, Any] | None = None) -> dict[str, Any]:
    """Everything about where a result was produced. Pass ``git`` as read when the run started: the code
    that ran is the code loaded then, whatever happens to the working tree during a long run."""
    return {"device": device_name(device), "device_type": torch.device(device).type,
            "cpu_capability": torch.backends.cpu.get_cpu_capability(), "host": socket.gethostname(),
            "platform": platform.platform(), "versions": versions(), "git": git or git_state(),
            "command": " ".join(sys.argv)}
