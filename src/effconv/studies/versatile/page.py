"""Chapter 5's page: every table, figure and number the notebook shows, computed and formatted once.

``load(profile)`` reads the stored runs, runs the live checks (definitions, counts, one layer's timing, the
orthogonal loss), counts the ImageNet networks, grades the ledger and returns a ``Page``; the notebook
only glues and shows it. ``numbers(profile)`` gives the same formatted strings to other pages and tests.
The method sections live in ``page_method``; this module adds the setting, the trained runs and the claims.
"""

from __future__ import annotations

import pandas as pd

from effconv.claims import ClaimsTable
from effconv.claims.style import styled, styled_ledger
from effconv.experiments import StoredRuns
from effconv.studies.page import Page
from effconv.studies.paper import paper_value
from effconv.studies.versatile import checks, costs, plots, report
from effconv.studies.versatile import results as stored
from effconv.studies.versatile.claims import ledger, live_claims
from effconv.studies.versatile.page_method import add_method
from effconv.studies.versatile.plan import CHAPTER
from effconv.studies.versatile.tables import folded

# every column of the CIFAR table that is a size or a cost, and the two accuracy columns
SIZES = {"params_M": "{:.3f}", "params_ratio": "{:.3f}", "mask_kbit": "{:,.1f}", "memory_MB": "{:.3f}",
         "memory_ratio": "{:.3f}", "MFLOPs": "{:.2f}", "FLOPs_ratio": "{:.3f}", "MFLOPs_executed": "{:.2f}",
         "executed_ratio": "{:.3f}"}
ACCURACIES = {"test_acc_%": "{:.2f}", "delta_vs_baseline": "{:+.2f}"}
# the CIFAR table's columns in view: accuracy against the four cost ratios (the rest fold under the variant)
CIFAR_SHOWN = ["variant", "test_acc_%", "delta_vs_baseline", "params_ratio", "memory_ratio",
               "FLOPs_ratio", "executed_ratio"]
# (number name, arm a, arm b): the paired accuracy differences the Results prose quotes
COMPARISONS = (("cmp_v1", "versatile v1", "baseline"), ("cmp_v2", "versatile v2", "baseline"),
               ("cmp_v1_v2", "versatile v1", "versatile v2"), ("cmp_ba", "learned masks (b)", "learned masks (a)"),
               ("cmp_b_v1", "learned masks (b)", "versatile v1"))


def load(profile: str = "best", *, run_missing: bool = False, latency_repeats: int = 9) -> Page:
    """The chapter page for ``profile`` (``best``: the best committed profile). ``run_missing`` trains the
    runs the profile lacks first; ``latency_repeats`` is how many calls time each form of the layer."""
    runs = stored.load_runs(profile, run_missing=run_missing)
    page = Page(CHAPTER, runs.profile)
    claims = live_claims(ledger(runs.profile))
    verdict = claims.frame().set_index("claim")["verdict"]
    _setting(page, runs)
    optimum = add_method(page, verdict, width=_width(runs), latency_repeats=latency_repeats)
    _cifar(page, runs)
    _masks(page, runs, optimum)
    _claims(page, claims)
    return page


def numbers(profile: str = "best") -> dict[str, str]:
    """Every number the chapter's prose cites for ``profile``, as the page prints it (live timings included)."""
    return load(profile).numbers


def _setting(page: Page, runs: StoredRuns) -> None:
    """What "Where our setting differs" quotes: the profile shown, its width, epochs, seeds and stored runs."""
    page.number("profile_used", runs.profile)
    page.number("width", f"{_width(runs):g}")
    page.number("epochs", str(runs.specs[0].recipe.epochs))
    page.number("n_seeds", str(len({spec.seed for spec in runs.specs})))
    page.number("n_stored", f"{runs.stored} of {len(runs.results)}")


def _width(runs: StoredRuns) -> float:
    return runs.specs[0].model_kwargs["width"]


def _cifar(page: Page, runs: StoredRuns) -> None:
    """The CIFAR-10 VGG-16 table and figures, the size ratios and the paired accuracy comparisons."""
    profile, specs, results = runs.profile, runs.specs, runs.results
    table = report.cifar_table(profile, specs, results, costs.cifar_vgg16_complexity(_width(runs)))
    # in view: accuracy and the four cost ratios the figures draw; the seeds and their spread, the absolute
    # sizes, the profile and where the counts come from fold under the variant
    page.table("cifar", folded(
        table, shown=CIFAR_SHOWN, into="variant", formats=SIZES | ACCURACIES | {"std_%": "{:.2f}"},
        na_rep={c: "not run" for c in ACCURACIES},
        names={"std_%": "std (pp)", "delta_vs_baseline": "vs baseline (pp)", "mask_kbit": "masks (kbit)",
               "MFLOPs_executed": "MFLOPs executed"}, summary="sizes and counts",
        caption=f"CIFAR-10 VGG-16, width {_width(runs):g}, {specs[0].recipe.epochs} epochs (profile {profile})"))
    page.figure("fig-versatile-cifar", plots.plot_cifar(table, stored.accuracy_curves(specs, results), profile))
    page.figure("fig-versatile-cost", plots.plot_accuracy_cost(table, profile))
    missing = plots.not_run_variants(table)
    page.number("cost_not_run", f"Not run yet, so not drawn: {', '.join(missing)}." if missing else
                "Every variant has stored runs, so all are drawn.")
    by_variant = table.set_index("variant")
    page.number("cifar_v1_params", f"{by_variant.loc['versatile v1', 'params_ratio']:.3f}")
    page.number("cifar_v2_params", f"{by_variant.loc['versatile v2', 'params_ratio']:.3f}")
    page.number("cifar_v1_flops", f"{by_variant.loc['versatile v1', 'FLOPs_ratio']:.3f}")
    page.number("cifar_mask_b_memory", f"{by_variant.loc['learned masks (b)', 'memory_ratio']:.3f}")
    page.number("cifar_masks_executed", " and ".join(f"{by_variant.loc[v, 'executed_ratio']:.3f}"
                                                     for v in ("learned masks (a)", "learned masks (b)")))

    # the paper's ImageNet gap beside ours: shown, not graded (the setting differs)
    loss = paper_value(CHAPTER, "imagenet_vgg16_top1").value - paper_value(CHAPTER, "imagenet_vgg16_v2_top1").value
    page.number("paper_v2_gap", f"{loss:.1f}")
    every = stored.run_table(specs, results)
    for name, a, b in COMPARISONS:
        page.number(name, report.comparison_sentence(every, a, b, profile))
    page.number("epoch_times", report.epoch_time_sentence(every, profile))
    # in view: which run, its accuracy and its speed; the schedule, machine, data and file fold under the variant
    page.table("runs", folded(
        every, shown=["variant", "seed", "status", "test_acc_%", "best_acc_%", "seconds_per_epoch"], into="variant",
        formats={"test_acc_%": "{:.2f}", "best_acc_%": "{:.2f}", "seconds_per_epoch": "{:.1f}", "minutes": "{:.1f}"},
        names={"seconds_per_epoch": "seconds per epoch"}, summary="schedule and file",
        caption=f"Runs (profile {profile}); best accuracy is optimistic (best epoch)"))


def _masks(page: Page, runs: StoredRuns, optimum: dict[str, float]) -> None:
    """How far the learned masks could move (bound at initialisation) and how far they did (stored runs)."""
    profile, specs, results = runs.profile, runs.specs, runs.results
    drift = checks.mask_drift_bound({"width": _width(runs)}, stored.masked_spec(specs).recipe)
    page.table("mask_drift", styled(
        drift, formats={"proxies": "{:,}", "median |dL/dH|": "{:.1e}", "p99 |dL/dH|": "{:.1e}",
                        "median distance to 1/2": "{:.3f}", "steps": "{:,}",
                        "max reach of the median gradient": "{:.3g}", "share that could flip": "{:.4f}"},
        caption=f"Mask proxies at initialisation, schedule of profile {profile}"))
    by_strategy = drift.set_index("strategy")
    page.number("flip_a", f"{100 * by_strategy.loc['a', 'share that could flip']:.1f}")
    page.number("flip_b", f"{100 * by_strategy.loc['b', 'share that could flip']:.1f}")
    page.number("grad_ratio",
                f"{by_strategy.loc['a', 'median |dL/dH|'] / by_strategy.loc['b', 'median |dL/dH|']:.0f}")

    curves = stored.mask_curves(specs, results, stored.initial_masks(specs))
    page.figure("fig-versatile-mask-curves", plots.plot_mask_curves(curves, profile, optimum=optimum))
    final = stored.final_masks(specs, results)
    page.table("final_masks", styled(
        final, formats={s: "{:.4f}" for s in stored.MASK_STATS}, na_rep="not run",
        names={"changed_from_init": "changed from initialisation", "pairwise_hamming": "pairwise Hamming"},
        caption=f"Mask statistics after training (profile {profile})"))
    page.number("masks_changed", _masks_changed(final))


def _masks_changed(final: pd.DataFrame) -> str:
    """Each stored learned-mask run's share of entries changed from the concentric start, labelled by variant
    and random seed, or "not run yet"."""
    done = final[final["status"] == "stored"]
    if done.empty:
        return "not run yet"
    parts = []
    for variant, runs in done.groupby("variant", sort=False):
        shares = [f"{share:.4f}" for share in runs["changed_from_init"]]  # as the table prints them
        seeds = [str(seed) for seed in runs["seed"]]
        parts.append(f"{variant}: {_and(shares)} (random seed{'s' if len(seeds) > 1 else ''} {_and(seeds)})")
    return "; ".join(parts)


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + f" and {items[-1]}"


def _claims(page: Page, claims: ClaimsTable) -> None:
    """The ledger with its live rows (none: the papers make no timing claim), counted by verdict."""
    table = claims.frame()
    page.claims = claims
    page.number("n_claims", str(len(table)))
    # the chapter's Holm family: how many trained tests, and which raw verdicts do not survive the adjustment
    page.number("n_tests", str(claims.tests))
    weakened = table[(table["verdict_holm"] != "") & (table["verdict_holm"] != table["verdict"])]
    page.number("holm_changed", "none of them" if weakened.empty else
                f"{len(weakened)} of them ({_and([f'“{c}”' for c in weakened['claim']])})")
    page.number("verdict_counts", ", ".join(f"{n} {v}" for v, n in table["verdict"].value_counts().items()))
    page.table("claims", styled_ledger(table))
