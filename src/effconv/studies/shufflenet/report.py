"""Chapter 2's trained results: the CIFAR-10 analogues of ShuffleNet's Tables 2 and 3 as tables, the
verdicts on the paper's four claims about them, their plots, and the chapter's claims ledger.

Everything here copes with missing runs: a planned run without a stored result is a "not run" row,
a verdict that lacks one of its runs is "not run", and the plots say so instead of failing.

The four claims (paper Sec. 4.1, checked on CIFAR-10 with our profiles' widths):

(i)   at matched complexity, g > 1 has lower error than g = 1 (per width);
(ii)  the gain from grouping is larger at the smaller width;
(iii) the channel shuffle lowers the error (per width and g);
(iv)  the shuffle's gain is larger at g = 8 than at g = 3.

Each is a signed effect in percentage points of test error (positive = the paper's direction), computed
per seed from runs that share the seed and graded by the book's paired-seed rule
(``effconv.claims.grade_effect``) on its direction only: our CIFAR-10 models are narrower and trained far
shorter than the paper's ImageNet ones, so the paper's sizes are shown beside ours but not graded, and no
delta is taken across the two datasets. Each graded row carries its t test's p for the chapter's Holm family.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import matplotlib.pyplot as plt
import pandas as pd

from effconv.claims import DIRECTION, ClaimsTable, Grade, grade_effect
from effconv.claims.power import PowerPlan
from effconv.errors import EffconvError
from effconv.experiments import ExperimentSpec
from effconv.studies.paper import paper_value
from effconv.studies.shufflenet.costs import SCALE_LABELS, cifar_cost
from effconv.studies.shufflenet import plan
from effconv.studies.shufflenet.plan import CHAPTER, GROUPS
from effconv.studies.shufflenet.tables import paper_table2

SHUFFLE_GROUPS = (3, 8)


def width_label(width: float) -> str:
    return SCALE_LABELS.get(width, f"{width:g}x")


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


def seed_errors(table: pd.DataFrame, width: float, groups: int, shuffle: bool = True) -> dict[int, float]:
    """Test error (%) of one configuration per stored seed."""
    rows = table[(table["width"] == width) & (table["groups"] == groups) & (table["shuffle"] == shuffle)
                 & (table["status"] == "stored")]
    return {int(seed): float(error) for seed, error in zip(rows["seed"], rows["error_%"])}


def per_seed(terms: Sequence[tuple[float, dict[int, float]]]) -> dict[int, float]:
    """``sum(weight * arm[seed])`` for every seed stored in all the arms: a contrast of runs that share
    their seed, so its spread over seeds is what the paired rule needs."""
    if not terms:
        return {}
    seeds = set.intersection(*(set(values) for _, values in terms))
    return {s: sum(weight * values[s] for weight, values in terms) for s in sorted(seeds)}


def mean_over(contrasts: Sequence[dict[int, float]]) -> dict[int, float]:
    """The per-seed mean of several contrasts (for example the gain of each g > 1), over seeds in all."""
    if not contrasts:
        return {}
    seeds = set.intersection(*(set(c) for c in contrasts))
    return {s: sum(c[s] for c in contrasts) / len(contrasts) for s in sorted(seeds)}


def grade_contrast(values: dict[int, float], paper: float | None, planned: PowerPlan | None = None) -> Grade:
    """Grade a per-seed contrast (positive = the paper's direction) with the book's paired rule, on the pairs
    its power plan fixed where it has one. The direction only: the paper's ImageNet effect is another setting's
    size, so it is shown, never graded."""
    return grade_effect(values, {s: 0.0 for s in values}, paper=None if paper is None or math.isnan(paper) else paper,
                        planned=None if planned is None else planned.pairs, scope=DIRECTION)


def direction_claim(text: str) -> str:
    """``text`` ("... (gain, pp)") as a direction-only claim ("... (direction only; gain, pp)")."""
    if not text.endswith(")"):
        return text
    head, _, tail = text.rpartition(" (")
    return f"{head} (direction only; {tail}"


def _seeds(n: int) -> str:
    return f"{n} seed" + ("" if n == 1 else "s")


def _paper_error(width: float, groups: int, shuffle: bool = True) -> float:
    label = width_label(width)
    key = f"table2_err_{label}_g{groups}" if shuffle else f"table3_err_{label}_g{groups}_noshuffle"
    try:
        return float(paper_value(CHAPTER, key).value)
    except EffconvError:  # a width the paper does not have
        return math.nan


def _paper_gain(width: float, groups: int) -> float:
    """The paper's error(g = 1) - error(g), in pp: the gain that grouping bought on ImageNet."""
    return _paper_error(width, 1) - _paper_error(width, groups)


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
        base_mflops = cifar_cost(1, width)[0]
        for g in sorted(shuffled.loc[shuffled["width"] == width, "groups"].unique()):
            a = arm(table, width, int(g))
            mflops, params, _ = cifar_cost(int(g), width)
            paper = _paper_error(width, int(g))
            rows.append({
                "profile": profile, "width": width_label(width), "g": int(g), "status": _status(a),
                "seeds": f"{a.n}/{a.planned}", "error_%": a.mean, "error_std": a.std,
                "gain_vs_g1_pp": base.mean - a.mean if g != 1 else math.nan,
                "mflops_32": round(mflops, 3), "mflops_vs_g1_%": round(100 * (mflops - base_mflops) / base_mflops, 1),
                "params": params, "paper_imagenet_error_%": paper,
                "paper_gain_vs_g1_pp": round(_paper_gain(width, int(g)), 2) if g != 1 else math.nan,
                "scale": width, "n": a.n, "planned": a.planned,
            })
    return pd.DataFrame(rows, columns=_T2_COLUMNS)


_T2_COLUMNS = ["profile", "width", "g", "status", "seeds", "error_%", "error_std", "gain_vs_g1_pp", "mflops_32",
               "mflops_vs_g1_%", "params", "paper_imagenet_error_%", "paper_gain_vs_g1_pp", "scale", "n", "planned"]


def table3(table: pd.DataFrame, profile: str) -> pd.DataFrame:
    """One row per planned no-shuffle run (width, g): error with and without the shuffle (means over
    seeds), the gain, and the paper's ImageNet numbers."""
    plain = table[~table["shuffle"]]
    rows = []
    for width, g in sorted({(float(w), int(g)) for w, g in zip(plain["width"], plain["groups"])}):
        with_, without = arm(table, width, g, True), arm(table, width, g, False)
        paper_with, paper_without = _paper_error(width, g, True), _paper_error(width, g, False)
        paired = grade_contrast(_shuffle_gain(table, width, g), None)
        rows.append({
            "profile": profile, "width": width_label(width), "g": g,
            "status": "stored" if with_.stored and without.stored else "not run",
            "gain_low_pp": math.nan if paired.low is None else paired.low,
            "gain_high_pp": math.nan if paired.high is None else paired.high,
            "error_with_%": with_.mean, "error_without_%": without.mean, "gain_pp": without.mean - with_.mean,
            "seeds": f"{with_.n}/{with_.planned} + {without.n}/{without.planned}",
            "paper_with_%": paper_with, "paper_without_%": paper_without,
            "paper_gain_pp": round(paper_without - paper_with, 2), "scale": width,
        })
    return pd.DataFrame(rows, columns=_T3_COLUMNS)


_T3_COLUMNS = ["profile", "width", "g", "status", "error_with_%", "error_without_%", "gain_pp", "gain_low_pp",
               "gain_high_pp", "seeds",
               "paper_with_%", "paper_without_%", "paper_gain_pp", "scale"]


# --- verdicts ----------------------------------------------------------------------------------------

def _verdict_row(claim_id: str, claim: str, key: str, paper: float, grade: Grade, evidence: str,
                 profile: str, planned: int = 0) -> dict[str, Any]:
    """One verdict row; ``planned``: the pairs a power plan fixed for it (0: none), which it waits for."""
    return {"id": claim_id, "claim": direction_claim(claim), "source": paper_value(CHAPTER, key).cite,
            "paper_pp": round(paper, 2) if not math.isnan(paper) else math.nan,
            "ours_pp": math.nan if grade.ours is None else round(grade.ours, 2),
            "interval_pp": grade.interval, "n": grade.n, "planned": planned, "p": grade.p,
            "verdict": grade.verdict, "profile": profile, "evidence": f"{evidence} ({grade.rule})"}


def _gain(table: pd.DataFrame, width: float, g: int) -> dict[int, float]:
    """error(g = 1) - error(g), per seed."""
    return per_seed([(1, seed_errors(table, width, 1)), (-1, seed_errors(table, width, g))])


def _shuffle_gain(table: pd.DataFrame, width: float, g: int) -> dict[int, float]:
    """error without the shuffle - error with it, per seed."""
    return per_seed([(1, seed_errors(table, width, g, False)), (-1, seed_errors(table, width, g, True))])


def grouping_verdicts(table: pd.DataFrame, profile: str) -> list[dict[str, Any]]:
    """Claim (i), one row per width: the mean gain of the g > 1 models over g = 1 (pp of error), per seed."""
    rows = []
    shuffled = table[table["shuffle"]]
    for width in sorted(shuffled["width"].unique()):
        planned = sorted(int(g) for g in shuffled.loc[shuffled["width"] == width, "groups"].unique() if g != 1)
        if not planned:
            continue
        gains = {g: _gain(table, width, g) for g in planned}
        paper_mean = _mean([_paper_gain(width, g) for g in planned])
        mean = mean_over(list(gains.values()))
        grade = grade_contrast(mean, paper_mean)
        parts = "; ".join(f"g={g} {_fmt_pp(_mean(v.values()))} over its {_seeds(len(v))}" for g, v in gains.items())
        evidence = (f"gain = error(g=1) - error(g), averaged over g = {'/'.join(map(str, planned))} per random seed, "
                    f"on the {_seeds(len(mean))} every g has (each g alone: {parts}); "
                    "paper = ImageNet top-1, ours = CIFAR-10 final-epoch test error")
        rows.append(_verdict_row("i", f"CIFAR-10 Table 2, {width_label(width)}: g > 1 has lower error than g = 1 "
                                      "(mean gain, pp)", "claim_grouping_helps", paper_mean, grade, evidence, profile))
        if len(planned) == 1:  # the mean is that one g already
            continue
        # The mean above pairs only the seeds every g shares; the largest g against g = 1 is the headline
        # comparison and is graded on all its own pairs.
        top = planned[-1]
        paper_top = _paper_gain(width, top)
        power = plan.power_plan(profile, width, top)
        rows.append(_verdict_row("i", f"CIFAR-10 Table 2, {width_label(width)}: g = {top} has lower error than g = 1 "
                                      "(gain, pp)", "claim_grouping_helps", paper_top,
                                 grade_contrast(gains[top], paper_top, power),
                                 f"gain = error(g=1) - error(g={top}), per seed; paper = ImageNet top-1, "
                                 "ours = CIFAR-10 final-epoch test error"
                                 + (f"; seeds planned by power: {power.text()}" if power else ""), profile,
                                 planned=power.pairs if power else 0))
    return rows


def width_verdicts(table: pd.DataFrame, profile: str) -> list[dict[str, Any]]:
    """Claim (ii), one row per pair of neighbouring widths: gain from grouping at the smaller width minus
    the gain at the larger, averaged over the g > 1 both widths plan, per seed."""
    shuffled = table[table["shuffle"]]
    widths = sorted(shuffled["width"].unique())
    if len(widths) < 2:
        return [_verdict_row("ii", "CIFAR-10 Table 2: the gain from grouping is larger at the smaller width",
                             "claim_grouping_small_models", math.nan, grade_contrast({}, None),
                             f"the {profile} profile trains a single width", profile)]
    rows = []
    for small, large in zip(widths, widths[1:]):
        common = sorted(set(shuffled.loc[shuffled["width"] == small, "groups"])
                        & set(shuffled.loc[shuffled["width"] == large, "groups"]) - {1})
        contrasts = [per_seed([(1, _gain(table, small, g)), (-1, _gain(table, large, g))]) for g in common]
        paper = _mean([_paper_gain(small, g) - _paper_gain(large, g) for g in common])
        evidence = (f"(gain at {width_label(small)}) - (gain at {width_label(large)}) for g in "
                    f"{'/'.join(map(str, common)) or 'none'}, per seed (4 runs per g and seed)")
        rows.append(_verdict_row("ii", f"CIFAR-10 Table 2: grouping gains more at {width_label(small)} than at "
                                       f"{width_label(large)} (difference of gains, pp)", "claim_grouping_small_models",
                                 paper, grade_contrast(mean_over(contrasts), paper), evidence, profile))
    return rows


def shuffle_verdicts(table: pd.DataFrame, t3: pd.DataFrame, profile: str) -> list[dict[str, Any]]:
    """Claim (iii), one row per Table 3 pair: error without minus error with the shuffle (pp), per seed."""
    rows = []
    for _, row in t3.iterrows():
        gain = _shuffle_gain(table, float(row["scale"]), int(row["g"]))
        evidence = (f"with {_num(row['error_with_%'])}%, without {_num(row['error_without_%'])}% "
                    f"(seeds {row['seeds']}); paper {row['paper_with_%']:.1f}% / {row['paper_without_%']:.1f}% "
                    "(ImageNet)")
        rows.append(_verdict_row("iii", f"CIFAR-10 Table 3, {row['width']} g={row['g']}: the shuffle lowers the "
                                        "error (gain, pp)", "claim_shuffle_helps", float(row["paper_gain_pp"]),
                                 grade_contrast(gain, float(row["paper_gain_pp"])), evidence, profile))
    return rows


def shuffle_group_verdicts(table: pd.DataFrame, t3: pd.DataFrame, profile: str) -> list[dict[str, Any]]:
    """Claim (iv), one row per width with both g = 3 and g = 8 in Table 3: gain(g=8) - gain(g=3), per seed."""
    rows = []
    low, high = SHUFFLE_GROUPS
    for width in sorted(t3["scale"].unique()):
        if not {low, high} <= set(t3.loc[t3["scale"] == width, "g"]):
            continue
        paper = ((_paper_error(width, high, False) - _paper_error(width, high))
                 - (_paper_error(width, low, False) - _paper_error(width, low)))
        contrast = per_seed([(1, _shuffle_gain(table, width, high)), (-1, _shuffle_gain(table, width, low))])
        rows.append(_verdict_row("iv", f"CIFAR-10 Table 3, {width_label(width)}: the shuffle helps more at g={high} "
                                       f"than at g={low} (difference, pp)", "claim_shuffle_larger_g", paper,
                                 grade_contrast(contrast, paper), f"shuffle gain at g={high} minus at g={low}, per "
                                                                  "seed (4 runs per seed)", profile))
    if not rows:
        rows.append(_verdict_row("iv", f"CIFAR-10 Table 3: the shuffle helps more at g={high} than at g={low}",
                                 "claim_shuffle_larger_g", math.nan, grade_contrast({}, None),
                                 f"the {profile} profile has no g={low} and g={high} no-shuffle pair", profile))
    return rows


def verdicts(table: pd.DataFrame, t3: pd.DataFrame, profile: str) -> pd.DataFrame:
    """Claims (i)-(iv) as one table (paper, ours and delta in pp of error; positive = the paper's direction)."""
    rows = (grouping_verdicts(table, profile) + width_verdicts(table, profile) + shuffle_verdicts(table, t3, profile)
            + shuffle_group_verdicts(table, t3, profile))
    return pd.DataFrame(rows, columns=["id", "claim", "source", "paper_pp", "ours_pp", "interval_pp", "n", "planned",
                                       "p", "verdict", "profile", "evidence"])


def complete(verdict_table: pd.DataFrame) -> pd.Series:
    """Which verdict rows have every run they need: run at all, and at their planned pairs where power set them."""
    return (verdict_table["verdict"] != "not run") & (verdict_table["n"] >= verdict_table["planned"])


def add_training_claims(claims: ClaimsTable, verdict_table: pd.DataFrame) -> None:
    """Copy the verdict rows into the chapter's claims table, each with its t test's p (its Holm family). The
    delta stays blank: the paper's value is an ImageNet effect and ours a CIFAR-10 one."""
    for row in verdict_table.itertuples():
        claims.add(row.claim, kind="trained", source=row.source,
                   paper=None if math.isnan(row.paper_pp) else float(row.paper_pp),
                   ours=None if math.isnan(row.ours_pp) else float(row.ours_pp),
                   delta="", interval=row.interval_pp, n=int(row.n), verdict=row.verdict, profile=row.profile,
                   evidence=row.evidence, p=None if row.p is None or math.isnan(row.p) else float(row.p))


# --- plots -------------------------------------------------------------------------------------------

def _not_run_note(ax, profile: str) -> None:
    ax.text(0.5, 0.5, f"not run yet\n(profile {profile})", ha="center", va="center", transform=ax.transAxes,
            fontsize=11, color="grey")


def plot_table2(t2: pd.DataFrame, profile: str) -> plt.Figure:
    """Left: our CIFAR-10 error per g and width (error bars: std over seeds). Right: the paper's
    ImageNet Table 2 for the same widths, for orientation (different data, different scale)."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(7.8, 3.6))
    groups = list(GROUPS)
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
    published = paper_table2()
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
    with the 95% interval of our paired gain where 3 or more seeds allow one."""
    fig, ax = plt.subplots(figsize=(7, 3.6))
    labels = [f"{w} g={g}" for w, g in zip(t3["width"], t3["g"])]
    x = range(len(labels))
    ax.bar([i - 0.2 for i in x], t3["paper_gain_pp"], width=0.38, label="paper (ImageNet)", color="#999999")
    ours = t3["gain_pp"].where(t3["status"] == "stored")
    ax.bar([i + 0.2 for i in x], ours.fillna(0.0), width=0.38, label=f"ours (CIFAR-10, {profile})", color="#4c72b0")
    for i, (value, low, high) in enumerate(zip(ours, t3["gain_low_pp"], t3["gain_high_pp"])):
        if math.isnan(value):
            ax.text(i + 0.2, 0.05, "not run", rotation=90, ha="center", va="bottom", fontsize=8, color="grey")
        elif not math.isnan(low):
            ax.plot([i + 0.2, i + 0.2], [low, high], color="black", lw=1.2)
    ax.axhline(0.0, color="grey", lw=1)
    ax.set(xticks=list(x), xticklabels=labels, xlim=(-0.7, max(len(labels), 2) - 0.3),
           ylabel="error without - with shuffle (pp)",
           title="What the channel shuffle buys (line: 95% interval over paired seeds)")
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


def _mean(values: Iterable[float]) -> float:
    values = [v for v in values if not math.isnan(v)]
    return sum(values) / len(values) if values else math.nan


def _num(x: float) -> str:
    return "n/a" if x is None or math.isnan(x) else f"{x:.2f}"


def _fmt_pp(x: float) -> str:
    return "n/a" if x is None or math.isnan(x) else f"{x:+.2f}"
