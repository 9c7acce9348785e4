"""Chapter 2 (ShuffleNet V1) as a page: every table, figure and number the notebook shows, computed once.

``load(profile)`` assembles the page section by section: the counted sections (``counted``), the live
timings (what FLOPs leave out, and the speed-up over AlexNet), the trained Tables 2 and 3 with their
verdicts, and the claims table with this machine's live rows. The notebook then only shows.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from effconv.claims import round_half_away
from effconv.claims.multiplicity import DECIDED
from effconv.claims.style import styled, styled_ledger
from effconv.errors import EffconvError
from effconv.studies.page import Page
from effconv.studies.shufflenet.claims import alexnet_grade, ledger, live_claims
from effconv.studies.shufflenet.counted import (add_errata, add_released, add_scaled, add_setting, add_shuffle,
                                                add_table1, add_units, count_of, span)
from effconv.studies.shufflenet.display import folded, interval_text
from effconv.studies.shufflenet.latency import SHUFFLE_COSTLY_PCT, latency_tables, plot_latency
from effconv.studies.shufflenet.plan import CHAPTER, POWER
from effconv.studies.shufflenet.report import (complete, curves, plot_curves, plot_table2, plot_table3, table2,
                                               table3, verdicts, width_label)
from effconv.studies.shufflenet.results import load_runs
from effconv.studies.shufflenet.tables import alexnet_speedup
from effconv.wording import listing

Latency = tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]  # models, shuffles, AlexNet (latency_tables)

_TIMING_NAMES = {"best_ms": "best (ms)", "median_ms": "median (ms)", "mflops_per_ms": "throughput (MFLOPs/ms)"}


def load(profile: str = "best", *, run_missing: bool = False, latency_repeats: int = 10) -> Page:
    """Chapter 2's page for ``profile``: the counted sections, live timings (the fastest of
    ``latency_repeats`` calls after warm-up), the trained tables (training what is missing first when
    ``run_missing``) and the claims with this machine's live rows."""
    if isinstance(latency_repeats, bool) or not isinstance(latency_repeats, int) or latency_repeats < 1:
        raise EffconvError(f"latency_repeats must be a whole number of timed calls, at least 1; got "
                           f"{latency_repeats!r}. Pass e.g. latency_repeats=10.")
    page = Page(CHAPTER, profile)
    for add in (add_setting, add_shuffle, add_units, add_table1, add_scaled, add_released, add_errata):
        add(page)
    latency = latency_tables(repeats=latency_repeats)
    add_latency(page, latency, latency_repeats)
    add_alexnet(page, latency[2])
    add_trained(page, profile, run_missing)
    add_claims(page, profile, latency)
    return page


def numbers(profile: str = "best") -> dict[str, str]:
    """Every number chapter 2's prose cites, formatted as the page prints it (the live timings included)."""
    page = load(profile)
    for fig in page.figures.values():  # only the numbers are wanted: free the figures
        if fig is not None:
            plt.close(fig)
    return page.numbers


def add_latency(page: Page, latency: Latency, repeats: int) -> None:
    """What FLOPs leave out: ShuffleNet 1x per g and the shuffle's share of a unit, timed live."""
    models, shuffles, _ = latency
    page.table("latency_models", styled(models, names=_TIMING_NAMES, formats={"mflops": "{:.2f}",
                                                                               "mflops_per_ms": "{:.1f}"}))
    page.table("latency_shuffles", styled(shuffles.drop(columns=["share_rounds"]), names={
        "unit_ms": "unit (ms)", "shuffle_alone_ms": "shuffle alone (ms)",
        "shuffle_share_%": "shuffle alone (% of unit)",
        "difference_share_%": "unit − unit without shuffle (% of unit)", "unit_macs": "unit MACs"}))
    page.figure("fig-shufflenet-latency", plot_latency(models, shuffles))
    page.machine = ", ".join(models["device"].unique())
    cpu = models[models["device"] == models["device"].iloc[0]].set_index("g")  # the first device is the CPU
    page.number("lat_repeats", str(repeats))
    page.number("lat_device", page.machine)
    page.number("lat_g8_time", f"{cpu.loc[8, 'best_ms'] / cpu.loc[1, 'best_ms']:.2f}")
    page.number("lat_g8_flops", f"{cpu.loc[8, 'mflops'] / cpu.loc[1, 'mflops']:.2f}")
    page.number("lat_fastest", f"g={cpu['best_ms'].idxmin()}")
    first = shuffles[shuffles["device"] == shuffles["device"].iloc[0]]
    page.number("shuffle_alone", span(first["shuffle_share_%"], ".1f"))
    page.number("shuffle_diff", span(first["difference_share_%"], ".1f"))
    small = first["shuffle_share_%"].max() < SHUFFLE_COSTLY_PCT  # the claims' threshold for "costly"
    page.number("shuffle_size", "a small (under 10%)" if small else "a sizeable (10% or more)")


def add_alexnet(page: Page, alexnet: pd.DataFrame) -> None:
    """ShuffleNet 0.5x against AlexNet: the counted speed-up and the one measured here."""
    speed = alexnet_speedup()
    page.table("alexnet_speedup", styled(speed, names={
        "alexnet_mflops": "AlexNet (MFLOPs)", "shufflenet_mflops": "ShuffleNet (MFLOPs)",
        "speedup": "counted speedup (x)", "paper_theoretical": "paper, theoretical (x)",
        "paper_measured_arm": "paper, measured on ARM (x)"},
        formats={"speedup": "{:.2f}", "paper_theoretical": "{:g}", "paper_measured_arm": "{:g}"}))
    timed = alexnet.drop(columns=["speedup_rounds"])
    batches = timed["batch"].unique()
    if len(batches) == 1:  # one batch size for every row: the caption says it, the column would only repeat it
        timed, batch = timed.drop(columns=["batch"]), f"Batch {batches[0]}, 224x224 input"
    else:
        batch = None
    page.table("alexnet_latency", styled(timed, names={
        **_TIMING_NAMES, "flops_speedup": "counted speedup (x)", "measured_speedup": "measured speedup (x)"},
        formats={"mflops": "{:.2f}", "mflops_per_ms": "{:.1f}", "flops_speedup": "{:.2f}",
                 "measured_speedup": "{:.2f}"}, caption=batch))
    page.number("alex_flops_range", span(speed["speedup"], ".1f"))
    grade = alexnet_grade(speed)  # the ledger's grade of the same median, so prose and claims table agree
    page.number("alex_median", f"{grade.ours:.2f}")
    page.number("alex_rounded", f"{round_half_away(grade.ours):.0f}")
    page.number("alex_verdict", grade.verdict)
    first = alexnet[alexnet["device"] == alexnet["device"].iloc[0]].set_index("model")
    page.number("alex_measured_g3", f"{first.loc['ShuffleNet 0.5x g=3', 'measured_speedup']:.1f}")
    page.number("alex_device", alexnet["device"].iloc[0])
    page.number("alex_rate", f"{first.loc['AlexNet (torchvision)', 'mflops_per_ms']:.0f}")
    page.number("shuffle_rate", f"{first.loc['ShuffleNet 0.5x g=3', 'mflops_per_ms']:.1f}")


def add_trained(page: Page, profile: str, run_missing: bool) -> None:
    """Tables 2 and 3 on CIFAR-10 from the stored runs of ``profile``, their figures and the four verdicts."""
    runs = load_runs(profile, run_missing=run_missing)
    table, used = runs.table, runs.profile
    caption = f"Profile: {used}"
    t2 = table2(table, used)
    # the errors and gains beside the paper's in view; the profile, the seeds and the counted cost fold
    # under each row's status
    page.table("table2", folded(
        t2.drop(columns=["scale", "n", "planned"]), into="status", summary="seeds and cost",
        shown=["width", "g", "status", "error_%", "error_std", "gain_vs_g1_pp", "paper_imagenet_error_%",
               "paper_gain_vs_g1_pp"], formats={
            "error_%": "{:.2f}", "error_std": "{:.2f}", "gain_vs_g1_pp": "{:+.2f}", "mflops_32": "{:.3f}",
            "mflops_vs_g1_%": "{:+.1f}", "params": "{:,}", "paper_imagenet_error_%": "{:.1f}",
            "paper_gain_vs_g1_pp": "{:+.1f}"}, names={
            "error_std": "error std (pp)", "gain_vs_g1_pp": "gain vs g=1 (pp)", "mflops_32": "MFLOPs at 32x32",
            "mflops_vs_g1_%": "MFLOPs vs g=1 (%)", "paper_gain_vs_g1_pp": "paper gain vs g=1 (pp)"},
        caption=caption))
    page.number("train_profile", used)
    page.number("t2_stored", count_of(t2["n"] > 0))
    page.figure("fig-shufflenet-table2", plot_table2(t2, used))
    page.figure("fig-shufflenet-curves", plot_curves(curves(runs.specs, runs.results), used))
    t3 = table3(table, used)
    # the interval's two ends read as one cell; the profile, the seeds and the paper's two errors fold under
    # each row's status
    intervals = [interval_text(low, high) for low, high in zip(t3["gain_low_pp"], t3["gain_high_pp"])]
    shown3 = t3.drop(columns=["scale", "gain_low_pp", "gain_high_pp"])
    shown3.insert(shown3.columns.get_loc("gain_pp") + 1, "gain_interval_pp", intervals)
    page.table("table3", folded(
        shown3, into="status", summary="seeds and the paper's errors",
        shown=["width", "g", "status", "error_with_%", "error_without_%", "gain_pp", "gain_interval_pp",
               "paper_gain_pp"], formats={
            "error_with_%": "{:.2f}", "error_without_%": "{:.2f}", "gain_pp": "{:+.2f}", "paper_with_%": "{:.1f}",
            "paper_without_%": "{:.1f}", "paper_gain_pp": "{:+.1f}"},
        names={"error_with_%": "error with shuffle (%)", "error_without_%": "error without shuffle (%)",
               "gain_pp": "shuffle gain (pp)", "gain_interval_pp": "gain, 95% interval (pp)",
               "paper_with_%": "paper, with shuffle (%)", "paper_without_%": "paper, without shuffle (%)",
               "paper_gain_pp": "paper gain (pp)"}, caption=caption))
    page.figure("fig-shufflenet-table3", plot_table3(t3, used))
    found = verdicts(table, t3, used)
    page.table("verdicts", styled(found.drop(columns=["source", "planned"]), formats={
        "paper_pp": "{:+.2f}", "ours_pp": "{:+.2f}", "p": "{:.3g}"}, caption=caption))
    decided = found[complete(found)]
    page.number("verdicts_decided", f"{len(decided)} of {len(found)}")
    page.number("verdicts_summary", _tally(decided["verdict"]) or "none yet")
    page.number("power_pairs", power_pairs(used))
    page.number("power_tested", power_tested(found, used))


def power_pairs(profile: str) -> str:
    """The pairs the power plans of ``profile`` fix and what its budget trains of them, in words ("22 pairs at
    0.25x (first stage 5) and 6 at 0.5x (first stage 3); the cpu budget trains 5 of those at 0.25x ...")."""
    plans = sorted(POWER.get(profile, {}).items())
    if not plans:
        return f"the {profile} profile plans no contrast by power"
    parts = [f"{plan.pairs} {'pairs ' if i == 0 else ''}at {width_label(scale)} (first stage {plan.first_stage})"
             for i, ((scale, _), plan) in enumerate(plans)]
    short = [f"{plan.trained_pairs} of those at {width_label(scale)}" for (scale, _), plan in plans if not plan.funded]
    budget = f"; the {profile} budget trains {listing(short, '')}" if short else ""
    return listing(parts, "") + budget


def power_tested(found: pd.DataFrame, profile: str) -> str:
    """Whether each contrast planned by power has all its pairs stored, and so is among the trained tests, in
    words ("at 0.25x, 5 of its 22 pairs are stored, so it is not among them yet; at 0.5x, ...")."""
    parts = []
    for (scale, groups), plan in sorted(POWER.get(profile, {}).items()):
        row = found[found["claim"].str.contains(f"{width_label(scale)}: g = {groups} has", regex=False)]
        stored = int(row["n"].iloc[0]) if len(row) else 0
        parts.append(f"at {width_label(scale)}, all {plan.pairs} pairs are stored and it is among them"
                     if len(row) and complete(row).iloc[0] else
                     f"at {width_label(scale)}, {stored} of its {plan.pairs} pairs are stored, so it is not among "
                     "them yet")
    return "; ".join(parts) or f"the {profile} profile plans no contrast by power"


def add_claims(page: Page, profile: str, latency: Latency) -> None:
    """The committed ledger of ``profile`` plus this machine's live timing rows (shown, never written)."""
    page.claims = live_claims(ledger(profile), latency=latency)
    frame = page.claims.frame()
    page.table("claims", styled_ledger(frame))
    page.number("n_claims", str(len(frame)))
    page.number("claims_summary", _tally(frame["verdict"]))
    page.number("n_tests", str(page.claims.tests))
    page.number("holm_note", holm_note(frame))


def holm_note(frame: pd.DataFrame) -> str:
    """What the Holm step did to the trained tests' decided verdicts, in words (a ledger frame with
    ``verdict_holm``)."""
    tested = frame[frame["verdict_holm"] != ""]
    decided = tested[tested["verdict"].isin(DECIDED)]
    if decided.empty:
        return "none of them decides its claim, so the adjustment changes no verdict"
    kept, n = int((decided["verdict_holm"] == decided["verdict"]).sum()), len(decided)
    if n == 1:
        first = "one of them decides its claim at 95% on its own"
        rest = "and keeps its verdict after the adjustment" if kept else "but not after the adjustment"
    else:
        first = f"{n} of them decide their claims at 95% on their own"
        rest = ("and all keep their verdicts after the adjustment" if kept == n else
                "but none does after the adjustment" if kept == 0 else
                f"and {kept} still {'does' if kept == 1 else 'do'} after the adjustment")
    return f"{first}, {rest}"


def _tally(verdict: pd.Series) -> str:
    """'n verdict, ...', most frequent first (empty when there are none)."""
    return ", ".join(f"{n} {v}" for v, n in verdict.value_counts().items())
