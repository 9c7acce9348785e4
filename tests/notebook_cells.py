"""What a chapter notebook's code cells may do: load, then show. Read by ``tests/test_notebooks.py``.

A cell that filters a frame, computes a statistic or formats a number is doing the library's work in a
place where no other page can reuse it, so the same quantity ends up computed twice and printed two ways.
``pandas_work(code)`` names each such construct in a cell's source (empty: the cell only shows).
"""

from __future__ import annotations

import ast

# frame and number methods that compute or reshape: the library's job, never a cell's
COMPUTING_METHODS = frozenset("""
    loc iloc at iat groupby pivot pivot_table merge join query agg aggregate mean sum median std var min max
    value_counts sort_values nlargest nsmallest round astype apply map reset_index set_index to_numpy unique
    nunique count describe idxmax idxmin fillna dropna where isin between cumsum diff pct_change melt stack
    unstack format
""".split())
FORBIDDEN_MODULES = frozenset({"pandas", "numpy", "myst_nb", "seaborn", "matplotlib"})
FORBIDDEN_CALLS = frozenset({"glue", "styled", "glue_figure"})  # numbers and tables are glued and styled in the library


def pandas_work(code: str) -> list[str]:
    """Each computing or formatting construct in ``code`` (a cell's source), as 'line N: what'."""
    found: list[str] = []
    for node in ast.walk(ast.parse(code)):
        line = getattr(node, "lineno", 0)
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            found += [f"line {line}: imports {n}" for n in names if n.split(".")[0] in FORBIDDEN_MODULES]
        elif isinstance(node, ast.JoinedStr):
            found.append(f"line {line}: formats text with an f-string")
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod) and isinstance(node.left, ast.Constant) \
                and isinstance(node.left.value, str):
            found.append(f"line {line}: formats text with %")
        elif isinstance(node, ast.Attribute) and node.attr in COMPUTING_METHODS:
            found.append(f"line {line}: .{node.attr}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FORBIDDEN_CALLS:
            found.append(f"line {line}: calls {node.func.id}() (the page glues and styles)")
        elif isinstance(node, ast.Subscript) and isinstance(node.slice, (ast.Compare, ast.BoolOp, ast.Constant)):
            found.append(f"line {line}: indexes a frame or mapping")
        elif isinstance(node, (ast.Compare, ast.BoolOp)) or (isinstance(node, ast.BinOp)
                                                           and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.Div))):
            found.append(f"line {line}: computes ({type(node).__name__})")
    return found
