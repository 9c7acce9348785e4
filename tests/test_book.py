"""The book driver's checks on executed notebooks (the full build runs in `make book`)."""

import nbformat

from effconv.book import output_problems, sources


def test_output_problems_flags_errors_and_stderr(tmp_path):
    notebook = nbformat.v4.new_notebook()
    clean = nbformat.v4.new_code_cell("1")
    clean.outputs = [nbformat.v4.new_output("stream", name="stdout", text="fine\n")]
    noisy = nbformat.v4.new_code_cell("2")
    noisy.outputs = [nbformat.v4.new_output("stream", name="stderr", text="UserWarning: hmm\n")]
    broken = nbformat.v4.new_code_cell("3")
    broken.outputs = [nbformat.v4.new_output("error", ename="ValueError", evalue="bad", traceback=[])]
    notebook.cells = [clean, noisy, broken]
    path = tmp_path / "n.ipynb"
    nbformat.write(notebook, path)
    problems = output_problems(path)
    assert len(problems) == 2 and "stderr: UserWarning" in problems[0] and "ValueError: bad" in problems[1]


def test_chapters_run_before_pages():
    found = sources()
    chapters = [p for p in found if p.parent.name == "chapters"]
    assert found[:len(chapters)] == chapters
    assert [p.stem for p in found[len(chapters):]][:2] == ["overview", "provenance"]


def test_partial_build_skips_html_until_every_page_exists(tmp_path, monkeypatch):
    from effconv import book

    root = tmp_path / "repo"
    (root / "chapters").mkdir(parents=True)
    (root / "book" / "pages").mkdir(parents=True)
    nbformat.write(nbformat.v4.new_notebook(), root / "chapters" / "01_demo.ipynb")
    (root / "_toc.yml").write_text("format: jb-book\nroot: book/intro\nparts:\n  - chapters:\n"
                                   "      - file: book/_generated/01_demo\n      - file: book/_generated/99_other\n")
    monkeypatch.setattr(book, "repo_root", lambda: root)
    monkeypatch.setattr(book, "execute", lambda source, output, parameters: output.write_text("{}") or 0.0)
    monkeypatch.setattr(book.subprocess, "run", lambda *a, **k: (_ for _ in ()).throw(AssertionError("built HTML")))
    messages = []
    book.build(["demo"], log=messages.append)
    assert any("not building the HTML" in m and "99_other" in m for m in messages)


def test_one_folded_parameters_cell_with_the_values_used(tmp_path):
    from effconv.book import _effective_parameters, _hide_default_parameters

    defaults = 'profile = "best"\nrun_missing = False  # trains nothing\nlatency_repeats = 5\n'
    injected = '# Parameters\nprofile = "cpu"\nrun_missing = False\n'
    merged = _effective_parameters(defaults, injected)
    assert merged == '# Parameters\nprofile = "cpu"\nrun_missing = False\nlatency_repeats = 5\n'

    notebook = nbformat.v4.new_notebook()
    default_cell = nbformat.v4.new_code_cell(defaults, metadata={"tags": ["parameters"]})
    injected_cell = nbformat.v4.new_code_cell(injected, metadata={"tags": ["injected-parameters"]})
    notebook.cells = [default_cell, injected_cell, nbformat.v4.new_code_cell("print(latency_repeats)")]
    path = tmp_path / "n.ipynb"
    nbformat.write(notebook, path)
    _hide_default_parameters(path)
    cells = nbformat.read(path, as_version=4).cells
    assert "remove-cell" in cells[0].metadata["tags"] and "hide-input" in cells[1].metadata["tags"]
    assert "latency_repeats = 5" in cells[1].source and 'profile = "cpu"' in cells[1].source


def test_a_folded_cell_that_shows_nothing_leaves_no_bar(tmp_path):
    from effconv.book import _drop_empty_toggles

    notebook = nbformat.v4.new_notebook()
    silent = nbformat.v4.new_code_cell("import x", metadata={"tags": ["hide-input"]})
    shown = nbformat.v4.new_code_cell("x", metadata={"tags": ["hide-input"]})
    shown.outputs = [nbformat.v4.new_output("stream", name="stdout", text="1\n")]
    notebook.cells = [silent, shown]
    path = tmp_path / "n.ipynb"
    nbformat.write(notebook, path)
    _drop_empty_toggles(path)
    cells = nbformat.read(path, as_version=4).cells
    assert cells[0].metadata["tags"] == ["remove-cell"] and cells[1].metadata["tags"] == ["hide-input"]
