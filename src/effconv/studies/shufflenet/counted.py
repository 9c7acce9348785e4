"""Chapter 2 (ShuffleNet V1): the page's counted sections, as shown.

Each ``add_*`` function puts one section's display-ready tables, figures and cited numbers on a ``Page``
(``effconv.studies.page``): where our setting differs, the channel shuffle, the unit costs and the 93.4%
share, Table 1, Table 2's complexity headers, the released models and torchvision's ShuffleNet V2, and the
seed's errata. Everything here is counted on models built on the spot; nothing is trained or timed.
"""

from __future__ import annotations

import pandas as pd

from effconv.claims.style import styled
from effconv.studies.page import Page
from effconv.studies.shufflenet.display import folded
from effconv.studies.shufflenet.errata import errata_numbers, official_code_notes, seed_errata
from effconv.studies.shufflenet.mixing import (channel_labels, plot_shuffle, shuffle_example, shuffle_mixing,
                                               shuffle_rows)
from effconv.studies.shufflenet.plan import PLAN
from effconv.studies.shufflenet.plots import imagenet_cost_points, plot_imagenet_cost, plot_unit, unit_layers
from effconv.studies.shufflenet.tables import (cifar_complexity, repo_table, scaled_complexity, table1_channels,
                                               table1_complexity, torchvision_v2_table)
from effconv.studies.shufflenet.units import (resnext_pointwise_search, resnext_torchvision_units,
                                              unit_formula_summary, unit_formulas)
from effconv.studies.splitting.report import mobilenet_table

# the specification's worked example: three groups of five channels
EXAMPLE_GROUPS, EXAMPLE_PER_GROUP = 3, 5


def count_of(flags: pd.Series) -> str:
    """'k of n': how many of ``flags`` hold."""
    return f"{int(flags.sum())} of {len(flags)}"


def span(values: pd.Series, fmt: str) -> str:
    """'low to high' of ``values``, each formatted with ``fmt`` (e.g. ".1f")."""
    return f"{values.min():{fmt}} to {values.max():{fmt}}"


def add_setting(page: Page) -> None:
    """Where our setting differs: the FLOP-matched CIFAR widths against Table 1's, and the schedules."""
    cifar = cifar_complexity()
    page.table("cifar_complexity", styled(
        cifar.pivot_table(index="g", columns="width", values=["table1_vs_g3_%", "mflops_vs_g3_%"], sort=False),
        formats={"table1_vs_g3_%": "{:+.1f}", "mflops_vs_g3_%": "{:+.1f}"},
        names={"table1_vs_g3_%": "Table 1 widths: MFLOPs vs g=3 (%)",
               "mflops_vs_g3_%": "our widths: MFLOPs vs g=3 (%)"}))
    page.table("cifar_channels", styled(
        cifar.loc[cifar["channels"] != cifar["table1_channels"], ["width", "g", "table1_channels", "channels"]],
        names={"table1_channels": "Table 1 channels", "channels": "our channels"}))
    page.number("cifar_table1_worst", f"{cifar['table1_vs_g3_%'].abs().max():.1f}")
    page.number("cifar_matched_worst", f"{cifar['mflops_vs_g3_%'].abs().max():.1f}")
    page.number("cpu_epochs", str(PLAN["cpu"]["recipe"]["epochs"]))
    page.number("full_epochs", str(PLAN["full"]["recipe"]["epochs"]))


def add_shuffle(page: Page) -> None:
    """The channel shuffle on the specification's worked example: the new groups, the figure, where each came
    from; and the unit it sits in, drawn from a built unit's layer shapes."""
    example = shuffle_example(groups=EXAMPLE_GROUPS, per_group=EXAMPLE_PER_GROUP)
    page.table("shuffle_rows", styled(shuffle_rows(example, groups=EXAMPLE_GROUPS)))
    undone = (example["unshuffled"] == channel_labels(EXAMPLE_GROUPS, EXAMPLE_PER_GROUP)).all()
    page.number("unshuffle_ok", "yes" if undone else "no")
    page.figure("fig-shuffle", plot_shuffle(example))
    page.figure("fig-shufflenet-unit", plot_unit(unit_layers()))
    page.table("shuffle_mixing", styled(shuffle_mixing(example).add_prefix("from input group ")))


def add_units(page: Page) -> None:
    """The three unit-cost formulas against counts, and the pointwise share of ResNeXt's units."""
    units = unit_formulas()
    page.table("unit_formulas", styled(unit_formula_summary(units),
                                       names={"checked": "cases checked", "equal": "cases equal"}))
    page.number("units_equal", count_of(units["equal"]))
    search = resnext_pointwise_search()
    page.table("resnext_templates", styled(
        search.pivot_table(index="template", columns="stage", values="pointwise_%", sort=False), decimals=2,
        caption="Pointwise (1x1) share of a unit's MACs (%), per stage"))
    page.number("resnext_share", f"{search.loc[search['template'] == '32x4d', 'pointwise_%'].iloc[0]:.2f}")
    tv_units = resnext_torchvision_units()
    # c, m and g as the unit formulas name them; the two MAC counts fold under the model
    page.table("resnext_torchvision", folded(
        tv_units, shown=["model", "stage", "unit", "c_in", "m", "g", "pointwise_%", "matches"], into="model",
        summary="MACs", names={"c_in": "c", "pointwise_macs": "pointwise MACs",
                               "grouped_3x3_macs": "grouped 3x3 MACs", "pointwise_%": "pointwise share (%)"}))
    wide = tv_units[(tv_units["model"] == "resnext101_32x8d") & (tv_units["unit"] == "others")]["pointwise_%"]
    page.number("resnext_32x8d_share", f"{wide.iloc[0]:.2f}")


def add_table1(page: Page) -> None:
    """Table 1 by counting: stage widths from a forward pass, complexity with and without the classifier."""
    channels = table1_channels()
    page.table("table1_channels", styled(
        channels.pivot_table(index="g", columns="stage", values=["paper", "ours"], aggfunc="first"),
        caption="Output channels per stage"))
    page.number("t1_channels_match", count_of(channels["match"]))
    complexity = table1_complexity()
    page.table("table1_complexity", styled(
        complexity.drop(columns=["independent_count_without_fc"]),
        formats={"paper_mflops": "{:g}", "ours_without_fc": "{:.2f}", "ours_with_fc": "{:.2f}",
                 "delta_without_fc": "{:+.2f}", "delta_with_fc": "{:+.2f}"},
        units={"ours_without_fc": "MFLOPs", "ours_with_fc": "MFLOPs"},
        names={"delta_without_fc": "ours − paper, without FC (MFLOPs)",
               "delta_with_fc": "ours − paper, with FC (MFLOPs)"}))
    page.number("t1_nofc_max_gap", f"{complexity['delta_without_fc'].abs().max():.2f}")
    page.number("t1_fc_matches", count_of(complexity["match_with_fc"]))
    over = complexity.loc[~complexity["match_with_fc"], "delta_with_fc"]
    page.number("t1_fc_over", span(over, ".2f") if len(over) else "none")
    page.number("t1_nofc_matches", count_of(complexity["match_without_fc"]))


def add_scaled(page: Page) -> None:
    """Table 2's complexity headers by counting, and ImageNet accuracy against cost beside MobileNet
    (chapter 1's ``mobilenet_table``)."""
    scaled = scaled_complexity()
    page.table("scaled_complexity", styled(
        scaled.pivot_table(index="g", columns="scale", values="ours_with_fc", sort=False), decimals=2,
        caption="Ours, with the FC layer (MFLOPs at 224x224), per scale"))
    worst = scaled.loc[scaled["delta_%"].abs().idxmax()]
    page.number("scaled_worst", f"{worst['delta_%']:+.1f}")
    page.number("scaled_worst_model", f"{worst['scale']} g={worst['g']}")
    page.number("scaled_1x_max", f"{scaled.loc[scaled['scale'] == '1.0x', 'delta_%'].abs().max():.1f}")
    # published ImageNet accuracies at the costs we count
    points = imagenet_cost_points(scaled, mobilenet_table())
    page.figure("fig-imagenet-cost", plot_imagenet_cost(points))
    by_model = points.set_index(["family", "model"])
    shuffle_1x, mobile_half = by_model.loc[("ShuffleNet V1", "1.0x (g=3)")], by_model.loc[("MobileNet V1", "0.5x")]
    page.number("sn_1x_mmacs", f"{shuffle_1x['ours_Mmacs']:.0f}")
    page.number("sn_1x_top1", f"{shuffle_1x['paper_top1_%']:.1f}")
    page.number("mb_05_mmacs", f"{mobile_half['ours_Mmacs']:.0f}")
    page.number("mb_05_top1", f"{mobile_half['paper_top1_%']:.1f}")


def add_released(page: Page) -> None:
    """The authors' released models, the notes on their code, and torchvision's ShuffleNet V2."""
    repo = repo_table()
    # the README's figures beside ours and whether they match; the stem, the stage widths, the gap and our
    # exact parameter counts fold under the model
    page.table("repo", folded(
        repo, shown=["model", "repo_mflops", "ours_mflops", "mflops_match", "repo_mparams", "params_match_no_fc_bias"],
        into="model", summary="widths and counts", names={
            "repo_mflops": "repo (MFLOPs)", "ours_mflops": "ours (MFLOPs)", "delta_mflops": "ours − repo (MFLOPs)",
            "repo_mparams": "repo (M params)", "ours_params_no_fc_bias": "ours params, no FC bias",
            "params_match_no_fc_bias": "params match, no FC bias"},
        formats={"repo_mflops": "{:g}", "ours_mflops": "{:.2f}", "delta_mflops": "{:+.2f}", "repo_mparams": "{:g}"}))
    page.number("repo_mflops_match", count_of(repo["mflops_match"]))
    page.number("repo_params_match", count_of(repo["params_match_no_fc_bias"]))
    page.number("repo_params_match_bias", count_of(repo["params_match"]))
    page.number("repo_g3_ours", f"{repo.set_index('model').loc['1.0x g=3', 'ours_mflops']:.2f}")
    page.table("official_code_notes", styled(official_code_notes()))
    tv = torchvision_v2_table()  # its verdict column is the claims table's verdict for the same model
    page.table("torchvision_v2", styled(tv, names={
        "meta_params": "params (torchvision)", "ours_params": "params (ours)", "meta_gflops": "GFLOPs (torchvision)",
        "ours_gmacs": "G MACs (ours)"}, formats={"meta_gflops": "{:.3f}", "ours_gmacs": "{:.4f}"}))
    page.number("tv_match", count_of(tv["verdict"] == "reproduced"))


def add_errata(page: Page) -> None:
    """Where the seed's code departs from the paper: the table and the counts its admonition cites."""
    numbers = errata_numbers()
    page.number("typo_mflops", f"{numbers['typo_mflops']:.2f}")
    page.number("typo_params", f"{numbers['typo_params']:,}")
    page.number("table1_mflops", f"{numbers['table1_mflops']:.2f}")
    page.number("table1_params", f"{numbers['table1_params']:,}")
    page.number("typo_bottleneck", str(numbers["typo_bottleneck"]))
    page.number("conv_biases", f"{numbers['conv_biases']:,}")
    page.table("seed_errata", styled(seed_errata()))
