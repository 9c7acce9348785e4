"""The publishing workflow (.github/workflows/book.yml) builds the book the README's way and deploys it."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "book.yml"


def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def steps(job: str) -> list[dict]:
    return workflow()["jobs"][job]["steps"]


def readme_commands() -> list[str]:
    """The commands in the README's bash blocks, comments removed."""
    blocks = re.findall(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)
    lines = (line.split("#", 1)[0].strip() for block in blocks for line in block.splitlines())
    return [line for line in lines if line]


def test_runs_on_push_to_main():
    data = workflow()
    triggers = data.get("on", data.get(True))  # YAML 1.1 reads a bare `on` key as True
    assert triggers["push"]["branches"] == ["main"]


def test_builds_with_the_readme_command():
    assert "make book" in readme_commands()
    runs = [step["run"].strip() for step in steps("build") if "run" in step]
    assert "make book" in runs, f"the build job runs {runs}, not the README's `make book`"
    # every command the workflow runs is one the README gives a reader
    assert set(runs) <= set(readme_commands())


def test_uploads_the_built_html_and_deploys_it():
    build = steps("build")
    upload = [s for s in build if str(s.get("uses", "")).startswith("actions/upload-pages-artifact@")]
    assert len(upload) == 1 and upload[0]["with"]["path"] == "book/_build/html"
    # the artifact is uploaded after the book is built
    assert build.index(upload[0]) > next(i for i, s in enumerate(build) if s.get("run", "").strip() == "make book")
    # the folder the README says `make book` builds
    assert "book/_build/html" in (ROOT / "README.md").read_text()

    data = workflow()
    deploy = data["jobs"]["deploy"]
    assert deploy["needs"] == "build" and deploy["environment"]["name"] == "github-pages"
    assert any(str(s.get("uses", "")).startswith("actions/deploy-pages@") for s in deploy["steps"])
    assert data["permissions"]["pages"] == "write" and data["permissions"]["id-token"] == "write"


def test_readme_says_where_the_book_is_published():
    readme = (ROOT / "README.md").read_text()
    assert "GitHub Pages" in readme and ".github/workflows/book.yml" in readme
