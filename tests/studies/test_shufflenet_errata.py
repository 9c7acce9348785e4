"""Chapter 2's errata: where the seed's code and the released code depart from the paper."""

from effconv.studies.shufflenet.costs import shufflenet_cost
from effconv.studies.shufflenet.errata import official_code_notes, seed_errata


def test_seed_errata():
    errata = seed_errata()
    text = " ".join(errata.astype(str).to_numpy().ravel())
    for needle in ("567", "576", "num_groups", "bias", "kaiming_normal", "[3, 7, 3]", "4/8/4"):
        assert needle in text
    typo = errata.set_index("what").loc["g=1 stage-4 width", "effect"]
    assert f"{shufflenet_cost(1, channels=(144, 288, 567)).mflops:.2f}" in typo
    assert not official_code_notes().empty
