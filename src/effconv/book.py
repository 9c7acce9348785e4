"""Build the book: execute every chapter and page notebook with papermill, then render with Jupyter Book.

``make book`` calls ``effconv book``. Chapters (``chapters/NN_*.ipynb``) run first, then the book's own
page notebooks (``book/pages/*.ipynb``: the overview stacks the committed ``claims.csv`` ledgers, which
``effconv claims`` writes; rendering writes no tracked file). Executed copies go to ``book/_generated/``
(git-ignored), and so do the build products: the intro's answer and findings box (``answer.md`` and
``findings.md``, which ``book/intro.md`` includes) and the live claims each chapter timed (``live/<chapter>.csv``, through
``EFFCONV_LIVE_DIR``), which the overview counts. The build fails on a notebook error, on any error or
stderr output in an executed notebook, and on any Sphinx warning.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat

from effconv.claims.live import ENV as LIVE_ENV
from effconv.errors import EffconvError
from effconv.paths import repo_root
from effconv.studies.answer import write_intro_answer
from effconv.studies.findings import write_intro_findings
from effconv.train.recipes import check_profile

PAGE_ORDER = ("overview", "provenance", "performance")


def sources(only: list[str] | None = None) -> list[Path]:
    root = repo_root()
    chapters = sorted((root / "chapters").glob("[0-9][0-9]_*.ipynb"))
    pages = sorted((root / "book" / "pages").glob("*.ipynb"),
                   key=lambda p: PAGE_ORDER.index(p.stem) if p.stem in PAGE_ORDER else len(PAGE_ORDER))
    found = chapters + pages
    if only:
        def matches(path: Path, name: str) -> bool:
            return path.stem == name or path.stem.split("_", 1)[-1] == name

        # every name must exist: one typo among good names would otherwise be skipped silently
        unknown = [name for name in only if not any(matches(p, name) for p in found)]
        if unknown:
            names = ", ".join(p.stem.split("_", 1)[-1] if p.parent.name == "chapters" else p.stem for p in found)
            raise EffconvError(f"no chapter or page named {', '.join(unknown)}; available: {names}.")
        return [p for p in found if any(matches(p, o) for o in only)]
    return found



def toc_pages() -> list[str]:
    """The files listed in ``_toc.yml`` (without suffix), root first."""
    import yaml

    toc = yaml.safe_load((repo_root() / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [entry["file"] for entry in part.get("chapters", [])]
    return files


def output_problems(path: Path) -> list[str]:
    """Error outputs and stderr streams in an executed notebook: the book must show none."""
    problems = []
    notebook = nbformat.read(path, as_version=4)
    for index, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                problems.append(f"cell {index}: {output.get('ename')}: {output.get('evalue')}")
            elif output.get("output_type") == "stream" and output.get("name") == "stderr":
                problems.append(f"cell {index}: stderr: {output.get('text', '').strip()[:300]}")
    return problems


def _kernel_manager_class():
    from jupyter_client.manager import AsyncKernelManager

    class LocalSocketKernelManager(AsyncKernelManager):
        """Kernels talk over local IPC sockets: no network port (and no plaintext-TCP warning)."""

        transport = "ipc"

    return LocalSocketKernelManager


def execute(source: Path, output: Path, parameters: dict) -> float:
    import papermill

    started = time.perf_counter()
    try:
        papermill.execute_notebook(str(source), str(output), parameters=parameters, kernel_name="python3",
                                   progress_bar=False, cwd=str(repo_root()), log_output=False,
                                   kernel_manager_class=_kernel_manager_class())
    except papermill.PapermillExecutionError as err:
        raise EffconvError(f"{source.name} failed in cell {err.exec_count}: {err.ename}: {err.evalue}") from err
    problems = output_problems(output)
    if problems:
        raise EffconvError(f"{source.name} printed error output:\n  " + "\n  ".join(problems))
    _hide_default_parameters(output)
    _drop_empty_toggles(output)
    return time.perf_counter() - started


def _effective_parameters(defaults: str, injected: str) -> str:
    """Papermill's injected assignments followed by every default they do not override: the values the
    page actually used, all in one cell (so no visible code uses a parameter that no cell defines)."""
    given = {t.id for node in ast.parse(injected).body if isinstance(node, ast.Assign)
             for t in node.targets if isinstance(t, ast.Name)}
    kept = [ast.get_source_segment(defaults, node) for node in ast.parse(defaults).body
            if not (isinstance(node, ast.Assign) and {t.id for t in node.targets if isinstance(t, ast.Name)} <= given)]
    lines = [line for line in injected.splitlines() if line.strip()]
    return "\n".join(lines + [k for k in kept if k]) + "\n"


def _hide_default_parameters(path: Path) -> None:
    """One parameters cell on the page, folded away (plumbing): papermill's injected values merged with
    the defaults they leave alone; the defaults cell itself is removed."""
    notebook = nbformat.read(path, as_version=4)
    injected = next((c for c in notebook.cells if "injected-parameters" in c.metadata.get("tags", [])), None)
    if injected is None:
        return
    for cell in notebook.cells:
        tags = cell.metadata.get("tags", [])
        if "parameters" in tags and "remove-cell" not in tags:
            injected.source = _effective_parameters(cell.source, injected.source)
            cell.metadata["tags"] = [*tags, "remove-cell"]
    tags = injected.metadata.get("tags", [])
    if "hide-input" not in tags:
        injected.metadata["tags"] = [*tags, "hide-input"]
    nbformat.write(notebook, path)


def _drop_empty_toggles(path: Path) -> None:
    """A folded code cell (``hide-input``) that showed nothing renders as a bare "Show code cell source" bar
    (two sat above every findings box): such a cell is removed from the page; its code stays in the notebook."""
    notebook = nbformat.read(path, as_version=4)
    changed = False
    for cell in notebook.cells:
        tags = cell.metadata.get("tags", [])
        if cell.cell_type == "code" and "hide-input" in tags and not cell.get("outputs"):
            cell.metadata["tags"] = [t for t in tags if t != "hide-input"] + ["remove-cell"]
            changed = True
    if changed:
        nbformat.write(notebook, path)


def build(only: list[str] | None = None, *, profile: str = "best", run_missing: bool = False,
          html: bool = True, log=print) -> None:
    check_profile(profile, allow_best=True)  # names are checked before any notebook runs
    chosen = sources(only)
    root = repo_root()
    generated = root / "book" / "_generated"
    generated.mkdir(parents=True, exist_ok=True)
    os.environ["EFFCONV_PROGRESS"] = "0"  # inherited by the kernels: no progress bars in the book
    os.environ.setdefault("PYTHONWARNINGS", "ignore::DeprecationWarning")
    live = generated / "live"
    shutil.rmtree(live, ignore_errors=True)  # the overview counts only what this build timed
    os.environ[LIVE_ENV] = str(live)  # chapters leave their live claims here for the overview
    total = time.perf_counter()
    for source in chosen:
        parameters = {"profile": profile, "run_missing": run_missing} if source.parent.name == "chapters" else {}
        seconds = execute(source, generated / source.name, parameters)
        log(f"executed {source.relative_to(root)} in {seconds:.0f} s")
    write_intro_findings(generated / "findings.md")  # the intro's findings box, from the ledgers
    write_intro_answer(generated / "answer.md")  # the intro's totals, strongest and weakest, scale
    missing = [page for page in toc_pages() if page.startswith("book/_generated/")
               and not (root / f"{page}.ipynb").exists()]
    if html and missing:
        log(f"not building the HTML: {len(missing)} pages are not executed yet ({', '.join(missing)}); "
            "run `make book` once to execute them all.")
        html = False
    if html:
        started = time.perf_counter()
        command = [str(Path(sys.executable).with_name("jupyter-book")), "build", str(root), "--builder", "html",
                   "--path-output", str(root / "book"), "-W", "--keep-going", "-q"]
        done = subprocess.run(command, cwd=root)
        if done.returncode != 0:
            raise EffconvError("jupyter-book reported warnings or errors (see above); the book was not accepted.")
        log(f"built {root / 'book' / '_build' / 'html' / 'index.html'} in {time.perf_counter() - started:.0f} s")
    log(f"book done in {time.perf_counter() - total:.0f} s")
