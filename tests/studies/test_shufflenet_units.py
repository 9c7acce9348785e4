"""Chapter 2's unit costs: the three closed-form formulas against counts, and the 93.4% pointwise share."""

from torch import nn

from effconv.analysis.flops import count_flops
from effconv.models.shufflenet_v1 import ShuffleUnit
from effconv.studies.shufflenet.units import (
    UNIT_FORMULAS, resnext_pointwise_search, resnext_torchvision_units, unit_formulas,
)


def test_unit_formulas_equal_counts():
    table = unit_formulas()
    assert set(table["unit"]) == {"ResNet", "ResNeXt", "ShuffleNet"}
    assert table["equal"].all()
    assert len(table) == 2 * 2 * 2 * (1 + 5 + 5)


def test_unit_formulas_would_catch_a_wrong_unit():
    # a ShuffleNet unit whose 3x3 is dense is not hw(2cm/g+9m): the check is not vacuous
    unit = ShuffleUnit(96, 96, groups=4, mid_channels=24, conv_factory=lambda i, o, k, stride=1, groups=1:
                       nn.Conv2d(i, o, k, stride, 1, bias=False))
    assert count_flops(unit, (96, 7, 7)).macs != UNIT_FORMULAS["ShuffleNet"](7, 7, 96, 24, 4)


def test_pointwise_share_of_resnext():
    search = resnext_pointwise_search()
    assert set(search.loc[search["matches"], "template"]) == {"32x4d", "64x4d"}
    assert search.loc[search["matches"], "pointwise_%"].eq(round(100 * 128 / 137, 2)).all()
    units = resnext_torchvision_units()
    matching = units[units["matches"]]
    assert set(matching["model"]) == {"resnext50_32x4d", "resnext101_64x4d"}
    assert (matching["unit"] == "others").all()
