"""The content-addressed results store: ``results/<chapter>/<name>-<key>.json``.

Writes are atomic (temporary file + rename) and made under a per-spec file lock, so two runs of one
spec cannot interleave; a file that does not parse, or whose spec does not hash to its key, is
reported and treated as missing (re-run), never used. Smoke-profile results go to a store in the
local cache, never into ``results/``.

``results/<chapter>/history/`` keeps runs that no current plan uses (earlier widths, dropped arms): they stay
committed with their provenance, but a lookup never returns them, so they can never count as evidence.
"""

from __future__ import annotations

import json
import logging
import math
import os
import socket
import sys
from pathlib import Path
from typing import Any, Iterator

from filelock import FileLock, Timeout

from effconv.errors import EffconvError
from effconv.experiments.spec import ExperimentSpec
from effconv.io import atomic_write_json, atomic_write_text, check_writable
from effconv.paths import cache_dir, results_dir

SCHEMA = 1
#: the sub-folder of a chapter's results that holds runs no current plan uses (kept, never looked up)
HISTORY = "history"
#: folders of ``results/`` that hold no training results
NOT_RESULTS = ("bench",)
log = logging.getLogger("effconv")


def read_result(path: str | Path) -> dict[str, Any]:
    """Load a result file, or raise EffconvError saying in one line what is wrong with it."""
    path = Path(path)
    if path.is_dir():
        raise EffconvError(f"{path} is a folder; give one result file (results/<chapter>/<name>-<key>.json).")
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise EffconvError(f"result file {path} does not exist.") from err
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise EffconvError(f"result file {path} is not valid JSON ({err}); delete it and rerun its experiment.") from err
    except OSError as err:
        raise EffconvError(f"cannot read result file {path} ({err.strerror or err}); check its permissions.") from err
    if not isinstance(payload, dict) or "spec" not in payload or "metrics" not in payload:
        raise EffconvError(f"result file {path} is not an effconv result (no spec/metrics); delete it and rerun.")
    problem = schema_problem(payload)
    if problem:
        raise EffconvError(f"result file {path} does not match the result schema: {problem}; delete it and rerun "
                           "its experiment.")
    return payload


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def schema_problem(payload: dict[str, Any]) -> str | None:
    """What is wrong with a result's shape (version, required keys and types, curve length), or None."""
    if payload.get("schema") != SCHEMA:
        return f"schema version {payload.get('schema')!r}, expected {SCHEMA}"
    required = {"key": str, "spec": dict, "metrics": dict, "curve": list, "provenance": dict}
    for name, kind in required.items():
        if not isinstance(payload.get(name), kind):
            return f"{name!r} is missing or not a {kind.__name__}"
    if not isinstance(payload.get("analyses", {}), dict):
        return "'analyses' is not a dict"
    metrics, prov = payload["metrics"], payload["provenance"]
    if not isinstance(metrics.get("final"), dict) or not isinstance(metrics.get("best"), dict):
        return "metrics.final or metrics.best is missing or not a dict"
    acc = metrics["final"].get("test_acc")
    if not _number(acc) or not 0 <= acc <= 1:
        return f"metrics.final.test_acc is {acc!r}, not an accuracy in [0, 1]"
    if not _number(prov.get("wall_seconds")) or not isinstance(prov.get("device"), str):
        return "provenance.wall_seconds or provenance.device is missing or of the wrong type"
    if not all(isinstance(row, dict) for row in payload["curve"]):
        return "the curve holds something other than per-epoch rows"
    epochs = payload["spec"].get("recipe", {}).get("epochs") if isinstance(payload["spec"].get("recipe"), dict) else None
    if not isinstance(epochs, int):
        return "spec.recipe.epochs is missing or not an integer"
    if len(payload["curve"]) != epochs:
        return f"the curve has {len(payload['curve'])} epochs but the recipe trains {epochs}"
    return None


_reported: set[tuple[str, int, int]] = set()


def _report_once(path: Path, message: str) -> None:
    """One warning per bad file (and version of it) per process: lookups and the run each load it."""
    try:
        info = path.stat()
        stamp = (str(path), info.st_mtime_ns, info.st_size)
    except OSError:
        stamp = (str(path), 0, 0)
    if stamp not in _reported:
        _reported.add(stamp)
        log.warning("%s", message)


def is_history(path: str | Path) -> bool:
    """Whether a result file sits in a chapter's ``history/`` folder."""
    return Path(path).parent.name == HISTORY


def stored_files(root: str | Path, *, history: bool = True) -> list[Path]:
    """Every training result file under ``root``: ``<chapter>/*.json`` and, with ``history``, the files kept in
    ``<chapter>/history/``; benchmarks are not training results."""
    root = Path(root)
    files = sorted(p for p in root.glob("*/*.json") if p.parent.name not in NOT_RESULTS)
    if history:
        files += sorted(p for p in root.glob(f"*/{HISTORY}/*.json") if p.parent.parent.name not in NOT_RESULTS)
    return files


def keep_as_history(path: str | Path) -> Path:
    """Move a result file into its chapter's ``history/`` folder (a rename on one filesystem, so a reader sees
    it in one place or the other); an existing file of that name there is never replaced."""
    path = Path(path)
    target = path.parent / HISTORY / path.name
    if is_history(path):
        raise EffconvError(f"{path} is in a history folder already.")
    if target.exists():
        raise EffconvError(f"{target} exists already; compare it with {path} and delete one of them by hand.")
    try:
        target.parent.mkdir(exist_ok=True)
        os.rename(path, target)
    except OSError as err:
        raise EffconvError(f"cannot move {path} to {target.parent} ({err.strerror or err}); check the folder's "
                           "permissions.") from None
    return target


class ResultStore:
    """The results of a folder (default ``results/``, or ``$EFFCONV_RESULTS``), one JSON file per experiment spec.

    >>> from effconv.experiments.store import ResultStore
    >>> store = ResultStore()                             # the committed results
    >>> rows = [result["metrics"]["final"]["test_acc"] for _, result in store.results("acnet")]
    """

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else results_dir()

    @classmethod
    def for_profile(cls, profile: str) -> "ResultStore":
        """The store a profile writes to: the local cache for ``smoke``, ``results/`` otherwise."""
        return cls(cache_dir() / "smoke-results") if profile == "smoke" else cls()

    def path(self, spec: ExperimentSpec) -> Path:
        """Where ``spec``'s result lives: ``<root>/<chapter>/<name>-<key>.json``."""
        return self.root / spec.chapter / spec.filename

    def lock(self, spec: ExperimentSpec) -> "HolderLock":
        """The per-spec file lock a run holds while it trains and saves (in the cache's ``locks/``)."""
        locks = check_writable(cache_dir() / "locks")
        locks.mkdir(parents=True, exist_ok=True)
        return HolderLock(locks / f"{spec.chapter}-{spec.filename}.lock")

    def check_writable(self, spec: ExperimentSpec) -> None:
        """Fail now, not after hours of training, if the result could not be written."""
        check_writable(self.path(spec).parent)

    def load(self, spec: ExperimentSpec) -> dict[str, Any] | None:
        """The stored result for ``spec``, or None when missing or unusable (reported)."""
        path = self.path(spec)
        if not path.exists():
            return None
        try:
            result = read_result(path)
            if result.get("key") != spec.key or ExperimentSpec.from_dict(result["spec"]).key != spec.key:
                raise EffconvError(f"result file {path} holds a different experiment than its name says")
        except EffconvError as err:
            _report_once(path, f"{str(err).rstrip('.')}; it will be re-run instead of used.")
            return None
        return result

    @staticmethod
    def payload(spec: ExperimentSpec, result: dict[str, Any]) -> dict[str, Any]:
        """What a result file holds: the schema version, the spec and its key, then the result."""
        return {"schema": SCHEMA, "key": spec.key, "spec": spec.to_dict(), **result}

    def save(self, spec: ExperimentSpec, result: dict[str, Any]) -> Path:
        """Write ``result`` for ``spec`` atomically (temporary file + rename) and return its path."""
        return atomic_write_json(self.path(spec), self.payload(spec, result))

    def results(self, chapter: str, *, history: bool = False) -> Iterator[tuple[Path, dict[str, Any]]]:
        """Every readable result of a chapter (unreadable ones are reported and skipped); those kept in its
        ``history/`` folder only when ``history`` is true, and then only they."""
        folder = self.root / chapter / HISTORY if history else self.root / chapter
        for path in sorted(folder.glob("*.json")):
            try:
                yield path, read_result(path)
            except EffconvError as err:
                log.warning("%s", err)


class HolderLock:
    """A file lock that says who holds it: the holder writes its pid, host and command next to the lock,
    and a process that has to wait prints that once instead of hanging silently."""

    def __init__(self, path: Path, log=None):
        self.path = Path(path)
        self.holder = self.path.with_name(self.path.name + ".holder")
        self._lock = FileLock(str(self.path))
        self._log = log or (lambda message: print(message, file=sys.stderr))

    def __enter__(self) -> "HolderLock":
        try:
            self._lock.acquire(timeout=0)
        except Timeout:
            self._log(f"waiting for {self.path.name}: held by {self.held_by()}")
            self._lock.acquire()
        try:
            atomic_write_text(self.holder, f"pid {os.getpid()} on {socket.gethostname()}: {' '.join(sys.argv)}\n")
        except EffconvError:
            pass  # the note is a courtesy to waiting processes; the lock itself is what counts
        return self

    def __exit__(self, *exc: Any) -> None:
        self.holder.unlink(missing_ok=True)
        self._lock.release()

    def held_by(self) -> str:
        """Who holds the lock, as its holder wrote it (pid, host and command), or a placeholder."""
        try:
            return self.holder.read_text(encoding="utf-8").strip() or "another process"
        except OSError:
            return "another process (no holder note)"
