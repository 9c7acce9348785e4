"""Chapter 2, ShuffleNet V1: everything the chapter computes without training, by name.

The work lives in one module per idea; this module gathers the names the chapter reads (as ``study.``)
so the notebook has one place to import from:

- ``shufflenet_costs``: constants and the counted cost of a model (ImageNet and CIFAR form);
- ``shufflenet_mixing``: the channel shuffle worked on labelled channels;
- ``shufflenet_units``: unit-cost formulas against counted units, and the ResNeXt pointwise share;
- ``shufflenet_tables``: Table 1, the released models, Table 2's headers, CIFAR widths, torchvision's
  V2, the speedup over AlexNet, and the published accuracy tables;
- ``shufflenet_errata``: the seed code's slips and the authors' released code;
- ``shufflenet_latency``: live timings, their plot and their live claims;
- ``shufflenet_count_claims``: the counted claims of the ledger.

The CIFAR-10 analogues of Tables 2 and 3 are trained by ``shufflenet_runs`` and turned into tables,
verdicts and plots by ``shufflenet_report``, which also builds the ledger.
"""

from __future__ import annotations

from effconv.claims import ClaimsTable
from effconv.studies.shufflenet_costs import (CHAPTER, GROUPS, SCALE_LABELS, ModelCost, cifar_cost,
                                              shufflenet_cost)
from effconv.studies.shufflenet_count_claims import add_complexity_claims, add_more_count_claims
from effconv.studies.shufflenet_errata import errata_numbers, official_code_notes, seed_errata
from effconv.studies.shufflenet_latency import (SHUFFLE_COSTLY_PCT, add_latency_claims, alexnet_latency,
                                                available_devices, latency_tables, model_latency, plot_latency,
                                                shuffle_cost)
from effconv.studies.shufflenet_mixing import (channel_labels, plot_shuffle, shuffle_example, shuffle_mixing,
                                               shuffle_rows)
from effconv.studies.shufflenet_tables import (alexnet_speedup, cifar_complexity, paper_table2, paper_table3,
                                               repo_table, scaled_complexity, table1_channels, table1_complexity,
                                               torchvision_v2_table)
from effconv.studies.shufflenet_units import (RESNEXT_TEMPLATES, UNIT_FORMULAS, bottleneck_unit,
                                              resnext_pointwise_search, resnext_torchvision_units,
                                              unit_formula_summary, unit_formulas)

__all__ = [
    "CHAPTER", "GROUPS", "SCALE_LABELS", "ModelCost", "cifar_cost", "shufflenet_cost",
    "add_complexity_claims", "add_more_count_claims", "errata_numbers", "official_code_notes", "seed_errata",
    "SHUFFLE_COSTLY_PCT", "add_latency_claims", "alexnet_latency", "available_devices", "latency_tables",
    "model_latency", "plot_latency", "shuffle_cost", "channel_labels", "plot_shuffle", "shuffle_example",
    "shuffle_mixing", "shuffle_rows", "alexnet_speedup", "cifar_complexity", "paper_table2", "paper_table3",
    "repo_table", "scaled_complexity", "table1_channels", "table1_complexity", "torchvision_v2_table",
    "RESNEXT_TEMPLATES", "UNIT_FORMULAS", "bottleneck_unit", "resnext_pointwise_search",
    "resnext_torchvision_units", "unit_formula_summary", "unit_formulas", "ledger",
]


def ledger(profile: str = "best") -> ClaimsTable:
    """The chapter's committed claims (built in ``shufflenet_report``, which reads the count modules)."""
    from effconv.studies.shufflenet_report import ledger as build

    return build(profile)
