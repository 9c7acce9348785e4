"""Merge results trained elsewhere (a time-limited job's archive, a cluster's results folder) into this store.

Each incoming result is checked before it is copied: it must match the result schema, its spec must hash
to the key it carries and to the key in its file name, it must sit under its own chapter's folder, and
its provenance must name a commit whose source was not modified. A result whose key is new is copied
(atomically); one whose key is stored already is *identical* when its metrics and analyses equal the
stored ones (the stored file is kept) and *conflicting* otherwise: a conflict is reported and never
overwritten. Benchmarks (``results/bench/``) are copied when new and reported when they differ.

Runs no current plan uses go to the chapter's ``history/`` folder (kept, never looked up as evidence): those
the source keeps in its own ``history/`` and, given ``planned``, every incoming run it says no plan uses.
"""

from __future__ import annotations

import tarfile
import tempfile
from pathlib import Path
from typing import Any, Callable

from effconv.errors import EffconvError
from effconv.experiments.migrate import FileReport, migrated
from effconv.experiments.spec import ExperimentSpec
from effconv.experiments.store import HISTORY, is_history, read_result, stored_files
from effconv.io import atomic_write_text
from effconv.paths import results_dir

STATUSES = ("new", "identical", "conflicting", "refused")


class MergeReport(FileReport):
    """What a merge did with each file of the source (name in the source, status, reason)."""

    STATUSES = STATUSES


def problem(path: Path, chapter: str) -> str | None:
    """Why the result at ``path`` (under a folder named ``chapter``) may not be merged, or None."""
    try:
        result = read_result(path)
        spec = ExperimentSpec.from_dict(result["spec"])
    except EffconvError as err:
        return str(err).rstrip(".")
    if spec.key != result["key"] and _older_key(path, result):
        return ("it is stored under an older spec hash (precision left out); run `effconv results migrate FOLDER` "
                "on the unpacked results, then merge them")
    if spec.key != result["key"]:
        return f"its spec hashes to {spec.key}, not to the key {result['key']} it carries (edited after it ran?)"
    if path.name != spec.filename:
        return f"its file name does not match its content: expected {spec.filename}"
    if spec.chapter != chapter:
        return f"it belongs to chapter {spec.chapter!r}, not to the folder {chapter!r} it is in"
    if spec.profile == "smoke":
        return "it is a smoke-profile result (those stay in the local cache)"
    git = result["provenance"].get("git") or {}
    if not git.get("commit"):
        return "its provenance names no commit (set EFFCONV_COMMIT where .git does not travel with the code)"
    if git.get("dirty_src"):
        return f"it ran on uncommitted source (commit {git['commit'][:10]} with src/ modified)"
    return None


def _older_key(path: Path, result: dict[str, Any]) -> bool:
    """Whether the result was stored by a checkout from before the precision joined the key."""
    try:
        return migrated(path, result) is not None
    except EffconvError:
        return False


def _same_outcome(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a.get("metrics") == b.get("metrics") and a.get("analyses", {}) == b.get("analyses", {})


def merge_folder(source: Path, target: Path | None = None, *, dry_run: bool = False,
                 planned: Callable[[ExperimentSpec], bool] | None = None) -> MergeReport:
    """Merge ``source`` (a folder holding ``results/<chapter>/*.json``, or a results folder itself) into
    ``target`` (default this repository's ``results/``). ``planned``: whether a current plan uses a spec; a
    run it refuses is merged into the chapter's ``history/``."""
    target = target or results_dir()
    source = Path(source)
    top = source / "results" if (source / "results").is_dir() else source
    report = MergeReport()
    files = sorted(top.glob("bench/*.json")) + stored_files(top)
    if not files:
        raise EffconvError(f"no results (results/<chapter>/<name>-<key>.json) in {source}; give the archive or "
                           "folder a time-limited job or a cluster campaign wrote.")
    for path in files:
        name = str(path.relative_to(top))
        chapter = path.parent.parent.name if is_history(path) else path.parent.name
        if chapter == "bench":
            destination = target / chapter / path.name
            incoming = path.read_bytes()
            if not destination.exists():
                report.add(name, "new")
                if not dry_run:
                    atomic_write_text(destination, incoming.decode("utf-8"))
            else:
                report.add(name, "identical" if destination.read_bytes() == incoming else "conflicting",
                           "" if destination.read_bytes() == incoming else "a different benchmark file is stored")
            continue
        why = problem(path, chapter)
        if why:
            report.add(name, "refused", why)
            continue
        incoming = read_result(path)
        unplanned = planned is not None and not planned(ExperimentSpec.from_dict(incoming["spec"]))
        history = is_history(path) or unplanned
        destination = target / chapter / (HISTORY if history else "") / path.name
        if destination.exists():
            try:
                stored = read_result(destination)
            except EffconvError as err:
                report.add(name, "conflicting", f"the stored file is unreadable ({str(err).rstrip('.')})")
                continue
            if _same_outcome(stored, incoming):
                report.add(name, "identical")
            else:
                ours, theirs = stored["metrics"]["final"]["test_acc"], incoming["metrics"]["final"]["test_acc"]
                report.add(name, "conflicting", f"same key, other metrics (stored test acc {ours:.4f}, incoming "
                                                f"{theirs:.4f}); kept the stored file")
            continue
        report.add(name, "new", f"into {chapter}/{HISTORY}/: no current plan uses it" if unplanned else "")
        if not dry_run:
            atomic_write_text(destination, path.read_text(encoding="utf-8"))  # verbatim: it was checked as is
    return report


def merge(source: str | Path, target: Path | None = None, *, dry_run: bool = False,
          planned: Callable[[ExperimentSpec], bool] | None = None) -> MergeReport:
    """Merge an archive (``.tar.gz``, unpacked safely into a temporary folder) or a folder; see ``merge_folder``."""
    source = Path(source)
    if source.is_dir():
        return merge_folder(source, target, dry_run=dry_run, planned=planned)
    if not source.is_file():
        raise EffconvError(f"{source} does not exist; give a results archive (.tar.gz) or a folder.")
    if not tarfile.is_tarfile(source):
        raise EffconvError(f"{source} is neither a folder nor a tar archive; give the results.tar.gz a job wrote.")
    with tempfile.TemporaryDirectory(prefix="effconv-merge-") as scratch:
        with tarfile.open(source) as tar:
            # the "data" filter refuses absolute paths, links out of the folder and device files
            tar.extractall(scratch, filter="data")
        return merge_folder(Path(scratch), target, dry_run=dry_run, planned=planned)
