"""Rename results stored under an older spec hash to the key the current code computes.

Until the precision joined every key, a recipe at "auto" precision was hashed without it. Such a file
(``<name>-<old key>.json``, its stored spec hashing to that old key) is renamed to the key of the same spec
with the precision the run trained in, as its provenance records it (a CPU run without a record trained in
fp32, which is all "auto" can mean there). Only ``key`` and ``spec.recipe.precision`` change in the file;
metrics, curve, analyses and provenance are kept as they are. A file already at its current key is left
alone, so running the migration again changes nothing and picks up old-key files that landed since (a run
started from an older checkout). A target that exists with other content is reported, never overwritten.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from effconv.errors import EffconvError
from effconv.experiments.spec import ExperimentSpec, digest
from effconv.experiments.store import ResultStore, read_result, stored_files
from effconv.io import atomic_write_json
from effconv.train.recipes import PRECISIONS

STATUSES = ("renamed", "current", "conflicting", "refused")


@dataclass
class FileReport:
    """One (file, status, detail) row per result file looked at; ``STATUSES`` names the statuses, in the order
    the summary counts them (the migration's here; ``effconv.experiments.merge`` has its own)."""

    rows: list[tuple[str, str, str]] = field(default_factory=list)
    STATUSES = STATUSES

    def add(self, name: str, status: str, detail: str = "") -> None:
        self.rows.append((name, status, detail))

    def count(self, status: str) -> int:
        return sum(row[1] == status for row in self.rows)

    def summary(self) -> str:
        return ", ".join(f"{self.count(s)} {s}" for s in self.STATUSES)


class MigrationReport(FileReport):
    """What a migration did to each stored result (``STATUSES``)."""


def trained_precision(result: dict[str, Any]) -> str:
    """The concrete precision a stored run trained in, from its provenance; one line when it cannot be told."""
    prov = result.get("provenance", {})
    recorded = prov.get("precision")
    if recorded in PRECISIONS and recorded != "auto":
        return recorded
    if prov.get("accelerator") == "cpu" or prov.get("device_type") == "cpu":
        return "32-true"  # "auto" on a CPU has always meant fp32
    raise EffconvError("its provenance does not record the precision it trained in; give its recipe the precision "
                       "by hand (spec.recipe.precision) and fix the key, or delete it and rerun")


def migrated(path: Path, result: dict[str, Any]) -> dict[str, Any] | None:
    """The content ``path`` should hold under the current key, or None when it is at its current key already.
    Raises EffconvError (the reason) for a file that is neither current nor an old key this module knows."""
    spec = result["spec"]
    current = ExperimentSpec.from_dict(spec)
    if current.key == result["key"] and path.name == current.filename:
        return None
    if digest(spec) != result["key"] or path.name != f"{spec.get('name')}-{result['key']}.json":
        raise EffconvError(f"its spec hashes to {digest(spec)}, not to the key {result['key']} it carries or its file "
                           "name (edited after it ran?)")
    recipe = spec.get("recipe", {})
    if recipe.get("precision", "auto") != "auto":
        raise EffconvError(f"its key is older than this migration knows (recipe precision {recipe['precision']!r} "
                           "was always hashed); rerun it")
    new_spec = {**spec, "recipe": {**recipe, "precision": trained_precision(result)}}
    new_key = ExperimentSpec.from_dict(new_spec).key
    if digest(new_spec) != new_key:
        raise EffconvError("its spec differs from the current code's in more than the precision; rerun it")
    return {**result, "key": new_key, "spec": new_spec}


def migrate(root: Path | None = None, *, dry_run: bool = False) -> MigrationReport:
    """Rename every result under ``root`` (default ``results/``, history folders included) whose file key is an
    old hash to its current key; see the module docstring."""
    store = ResultStore(root)
    report = MigrationReport()
    for path in stored_files(store.root):
        name = str(path.relative_to(store.root))
        try:
            result = read_result(path)
            content = migrated(path, result)
        except EffconvError as err:
            report.add(name, "refused", str(err).rstrip("."))
            continue
        if content is None:
            report.add(name, "current")
            continue
        spec = ExperimentSpec.from_dict(content["spec"])
        if dry_run:
            report.add(name, *_place(path, spec, content, write=False))
            continue
        with store.lock(spec):  # a run of the same spec must not write the target meanwhile
            report.add(name, *_place(path, spec, content, write=True))
    return report


def _place(path: Path, spec: ExperimentSpec, content: dict[str, Any], *, write: bool) -> tuple[str, str]:
    """Move ``path`` to ``spec``'s file name holding ``content`` (when ``write``); returns (status, detail)."""
    target = path.with_name(spec.filename)
    detail = f"-> {target.name}"
    if target.exists():
        try:
            same = json.loads(target.read_text(encoding="utf-8")) == content
        except (OSError, json.JSONDecodeError, UnicodeDecodeError):
            same = False
        if not same:
            return "conflicting", f"{target.name} exists with other content; both kept, resolve by hand"
        detail += " (there already, identical: only the old name goes)"
    elif write:
        atomic_write_json(target, content)
    if write:
        path.unlink()
    return "renamed", detail
