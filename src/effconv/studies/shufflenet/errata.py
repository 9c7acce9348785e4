"""Chapter 2, ShuffleNet V1: the seed code's errata and where the authors' released code differs."""

from __future__ import annotations

import pandas as pd
from torch import nn

from effconv.models.shufflenet_v1 import shufflenet_v1
from effconv.studies.shufflenet.costs import meta_build, shufflenet_cost

def seed_errata() -> pd.DataFrame:
    """Where the seed's ShuffleNet code departs from the paper, with the cost where we can count it.

    ``what`` names the slip, ``seed`` and ``paper`` the two versions, ``effect`` its consequence.
    The bias cost is counted on our 1x g=3 model (every conv's output channels = the biases the seed adds).
    """
    model = meta_build(shufflenet_v1, groups=3)
    conv_biases = sum(m.out_channels for m in model.modules() if isinstance(m, nn.Conv2d))
    base, typo = shufflenet_cost(1), shufflenet_cost(1, channels=(144, 288, 567))
    rows = [
        ("g=1 stage-4 width", "144/288/567", "144/288/576 (Table 1)",
         f"a typo; 567 is not even divisible by 4, so the bottleneck is 141 by floor division; the model "
         f"has {typo.mflops:.2f} instead of {base.mflops:.2f} MFLOPs and {typo.params:,} instead of "
         f"{base.params:,} params"),
        ("error message for unsupported g", "formats an undefined name (num_groups)", "-",
         "asking for e.g. g=5 raises NameError instead of the intended ValueError"),
        ("conv biases", "every 1x1 and 3x3 conv (and the stem) built with bias=True", "BN follows every conv",
         f"the bias is cancelled by BN's mean subtraction: {conv_biases:,} useless parameters in 1x g=3"),
        ("initialisers", "init.kaiming_normal, init.constant, init.normal", "-",
         "deprecated aliases; current PyTorch names end with an underscore (kaiming_normal_, constant_, normal_)"),
        ("stage repeats", "[3, 7, 3] after each stage's first unit", "4/8/4 units (Table 1)",
         "consistent: 1 + 3, 1 + 7, 1 + 3 give 4/8/4"),
        ("stem", "3x3 conv (with bias) straight into the max pool", "Conv1 then MaxPool (Table 1)",
         "no BN and no ReLU after the stem; the authors' released code has conv-BN-ReLU, which we follow"),
        ("ReLU placement", "ReLU after the add/concat; none after the depthwise conv", "same (Fig. 2)",
         "consistent; with no ReLU in the seed's stem, stage 2's pooled shortcut can be negative and is "
         "clipped by the ReLU after the concat"),
        ("first 1x1 of stage 2", "ungrouped (grouped_conv = stage > 2)", "ungrouped (Sec. 3.3)", "consistent"),
        ("unused import", "from torch.autograd import Variable", "-", "Variable is deprecated and never used"),
    ]
    return pd.DataFrame(rows, columns=["what", "seed", "paper", "effect"])


def errata_numbers() -> dict[str, float]:
    """The counted consequences of the seed's slips quoted in the chapter's errata box.

    ``typo_*``: the g = 1 model with the seed's 567 stage-4 channels against Table 1's 576;
    ``conv_biases``: the parameters the seed's conv biases add to the 1x g = 3 model (BN cancels them).
    """
    base, typo = shufflenet_cost(1), shufflenet_cost(1, channels=(144, 288, 567))
    model = meta_build(shufflenet_v1, groups=3)
    biases = sum(m.out_channels for m in model.modules() if isinstance(m, nn.Conv2d))
    return {"typo_mflops": typo.mflops, "table1_mflops": base.mflops, "typo_params": typo.params,
            "table1_params": base.params, "typo_bottleneck": 567 // 4, "conv_biases": biases,
            "g3_params": shufflenet_cost(3).params}


def official_code_notes() -> pd.DataFrame:
    """Where the authors' released ShuffleNetV1 code (megvii-model/ShuffleNet-Series) differs from the paper.

    None of these change FLOPs; the notes explain why our model, which follows the paper, still matches
    the released models' counts (see ``repo_table``).
    """
    rows = [
        ("shuffle direction", "reshapes channels as (n, g) then transposes, i.e. our channel_unshuffle",
         "the inverse permutation; it mixes the groups just as well"),
        ("shuffle position", "after the depthwise conv and its BN, before the second 1x1",
         "equivalent: a depthwise conv and BN act per channel, so they commute with a channel permutation"),
        ("shuffle at g=1", "skipped", "the permutation is the identity anyway"),
        ("stride-2 ReLU", "ReLU on the branch only, then concat", "same as ReLU after the concat, because the "
         "pooled shortcut of a ReLU output is non-negative"),
        ("classifier", "Linear without bias", "the README's 5.4M for 2.0x g=3 rounds correctly only without it"),
        ("stem widths", "12/24/24/48 (g=3) and 16/24/24/48 (g=8) at 0.5x/1.0x/1.5x/2.0x",
         "the paper does not say; our stem_channels rule reproduces these"),
    ]
    return pd.DataFrame(rows, columns=["what", "released code", "why it does not matter / what it means"])
