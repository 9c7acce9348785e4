"""Chapter 2's block diagram: the ShuffleNet unit drawn from a built unit's layer shapes."""

import matplotlib
import pytest

matplotlib.use("Agg")

from effconv.errors import EffconvError  # noqa: E402
from effconv.studies.shufflenet.plots import plot_unit, unit_layers  # noqa: E402


def test_unit_layers_are_read_from_a_forward_pass():
    layers = unit_layers(groups=3)
    by = layers.set_index(["unit", "layer"])
    # stage 3 of the 1x g = 3 model: 240 -> 480 channels at stride 2 (28 -> 14), then 480 -> 480
    assert (by.loc[("stride 2", "unit"), ["in_channels", "out_channels", "in_size", "out_size"]].tolist()
            == [240, 480, 28, 14])
    assert by.loc[("stride 2", "expand"), "out_channels"] == 480 - 240      # the branch adds out - in channels
    assert by.loc[("stride 2", "shortcut"), "out_size"] == 14                # the pooled shortcut
    assert by.loc[("stride 1", "compress"), "groups"] == 3 and by.loc[("stride 1", "depthwise"), "groups"] == 120
    assert ("stride 1", "shortcut") not in by.index                          # added as it is, never called
    assert unit_layers(groups=8).set_index(["unit", "layer"]).loc[("stride 1", "expand"), "groups"] == 8


def test_the_unit_diagram_labels_every_layer_with_its_shape():
    layers = unit_layers(groups=3)
    fig = plot_unit(layers)
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    for label in ("1×1 group conv\ng = 3, BN, ReLU", "channel shuffle\ng = 3, no weights", "concat, ReLU",
                  "add, ReLU", "identity", "480×14×14", "120×28×28"):
        assert any(label in t for t in texts), label
    assert "channel_shuffle" not in fig._suptitle.get_text()    # a title in words, no code names
    matplotlib.pyplot.close(fig)


def test_a_unit_of_a_group_count_without_table1_widths_is_refused():
    with pytest.raises(EffconvError, match="groups in"):
        unit_layers(groups=5)
