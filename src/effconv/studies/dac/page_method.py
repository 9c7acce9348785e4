"""Chapter 4 (DAC), the page's Method section: what is counted, and checked on random weights.

The same in every profile: the anatomy of one DAC pair, the checks the ledger grades (exactness at full
rank, Eckart-Young, counted costs), the break-even rank and the ImageNet VGG-16 rank allocations. Each
function puts its tables, figure and formatted numbers on the page ``load`` builds.
"""

from __future__ import annotations

import pandas as pd

from effconv.claims.style import styled
from effconv.ops import dac
from effconv.studies.dac import claims, decompose, plots
from effconv.studies.page import Page

ANATOMY = {"in_channels": 64, "out_channels": 128, "rank": 3, "size": 16, "kernel": 3}  # the layer the prose dissects
BREAK_EVEN_WIDTHS = (16, 32, 64, 128, 256, 512)


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
    page.table("checks", styled(exactness.merge(eckart, on="layer"),
                                formats={"rel_error_float32": "{:.1e}", "rel_error_float64": "{:.1e}",
                                         "max_rel_gap": "{:.1e}", "rel_error_rank1": "{:.3f}",
                                         "rel_error_full": "{:.1e}"},
                                names={"input_hw": "input (h x w)", "rank": "full rank", "ranks": "ranks tried",
                                       "max_rel_gap": "max gap to the singular-value tail (rel.)",
                                       "rel_error_rank1": "rel. error at rank 1",
                                       "rel_error_full": "rel. error at full rank"}))
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
    ratios = {c: f"cost ratio, rank {c.removeprefix('ratio_r')}" for c in breaks.columns if c.startswith("ratio_r")}
    page.table("break_even", styled(breaks, decimals=3, names={"break_even_rank": "break-even rank"} | ratios))
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
    shown = allocations[["allocation", "rule", "ranks", "macs", "macs_saved_pct", "formula_agrees", "accuracy"]]
    page.table("allocations", styled(shown, formats={"macs": "{:,}", "macs_saved_pct": "{:.2f}"},
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
