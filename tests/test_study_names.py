"""Every name a chapter notebook reads from a study module exists there: study modules are split by idea,
and a split must leave the notebooks' names reachable (``report.pruning_summary``, ``study.ledger`` ...)."""

import importlib
import importlib.util
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "chapters").glob("*.ipynb")) + sorted((ROOT / "book" / "pages").glob("*.ipynb"))
IMPORT = re.compile(r"^from (effconv\.studies(?:\.\w+)?) import ([^(\n]+)$", re.MULTILINE)


def aliases(code: str) -> dict[str, str]:
    """{name in the notebook: study module} from ``from effconv.studies[.<chapter>] import a as b, c`` lines."""
    found = {}
    for package, names in IMPORT.findall(code):
        for part in names.split("#")[0].split(","):
            module, _, alias = part.strip().partition(" as ")
            found[(alias or module).strip()] = f"{package}.{module.strip()}"
    return found


def test_aliases_are_read_from_import_lines():
    code = "from effconv.studies.acnet import probes as study\nfrom effconv.studies.dac import checks as dac_checks, plan\n"
    assert aliases(code) == {"study": "effconv.studies.acnet.probes", "dac_checks": "effconv.studies.dac.checks",
                             "plan": "effconv.studies.dac.plan"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_study_name_a_notebook_reads_exists(path):
    code = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
    missing = []
    for alias, module_name in aliases(code).items():
        try:
            if importlib.util.find_spec(module_name) is None:  # a name of the package (CHAPTERS), not a module
                continue
        except ModuleNotFoundError:  # a function imported from a module, not a module
            continue
        module = importlib.import_module(module_name)
        for attr in set(re.findall(rf"(?<![\w.]){re.escape(alias)}\.([A-Za-z_]\w*)", code)):
            if not hasattr(module, attr):
                missing.append(f"{alias}.{attr} ({module_name})")
    assert not missing, f"{path.name} reads names its study modules lack: {', '.join(sorted(missing))}"
