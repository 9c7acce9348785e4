"""Chapter 2, ShuffleNet V1: the channel shuffle worked on labelled channels.

Where ``channel_shuffle`` sends each channel, how many channels of each input group reach each group of
the next grouped convolution, and a drawing of both.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
import torch

from effconv.errors import EffconvError
from effconv.ops.shuffle import channel_shuffle, channel_unshuffle


def channel_labels(groups: int, per_group: int) -> list[str]:
    """``a1 .. a{n}, b1 .. b{n}, ...``: one letter per group, numbered inside the group."""
    if not 1 <= groups <= 26 or per_group < 1:
        raise EffconvError(f"label 1-26 groups of at least one channel, got groups={groups!r}, "
                           f"per_group={per_group!r}.")
    return [f"{chr(ord('a') + g)}{i + 1}" for g in range(groups) for i in range(per_group)]


def shuffle_example(groups: int = 3, per_group: int = 5) -> pd.DataFrame:
    """Where ``channel_shuffle`` sends each channel of ``groups`` groups of ``per_group`` channels.

    The channels are tagged with their own index, shuffled by the library function, and read back:
    row ``j`` is output position ``j``, which holds input channel ``source``. ``new_group`` is the group
    that position belongs to in the next grouped convolution. ``unshuffled`` checks that
    ``channel_unshuffle`` restores the input order.
    """
    labels = channel_labels(groups, per_group)
    index = torch.arange(groups * per_group).view(1, -1, 1, 1)
    shuffled = channel_shuffle(index, groups).flatten().tolist()
    restored = channel_unshuffle(channel_shuffle(index, groups), groups).flatten().tolist()
    return pd.DataFrame({
        "position": range(len(labels)), "channel": [labels[s] for s in shuffled], "source": shuffled,
        "old_group": [labels[s][0] for s in shuffled], "new_group": [p // per_group for p in range(len(labels))],
        "unshuffled": [labels[r] for r in restored],
    })


def shuffle_rows(example: pd.DataFrame, groups: int) -> pd.DataFrame:
    """The shuffled order as one row per new group (the form of the seed's worked example)."""
    per_group = len(example) // groups
    return pd.DataFrame({f"new group {k + 1}": example["channel"].iloc[k * per_group:(k + 1) * per_group].tolist()
                         for k in range(groups)}).T.set_axis([f"slot {i + 1}" for i in range(per_group)], axis=1)


def shuffle_mixing(example: pd.DataFrame) -> pd.DataFrame:
    """How many channels of each input group land in each new group (rows: new groups)."""
    table = pd.crosstab(example["new_group"] + 1, example["old_group"])
    table.index.name, table.columns.name = "new group", "from input group"
    return table


def plot_shuffle(example: pd.DataFrame) -> plt.Figure:
    """Input channels (top) joined to their shuffled positions (bottom), coloured by their input group."""
    n = len(example)
    per_group = int((example["new_group"] == 0).sum())
    letters = sorted(example["old_group"].unique())
    colours = dict(zip(letters, sns.color_palette("deep", len(letters))))
    labels = channel_labels(len(letters), per_group)
    fig, ax = plt.subplots(figsize=(7.5, 2.4))
    for row in example.itertuples():
        colour = colours[row.old_group]
        ax.plot([row.source, row.position], [1, 0], color=colour, lw=1.2, alpha=0.8)
    for x, label in enumerate(labels):
        ax.text(x, 1.08, label, ha="center", va="bottom", fontsize=8, color=colours[label[0]], fontweight="bold")
    for row in example.itertuples():
        ax.text(row.position, -0.08, row.channel, ha="center", va="top", fontsize=8, color=colours[row.old_group],
                fontweight="bold")
    for k in range(1, len(letters)):
        ax.axvline(k * per_group - 0.5, color="grey", ls=":", lw=1)
    ax.text(-1.0, 1.0, "groups in", ha="right", va="center", fontsize=8)
    ax.text(-1.0, 0.0, "groups out", ha="right", va="center", fontsize=8)
    ax.set(xlim=(-3.2, n - 0.4), ylim=(-0.35, 1.35),
           title=f"The channel shuffle: {len(letters)} groups of {per_group} channels, interleaved")
    ax.axis("off")
    fig.tight_layout()
    return fig
