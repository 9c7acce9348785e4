"""What the book's API reference documents, and which public names there lack a docstring.

``API_PAGES`` maps each page (``book/api/*.md``, rendered by Sphinx autodoc) to the modules it documents.
A module's public names are its ``__all__`` (submodules left out) or, without one, the functions and classes
it defines. A function or class is documented by its own docstring (a dataclass's generated signature does
not count); a constant by a ``#:`` comment above its assignment in the module that defines it, which is where
autodoc reads it and so where the page documents it. ``tests/test_api_reference.py`` and the browser check
(``tests/test_book_render.py``) both read this list.
"""

from __future__ import annotations

import importlib
import inspect
import re
import sys
from types import ModuleType

#: Page (without suffix) -> modules, each with the names it leaves to another module of the same page.
API_PAGES: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "book/api/ops": (("effconv.ops", ()), ("effconv.ops.acnet", ()), ("effconv.ops.dac", ()),
                     ("effconv.ops.versatile", ("VersatileConv2d",))),
    "book/api/models": (("effconv.models", ()),),
    "book/api/analysis": (("effconv.analysis.flops", ()), ("effconv.analysis.flop_conventions", ()),
                          ("effconv.analysis.latency", ()), ("effconv.deploy", ())),
    "book/api/claims": (("effconv.claims", ()),),
    "book/api/store": (("effconv.experiments.store", ()), ("effconv.trained", ())),
}
# methods every nn.Module overrides, documented once by torch
_MODULE_HOOKS = {"forward", "extra_repr"}


def public_names(module_name: str) -> list[str]:
    """The names a user of ``module_name`` may rely on (see the module docstring)."""
    module = importlib.import_module(module_name)
    names = getattr(module, "__all__", None)
    if names is not None:
        return [n for n in names if not inspect.ismodule(getattr(module, n))]
    return [n for n, obj in vars(module).items() if not n.startswith("_")
            and (inspect.isfunction(obj) or inspect.isclass(obj)) and obj.__module__ == module_name]


def _own_doc(obj) -> str:
    doc = (obj.__dict__.get("__doc__") if inspect.isclass(obj) else getattr(obj, "__doc__", None)) or ""
    if inspect.isclass(obj) and doc.startswith(f"{obj.__name__}("):  # written by @dataclass, not by us
        return ""
    return doc.strip()


def constant_home(module_name: str, name: str) -> str | None:
    """The effconv module whose source documents the constant ``name`` with a ``#:`` comment, if any."""
    value = getattr(importlib.import_module(module_name), name)
    pattern = re.compile(rf"^#:.*\n(?:#:.*\n)*{re.escape(name)}\s*[:=]", re.M)
    for candidate in [module_name, *sorted(m for m in sys.modules if m.startswith("effconv."))]:
        module = sys.modules.get(candidate)
        if not isinstance(module, ModuleType) or getattr(module, name, None) is not value:
            continue
        try:
            if pattern.search(inspect.getsource(module)):
                return candidate
        except (OSError, TypeError):
            continue
    return None


def is_constant(obj) -> bool:
    """Data rather than code: what autodoc documents from a ``#:`` comment."""
    return not (inspect.isclass(obj) or inspect.isroutine(obj) or inspect.ismodule(obj) or callable(obj))


def undocumented(module_name: str) -> list[str]:
    """Public names of ``module_name`` (and public methods and properties of its classes) with no docstring."""
    module = importlib.import_module(module_name)
    missing = []
    for name in public_names(module_name):
        obj = getattr(module, name)
        if is_constant(obj):
            if constant_home(module_name, name) is None:
                missing.append(name)
            continue
        if not _own_doc(obj).splitlines()[:1]:
            missing.append(name)
        if inspect.isclass(obj):
            for attr, member in vars(obj).items():
                if attr.startswith("_") or attr in _MODULE_HOOKS:
                    continue
                target = member.fget if isinstance(member, property) else getattr(member, "__func__", member)
                if callable(target) and not _own_doc(target):
                    missing.append(f"{name}.{attr}")
    return missing


def page_targets(page: str) -> dict[str, str]:
    """The anchors the page must hold, ``{anchor id: public name}``: ``module.name``, or the defining module
    for a constant."""
    targets = {}
    for module_name, elsewhere in API_PAGES[page]:
        module = importlib.import_module(module_name)
        for name in public_names(module_name):
            if name in elsewhere:
                continue
            home = constant_home(module_name, name) if is_constant(getattr(module, name)) else None
            targets[f"{home or module_name}.{name}"] = f"{module_name}.{name}"
    return targets
