"""Where and how a result was produced: device, library versions, commit, command, times."""

from __future__ import annotations

import platform
import socket
import subprocess
import sys
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

import torch

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


def git_state() -> dict[str, Any]:
    def run(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=repo_root(), capture_output=True, text=True, timeout=10).stdout.strip()

    try:
        commit = run("rev-parse", "HEAD")
        dirty = bool(run("status", "--porcelain", "--untracked-files=no", "--", "src"))
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty_src": None}
    return {"commit": commit or None, "dirty_src": dirty}


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
