"""Bibliography labels in the text's author-year form (book/_ext/effconv_bibstyle.py)."""

import sys
from pathlib import Path

from pybtex.database import parse_file, parse_string

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book" / "_ext"))

from effconv_bibstyle import author_year_label  # noqa: E402


def entry(authors: str, year: str = "2018"):
    bib = f"@article{{k, author = {{{authors}}}, title = {{T}}, journal = {{J}}, year = {{{year}}}}}"
    return parse_string(bib, "bibtex").entries["k"]


def test_labels_follow_the_author_year_citations():
    assert author_year_label(entry("Sifre, Laurent", "2014")) == "Sifre, 2014"
    assert author_year_label(entry("Simonyan, Karen and Zisserman, Andrew", "2015")) == "Simonyan and Zisserman, 2015"
    assert author_year_label(entry("Zhang, Xiangyu and Zhou, Xinyu and Sun, Jian")) == "Zhang et al., 2018"
    assert author_year_label(entry("van der Maaten, Laurens")) == "van der Maaten, 2018"
    assert author_year_label(entry("Doll{\\'a}r, Piotr")) == "Dollár, 2018"


def test_every_reference_has_its_own_label():
    # two entries with one label would be two citations a reader cannot tell apart
    labels = [author_year_label(e) for e in parse_file(ROOT / "book" / "references.bib").entries.values()]
    doubled = sorted({label for label in labels if labels.count(label) > 1})
    assert not doubled, f"references.bib: these labels are shared by several entries: {doubled}"
