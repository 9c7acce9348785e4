"""Chapter 1's page: every table, figure and number the notebook shows, computed and formatted once.

``load(profile)`` counts the layers and networks (``costs``, ``report``), times the split layers live,
grades the claims and returns a ``Page``; the notebook only glues and shows it. Each ``_section``
function below fills the part of the page one section of the prose reads, with the formats the prose
prints (so a number reads the same in the text, on other pages and in tests).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from effconv.claims import ClaimsTable
from effconv.claims.style import styled, styled_folded, styled_ledger
from effconv.errors import EffconvError
from effconv.studies.page import Page
from effconv.studies.paper import paper_value
from effconv.studies.splitting import costs, plots, report
from effconv.studies.splitting.claims import ledger, live_claims
from effconv.studies.splitting.plan import CHAPTER
from effconv.studies.splitting.results import load_runs

SHARE_CLAIMS = "MobileNet Table 2:"  # the prefix of the Table 2 share claims in the ledger


def load(profile: str = "best", *, run_missing: bool = False, latency_repeats: int = 5,
         latency_rounds: int = 3, log=print) -> Page:
    """The chapter page for ``profile``: counted tables, the live latency table and figure, the claims
    (ledger plus live rows) and every number the prose cites.

    ``latency_repeats`` calls per round and ``latency_rounds`` interleaved rounds time each layer
    (``grade_timing`` needs at least 3 rounds for a verdict). Nothing is trained: the plan is empty for
    every profile, so ``run_missing`` only keeps the chapters' common signature.
    """
    if latency_repeats < 1 or latency_rounds < 1:
        raise EffconvError(f"latency_repeats={latency_repeats} and latency_rounds={latency_rounds} must both "
                           "be at least 1 (3 rounds or more give the live claims a verdict).")
    load_runs(profile, run_missing=run_missing, log=log)  # checks the profile; the survey stores no runs
    page = Page(CHAPTER, profile)
    claims = ledger(profile)
    verdict = claims.frame().set_index("claim")["verdict"]
    counts = costs.reference_counts()
    _blocks(page)
    _formulas(page)
    _separable(page)
    _xception(page, counts, verdict)
    _mobilenet(page)
    _shares(page, verdict)
    _reference(page, counts, verdict)
    _squeezenet(page, counts, verdict)
    _octave(page)
    latency = report.latency_table(repeats=latency_repeats, rounds=latency_rounds)
    _latency(page, latency)
    _claims(page, claims, latency)
    return page


def numbers(profile: str = "best") -> dict[str, str]:
    """Every number the chapter's prose cites, as the page prints it (the latency ones are timed now)."""
    page = load(profile, log=lambda *_: None)
    for fig in page.figures.values():
        plt.close(fig)  # only the numbers are wanted; an open figure would pile up in the caller
    return dict(page.numbers)


def _blocks(page: Page) -> None:
    """The three designs at MobileNet's first separable layer: the diagram and the numbers its prose cites."""
    shape = costs.mobilenet_first_block()
    table = costs.block_costs(shape).set_index("design")
    page.figure("fig-split-blocks", plots.plot_conv_blocks(costs.block_designs(shape), table.reset_index(), shape.size))
    page.number("block_in", str(shape.in_channels))
    page.number("block_out", str(shape.out_channels))
    page.number("block_size", f"{shape.size}x{shape.size}")
    page.number("block_groups", str(shape.groups))
    page.number("block_dense_mmacs", f"{table['macs'].iloc[0] / 1e6:.1f}")
    page.number("block_sep_mmacs", f"{table['macs'].iloc[1] / 1e6:.1f}")
    page.number("block_sep_ratio", f"{table['macs_ratio'].iloc[1]:.3f}")
    page.number("block_grouped_ratio", f"{table['macs_ratio'].iloc[2]:.3f}")


def _formulas(page: Page) -> None:
    formulas = report.formula_table()
    # the ratios, the closed form and the check stay in view; the four counts behind each ratio fold under
    # the design (printed as styled() prints counts), so the table fits the text column
    counts = ["macs", "params", "dense_macs", "dense_params"]
    page.table("formulas", styled_folded(
        formulas.assign(**{c: formulas[c].map("{:,}".format) for c in counts}),
        shown=["design", "macs_ratio", "params_ratio", "formula", "formula_value", "exact"], into="design",
        summary="counted MACs and params", decimals={"macs_ratio": 4, "params_ratio": 4, "formula_value": 4},
        names={"formula_value": "formula", "formula": "formula (what it evaluates)", "exact": "counted = formula"}))
    flattened = formulas.set_index("design").loc["flattened (lateral 1x1, kx1, 1xk)", "params_ratio"]
    page.number("flattened_ratio", f"{flattened:.4f}")
    page.number("n_exact", f"{int(formulas['exact'].sum())} of {len(formulas)}")


def _separable(page: Page) -> None:
    points = costs.separable_ratio_points()
    page.figure("fig-separable-ratio", plots.plot_separable_ratio(points))
    large = points[(points["N"] == 1024) & (points["kernel"] == "3x3")]["counted"].iloc[0]
    page.number("sep_ratio_1024", f"{large:.4f}")
    page.number("sep_ratio_1024_inv", f"{1 / large:.1f}")


def _xception(page: Page, counts: dict, verdict: pd.Series) -> None:
    inception = report.inception_v3_variants()
    page.table("inception", styled(inception, formats={"params": "{:,}", "minus_paper": "{:+,}", "rel_%": "{:+.2f}"},
                                   names={"minus_paper": "params − paper", "rel_%": "params vs paper (%)"}))
    xception = counts["xception"]
    page.number("xception_params", f"{xception.params:,}")
    page.number("xception_gmacs", f"{xception.macs / 1e9:.2f}")
    closest = report.closest_convention(inception)
    page.number("inception_gap", f"{abs(closest['minus_paper']):,}")
    page.number("inception_gap_pct", f"{abs(closest['rel_%']):.2f}")
    page.number("xception_fewer", f"{report.conventions_above(inception, xception.params)} of {len(inception)}")
    page.number("xception_fewer_verdict", verdict["Xception has fewer params than Inception V3"])


def _mobilenet(page: Page) -> None:
    mobilenet = report.mobilenet_table()
    page.table("mobilenet", styled(mobilenet.drop(columns=["key"]),
                                   formats={"ours_Mmacs": "{:.2f}", "ours_Mweights": "{:.3f}", "ours_Mparams": "{:.3f}",
                                            "paper_Mmacs": "{:g}", "paper_Mparams": "{:g}", "paper_top1_%": "{:g}"},
                                   names={"ours_Mweights": "ours, weights only (M)",
                                          "paper_top1_%": "paper ImageNet top-1 (%)"}))
    by_model = mobilenet.set_index("model")
    base, conv = by_model.loc["1.0 MobileNet-224"], by_model.loc["Conv MobileNet-224"]
    page.number("mobilenet_mmacs", f"{base['ours_Mmacs']:.1f}")
    page.number("mobilenet_mparams", f"{base['ours_Mparams']:.2f}")
    page.number("conv_mobilenet_factor", f"{conv['ours_Mmacs'] / base['ours_Mmacs']:.1f}")
    page.number("conv_mobilenet_gain", f"{conv['paper_top1_%'] - base['paper_top1_%']:.1f}")


def _shares(page: Page, verdict: pd.Series) -> None:
    shares = report.mobilenet_shares()
    page.table("shares", styled(shares.drop(columns=["key"]), decimals=2))
    row = shares.set_index("key")
    printed = paper_value(CHAPTER, "mobilenet_share_conv3x3_macs").value
    corrected = paper_value(CHAPTER, "mobilenet_share_conv3x3_macs_corrected").value
    share_rows = [c for c in verdict.index if c.startswith(SHARE_CLAIMS)]
    page.number("share_conv3x3", f"{row.loc['conv3x3', 'ours_macs_%']:.2f}")
    page.number("share_total_paper", f"{row.loc['total', 'paper_macs_%']:.2f}")
    page.number("share_rows", str(len(share_rows)))
    page.number("share_reproduced", str(int((verdict[share_rows] == "reproduced").sum())))
    page.number("share_printed", f"{printed:.2f}")
    page.number("share_corrected", f"{corrected:.2f}")
    # the column's sum with the probable digit swap undone
    page.number("share_total_corrected", f"{row.loc['total', 'paper_macs_%'] - printed + corrected:.2f}")
    page.number("share_conv3x3_verdict", verdict[next(c for c in share_rows if "digit swap" in c)])


def _reference(page: Page, counts: dict, verdict: pd.Series) -> None:
    page.table("reference", styled(report.reference_table(counts),
                                   formats={"ours_Mmacs": "{:,.1f}", "paper_Mmacs": "{:,.0f}", "ours_params": "{:,}",
                                            "paper_params": "{:,.0f}"}, names={"input": "input (px)"}))
    mb, vgg = counts["mobilenet_v1"], counts["vgg16"]
    page.number("vgg_params_factor", f"{vgg.params / mb.params:.1f}")
    page.number("vgg_macs_factor", f"{vgg.macs / mb.macs:.1f}")
    page.number("vgg_conv_gmacs", f"{counts['vgg16_features'].macs / 1e9:.2f}")
    page.number("vgg_gmacs", f"{vgg.macs / 1e9:.2f}")
    page.number("vgg_macs_paper", f"{paper_value(CHAPTER, 'vgg16_macs').value / 1e3:.1f}")  # printed in M, cited in G
    page.number("v_params32", verdict["MobileNet has less than 1/32 of VGG-16's params (x fewer)"])
    page.number("v_macs27", verdict["MobileNet has about 1/27 of VGG-16's mult-adds (x fewer)"])
    page.number("v_vgg_macs", verdict["VGG-16 mult-adds (M)"])


def _squeezenet(page: Page, counts: dict, verdict: pd.Series) -> None:
    fire = report.fire_table()
    page.table("fire", styled(fire, formats={"fire_params": "{:,}", "dense3x3_params": "{:,}", "fewer_x": "{:.1f}"},
                              names={"in": "in channels", "squeeze": "squeeze channels", "out": "out channels",
                                     "dense3x3_params": "dense 3x3 params", "fewer_x": "fewer params (x)"}))
    squeeze, alex = counts["squeezenet1_0_227"], counts["alexnet_two_tower"]
    page.number("squeeze_params", f"{squeeze.params:,}")
    page.number("squeeze_vs_alexnet", f"{alex.params / squeeze.params:.1f}")
    page.number("squeeze_mmacs", f"{squeeze.macs / 1e6:.1f}")
    page.number("alexnet_mmacs", f"{alex.macs / 1e6:.1f}")
    page.number("fire_min", f"{fire['fewer_x'].min():.1f}")
    page.number("fire_max", f"{fire['fewer_x'].max():.1f}")
    page.number("v_fifty", verdict["SqueezeNet has about 1/50 of AlexNet's params (x fewer)"])
    page.number("squeeze_cost_word", "more" if squeeze.macs > alex.macs else "fewer")


def _octave(page: Page) -> None:
    octave = report.octave_table()
    page.table("octave", styled(octave.drop(columns=["key"]),
                                formats={"alpha": "{:g}", "macs": "{:,}", "params": "{:,}", "counted_%": "{:.2f}",
                                         "closed_form_%": "{:.2f}", "paper_%": "{:g}"},
                                names={"alpha": "α", "counted_%": "counted MACs (% of dense)",
                                       "closed_form_%": "closed form (%)"}))
    page.number("oct_half", f"{octave.set_index('alpha').loc[0.5, 'counted_%']:.2f}")


def _latency(page: Page, latency: pd.DataFrame) -> None:
    """The live timings: figure, ratio table and the numbers the figure's caption and the text cite."""
    page.figure("fig-splitting-latency", plots.plot_latency(latency))
    page.table("latency", styled(report.latency_ratios(latency), decimals=3,
                                 caption="Measured time / time of the dense layer, per input size and batch"))
    page.machine = latency["device"].iloc[0]
    page.number("latency_device", page.machine)
    dws = latency[latency["layer"] == "depthwise separable"]
    page.number("dws_flop_ratio", f"{dws['flop_ratio'].iloc[0]:.3f}")
    page.number("dws_time_ratio", f"{dws['time_ratio'].median():.3f}")


def _claims(page: Page, claims: ClaimsTable, latency: pd.DataFrame) -> None:
    """The ledger with this build's live rows: shown, counted in the prose and kept for the overview."""
    page.claims = live_claims(claims, latency)
    table = page.claims.frame()
    page.table("claims", styled_ledger(table))
    page.number("n_claims", str(len(table)))
    page.number("n_live", str(int((table["kind"] == "live").sum())))
    tests = claims.tests   # the m of the Holm adjustment: trained rows decided by a t test
    page.number("trained_tests", "no trained test" if tests == 0 else f"{tests} trained test{'s' if tests > 1 else ''}")
    page.number("verdict_counts", ", ".join(f"{n} {v}" for v, n in table["verdict"].value_counts().items()))
