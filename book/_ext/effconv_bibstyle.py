"""Sphinx extension: bibliography labels in the same author-year form as the citations in the text.

The text cites with sphinxcontrib-bibtex's ``author_year`` reference style ("Zhang et al., 2018"), but
pybtex's formatting styles label the list alphabetically ("[ZZLS18]") or by number, so a reader could
not match a citation to its entry. The ``effconv`` formatting style below keeps pybtex's ``plain`` entry
format and author-year-title order, and labels each entry as the text cites it.
"""

from __future__ import annotations

from pybtex.plugin import register_plugin
from pybtex.richtext import Text
from pybtex.style.formatting.plain import Style as PlainStyle
from pybtex.style.labels import BaseLabelStyle


def _surname(person) -> str:
    # "van der Maaten", "Dollár": the von part stays, LaTeX accents become characters.
    latex = " ".join(person.prelast_names + person.last_names)
    return Text.from_latex(latex).render_as("text")


def author_year_label(entry) -> str:
    """One surname, two joined by "and", or the first and "et al.", then the year (as the text cites)."""
    persons = entry.persons.get("author") or entry.persons.get("editor") or []
    names = [_surname(p) for p in persons]
    if not names:
        who = entry.fields.get("title", entry.key)
    elif len(names) == 1:
        who = names[0]
    elif len(names) == 2:
        who = f"{names[0]} and {names[1]}"
    else:
        who = f"{names[0]} et al."
    return f"{who}, {entry.fields.get('year', 'n.d.')}"


class AuthorYearLabelStyle(BaseLabelStyle):
    def format_labels(self, sorted_entries):
        for entry in sorted_entries:
            yield author_year_label(entry)


class AuthorYearStyle(PlainStyle):
    default_label_style = "effconv_author_year"
    default_sorting_style = "author_year_title"


def setup(app):
    register_plugin("pybtex.style.labels", "effconv_author_year", AuthorYearLabelStyle)
    register_plugin("pybtex.style.formatting", "effconv", AuthorYearStyle)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
