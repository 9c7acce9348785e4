"""Chapter 2, ShuffleNet V1: the claims ledger.

The counted claims (Table 1, the released models, the unit formulas, the 93.4% pointwise share, Table 2's
complexity headers, torchvision's ShuffleNet V2 and the theoretical speedup over AlexNet), the training
verdicts of ``report`` and, for display only, the live latency claims timed on the build's machine.
"""

from __future__ import annotations

import math

import pandas as pd

from effconv.claims import ClaimsTable, Grade, combine, grade_count, round_half_away
from effconv.studies.paper import citation, paper_value
from effconv.studies.shufflenet.latency import add_latency_claims
from effconv.studies.shufflenet.plan import CHAPTER
from effconv.studies.shufflenet.report import add_training_claims, table3, verdicts
from effconv.studies.shufflenet.results import load_runs
from effconv.studies.shufflenet.tables import (alexnet_speedup, repo_table, scaled_complexity, table1_channels,
                                               table1_complexity, torchvision_v2_table)
from effconv.studies.shufflenet.units import resnext_pointwise_search, unit_formulas

def add_complexity_claims(claims: ClaimsTable, profile: str = "counted") -> None:
    """Record the counting claims (Table 1, the released models, the unit formulas, 93.4%) in ``claims``."""
    table1 = table1_complexity()
    for row in table1.itertuples():
        ref = paper_value(CHAPTER, f"table1_mflops_g{row.g}")
        claims.grade(f"Table 1 complexity g={row.g} (MFLOPs, without FC)", grade_count(row.ours_without_fc, ref.value,
                     decimals=0), kind="counted", source=ref.cite, paper=ref.value, profile=profile,
                     evidence="multiply-adds counted on our ShuffleNet V1 with g groups at 224x224")
    channels = table1_channels()
    claims.grade("Table 1 stage widths (values equal to the table's)", grade_count(int(channels["match"].sum()),
                 len(channels) or math.nan), kind="counted", source="paper: ShuffleNet V1 Table 1",
                 paper=len(channels), profile=profile, evidence="stage output channels read from a forward pass")
    for row in repo_table().itertuples():
        label, g = row.model.split(" g=")
        note = "; the paper's Table 1 prints 137 for this model" if (label, g) == ("1.0x", "3") else ""
        ref = paper_value(CHAPTER, f"repo_mflops_{label}_g{g}")
        claims.grade(f"released ShuffleNetV1 {row.model} (MFLOPs)", grade_count(row.ours_mflops, row.repo_mflops,
                     decimals=0), kind="counted", source=ref.cite, paper=row.repo_mflops, profile=profile,
                     evidence=f"multiply-adds counted at 224x224 with the FC layer{note}")
    units = unit_formulas()
    claims.grade("unit costs hw(2cm+9m^2), hw(2cm+9m^2/g), hw(2cm/g+9m) (units whose count equals the formula)",
                 grade_count(int(units["equal"].sum()), len(units) or math.nan), kind="counted",
                 source=citation("seed", "seed 004 text"), paper=len(units), profile=profile,
                 evidence="multiply-adds counted on built units, against each closed form")
    search = resnext_pointwise_search(paper_value(CHAPTER, "resnext_pointwise_share").value)
    best = search.loc[search["template"] == "32x4d", "pointwise_%"].iloc[0]
    share = paper_value(CHAPTER, "resnext_pointwise_share")
    claims.grade(f"ResNeXt unit: 1x1 convs are {share.value:g}% of mult-adds", grade_count(float(best), share.value,
                 decimals=1), kind="counted", source=share.cite, paper=share.value, profile=profile,
                 evidence="32x4d stride-1 units (c = 2m, g = 32), any stage")


def add_more_count_claims(claims: ClaimsTable, profile: str = "counted") -> None:
    """Table 2's complexity headers, torchvision's ShuffleNet V2 metadata and the theoretical speedup
    over AlexNet, all by counting."""
    scaled = scaled_complexity()
    for label, rows in scaled.groupby("scale", sort=False):
        ref = paper_value(CHAPTER, f"table2_mflops_{label}")
        grades = [grade_count(float(v), ref.value, decimals=0) for v in rows["ours_with_fc"]]
        worst = rows.loc[(rows["ours_with_fc"] - ref.value).abs().idxmax()]
        claims.add(f"Table 2 header: ShuffleNet {label} is about {ref.value:g} MFLOPs for every g", kind="counted",
                   source=ref.cite, paper=ref.value,
                   ours=f"{rows['ours_with_fc'].min():.2f}-{rows['ours_with_fc'].max():.2f}",
                   delta=f"worst {100 * (worst['ours_with_fc'] - ref.value) / ref.value:+.1f}% (g={worst['g']})",
                   verdict=combine(grades), profile=profile,
                   evidence="multiply-adds counted at 224x224 with the FC layer, each g graded as a counted value; "
                            "widths rounded to multiples of 4g, the stem as the released models round it")
    for row in torchvision_v2_table().itertuples():  # the verdict is the table's, so both always agree
        claims.add(f"torchvision {row.model}: parameters and GFLOPs", kind="counted",
                   source="repo: torchvision weights metadata", paper=f"{row.meta_params:,} / {row.meta_gflops:.3f}",
                   ours=f"{row.ours_params:,} / {row.ours_gmacs:.4f}", delta="",
                   verdict=row.verdict, profile=profile,
                   evidence="our counter on torchvision's architecture (built without weights) against the weights' "
                            "metadata: parameters exactly, GMACs at the metadata's three decimals")
    speed = alexnet_speedup()
    ref = paper_value(CHAPTER, "alexnet_speedup_theoretical")
    claims.grade("ShuffleNet 0.5x vs AlexNet, theoretical speedup (x)", alexnet_grade(speed), kind="counted",
                 source=ref.cite, paper=ref.value, profile=profile,
                 evidence=f"counted multiply-adds, torchvision's AlexNet ({speed['alexnet_mflops'].iloc[0]:.1f} M) "
                          f"over ShuffleNet 0.5x: {float(speed['speedup'].median()):.2f}x, the median over g "
                          f"(range {speed['speedup'].min():.1f}x to {speed['speedup'].max():.1f}x); to the printed "
                          f"whole number it is {round_half_away(float(speed['speedup'].median())):.0f}, not "
                          f"{ref.value:g}")
    parity = paper_value(CHAPTER, "seed_alexnet_error")
    claims.add("ShuffleNet 0.5x has about AlexNet's ImageNet error", kind="trained", source=parity.cite,
               paper=parity.value, ours="", verdict="not run", profile=profile,
               evidence="needs ImageNet training; not available here")


def alexnet_grade(speed: pd.DataFrame) -> Grade:
    """The theoretical speed-up over AlexNet graded as a counted value: the median over g of the unrounded
    counted ratios, against the paper's 18x at its whole number (halves away from zero)."""
    return grade_count(float(speed["speedup"].median()), paper_value(CHAPTER, "alexnet_speedup_theoretical").value,
                       decimals=0)


def ledger(profile: str = "best") -> ClaimsTable:
    """The committed claims: every counted claim and the training verdicts of ``profile``'s stored runs."""
    runs = load_runs(profile, log=lambda *_: None)
    table = runs.table
    claims = ClaimsTable(CHAPTER, holm=True)  # trained rows carry p, p_holm and verdict_holm
    add_complexity_claims(claims)
    add_more_count_claims(claims)
    add_training_claims(claims, verdicts(table, table3(table, runs.profile), runs.profile))
    return claims


def live_claims(claims: ClaimsTable, latency: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame] | None
                ) -> ClaimsTable:
    """``claims`` plus the live latency claims timed on this machine (for display only)."""
    add_latency_claims(claims, latency)
    return claims
