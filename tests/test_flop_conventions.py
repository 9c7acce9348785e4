"""flop_conventions: every row of a small model against closed forms, and every difference accounted for on the
two networks the book's table shows (ShuffleNet V1 1.0x g = 3 and MobileNet 1.0 at 224 x 224)."""

from __future__ import annotations

import pytest
import torch
from torch import nn
import torch.nn.functional as F

from effconv.analysis.flop_conventions import CONVENTIONS, elementwise_census, flop_conventions
from effconv.models import create_model

pytest.importorskip("ptflops")  # pinned in requirements.txt (the deploy extra)


class Toy(nn.Module):
    """conv 3x3 (with bias) + BN + ReLU module, max pool, a functional ReLU after an addition, FC."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.relu = nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(8 * 4 * 4, 5)

    def forward(self, x):
        x = self.pool(self.relu(self.bn(self.conv(x))))
        x = F.relu(x + x)
        return self.fc(torch.flatten(x, 1))


def test_toy_rows_match_closed_forms():
    table = flop_conventions(Toy(), (3, 8, 8)).set_index("convention")
    assert list(table.index) == list(CONVENTIONS)
    conv, fc = 8 * 8 * 8 * 3 * 9, 128 * 5
    papers = conv + fc
    bn = relu_module = 8 * 8 * 8
    relu_functional = 8 * 4 * 4
    assert table.loc["papers", "count"] == papers
    assert table.loc["+ BN and activations", "count"] == papers + bn + relu_module + relu_functional
    assert table.loc["2 x MACs", "count"] == table.loc["torch.utils.flop_counter", "count"] == 2 * papers
    # ptflops' module hooks: 2 per BN input, conv and FC biases, the ReLU module and pool twice, the F.relu once
    pool_input = 8 * 8 * 8
    expected = papers + 2 * bn + (8 * 8 * 8 + 5) + 2 * (relu_module + pool_input) + relu_functional
    assert table.loc["ptflops (pytorch)", "count"] == expected
    assert table.loc["ptflops (aten)", "count"] == papers + 8 * 8 * 8 + 5  # its ATen formulas count biases
    assert (table["unexplained"] == 0).all()
    assert table.loc["papers", "vs_papers"] == 1.0 and table.loc["2 x MACs", "vs_papers"] == 2.0


def test_census_sees_functional_activations():
    census = elementwise_census(Toy(), (3, 8, 8))
    assert census == {"norm": 512, "activation": 512 + 128, "pooling": 128, "add": 128}


@pytest.mark.parametrize("name, kwargs, papers", [
    ("shufflenet_v1", {"groups": 3, "num_classes": 1000}, 137_460_672),
    ("mobilenet_v1", {"num_classes": 1000}, 568_740_352),
], ids=["shufflenet_g3", "mobilenet"])
def test_every_difference_is_explained_on_the_books_models(name, kwargs, papers):
    table = flop_conventions(create_model(name, **kwargs), (3, 224, 224), name=name)
    assert table.loc[table["convention"] == "papers", "count"].item() == papers
    unexplained = table.set_index("convention")["unexplained"]
    assert (unexplained == 0).all(), f"{name}: parts left unexplained:\n{unexplained}"
    assert table["explained"].str.len().min() > 20


def test_without_ptflops_the_rows_are_ours_and_torchs():
    table = flop_conventions(Toy(), (3, 8, 8), ptflops=False)
    assert list(table["convention"]) == list(CONVENTIONS[:4])
