"""What each chapter's findings box shows: its key claims and the scale of the evidence behind them.

The key claims are named by their ledger claim (a test fails when a name is missing from its ledger),
3 to 6 per chapter: the paper's headline claims, counted and trained. The box reads the committed ledger
(``results/<chapter>/claims.csv``); the scale is computed from the profile's plan and the stored results
it finds (runs stored of those planned, seeds per arm, epochs, model widths, data source), never typed.
``intro_findings`` builds the intro page's box from the same pieces, and ``write_intro_findings`` writes it
where ``book/intro.md`` includes it (``effconv book`` calls it; the file is a build product, git-ignored).
Where a ledger carries Holm-adjusted verdicts the boxes show those (``effconv.claims.findings.shown_verdict``)
and say over how many tests; a ledger without them is shown as it is, and the box says its trained verdicts
are not adjusted.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from effconv.claims.findings import FindingsBox
from effconv.claims.ledger import load_ledger
from effconv.data.cifar import REENCODED, SHIPPED_QUALITY
from effconv.errors import EffconvError
from effconv.experiments.runner import lookup
from effconv.experiments.spec import ExperimentSpec
from effconv.io import atomic_write_text
from effconv.studies import CHAPTERS, planned_specs

# chapter -> [(ledger claim, the label a reader sees)], in the order the box lists them
KEY_CLAIMS: dict[str, list[tuple[str, str]]] = {
    "splitting": [
        ("depthwise separable cost 1/N + 1/Dk^2 (N=256, Dk=3)",
         "a depthwise-separable conv costs 1/N + 1/Dk² of a dense one (ratio)"),
        ("1.0 MobileNet-224 mult-adds (M)", "MobileNet 1.0-224 multiply-adds (M)"),
        ("MobileNet has about 1/27 of VGG-16's mult-adds (x fewer)",
         "MobileNet needs about 27x fewer multiply-adds than VGG-16 (x)"),
        ("SqueezeNet has about 1/50 of AlexNet's params (x fewer)",
         "SqueezeNet has about 50x fewer parameters than AlexNet (x)"),
        ("OctConv FLOPs at alpha=0.5 (% of plain)", "an octave conv at α = 0.5 costs 44% of a plain one (%)"),
        ("1.0 MobileNet-224 ImageNet top-1 (%)", "MobileNet 1.0-224 ImageNet top-1 (%)"),
    ],
    "shufflenet": [
        ("Table 1 complexity g=3 (MFLOPs, without FC)", "Table 1: ShuffleNet 1x, g = 3 (MFLOPs)"),
        ("ResNeXt unit: 1x1 convs are 93.4% of mult-adds", "ResNeXt units spend 93.4% of their multiply-adds in 1x1 convs (%)"),
        ("ShuffleNet 0.5x vs AlexNet, theoretical speedup (x)", "ShuffleNet 0.5x needs 18x fewer multiply-adds than AlexNet (x)"),
        ("CIFAR-10 Table 2, 0.25x: g > 1 has lower error than g = 1 (direction only; mean gain, pp)",
         "grouping (g > 1) lowers the error at 0.25x (pp)"),
        ("CIFAR-10 Table 3, 0.25x g=8: the shuffle lowers the error (direction only; gain, pp)",
         "the shuffle lowers the error, 0.25x g = 8 (pp)"),
        ("ShuffleNet 0.5x has about AlexNet's ImageNet error", "ShuffleNet 0.5x matches AlexNet's ImageNet error"),
    ],
    "acnet": [
        ("an ACB folds into one kxk conv with the same output (random blocks that fold, of 36)",
         "an ACB folds into one conv with the same output (blocks that fold)"),
        ("the fused ACNet has exactly the base model's parameters and FLOPs (families equal, of 5)",
         "the fused ACNet costs exactly what the base costs (families)"),
        ("CIFAR-10 Cifar-quick: ACNet gain over the base (direction, pp)", "CIFAR-10 Cifar-quick: ACNet beats the base (pp)"),
        ("CIFAR-10 ResNet-56 (ResNet-20 at width 1 stands in for ResNet-56): ACNet gain over the base (direction, pp)",
         "CIFAR-10 ResNet-56 (ours: ResNet-20): ACNet beats the base (pp)"),
        ("rotation (Cifar-quick on CIFAR-10; paper: ImageNet ResNet-18): horizontal-only − base, 180° rotated (direction, pp)",
         "horizontal kernels help on 180°-rotated images (pp)"),
        ("ACNet: training strengthens the skeleton beyond what adding random kernels gives "
         "(direction; skeleton − corner mean importance, trained − initialised)",
         "ACNet training strengthens the kernel skeleton (importance)"),
    ],
    "dac": [
        ("DAC is exact at rank k^2: layers whose pair differs from the conv",
         "at full rank the DAC pair equals the conv (layers that differ)"),
        ("cost of a decomposed layer = r/N + r/k^2: (layer, rank) cases counted otherwise",
         "a DAC pair costs r/N + r/k² of the layer (cases that disagree)"),
        ("higher rank loses less accuracy (one layer at a time; direction)", "a higher rank loses less accuracy (pp)"),
        ("last k layers lose less than first k at equal rank (direction)", "decomposing the last k layers loses less than the first k (pp)"),
        ("DAC beats channel SVD given at most DAC's FLOPs (direction)", "DAC beats channel SVD given at most its FLOPs (pp)"),
        ("ImageNet VGG-16: FLOPs saved (%)", "ImageNet VGG-16: 53% fewer FLOPs (%)"),
    ],
    "versatile": [
        ("spatial versatile 3x3 layer: FLOPs 10/18 of the standard layer",
         "a spatial versatile 3x3 layer costs 10/18 of a standard one (ratio)"),
        ("Versatile-v1 ResNet-50 GFLOPs", "Versatile-v1 ResNet-50 (GFLOPs)"),
        ("Versatile-v2 ResNet-50 GFLOPs", "Versatile-v2 ResNet-50 (GFLOPs)"),
        ("spatial versatile filters (v1) are at least as accurate as the baseline at about half the parameters (direction only)",
         "v1 is at least as accurate as the baseline (pp)"),
        ("spatial + channel versatile filters (v2) lose accuracy against the baseline at a quarter of the parameters (direction only)",
         "v2 loses accuracy against the baseline (pp)"),
        ("learned masks: a mask set per primary (b) beats one set shared by the layer (a) (direction only)",
         "per-primary masks (b) beat shared masks (a) (pp)"),
    ],
}

# ledger profiles that name no training profile (counted rows, claims with nothing to run)
_NOT_A_PROFILE = {"", "count", "counted", "none"}
TITLES = {"splitting": "1. Splitting and grouping convolutions", "shufflenet": "2. ShuffleNet V1", "acnet": "3. ACNet",
          "dac": "4. DAC", "versatile": "5. Versatile filters"}


def key_claims(chapter: str, ledger: pd.DataFrame | None = None) -> pd.DataFrame:
    """The chapter's key claims as ledger rows, in box order, with a ``label`` column; a key claim the
    ledger does not hold is an error naming it (rename it here when the ledger renames it)."""
    if chapter not in KEY_CLAIMS:
        raise EffconvError(f"unknown chapter {chapter!r}; chapters: {', '.join(CHAPTERS)}.")
    ledger = load_ledger(chapters=(chapter,)) if ledger is None else ledger
    by_claim = ledger.drop_duplicates("claim").set_index("claim")
    names = [name for name, _ in KEY_CLAIMS[chapter]]
    missing = [name for name in names if name not in by_claim.index]
    if missing:
        raise EffconvError(f"the {chapter} findings name claims its ledger does not hold: {missing}; update "
                           "KEY_CLAIMS in effconv/studies/findings.py (or rebuild the ledger with `effconv claims`).")
    rows = by_claim.loc[names].reset_index()
    rows["label"] = [label for _, label in KEY_CLAIMS[chapter]]
    return rows


@dataclass(frozen=True)
class Scale:
    """The training behind one profile of a chapter: its planned runs and how many of them are stored."""

    profile: str
    planned: int
    runs: int  # stored, of the planned
    arms: int  # planned arms (runs that differ only in their seed)
    seeds: tuple[int, int]  # fewest and most stored seeds of one arm
    planned_seeds: tuple[int, int]
    epochs: tuple[int, int]
    widths: dict[str, tuple[float, float]]  # model -> (narrowest, widest)
    data: tuple[str, ...]

    def text(self) -> str:
        if not self.planned:
            return f"Trained rows: profile {self.profile} plans no run here."
        lead = f"Trained rows: profile {self.profile}, {self.runs} of {self.planned} planned runs stored"
        if not self.runs:
            return f"{lead} (every trained claim is not run)."
        models = ", ".join(f"{model} at width {_span(lo, hi, 'g')}" for model, (lo, hi) in self.widths.items())
        return (f"{lead}: {self.arms} arm{'s' if self.arms != 1 else ''} with {_span(*self.seeds)} of "
                f"{_span(*self.planned_seeds)} planned seeds each, {_span(*self.epochs)} epochs; {models}; "
                f"{' and '.join(self.data)}.")


def _span(lo, hi, spec: str = "d") -> str:
    return f"{lo:{spec}}" if lo == hi else f"{lo:{spec}}–{hi:{spec}}"


def data_label(source: str) -> str:
    """A reader's name for a result's data source."""
    if source == "jpeg":
        return f"JPEG CIFAR-10 (quality {SHIPPED_QUALITY})"
    if source == "raw":
        return "CIFAR-10 (original batches)"
    match = REENCODED.fullmatch(source)
    if match:
        return f"JPEG CIFAR-10 re-encoded at quality {match.group(1)}"
    return source


def planned_results(profile: str, chapters=CHAPTERS) -> list[tuple[ExperimentSpec, dict | None]]:
    """Each run the profile plans for ``chapters`` (a shared run once) with its stored result, or None.
    Runs outside the plan (history, such as earlier widths) are not counted."""
    specs = planned_specs(profile, chapters)
    return list(zip(specs, lookup(specs)))


def scale(planned: list[tuple[ExperimentSpec, dict | None]], profile: str) -> Scale:
    """The scale of ``planned`` (specs of ``profile`` with their results, as ``planned_results`` gives)."""
    seeds: dict[str, list[bool]] = defaultdict(list)
    widths: dict[str, list[float]] = defaultdict(list)
    epochs, data = [], []
    for spec, result in planned:
        # an arm is every run but for its seed
        seeds[replace(spec, seed=0).key].append(result is not None)
        if result is None:
            continue
        widths[spec.model].append(float(spec.model_kwargs.get("width", 1.0)))
        epochs.append(spec.recipe.epochs)
        source = (result.get("provenance", {}).get("data") or {}).get("source") or spec.data
        if data_label(source) not in data:
            data.append(data_label(source))
    stored = [sum(arm) for arm in seeds.values()] or [0]
    planned_seeds = [len(arm) for arm in seeds.values()] or [0]
    return Scale(profile=profile, planned=len(planned), runs=sum(stored), arms=len(seeds),
                 seeds=(min(stored), max(stored)), planned_seeds=(min(planned_seeds), max(planned_seeds)),
                 epochs=(min(epochs, default=0), max(epochs, default=0)),
                 widths={m: (min(w), max(w)) for m, w in sorted(widths.items())}, data=tuple(data))


def trained_profiles(rows: pd.DataFrame) -> list[str]:
    """The training profiles a ledger's trained rows name, in order of appearance."""
    names = rows.loc[rows["kind"] == "trained", "profile"].astype(str).str.strip()
    return list(dict.fromkeys(p for p in names if p not in _NOT_A_PROFILE))


def holm_tests(ledger: pd.DataFrame) -> int | None:
    """How many trained tests a chapter's ledger adjusts over (rows with a Holm-adjusted p), or None when it
    carries no Holm columns."""
    if "p_holm" not in ledger.columns:
        return None
    values = ledger["p_holm"]
    return int((values.notna() & (values.astype(str).str.strip() != "")).sum())


def multiplicity_note(ledger: pd.DataFrame) -> str | None:
    """One line on how the box's trained verdicts stand against the number of tests (per chapter when
    ``ledger`` holds several, as the intro's does); None without trained rows."""
    if not (ledger["kind"] == "trained").any():
        return None
    several = "chapter" in ledger.columns and ledger["chapter"].nunique() > 1
    groups = ledger.groupby("chapter", sort=False) if several else [("", ledger)]
    adjusted, plain = [], []
    for chapter, rows in groups:
        if not (rows["kind"] == "trained").any():
            continue
        name = TITLES.get(chapter, chapter).split(". ", 1)[-1]
        tests = holm_tests(rows.dropna(axis=1, how="all"))  # a column only other chapters have is all NaN here
        if tests is None:
            plain.append(name)
        else:
            adjusted.append(f"{name}: {tests}" if several else str(tests))
    parts = []
    if adjusted == ["0"]:  # one chapter, Holm columns, no t test among its trained rows
        return "No trained verdict here rests on a t test, so the Holm adjustment changes none."
    if adjusted:
        whose = "each chapter's" if several else "the chapter's"
        parts.append(f"Trained verdicts are shown after the Holm adjustment over {whose} trained tests "
                     f"({', '.join(adjusted)}), which keeps the chance of any false decision among a chapter's "
                     "tests at 5%; a row decided only at 95% on its own reads inconclusive (Holm), its raw verdict "
                     "on hover.")
    if plain:
        where = f" of {', '.join(plain)}" if several else ""
        parts.append(f"The trained verdicts{where} are each decided at 95% on their own, not yet adjusted for the "
                     f"number of tests {'each' if several else 'the'} chapter runs.")
    return " ".join(parts)


def scale_notes(chapter: str, ledger: pd.DataFrame) -> list[str]:
    """The box's closing lines: what the counted rows rest on, and the scale of each trained profile."""
    notes = []
    if (ledger["kind"] == "counted").any():
        notes.append("Counted rows: the networks are built and their layers counted (or the formula checked) "
                     "exactly; nothing is trained.")
    profiles = trained_profiles(ledger)
    notes += [scale(planned_results(profile, (chapter,)), profile).text() for profile in profiles]
    if not profiles and (ledger["kind"] == "trained").any():
        notes.append("Trained rows: none is run here (ImageNet-scale training), so they are marked not run.")
    multiplicity = multiplicity_note(ledger)
    if multiplicity:
        notes.append(multiplicity)
    notes.append("Live timings stay in the chapter and out of the ledger; the full ledger is in the Claims section.")
    return notes


def findings_box(chapter: str, ledger: pd.DataFrame | None = None) -> FindingsBox:
    """The chapter's findings box, from its committed ledger (or ``ledger``, its rows) and stored results."""
    ledger = load_ledger(chapters=(chapter,)) if ledger is None else ledger
    rows = key_claims(chapter, ledger)
    return FindingsBox(rows, list(rows["label"]), scale_notes(chapter, ledger), title="Key claims and verdicts")


def intro_findings() -> FindingsBox:
    """Every chapter's key claims in one box, grouped by chapter, and the profiles behind the trained ones."""
    ledger = load_ledger(chapters=CHAPTERS)
    frames, groups, position = [], {}, 0
    for chapter in CHAPTERS:
        rows = key_claims(chapter, ledger[ledger["chapter"] == chapter])
        groups[position] = TITLES[chapter]
        position += len(rows)
        frames.append(rows)
    rows = pd.concat(frames, ignore_index=True)
    profiles = trained_profiles(ledger)
    scales = [scale(planned_results(p), p) for p in profiles]
    if scales:
        lead = (f"Every trained number in this book comes from the {' and '.join(profiles)} profile"
                f"{'s' if len(profiles) > 1 else ''}, as the ledger shows: few seeds, short schedules, narrow models "
                "and JPEG CIFAR-10, so a trained verdict tests whether an effect's direction survives at that "
                "scale, not its size.")
    else:
        lead = "No trained number is stored yet: every trained claim is marked not run."
    notes = ["Counted rows are exact counts of the built networks. Each chapter opens with its own box; the "
             "overview page lists every claim."]
    multiplicity = multiplicity_note(ledger)
    if multiplicity:
        notes.append(multiplicity)
    return FindingsBox(rows, list(rows["label"]), notes, title="Findings across the book", groups=groups,
                       lead=[lead, *(s.text() for s in scales)])


def write_intro_findings(path: Path) -> Path:
    """Write the intro's box as a Markdown include (raw HTML) at ``path``."""
    return atomic_write_text(path, intro_findings().html() + "\n")
