"""Atomic file writes: a reader sees the old file or the new one, never half of one.

The temporary file carries the writer's pid and host in its name, so a later write to the same target
removes temporaries left by a writer on this host that was killed (its pid no longer runs); on a folder
shared by several nodes (a cluster's results store) another host's temporaries are never touched, since
its pids mean nothing here. Two nodes writing the same result each rename a complete file of their own
over it: a reader sees one whole file, never a torn one, and no lock is needed (a lock file on a network
filesystem is not to be trusted). Files end up with mode 0644
(``mkstemp`` creates them 0600, which would hide committed results from other users). A write that
fails for lack of space or permission becomes one EffconvError line with the fix.
"""

from __future__ import annotations

import json
import os
import re
import socket
import tempfile
from pathlib import Path
from typing import Any

from effconv.errors import EffconvError

FILE_MODE = 0o644


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


def _host() -> str:
    """This host's name as it may appear in a file name."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname()) or "host"


def remove_orphans(path: Path) -> list[Path]:
    """Delete temporaries of ``path`` (``.<name>.<pid>@<host>.*.tmp``, or ``.<name>.<pid>.*.tmp`` from before
    hosts were named) written on this host by a process that no longer runs."""
    pattern = re.compile(re.escape(f".{path.name}.") + r"(\d+)(?:@([A-Za-z0-9_-]+))?\..*\.tmp")
    removed = []
    for candidate in path.parent.glob(f".{path.name}.*.tmp"):
        match = pattern.fullmatch(candidate.name)
        if match and match.group(2) not in (None, _host()):
            continue  # another node's temporary: its pid cannot be checked from here
        if match and int(match.group(1)) != os.getpid() and not _pid_alive(int(match.group(1))):
            candidate.unlink(missing_ok=True)
            removed.append(candidate)
    return removed


def write_error(path: Path, err: OSError) -> EffconvError:
    """An OSError while writing ``path`` as one line naming the folder and the fix."""
    return EffconvError(f"cannot write {path} ({err.strerror or err}); make {path.parent} writable or free disk "
                        "space there (or point EFFCONV_RESULTS / EFFCONV_CACHE elsewhere), then rerun.")


def check_writable(folder: str | Path) -> Path:
    """Prove a file can be written in ``folder`` (or, while it does not exist yet, in its nearest existing
    parent, without creating anything) before any long work starts."""
    folder = Path(folder)
    probe_in = folder
    while not probe_in.exists() and probe_in.parent != probe_in:
        probe_in = probe_in.parent
    try:
        if not probe_in.is_dir():
            raise NotADirectoryError(20, "Not a directory", str(probe_in))
        fd, probe = tempfile.mkstemp(prefix=".effconv-probe.", dir=probe_in)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise write_error(folder / "...", err) from None
    return folder


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file in the same folder and a rename."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename: a reader sees the
    old file or the new one, never half of one."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_orphans(path)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}@{_host()}.", suffix=".tmp", dir=path.parent)
    except OSError as err:
        raise write_error(path, err) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except OSError as err:
        Path(tmp).unlink(missing_ok=True)
        raise write_error(path, err) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_json(path: str | Path, payload: Any) -> Path:
    """``payload`` as JSON; NaN and infinity are refused (JSON has no such numbers)."""
    try:
        text = json.dumps(payload, indent=1, sort_keys=True, default=_jsonable, allow_nan=False)
    except ValueError as err:
        raise EffconvError(f"refusing to write {path}: it would hold a NaN or infinite number ({err}).") from None
    return atomic_write_text(path, text + "\n")


def _jsonable(value: Any) -> Any:
    """Numpy/torch scalars and tuples in results become plain JSON values."""
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} in a result file")
