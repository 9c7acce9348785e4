"""Chapter 4 (DAC), the page's Method section: what is counted, and checked on random weights.

The same in every profile: the anatomy of one DAC pair, the checks the ledger grades (exactness at full
rank, Eckart-Young, counted costs), the break-even rank and the ImageNet VGG-16 rank allocations. Each
function puts its tables, figure and formatted numbers on the page ``load`` builds.
"""

from __future__ import annotations

import pandas as pd

from effconv.claims.style import styled, styled_folded
from effconv.ops import dac
from effconv.studies.dac import claims, decompose, plots
from effconv.studies.page import Page

ANATOMY = {"in_channels": 64, "out_channels": 128, "rank": 3, "size": 16, "kernel": 3}  # the layer the prose dissects
BREAK_EVEN_WIDTHS = (16, 32, 64, 128, 256, 512)


def as_text(frame: pd.DataFrame, formats: dict[str, str]) -> pd.DataFrame:
    """``frame`` with the columns named in ``formats`` written as the page prints them ("{:.1e}", "{:,}", or
    "yes/no" for a flag): a folded detail shows its values as given, unformatted. Missing values stay missing
    (the detail leaves them out)."""
    def text(spec: str):
        def fmt(value):
            if isinstance(value, str) or pd.isna(value):
                return value
            return ("yes" if value else "no") if spec == "yes/no" else spec.format(value)
        return fmt

    return frame.assign(**{column: frame[column].map(text(spec)) for column, spec in formats.items()})


def _break_even_view(breaks: pd.DataFrame) -> pd.DataFrame:
    """The break-even table turned on its side, so that it fits the text column: one column per output width N,
    one row per rank r with the pair's cost ratio, then the break-even and the largest saving rank."""
    ranks = [c for c in breaks.columns if c.startswith("ratio_r")]
    rows = {f"cost ratio, rank {c.removeprefix('ratio_r')}": breaks[c].map("{:.3f}".format) for c in ranks}
    rows |= {"break-even rank": breaks["break_even_rank"].map("{:.3f}".format),
             "max saving rank": breaks["max_saving_rank"].map("{:d}".format)}
    return pd.DataFrame(rows).set_axis([f"N = {n}" for n in breaks["out_channels"]]).T


def _break_even_caption(breaks: pd.DataFrame) -> str:
    """The cost-ratio table's title, with the one kernel area every row shares."""
    [area] = breaks["kernel_area"].unique()
    return (f"A DAC pair's multiply-adds relative to the convolution it replaces, by rank and output channels N "
            f"(kernel area {area})")


def _anatomy(page: Page) -> None:
    """One conv and its DAC pair, part by part (table and block diagram), and the pair's cost beside the formula."""
    table = decompose.anatomy_table(**ANATOMY)
    page.table("anatomy", styled(table, formats={"weights": "{:,}", "macs": "{:,}", "weights_vs_original": "{:.4f}",
                                                 "macs_vs_original": "{:.4f}"},
                                 names={"in": "in channels", "out": "out channels",
                                        "weights_vs_original": "weights / original",
                                        "macs_vs_original": "MACs / original"}))
    page.figure("fig-dac-block", plots.plot_block(table, rank=ANATOMY["rank"], size=ANATOMY["size"]))
    page.number("anatomy_ratio", f"{table['macs_vs_original'].iloc[-1]:.4f}")
    rank, out, kernel = ANATOMY["rank"], ANATOMY["out_channels"], ANATOMY["kernel"]
    page.number("anatomy_formula", f"{rank / out + rank / kernel ** 2:.4f}")  # r/N + r/k^2, as the prose writes it


def _checks(page: Page) -> pd.DataFrame:
    """The exactness and Eckart-Young checks the ledger grades; returns the counted costs."""
    counted = claims.counted_checks()  # the same tables the ledger grades (full width, random weights, seed 0)
    exactness, eckart = counted["exactness"], counted["eckart"]
    table = exactness.merge(eckart, on="layer")
    # the errors and the Eckart-Young gap are compared down the layers; each layer's shape and ranks fold under it
    page.table("checks", styled_folded(
        as_text(table, {"rel_error_full": "{:.1e}", "rank": "{:d}"}), into="layer",
        shown=["layer", "rel_error_float32", "rel_error_float64", "max_rel_gap", "monotone", "rel_error_rank1"],
        summary="shape and ranks",
        formats={"rel_error_float32": "{:.1e}", "rel_error_float64": "{:.1e}", "max_rel_gap": "{:.1e}",
                 "rel_error_rank1": "{:.3f}"},
        names={"input_hw": "input (h x w)", "rank": "full rank", "ranks": "ranks tried",
               "rel_error_float32": "rel. output error, float32", "rel_error_float64": "rel. output error, float64",
               "max_rel_gap": "max gap to the singular-value tail (rel.)",
               "rel_error_rank1": "rel. weight error at rank 1", "rel_error_full": "rel. weight error at full rank"}))
    page.number("exact_f32", f"{exactness['rel_error_float32'].max():.1e}")
    page.number("exact_f64", f"{exactness['rel_error_float64'].max():.1e}")
    page.number("ey_gap", f"{eckart['max_rel_gap'].max():.1e}")
    page.number("ey_monotone", f"{int(eckart['monotone'].sum())} of {len(eckart)}")
    rank1 = eckart["rel_error_rank1"]
    page.number("rank1_random", f"{rank1.min():.2f}-{rank1.max():.2f}")
    return counted["cost"]


def _costs(page: Page, cost: pd.DataFrame) -> None:
    """The break-even table, the cost figure (formula against counted layers) and the ranks the prose cites."""
    breaks = decompose.break_even_table(widths=BREAK_EVEN_WIDTHS)
    page.table("break_even", styled(_break_even_view(breaks), caption=_break_even_caption(breaks)))
    page.figure("fig-dac-cost", plots.plot_cost(cost))
    page.number("cost_cases", f"{int(cost['agrees'].sum())} of {len(cost)}")
    for n in (16, 64, 512):
        page.number(f"be{n}", f"{dac.break_even_rank(n):.2f}")
    r5 = breaks.set_index("out_channels")["ratio_r5"]
    for n in (16, 64):
        page.number(f"keep{n}_r5", f"{100 * r5[n]:.0f}")
        page.number(f"save{n}_r5", f"{100 * (1 - r5[n]):.0f}")


def _allocations(page: Page) -> None:
    """ImageNet VGG-16 rank allocations near the paper's saving, and the two closest (context, not evidence)."""
    allocations = decompose.vgg16_imagenet_allocations()
    table = allocations[["allocation", "rule", "ranks", "macs", "macs_saved_pct", "formula_agrees", "accuracy"]]
    # the ranks and what they save stay in view; the rule, the formula check and the (not run) accuracy fold away
    page.table("allocations", styled_folded(as_text(table, {"formula_agrees": "yes/no"}), into="allocation",
                                            shown=["allocation", "ranks", "macs", "macs_saved_pct"],
                                            summary="rule and accuracy",
                                            formats={"macs": "{:,}", "macs_saved_pct": "{:.2f}"},
                                            names={"ranks": "ranks per layer"}))
    closest = allocations.sort_values("gap_to_target_pct")
    for place in (1, 2):
        page.number(f"alloc_{place}", closest["allocation"].iloc[place - 1])
        page.number(f"alloc_{place}_pct", f"{closest['macs_saved_pct'].iloc[place - 1]:.2f}")


def method_section(page: Page) -> None:
    """Every table, figure and number of the Method section."""
    _anatomy(page)
    _costs(page, _checks(page))
    _allocations(page)
