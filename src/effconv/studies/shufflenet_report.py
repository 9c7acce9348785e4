"""Chapter 2's trained results: the CIFAR-10 analogues of ShuffleNet's Tables 2 and 3 as tables, the
verdicts on the paper's four claims about them, their plots, and the chapter's claims ledger.

Everything here copes with missing runs: a planned run without a stored result is a "not run" row,
a verdict that lacks one of its runs is "not run", and the plots say so instead of failing.

The four claims (paper Sec. 4.1, checked on CIFAR-10 with our profiles' widths):

(i)   at matched complexity, g > 1 has lower error than g = 1 (per width);
(ii)  the gain from grouping is larger at the smaller width;
(iii) the channel shuffle lowers the error (per width and g);
(iv)  the shuffle's gain is larger at g = 8 than at g = 3.

Each is a signed effect in percentage points of test error (positive = the paper's direction), judged
against a noise threshold (see ``noise_threshold``) by ``directional_verdict``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import matplotlib.pyplot as plt
import pandas as pd

from effconv.analysis.claims import ClaimsTable
from effconv.errors import EffconvError
from effconv.experiments import ExperimentSpec, resolve, results_table
from effconv.studies import shufflenet as study
from effconv.studies.paper import paper_value

CHAPTER = study.CHAPTER
#: Noise threshold (pp of test error) for a difference of two single-seed runs. An assumption, not a
#: measurement: short CIFAR-10 schedules typically move by about half a point between seeds, so the
#: difference of two runs has a spread of about 0.7 pp; 1 pp is about 1.4 of those.
SINGLE_SEED_NOISE_PP = 1.0
#: With several seeds per arm: this many standard errors of the difference, and never less than the floor.
NOISE_SIGMAS = 2.0
NOISE_FLOOR_PP = 0.2
SHUFFLE_GROUPS = (3, 8)


# --- loading -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Runs:
    """The chapter's experiments for one profile (Tables 2 and 3 together, so they never mix profiles)."""

    profile: str
    specs: list[ExperimentSpec]
    results: list[dict[str, Any] | None]

    @property
    def table(self) -> pd.DataFrame:
        return run_table(self.specs, self.results)


def load_runs(profile: str = "best", *, run_missing: bool = False, log=print) -> Runs:
    """Resolve every chapter experiment (Table 2 and Table 3 specs) under one profile."""
    from effconv.studies import shufflenet_runs as runs

    used, specs, results = resolve(runs.experiments, profile, run_missing=run_missing, log=log)
    return Runs(used, specs, results)


def run_table(specs: Sequence[ExperimentSpec], results: Sequence[dict[str, Any] | None]) -> pd.DataFrame:
    """``results_table`` plus ``width`` (a float), ``shuffle`` and ``error_%`` (100 - final test accuracy %)."""
    table = results_table(specs, results)
    if "width" not in table:
        table["width"] = 1.0
    if "shuffle" not in table:
        table["shuffle"] = True
    table["width"] = table["width"].astype(float)
    table["shuffle"] = table["shuffle"].astype(bool)
    table["error_%"] = 100.0 * (1.0 - table["test_acc"].astype(float))
    return table


def width_label(width: float) -> str:
    return study.SCALE_LABELS.get(width, f"{width:g}x")


# --- statistics --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Arm:
    """Test error (%) of one configuration over its stored seeds (``n = 0``: not run)."""

    mean: float
    std: float
    n: int
    planned: int

    @property
    def stored(self) -> bool:
        return self.n > 0


def arm(table: pd.DataFrame, width: float, groups: int, shuffle: bool = True) -> Arm:
    """The seeds of one (width, g, shuffle) configuration in a ``run_table``."""
    rows = table[(table["width"] == width) & (table["groups"] == groups) & (table["shuffle"] == shuffle)]
    stored = rows.loc[rows["status"] == "stored", "error_%"].astype(float)
    n = len(stored)
    return Arm(mean=float(stored.mean()) if n else math.nan, std=float(stored.std()) if n > 1 else math.nan,
               n=n, planned=len(rows))


def noise_threshold(*arms: Arm) -> float:
    """Noise threshold (pp) for a signed combination of the arms' mean errors (each with weight +-1).

    With at least two seeds in every arm: ``NOISE_SIGMAS`` standard errors of the combination
    (sqrt of the sum of std^2 / n), floored at ``NOISE_FLOOR_PP``. Otherwise the single-seed assumption,
    scaled with the number of runs involved: ``SINGLE_SEED_NOISE_PP * sqrt(len(arms) / 2)`` (1 pp for a
    difference of two runs, 1.41 pp for a difference of two differences).
    """
    if arms and all(a.n >= 2 and not math.isnan(a.std) for a in arms):
        se = math.sqrt(sum(a.std ** 2 / a.n for a in arms))
        return max(NOISE_FLOOR_PP, NOISE_SIGMAS * se)
    return SINGLE_SEED_NOISE_PP * math.sqrt(len(arms) / 2)


def directional_verdict(effect: float | None, threshold: float) -> str:
    """``effect`` is signed so that positive is the paper's direction.

    reproduced: effect > threshold; partly: 0 < effect <= threshold (right direction, within noise);
    not reproduced: effect <= 0; not run: no effect (a run is missing).
    """
    if effect is None or math.isnan(effect):
        return "not run"
    if effect > threshold:
        return "reproduced"
    return "partly" if effect > 0 else "not reproduced"


def _paper_error(width: float, groups: int, shuffle: bool = True) -> float:
    label = width_label(width)
    key = f"table2_err_{label}_g{groups}" if shuffle else f"table3_err_{label}_g{groups}_noshuffle"
    try:
        return float(paper_value(CHAPTER, key).value)
    except EffconvError:  # a width the paper does not have
        return math.nan


def _status(a: Arm) -> str:
    if a.n == 0:
        return "not run"
    return "stored" if a.n == a.planned else f"{a.n}/{a.planned} seeds"


# --- Table 2 and Table 3 -----------------------------------------------------------------------------

def table2(table: pd.DataFrame, profile: str) -> pd.DataFrame:
    """One row per planned (width, g) of Table 2's analogue: CIFAR-10 error (mean, std over seeds),
    its gain over g = 1, the counted cost at 32x32, and the paper's ImageNet error for orientation."""
    shuffled = table[table["shuffle"]]
    rows = []
    for width in sorted(shuffled["width"].unique()):
        base = arm(table, width, 1)
        base_paper = _paper_error(width, 1)
        base_mflops = study.cifar_cost(1, width)[0]
        for g in sorted(shuffled.loc[shuffled["width"] == width, "groups"].unique()):
            a = arm(table, width, int(g))
            mflops, params, _ = study.cifar_cost(int(g), width)
            paper = _paper_error(width, int(g))
            rows.append({
                "profile": profile, "width": width_label(width), "g": int(g), "status": _status(a),
                "seeds": f"{a.n}/{a.planned}", "error_%": a.mean, "error_std": a.std,
                "gain_vs_g1_pp": base.mean - a.mean if g != 1 else math.nan,
                "mflops_32": round(mflops, 3), "mflops_vs_g1_%": round(100 * (mflops - base_mflops) / base_mflops, 1),
                "params": params, "paper_imagenet_error_%": paper,
                "paper_gain_vs_g1_pp": round(base_paper - paper, 2) if g != 1 else math.nan,
                "scale": width, "n": a.n, "planned": a.planned,
            })
    return pd.DataFrame(rows, columns=_T2_COLUMNS)


_T2_COLUMNS = ["profile", "width", "g", "status", "seeds", "error_%", "error_std", "gain_vs_g1_pp", "mflops_32",
               "mflops_vs_g1_%", "params", "paper_imagenet_error_%", "paper_gain_vs_g1_pp", "scale", "n", "planned"]


def table3(table: pd.DataFrame, profile: str) -> pd.DataFrame:
    """One row per planned no-shuffle run (width, g): error with and without the shuffle, the gain,
    its noise threshold, and the paper's ImageNet numbers."""
    plain = table[~table["shuffle"]]
    rows = []
    for width, g in sorted({(float(w), int(g)) for w, g in zip(plain["width"], plain["groups"])}):
        with_, without = arm(table, width, g, True), arm(table, width, g, False)
        paper_with, paper_without = _paper_error(width, g, True), _paper_error(width, g, False)
        rows.append({
            "profile": profile, "width": width_label(width), "g": g,
            "status": "stored" if with_.stored and without.stored else "not run",
            "error_with_%": with_.mean, "error_without_%": without.mean, "gain_pp": without.mean - with_.mean,
            "threshold_pp": noise_threshold(with_, without),
            "seeds": f"{with_.n}/{with_.planned} + {without.n}/{without.planned}",
            "paper_with_%": paper_with, "paper_without_%": paper_without,
            "paper_gain_pp": round(paper_without - paper_with, 2), "scale": width,
        })
    return pd.DataFrame(rows, columns=_T3_COLUMNS)


_T3_COLUMNS = ["profile", "width", "g", "status", "error_with_%", "error_without_%", "gain_pp", "threshold_pp", "seeds",
               "paper_with_%", "paper_without_%", "paper_gain_pp", "scale"]


# --- verdicts ----------------------------------------------------------------------------------------

def _fmt_pp(x: float) -> str:
    return "n/a" if x is None or math.isnan(x) else f"{x:+.2f}"


def _verdict_row(claim_id: str, claim: str, key: str, paper: float, ours: float | None, threshold: float,
                 verdict: str, evidence: str, profile: str) -> dict[str, Any]:
    ours = None if ours is None or math.isnan(ours) else round(ours, 2)
    return {"id": claim_id, "claim": claim, "source": paper_value(CHAPTER, key).cite,
            "paper_pp": round(paper, 2) if not math.isnan(paper) else math.nan,
            "ours_pp": math.nan if ours is None else ours,
            "delta_pp": math.nan if ours is None or math.isnan(paper) else round(ours - paper, 2),
            "threshold_pp": round(threshold, 2), "verdict": verdict, "profile": profile, "evidence": evidence}


def grouping_verdicts(table: pd.DataFrame, profile: str) -> list[dict[str, Any]]:
    """Claim (i), one row per width: mean gain of the g > 1 models over g = 1 (pp of error).

    reproduced needs every planned g > 1 run stored and each one better than g = 1 by more than its
    threshold; the mean gain <= 0 is "not reproduced"; anything in between (some within noise, or some
    runs missing) is "partly".
    """
    rows = []
    shuffled = table[table["shuffle"]]
    for width in sorted(shuffled["width"].unique()):
        planned = sorted(int(g) for g in shuffled.loc[shuffled["width"] == width, "groups"].unique() if g != 1)
        base = arm(table, width, 1)
        claim = f"CIFAR-10 Table 2, {width_label(width)}: g > 1 has lower error than g = 1 (mean gain, pp)"
        if not planned:
            continue
        gains, thresholds, parts = [], [], []
        for g in planned:
            a = arm(table, width, g)
            paper_gain = _paper_error(width, 1) - _paper_error(width, g)
            if base.stored and a.stored:
                gains.append(base.mean - a.mean)
                thresholds.append(noise_threshold(base, a))
                parts.append(f"g={g} {_fmt_pp(gains[-1])} (paper {_fmt_pp(paper_gain)})")
            else:
                parts.append(f"g={g} not run (paper {_fmt_pp(paper_gain)})")
        stored_g = [g for g in planned if base.stored and arm(table, width, g).stored]
        paper_mean = _mean([_paper_error(width, 1) - _paper_error(width, g) for g in (stored_g or planned)])
        threshold = max(thresholds) if thresholds else noise_threshold(base, base)
        if not gains:
            verdict, ours = "not run", None
        else:
            ours = _mean(gains)
            if ours <= 0:
                verdict = "not reproduced"
            elif len(gains) == len(planned) and all(x > t for x, t in zip(gains, thresholds)):
                verdict = "reproduced"
            else:
                verdict = "partly"
        evidence = (f"gain = error(g=1) - error(g): {'; '.join(parts)}; paper and ours are means over the "
                    f"{'stored' if gains else 'planned'} g>1; each needs > {threshold:.2f} pp; "
                    f"{len(gains)}/{len(planned)} g>1 runs and g=1 {'stored' if base.stored else 'not run'}; "
                    "paper = ImageNet top-1, ours = CIFAR-10 final-epoch test error")
        rows.append(_verdict_row("i", claim, "claim_grouping_helps", paper_mean, ours, threshold, verdict, evidence,
                                 profile))
    return rows


def width_verdicts(table: pd.DataFrame, profile: str) -> list[dict[str, Any]]:
    """Claim (ii), one row per pair of neighbouring widths: gain from grouping at the smaller width minus
    the gain at the larger, averaged over the g > 1 both widths plan (4 runs per g)."""
    shuffled = table[table["shuffle"]]
    widths = sorted(shuffled["width"].unique())
    if len(widths) < 2:
        return [_verdict_row("ii", "CIFAR-10 Table 2: the gain from grouping is larger at the smaller width",
                             "claim_grouping_small_models", math.nan, None, noise_threshold(*[Arm(0, 0, 1, 1)] * 4),
                             "not run", f"the {profile} profile trains a single width", profile)]
    rows = []
    for small, large in zip(widths, widths[1:]):
        common = sorted(set(shuffled.loc[shuffled["width"] == small, "groups"])
                        & set(shuffled.loc[shuffled["width"] == large, "groups"]) - {1})
        claim = (f"CIFAR-10 Table 2: grouping gains more at {width_label(small)} than at {width_label(large)} "
                 f"(difference of gains, pp)")
        effects, paper_effects, parts, thresholds = [], [], [], []
        for g in common:
            arms = [arm(table, small, 1), arm(table, small, int(g)), arm(table, large, 1), arm(table, large, int(g))]
            paper_effect = ((_paper_error(small, 1) - _paper_error(small, g))
                            - (_paper_error(large, 1) - _paper_error(large, g)))
            paper_effects.append(paper_effect)
            if all(a.stored for a in arms):
                effect = (arms[0].mean - arms[1].mean) - (arms[2].mean - arms[3].mean)
                effects.append(effect)
                thresholds.append(noise_threshold(*arms))
                parts.append(f"g={g} {_fmt_pp(effect)} (paper {_fmt_pp(paper_effect)})")
            else:
                parts.append(f"g={g} not run (paper {_fmt_pp(paper_effect)})")
        threshold = max(thresholds) if thresholds else noise_threshold(*[Arm(0, 0, 1, 1)] * 4)
        ours = _mean(effects) if effects else None
        verdict = directional_verdict(ours, threshold)
        if verdict == "reproduced" and len(effects) < len(common):
            verdict = "partly"
        evidence = (f"(gain at {width_label(small)}) - (gain at {width_label(large)}) for g in "
                    f"{'/'.join(map(str, common)) or 'none'}: {'; '.join(parts) or 'no common g'}; needs > "
                    f"{threshold:.2f} pp (4 runs per g)")
        rows.append(_verdict_row("ii", claim, "claim_grouping_small_models", _mean(paper_effects), ours, threshold,
                                 verdict, evidence, profile))
    return rows


def shuffle_verdicts(t3: pd.DataFrame, profile: str) -> list[dict[str, Any]]:
    """Claim (iii), one row per Table 3 pair: error without minus error with the shuffle (pp)."""
    rows = []
    for _, row in t3.iterrows():
        gain = None if row["status"] != "stored" else float(row["gain_pp"])
        threshold = float(row["threshold_pp"])
        evidence = (f"with {_num(row['error_with_%'])}%, without {_num(row['error_without_%'])}% "
                    f"(seeds {row['seeds']}); paper {row['paper_with_%']:.1f}% / {row['paper_without_%']:.1f}% "
                    f"(ImageNet); needs > {threshold:.2f} pp")
        rows.append(_verdict_row("iii", f"CIFAR-10 Table 3, {row['width']} g={row['g']}: the shuffle lowers the "
                                        "error (gain, pp)", "claim_shuffle_helps", float(row["paper_gain_pp"]), gain,
                                 threshold, directional_verdict(gain, threshold), evidence, profile))
    return rows


def shuffle_group_verdicts(table: pd.DataFrame, t3: pd.DataFrame, profile: str) -> list[dict[str, Any]]:
    """Claim (iv), one row per width with both g = 3 and g = 8 in Table 3: gain(g=8) - gain(g=3) (pp)."""
    rows = []
    low, high = SHUFFLE_GROUPS
    for width in sorted(t3["scale"].unique()):
        present = set(t3.loc[t3["scale"] == width, "g"])
        if not {low, high} <= present:
            continue
        arms = [arm(table, width, high, False), arm(table, width, high, True),
                arm(table, width, low, False), arm(table, width, low, True)]
        paper = ((_paper_error(width, high, False) - _paper_error(width, high))
                 - (_paper_error(width, low, False) - _paper_error(width, low)))
        threshold = noise_threshold(*arms)
        ours = ((arms[0].mean - arms[1].mean) - (arms[2].mean - arms[3].mean)) if all(a.stored for a in arms) else None
        evidence = (f"shuffle gain at g={high} minus at g={low}; "
                    + ("; ".join(f"g={g} {_fmt_pp(a.mean - b.mean)}" for g, a, b in
                                 ((high, arms[0], arms[1]), (low, arms[2], arms[3])))
                       if ours is not None else "a run is missing")
                    + f"; needs > {threshold:.2f} pp (4 runs)")
        rows.append(_verdict_row("iv", f"CIFAR-10 Table 3, {width_label(width)}: the shuffle helps more at g={high} "
                                       f"than at g={low} (difference, pp)", "claim_shuffle_larger_g", paper, ours,
                                 threshold, directional_verdict(ours, threshold), evidence, profile))
    if not rows:
        rows.append(_verdict_row("iv", f"CIFAR-10 Table 3: the shuffle helps more at g={high} than at g={low}",
                                 "claim_shuffle_larger_g", math.nan, None, noise_threshold(*[Arm(0, 0, 1, 1)] * 4),
                                 "not run", f"the {profile} profile has no g={low} and g={high} no-shuffle pair",
                                 profile))
    return rows


def verdicts(table: pd.DataFrame, t3: pd.DataFrame, profile: str) -> pd.DataFrame:
    """Claims (i)-(iv) as one table (paper, ours and delta in pp of error; positive = the paper's direction)."""
    rows = (grouping_verdicts(table, profile) + width_verdicts(table, profile) + shuffle_verdicts(t3, profile)
            + shuffle_group_verdicts(table, t3, profile))
    return pd.DataFrame(rows, columns=["id", "claim", "source", "paper_pp", "ours_pp", "delta_pp", "threshold_pp",
                                       "verdict", "profile", "evidence"])


def add_training_claims(claims: ClaimsTable, verdict_table: pd.DataFrame) -> None:
    """Copy the verdict rows into the chapter's claims table."""
    for row in verdict_table.itertuples():
        ours = None if math.isnan(row.ours_pp) else float(row.ours_pp)
        claims.add(row.claim, source=row.source, paper=None if math.isnan(row.paper_pp) else float(row.paper_pp),
                   ours=ours, delta=None if math.isnan(row.delta_pp) else float(row.delta_pp), verdict=row.verdict,
                   profile=row.profile, evidence=row.evidence)


# --- plots -------------------------------------------------------------------------------------------

def _not_run_note(ax, profile: str) -> None:
    ax.text(0.5, 0.5, f"not run yet\n(profile {profile})", ha="center", va="center", transform=ax.transAxes,
            fontsize=11, color="grey")


def plot_table2(t2: pd.DataFrame, profile: str) -> plt.Figure:
    """Left: our CIFAR-10 error per g and width (error bars: std over seeds). Right: the paper's
    ImageNet Table 2 for the same widths, for orientation (different data, different scale)."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    groups = list(study.GROUPS)
    positions = {g: i for i, g in enumerate(groups)}
    stored = t2[t2["n"] > 0]
    colours = dict(zip(sorted(t2["width"].unique()), plt.rcParams["axes.prop_cycle"].by_key()["color"]))
    for width, rows in stored.groupby("width", sort=True):
        x = [positions[g] for g in rows["g"]]
        std = rows["error_std"].fillna(0.0)
        left.errorbar(x, rows["error_%"], yerr=std, marker="o", capsize=3, label=width, color=colours[width])
    if stored.empty:
        _not_run_note(left, profile)
    else:
        left.legend(title="width", fontsize=8)
    left.set(xticks=range(len(groups)), xticklabels=[str(g) for g in groups], xlim=(-0.4, len(groups) - 0.6),
             xlabel="groups g",
             ylabel="test error (%)", title=f"CIFAR-10, ours (profile {profile})")
    published = study.paper_table2()
    for width in sorted(t2["width"].unique()):
        if width in published.index:
            right.plot(range(len(groups)), [published.loc[width, f"g={g}"] for g in groups], marker="s", ls="--",
                       label=width, color=colours[width])
    if not t2.empty:
        right.legend(title="width", fontsize=8)
    right.set(xticks=range(len(groups)), xticklabels=[str(g) for g in groups], xlim=(-0.4, len(groups) - 0.6),
              xlabel="groups g",
              ylabel="top-1 error (%)", title="ImageNet, paper Table 2 (same widths)")
    fig.tight_layout()
    return fig


def plot_table3(t3: pd.DataFrame, profile: str) -> plt.Figure:
    """The shuffle's gain (error without - with, pp) per Table 3 pair: paper (ImageNet) and ours (CIFAR-10),
    with our noise threshold as a tick above each of our bars."""
    fig, ax = plt.subplots(figsize=(7, 3.6))
    labels = [f"{w} g={g}" for w, g in zip(t3["width"], t3["g"])]
    x = range(len(labels))
    ax.bar([i - 0.2 for i in x], t3["paper_gain_pp"], width=0.38, label="paper (ImageNet)", color="#999999")
    ours = t3["gain_pp"].where(t3["status"] == "stored")
    ax.bar([i + 0.2 for i in x], ours.fillna(0.0), width=0.38, label=f"ours (CIFAR-10, {profile})", color="#4c72b0")
    for i, (value, threshold) in enumerate(zip(ours, t3["threshold_pp"])):
        if math.isnan(value):
            ax.text(i + 0.2, 0.05, "not run", rotation=90, ha="center", va="bottom", fontsize=8, color="grey")
        else:
            ax.plot([i + 0.05, i + 0.35], [threshold, threshold], color="black", lw=1)
    ax.axhline(0.0, color="grey", lw=1)
    ax.set(xticks=list(x), xticklabels=labels, xlim=(-0.7, max(len(labels), 2) - 0.3),
           ylabel="error without - with shuffle (pp)",
           title="What the channel shuffle buys (line: our noise threshold)")
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig


def curves(specs: Sequence[ExperimentSpec], results: Sequence[dict[str, Any] | None]) -> pd.DataFrame:
    """Per-epoch test error of every stored run (long form), for the training-curve plot."""
    rows = []
    for spec, result in zip(specs, results):
        if result is None:
            continue
        for point in result.get("curve", []):
            if "test_acc" in point:
                rows.append({"run": spec.name.removeprefix("shufflenet-"), "seed": spec.seed,
                             "epoch": point["epoch"], "test_error_%": 100 * (1 - point["test_acc"])})
    return pd.DataFrame(rows, columns=["run", "seed", "epoch", "test_error_%"])


def plot_curves(points: pd.DataFrame, profile: str) -> plt.Figure:
    """Test error per epoch for every stored run (one line per run and seed)."""
    fig, ax = plt.subplots(figsize=(7, 3.6))
    if points.empty:
        _not_run_note(ax, profile)
    else:
        for (run, seed), rows in points.groupby(["run", "seed"], sort=True):
            first_seed = seed == points["seed"].min()
            ax.plot(rows["epoch"], rows["test_error_%"], marker=".", label=run if first_seed else None)
        ax.legend(fontsize=7, ncol=2, loc="upper right")
    ax.set(xlabel="epoch", ylabel="test error (%)", title=f"Training curves (profile {profile})")
    fig.tight_layout()
    return fig


# --- the chapter's claims table ----------------------------------------------------------------------

def build_claims(verdict_table: pd.DataFrame, *, latency: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame] | None
                 ) -> ClaimsTable:
    """Counted claims (Table 1, released models, torchvision, formulas, 93.4%, speedup), the training
    verdicts, and the live latency claims."""
    claims = ClaimsTable(CHAPTER)
    study.add_complexity_claims(claims)
    study.add_more_count_claims(claims)
    add_training_claims(claims, verdict_table)
    study.add_latency_claims(claims, latency)
    return claims


def _mean(values: Iterable[float]) -> float:
    values = [v for v in values if not math.isnan(v)]
    return sum(values) / len(values) if values else math.nan


def _num(x: float) -> str:
    return "n/a" if x is None or math.isnan(x) else f"{x:.2f}"
