"""Chapter 3 (ACNet): the chapter page for one profile, computed once: ``load(profile)`` returns a ``Page``
whose tables, figures and cited numbers the notebook only shows.

The sections are computed in the notebook's reading order (the live checks seed torch themselves, but the
order keeps every random draw where it was). Tables come from ``report`` and ``skeleton``, figures from
``plots``, the cited numbers from ``cited``, the claims from ``claims``; this module only assembles them.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import torch
from pandas.io.formats.style import Styler

from effconv.claims import ClaimsTable
from effconv.claims.style import set_display_options, styled, styled_ledger
from effconv.studies.acnet import checks, cited, plots, report, skeleton
from effconv.studies.acnet.claims import ledger, live_claims, load_runs
from effconv.studies.acnet.evidence import graded_table
from effconv.studies.acnet import plan
from effconv.studies.acnet.plan import CHAPTER
from effconv.studies.acnet.skeleton_claims import importance_init
from effconv.studies.acnet.results import CONDITIONS, MODEL_LABELS, ChapterRuns
from effconv.studies.paper import paper_value
from effconv.studies.page import Page

#: the CIFAR-10 and ablation tables' column names as the page prints them
_CIFAR10_NAMES = {"ours: base %": "ours: base (%)", "ours: ACNet %": "ours: ACNet (%)",
                  "ours: gain pp": "ours: gain (pp)", "paper": "paper (%)", "repo re-run": "repo re-run (%)"}
_ABLATION_NAMES = {"accuracy %": "accuracy (%)", "vs base pp": "vs base (pp)", "vs ACB pp": "vs ACB (pp)"}
_LATENCY_MS = ("median_ms", "q25_ms", "q75_ms", "best_ms")


def _not_stored(text: str, caption: str) -> Styler:
    """A table whose runs are not stored yet: one cell saying so, under the table's caption."""
    return styled(pd.DataFrame({"status": [text]}), caption=caption)


def _method(page: Page) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The block diagram, and live and counted checks of the fusion: the branch-fusion figure, random blocks,
    whole models, costs."""
    page.figure("fig-acnet-block", plots.plot_acb_block(checks.block_shapes(plan.SKELETON_MODEL["cpu"])))
    page.figure("fig-acnet-fusion", plots.plot_branch_fusion(checks.branch_kernels(checks.example_block())))
    blocks = checks.block_exactness_table()
    page.table("coverage", styled(checks.exactness_coverage(blocks),
                                  formats={"worst float32": "{:.1e}", "worst float64": "{:.1e}"},
                                  caption=f"Live: worst relative error per value of each axis ({len(blocks)} random "
                                          "blocks)"))
    page.figure("fig-acnet-exactness", plots.plot_exactness(blocks))
    models = pd.concat([checks.model_exactness_table(), checks.model_exactness_table(calibrate=16)],
                       ignore_index=True)
    page.table("models", styled(report.models_display(models),
                                caption="Live: whole models, fused vs unfused (32x32 inputs, relative errors)"))
    costs = checks.cost_table()
    page.table("costs", styled(report.cost_display(costs), caption="Counted: parameters and MACs at 32x32, width 1"))
    for numbers in (cited.block_numbers(blocks), cited.model_numbers(models), cited.cost_numbers(costs)):
        _numbers(page, numbers)
    return blocks, models, costs


def _trained(page: Page, chapter: ChapterRuns, claims: ClaimsTable) -> None:
    """Table 1, the ablation and the rotation test, from the stored runs."""
    table_runs, ablation_runs = chapter.table, chapter.ablation
    # Cifar-quick's row at the schedule its claim is graded at, as the ledger and the prose cite it
    cifar10 = report.cifar10_table(graded_table(chapter))
    page.table("cifar10", styled(report.cifar10_display(cifar10), names=_CIFAR10_NAMES,
                                 caption=f"CIFAR-10 accuracy, {table_runs.profile} profile, each family at the "
                                         "schedule its gain is graded at (* transcribed, unverified)"))
    page.table("ablation", styled(report.ablation_display(report.ablation_table(ablation_runs)), names=_ABLATION_NAMES,
                                  caption=f"Ablation on Cifar-quick: mean ± sd over seeds, differences paired by seed "
                                          f"({ablation_runs.profile} profile)"))
    # one profile: every stored Cifar-quick run answers the rotation test, not only the ablation's
    source = chapter.merged() if ablation_runs.profile == table_runs.profile else ablation_runs
    rotation = report.rotation_table(source)
    page.table("rotation", styled(report.rotation_display(rotation),
                                  caption=f"Accuracy (%) on transformed test sets, Cifar-quick, {source.profile} "
                                          "profile"))
    gaps = report.rotation_gaps(rotation)
    page.table("rotation_gaps", styled(gaps.rename(columns={**CONDITIONS, "pairs": "random seeds paired"}),
                                       formats={c: "{:+.2f}" for c in CONDITIONS.values()}, na_rep="not run",
                                       caption="Differences (pp), mean over the random seeds both variants have"))
    page.figure("fig-acnet-rotation", plots.plot_rotation(rotation, source.profile))
    gains = report.schedule_gains(chapter)
    repo = paper_value(CHAPTER, "repo_cifar10_cifar_quick_acnet").value - paper_value(CHAPTER, "repo_cifar10_cifar_quick_base").value
    page.figure("fig-acnet-schedule", plots.plot_gain_vs_epochs(gains, repo, "the authors' re-run (150 epochs)"))
    _numbers(page, cited.schedule_numbers(gains))
    for numbers in (cited.cifar10_numbers(cifar10, claims), cited.ablation_numbers(claims),
                    cited.rotation_numbers(plots.rotation_gap_points(rotation), gaps, claims)):
        _numbers(page, numbers)


def _skeletons(page: Page, chapter: ChapterRuns, claims: ClaimsTable) -> None:
    """Kernel importance (at initialisation and trained), the base model's peaks, pruning curves and the border
    variant, from every stored run of the skeleton model."""
    runs = skeleton.skeleton_runs(chapter)
    model, width = skeleton.skeleton_setting(runs.profile)
    trained = skeleton.importance_by_seed(runs)
    seeds = set().union(*(maps.keys() for maps in trained.values()))
    initial = importance_init(runs.profile, seeds or {0})    # the runs' own initial weights (shared with the ledger)
    at_init = {v: {s: m for s, m in initial.get(v, {}).items() if s in trained[v] or not seeds} for v in trained}
    page.figure("fig-acnet-importance", plots.plot_importance(skeleton.mean_maps(trained), runs.profile, model,
                                                              at_init=skeleton.mean_maps(at_init)))
    init_summary = skeleton.importance_summary_table(at_init, "initialisation")
    trained_summary = skeleton.importance_summary_table(trained, f"trained ({runs.profile} profile)")
    page.table("importance", styled(skeleton.importance_display(init_summary, trained_summary),
                                    caption=f"Importance summaries, {MODEL_LABELS[model]} at width {width:g}: the "
                                            "paper's numbers on the map averaged over random seeds, and each map's "
                                            "own contrasts (averaged)"))
    peaks = skeleton.peak_positions(trained.get("base", {}))
    page.figure("fig-acnet-base-peaks", plots.plot_base_peaks(trained.get("base", {}), peaks, model))
    rows = skeleton.pruning_rows(runs)
    summary = skeleton.pruning_summary(rows)
    page.figure("fig-acnet-pruning", plots.plot_pruning(rows, runs.profile, model))
    wide = skeleton.pruning_wide(summary, "acnet")
    caption = (f"Fused ACNet, accuracy (%) per pruned region: mean ± standard deviation over every repeat of every "
               f"random seed, {runs.profile} profile")
    page.table("pruning", _not_stored(f"No pruning curves stored yet for the {runs.profile} profile.", caption)
               if wide.empty else styled(wide, caption=caption))
    border = runs.table()[["model", "variant", "seed", "width", "epochs_planned", "status", "acc_pct"]]
    page.table("skeleton_runs", styled(border, formats={"acc_pct": "{:.2f}", "width": "{:g}"}, na_rep="not run",
                                       names={"acc_pct": "test accuracy (%)", "seed": "random seed"},
                                       caption=f"Skeleton-model runs ({runs.profile} profile), final test accuracy"))
    for numbers in (cited.importance_numbers(init_summary, model, width), cited.peak_numbers(peaks),
                    cited.skeleton_claim_numbers(claims), cited.pruning_numbers(summary, claims), cited.border_numbers(claims)):
        _numbers(page, numbers)


def _costs(page: Page, chapter: ChapterRuns, latency: pd.DataFrame) -> None:
    """Live inference time, and the stored fusion checks and training times of the trained runs."""
    page.table("latency", styled(latency[["model", "variant", *_LATENCY_MS, "calls", "ratio"]],
                                 formats={c: "{:.3f}" for c in (*_LATENCY_MS, "ratio")},
                                 names={"q25_ms": "lower quartile (ms)", "q75_ms": "upper quartile (ms)",
                                        "ratio": "ratio (best)"},
                                 caption=f"Live: inference time (ms) at batch 1 on {page.machine}; ratio to the "
                                         "folded base"))
    trained = chapter.merged()
    page.table("trained_fusion", styled(report.trained_fusion_display(report.trained_fusion_table(trained)),
                                        names={"accuracy %": "accuracy (%)", "fused %": "fused (%)",
                                               "change pp": "change (pp)"},
                                        caption=f"Stored fusion checks of trained ACB models, {trained.profile} "
                                                "profile"))
    times = report.training_time_table(trained)
    caption = (f"Training time (median seconds per epoch over the seeds each machine trained), {trained.profile} "
               "profile, one thread a run with a second run beside it; ratio to the base trained on the same machine. "
               "The run beside changes a run's speed by up to 3x, so the ratios are rough")
    page.table("training_time", _not_stored(f"No training runs stored yet for the {trained.profile} profile: "
                                            "training times not run.", caption) if times.empty else
               styled(times.drop(columns=["profile"]),
                      formats={"seconds_per_epoch": "{:.1f}", "ratio_to_base": "{:.2f}"},
                      names={"seconds_per_epoch": "seconds per epoch"}, caption=caption))


def _numbers(page: Page, numbers: dict[str, str]) -> None:
    for name, text in numbers.items():
        page.number(name, text)


def load(profile: str = "best", *, run_missing: bool = False, latency_rounds: int = 6) -> Page:
    """The ACNet chapter for ``profile``: every table, figure and cited number, and the claims with the live
    rows (``page.keep_live()`` leaves those for the build's overview).

    ``run_missing`` trains the runs the profile plans but has not stored; ``latency_rounds`` is how many
    interleaved rounds time each model (more: steadier ratios, slower page)."""
    set_display_options()  # the page's tables are shown whole, never truncated
    threads = torch.get_num_threads()
    # The live checks run many small convolutions: on 2 shared cores, one thread is faster and steadier.
    torch.set_num_threads(1)
    try:
        page = Page(CHAPTER, profile)
        chapter = load_runs(profile, run_missing)
        _numbers(page, cited.plan_numbers(chapter))
        blocks, models, costs = _method(page)
        committed = ledger(profile, chapter, blocks=blocks, costs=costs)  # the rows `effconv claims acnet` writes
        _trained(page, chapter, committed)
        _skeletons(page, chapter, committed)
        latency = checks.fused_latency_table(rounds=latency_rounds)
        page.machine = latency["device"].iloc[0]
        _costs(page, chapter, latency)
        live = live_claims(models, latency)
        page.claims = ClaimsTable(CHAPTER, holm=True)
        page.claims.rows = committed.rows + live.rows
        _numbers(page, cited.latency_numbers(latency, live))
        _numbers(page, cited.claims_numbers(page.claims, live, committed))
        page.table("claims", styled_ledger(page.claims.frame()))
    finally:
        torch.set_num_threads(threads)
    return page


def numbers(profile: str = "best") -> dict[str, str]:
    """Every number the chapter's prose cites for ``profile``, as the page prints it (its figures closed)."""
    page = load(profile)
    for fig in page.figures.values():
        if fig is not None:
            plt.close(fig)
    return page.numbers
