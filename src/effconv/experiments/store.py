"""The content-addressed results store: ``results/<chapter>/<name>-<key>.json``.

Writes are atomic (temporary file + rename) and made under a per-spec file lock, so two runs of one
spec cannot interleave; a file that does not parse, or whose spec does not hash to its key, is
reported and treated as missing (re-run), never used. Smoke-profile results go to a store in the
local cache, never into ``results/``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Iterator

from filelock import FileLock

from effconv.errors import EffconvError
from effconv.experiments.spec import ExperimentSpec
from effconv.io import atomic_write_json
from effconv.paths import cache_dir, results_dir

SCHEMA = 1
log = logging.getLogger("effconv")


def read_result(path: str | Path) -> dict[str, Any]:
    """Load a result file, or raise EffconvError saying what is wrong with it."""
    path = Path(path)
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise EffconvError(f"result file {path} does not exist.") from err
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise EffconvError(f"result file {path} is not valid JSON ({err}); delete it and rerun its experiment.") from err
    if not isinstance(payload, dict) or "spec" not in payload or "metrics" not in payload:
        raise EffconvError(f"result file {path} is not an effconv result (no spec/metrics); delete it and rerun.")
    return payload


class ResultStore:
    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else results_dir()

    @classmethod
    def for_profile(cls, profile: str) -> "ResultStore":
        return cls(cache_dir() / "smoke-results") if profile == "smoke" else cls()

    def path(self, spec: ExperimentSpec) -> Path:
        return self.root / spec.chapter / spec.filename

    def lock(self, spec: ExperimentSpec) -> FileLock:
        locks = cache_dir() / "locks"
        locks.mkdir(parents=True, exist_ok=True)
        return FileLock(str(locks / f"{spec.chapter}-{spec.filename}.lock"))

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
            log.warning("%s; it will be re-run instead of used.", err)
            return None
        return result

    def save(self, spec: ExperimentSpec, result: dict[str, Any]) -> Path:
        result = {"schema": SCHEMA, "key": spec.key, "spec": spec.to_dict(), **result}
        return atomic_write_json(self.path(spec), result)

    def results(self, chapter: str) -> Iterator[tuple[Path, dict[str, Any]]]:
        """Every readable result of a chapter (unreadable ones are reported and skipped)."""
        for path in sorted((self.root / chapter).glob("*.json")):
            try:
                yield path, read_result(path)
            except EffconvError as err:
                log.warning("%s", err)
