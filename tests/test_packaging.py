"""Packaging: the core install is the library alone (no plotting, no book), ships ``py.typed``, and the README's
"Use the library" example runs, both here and in a fresh venv that holds the core dependencies only."""

from __future__ import annotations

import importlib.metadata as metadata
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
CORE = {"torch", "torchvision", "pytorch-lightning", "numpy", "pandas", "pillow", "filelock", "tqdm"}
# what a user of the blocks must not be made to install or import
NOT_CORE = ("matplotlib", "seaborn", "myst_nb", "IPython", "jupyter_book", "sphinx", "papermill", "onnx",
            "onnxruntime", "ptflops")


def _names(requirements: list[str]) -> set[str]:
    return {canonicalize_name(Requirement(r).name) for r in requirements}


def readme_example() -> str:
    """The python block that follows the marker comment in the README's "Use the library" section."""
    text = (ROOT / "README.md").read_text()
    found = re.search(r"<!-- tests/test_packaging\.py runs this block[^>]*-->\n```python\n(.*?)```", text, re.S)
    assert found, "README.md lost its 'Use the library' example (or the marker comment above it)"
    return found.group(1)


def test_core_dependencies_are_the_library_only():
    assert _names(PYPROJECT["project"]["dependencies"]) == CORE
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert {"matplotlib", "seaborn"} <= _names(extras["plots"])
    assert {"jupyter-book", "papermill"} <= _names(extras["book"]) and "effconv[plots]" in extras["book"]
    assert {"pytest", "selenium"} <= _names(extras["test"])


def test_deploy_pins_agree_with_requirements():
    """onnx, onnxruntime and ptflops are pinned once in requirements.txt and identically in the [deploy] extra."""
    pinned = {canonicalize_name(Requirement(line.split("#")[0]).name): line.split("#")[0].strip()
              for line in (ROOT / "requirements.txt").read_text().splitlines() if line.split("#")[0].strip()}
    deploy = PYPROJECT["project"]["optional-dependencies"]["deploy"]
    assert sorted(deploy) == sorted(pinned[n] for n in ("onnx", "onnxruntime", "ptflops"))
    assert all("==" in r for r in deploy)


def test_py_typed_is_shipped():
    assert (ROOT / "src" / "effconv" / "py.typed").is_file()
    assert "py.typed" in PYPROJECT["tool"]["setuptools"]["package-data"]["effconv"]


def test_core_modules_do_not_import_plotting_or_the_book():
    code = ("import sys, effconv.ops, effconv.models, effconv.analysis.flops, effconv.analysis.latency, "
            "effconv.claims, effconv.experiments.store, effconv.analysis.flop_conventions, effconv.deploy\n"
            "effconv.models.list_models()\n"
            f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({NOT_CORE!r})))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", f"importing the core pulled in {done.stdout.strip()}"


def test_readme_example_runs(capsys):
    exec(compile(readme_example(), "README.md", "exec"), {})
    assert capsys.readouterr().out.strip() == "True"


# ------------------------------------------------------------------ a fresh venv, core dependencies only

def _closure(roots: set[str]) -> list[metadata.Distribution]:
    """The installed distributions ``roots`` need (markers evaluated for this interpreter), following the extras
    a requirement names (torch asks for ``cuda-toolkit[cublas, ...]``) and no other."""
    seen: dict[str, metadata.Distribution] = {}
    done: set[tuple[str, str]] = set()
    todo = [(name, "") for name in roots]
    while todo:
        name, extra = todo.pop()
        name = canonicalize_name(name)
        if (name, extra) in done:
            continue
        done.add((name, extra))
        dist = seen.setdefault(name, metadata.distribution(name))
        for line in dist.requires or []:
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate({"extra": extra}):
                todo += [(req.name, "")] + [(req.name, e) for e in req.extras]
    return list(seen.values())


def _core_site(target: Path) -> Path:
    """A folder of links to exactly the files of the closure of ``pyproject.toml``'s dependencies, from this venv."""
    target.mkdir()
    for dist in _closure({Requirement(r).name for r in PYPROJECT["project"]["dependencies"]}):
        tops = {Path(f).parts[0] for f in dist.files or [] if not str(f).startswith("..")}
        base = Path(dist.locate_file(""))
        for top in tops:
            link = target / top
            if not link.exists() and (base / top).exists():  # namespace folders (nvidia/) are shared
                link.symlink_to(base / top)
    return target


def test_fresh_venv_without_extras(tmp_path):
    """``pip install .`` (no extras) into a new venv, then import effconv.ops / effconv.models and run the README
    example there, with matplotlib and seaborn absent.

    How it stays offline and fast yet sound: downloading torch is out of the question, and
    ``--system-site-packages`` would expose every package of the base interpreter. Instead the new venv gets a
    ``.pth`` pointing at a folder that links *only* the installed files of the closure of the core
    dependencies (read from their metadata, extras excluded). ``pip install --no-index`` then either finds every
    declared requirement already satisfied or fails, so a dependency missing from ``pyproject.toml`` (or one the
    code imports without declaring) makes this test fail rather than being fetched or borrowed; the test also
    checks that matplotlib and seaborn really cannot be imported there. The wheel is built from a copy of the
    sources (``pyproject.toml``, ``README.md``, ``src/``) by this interpreter's setuptools, so nothing is written
    into the working tree; the installed copy runs with the repository off ``sys.path``.
    """
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    site = _core_site(tmp_path / "core-site")

    venv = tmp_path / "venv"
    # no pip configuration either: a configured find-links folder of wheels would also be a way round
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PIP_"))}
    env |= {"PIP_CONFIG_FILE": os.devnull, "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "PIP_NO_CACHE_DIR": "1"}

    def run(*command: str, cwd: Path = tmp_path) -> str:
        done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"{' '.join(command[:4])} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
        return done.stdout

    # without pip: the venv's bundled (old) setuptools would shadow the one torch requires; this
    # interpreter's pip installs into it through --python
    run(sys.executable, "-m", "venv", "--without-pip", str(venv))
    python = str(venv / "bin" / "python")
    purelib = run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").strip()
    (Path(purelib) / "effconv-core-deps.pth").write_text(f"{site}\n")
    # the wheel is built by this venv's setuptools (build tools are no runtime dependency), then installed there
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path / "dist"),
        str(source))
    wheel = next((tmp_path / "dist").glob("effconv-*.whl"))
    run(sys.executable, "-m", "pip", "--python", python, "install", "--no-index", "-q", str(wheel))

    check = (
        "import importlib.util, effconv, effconv.ops, effconv.models, effconv.analysis.flops\n"
        "from importlib.resources import files\n"
        "assert 'site-packages' in effconv.__file__, effconv.__file__\n"
        "assert files('effconv').joinpath('py.typed').is_file()\n"
        "print(len(effconv.models.list_models()), [m for m in ('matplotlib', 'seaborn')"
        " if importlib.util.find_spec(m)])\n"
    )
    models, missing = run(python, "-c", check).strip().split(" ", 1)
    assert int(models) > 5 and missing == "[]", f"plotting is importable in the core venv: {missing}"
    (tmp_path / "example.py").write_text(readme_example())
    assert run(python, str(tmp_path / "example.py")).strip() == "True"
