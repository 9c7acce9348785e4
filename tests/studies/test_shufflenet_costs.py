"""Chapter 2's model costs: the exact counts of the 1x models."""

from effconv.analysis.flops import count_flops
from effconv.models.shufflenet_v1 import shufflenet_v1
from effconv.studies.paper import paper_value
from effconv.studies.shufflenet.costs import meta_build, shufflenet_cost


def test_exact_counts_of_the_1x_models():
    assert shufflenet_cost(3).params == paper_value("shufflenet", "repo_params_exact_1.0x_g3").value
    assert shufflenet_cost(8).params == paper_value("shufflenet", "repo_params_exact_1.0x_g8").value
    assert count_flops(meta_build(shufflenet_v1, groups=3), 224).macs == 137_460_672
