"""Chapter 4 (DAC), the page's Results section: the stored baselines, the sweeps stored with them, and
the live timings.

Each function puts its tables, figures and formatted numbers on the page ``load`` builds. A sweep that is
not stored gives a figure of ``None``; ``page.DacPage`` then shows its not-run note in its place.
"""

from __future__ import annotations

import pandas as pd
import torch

from effconv.claims.style import styled, styled_folded
from effconv.experiments import StoredRuns
from effconv.models import create_model
from effconv.studies.dac import checks, claims, decompose, latency, plots, report
from effconv.studies.dac.page_method import as_text
from effconv.studies.dac.plan import MODEL, VGG, experiments
from effconv.studies.dac.results import Baseline, baseline_summary, baseline_table, sweep_frame
from effconv.studies.page import Page
from effconv.wording import plural

LATENCY_SHAPES = [(64, 64, 32), (128, 128, 16), (256, 256, 8), (512, 512, 4)]  # (C = N, map size) of CIFAR VGG-16
LATENCY_RANKS = (1, 2, 4, 8)
LATENCY_BATCH = 8
# the ledger rows whose effect, pairs and verdict the prose cites, by the prefix of their numbers
CITED_CLAIMS = {"baseline": "CIFAR-VGG baseline accuracy (%)", "flops53": "ImageNet VGG-16: FLOPs saved (%)",
                "lastlayer": "conv2d_13 alone at rank 1 drops at most 0.7 pp (bound)",
                "rank": claims.TRENDS["trend_rank"][0], "layer": claims.TRENDS["trend_layer"][0],
                "last": claims.TRENDS["trend_last_k"][0], "versus": claims.TRENDS["beats_other_decompositions"][0]}


def _cell_text(value, digits: int = 2) -> str:
    """A grid cell: "mean ± std" text passes through, a number gets ``digits`` decimals."""
    return value if isinstance(value, str) else f"{value:.{digits}f}"


def _cite_claims(page: Page, graded: pd.DataFrame, *names: str) -> None:
    """A ledger row's effect, pairs and verdict, as the prose cites them."""
    for name in names:
        row = graded.loc[CITED_CLAIMS[name]]
        page.number(f"{name}_ours", row["ours"] or "not run")
        page.number(f"{name}_n", row["n"] or "0")
        page.number(f"{name}_seeds", plural(int(row["n"] or 0), "random seed"))
        page.number(f"{name}_interval", row["interval"] or "no interval")
        page.number(f"{name}_verdict", row["verdict"])


def _baselines(page: Page, runs: StoredRuns, baseline: Baseline, width: float) -> tuple[torch.nn.Module, pd.DataFrame]:
    """The trained baselines, and the profile's model (random weights, seed 0) with its layers: the live parts
    time that model, and the first-k / last-k comparison reads its layers' shares of the MACs."""
    used = runs.profile
    # seed by seed, the accuracies and the training time stay in view; what every run shares folds under its seed
    table = as_text(baseline_table(runs.specs, runs.results),
                    {"width": "{:g}", "test_images": "{:,.0f}", "params": "{:,.0f}", "macs": "{:,.0f}"})
    page.table("baselines", styled_folded(table, into="seed", summary="run",
                                          shown=["seed", "status", "epochs_planned", "test_acc_%", "best_acc_%",
                                                 "minutes"],
                                          formats={"test_acc_%": "{:.2f}", "best_acc_%": "{:.2f}",
                                                   "minutes": "{:.1f}"},
                                          na_rep="not run", names={"best_acc_%": "best-epoch accuracy (%)"},
                                          caption=f"Trained CIFAR VGG-16 baselines (profile: {used})"))
    page.number("profile_used", used)
    page.number("width", f"{width:g}")
    page.number("baseline_acc", baseline.text())
    page.number("n_seeds", str(baseline.seeds))
    planned = {spec.seed for spec in experiments(used)}
    page.number("n_planned", str(len(planned)))
    shared = sum(r is not None for spec, r in zip(runs.specs, runs.results) if spec.seed not in planned)
    read = (f"this chapter plans {plural(len(planned), 'random seed')}"
            + (f" and chapter 5 trains {shared} more of the same baseline" if shared else "")
            + f"; every stored run is read ({baseline.seeds} in all)")
    page.number("seeds_read", read)
    with torch.random.fork_rng(devices=[]):  # the trained model's shapes, seeded, the caller's RNG untouched
        torch.manual_seed(0)
        model = create_model(MODEL, width=width)
    layers = decompose.layer_table(model)
    layers["macs_%"] = 100 * layers["macs"] / layers["macs"].sum()
    page.table("layers", styled(layers.drop(columns=["module", "kernel", "groups", "max_rank"]),
                                formats={"macs": "{:,}", "macs_%": "{:.1f}", "break_even_rank": "{:.2f}"},
                                names={"output_hw": "output (h x w)", "macs_%": "share of MACs (%)",
                                       "break_even_rank": "break-even rank"},
                                caption=f"The 3x3 convs of the {used} model (width {width:g})"))
    return model, layers


def _single_layer(page: Page, single: pd.DataFrame, baseline: Baseline) -> None:
    used = baseline.profile
    grid = report.single_layer_pivot(single, spread=True)
    if not grid.empty:  # else the page shows the not-run note in its place
        page.table("single_layer", styled(grid, formats={c: _cell_text for c in grid.columns},
                                          caption=f"Test accuracy (%) with one conv decomposed, profile {used} "
                                                  f"(baseline {baseline.text()})"))
    page.figure("fig-dac-single-layer", plots.plot_single_layer(single, baseline),
                missing=f"single-layer sweep: not run yet ({used})")
    cells = report.seed_cells(single, baseline)
    if not (cells["ours_drop_std_pp"] > 0).any():  # one seed (or none): no spread to show
        cells = cells.drop(columns="ours_drop_std_pp")
    page.table("seed_cells", styled(cells, formats={"paper_acc_%": "{:.1f}", "paper_drop_pp": "{:.1f}",
                                                    "ours_acc_%": "{:.2f}", "ours_drop_pp": "{:.2f}",
                                                    "ours_drop_std_pp": "{:.2f}", "delta_drop_pp": "{:+.2f}"},
                                    na_rep="not run", names={"ours_drop_std_pp": "ours drop, sd (pp)",
                                                             "delta_drop_pp": "ours − paper drop (pp)"},
                                    caption=f"The two cells the specification quotes, beside ours ({used})"))


def _tally(table: pd.DataFrame, column: str, labels: tuple[str, ...]) -> tuple[int, ...]:
    counts = table[column].value_counts()
    return tuple(int(counts.get(label, 0)) for label in labels)


def _outcomes(parts: dict[str, int], total: int, what: str) -> str:
    """"A is better in 40 and B in 30 of 70 <what>", naming only the outcomes that occur (no "tie in 0")."""
    said = [f"{name} in {count}" for name, count in parts.items() if count]
    joined = said[0] if len(said) == 1 else ", ".join(said[:-1]) + f" and {said[-1]}"
    return f"averaged over the stored models, {joined} of {total} {what}"


def _first_last(page: Page, first_last: pd.DataFrame, baseline: Baseline, layers: pd.DataFrame) -> None:
    used = baseline.profile
    fig = plots.plot_first_last(first_last, baseline)
    page.figure("fig-dac-first-last", fig, missing=f"first-k / last-k sweep: not run yet ({used})")
    shares = report.end_shares(layers)
    page.number("last_fewer", report.ranges(shares.loc[shares["last_k_%"] < shares["first_k_%"], "k"]))
    same = report.equal_saving(first_last)
    if same.empty:
        page.number("same_saving", "not run")
    else:
        last, first, tie = _tally(same, "winner", ("last", "first", "tie"))
        page.number("same_saving", _outcomes({"the last k are better": last, "the first k": first, "a tie": tie},
                                             len(same), "(rank, k) points"))


def _pareto(page: Page, configs: pd.DataFrame, baseline: Baseline) -> None:
    used = baseline.profile
    front = report.pareto(configs)
    fig = plots.plot_pareto(configs, front, baseline)
    page.figure("fig-dac-pareto", fig, missing=f"accuracy-FLOPs frontier: not run yet ({used})")
    if fig is not None:  # else the page shows the not-run note in its place
        page.table("pareto", styled(front[["sweep", "label", "macs_saved_pct", "accuracy", "accuracy_drop"]],
                                    formats={"macs_saved_pct": "{:.1f}", "accuracy": "{:.2f}",
                                             "accuracy_drop": "{:.2f}"},
                                    names={"label": "configuration"}, units={"accuracy": "%", "accuracy_drop": "pp"},
                                    caption=f"Pareto front, profile {used}"))


def _versus(page: Page, equal: pd.DataFrame, used: str) -> None:
    versus = report.equal_flops_table(equal)
    fig = plots.plot_equal_flops(versus, used)
    page.figure("fig-dac-equal-flops", fig, missing=f"DAC vs channel SVD: not run yet ({used})")
    if fig is None:
        page.number("versus", "not run")
    else:
        dac_wins, svd_wins, tie = _tally(versus, "better", ("DAC", "channel SVD", "tie"))
        page.number("versus", _outcomes({"DAC is better": dac_wins, "channel SVD": svd_wins, "a tie": tie},
                                        len(versus), "(configuration, rank) pairs"))
    gap = report.flops_gap(equal)
    page.number("gap_fewer", "not run" if gap is None else f"{gap.fewer} of {gap.configurations}")
    page.number("gap_mean", "not run" if gap is None else f"{gap.mean_pp:.2f}")
    page.number("gap_max", "not run" if gap is None else f"{gap.max_pp:.2f}")


def trained_section(page: Page, runs: StoredRuns, graded: pd.DataFrame) -> torch.nn.Module:
    """Every table, figure and number of the Results section; returns the profile's model (random weights)."""
    used, specs, results = runs.profile, runs.specs, runs.results
    width = VGG[used]["width"]
    baseline = baseline_summary(used, results)
    model, layers = _baselines(page, runs, baseline, width)
    _cite_claims(page, graded, "baseline", "flops53", "lastlayer")
    bound, margin = claims.last_layer_bound()
    page.number("lastlayer_bound", f"{bound:g}")
    page.number("lastlayer_margin", f"{margin:g}")
    page.number("lastlayer_edge", f"{bound + margin:g}")
    single = report.single_layer_means(sweep_frame(specs, results, "dac.single_layer"))
    _single_layer(page, single, baseline)
    _cite_claims(page, graded, "rank", "layer")
    first_last = report.first_last_means(sweep_frame(specs, results, "dac.first_last"))
    _first_last(page, first_last, baseline, layers)
    _cite_claims(page, graded, "last")
    equal = sweep_frame(specs, results, "dac.equal_flops")
    configs = report.configurations(single, first_last, report.seed_mean(equal, ["config", "dac_rank", "method"]))
    _pareto(page, configs, baseline)
    _versus(page, equal, used)
    _cite_claims(page, graded, "versus")
    recon = report.reconstruction_means(sweep_frame(specs, results, "dac.reconstruction"))
    page.figure("fig-dac-reconstruction", plots.plot_reconstruction(checks.spectrum_errors(model), recon, used))
    return model


def latency_section(page: Page, model: torch.nn.Module, *, repeats: int, rounds: int, threads: int) -> tuple[pd.DataFrame, str]:
    """Single layers and the whole model timed live; returns the rounds (for the live claims) and the machine."""
    page.number("latency_rounds", str(rounds))
    layer_latency = latency.latency_table(LATENCY_SHAPES, ranks=LATENCY_RANKS, batch_size=LATENCY_BATCH,
                                          repeats=repeats, threads=threads, parts=True)
    timed = latency.model_latency_rounds(model, rounds=rounds, batch_size=LATENCY_BATCH, repeats=repeats,
                                         threads=threads)
    summary = report.rounds_summary(timed)
    machine = summary["device"].iloc[0]
    page.figure("fig-dac-latency", plots.plot_latency(layer_latency, summary))
    width = VGG[page.profile]["width"]
    page.table("latency", styled(summary, formats={"macs_ratio": "{:.3f}", "ms": "{:.2f}", "time_ratio": "{:.3f}"},
                                 names={"rank": "DAC rank", "macs_ratio": "MACs / original",
                                        "time_ratio": "time / original", "ms": "time (ms)"},
                                 caption=f"VGG-16 at width {width:g}, batch {LATENCY_BATCH}, {machine}: medians over "
                                         f"{rounds} rounds"))
    by_rank = summary.set_index("rank")
    page.number("latency_device", machine)
    for rank in (1, 4):
        page.number(f"r{rank}_macs", f"{by_rank.loc[rank, 'macs_ratio']:.2f}")
        page.number(f"r{rank}_time", f"{by_rank.loc[rank, 'time_ratio']:.2f}")
    page.number("dw_slowdown", f"{report.depthwise_slowdown(layer_latency):.1f}")
    return timed, machine
