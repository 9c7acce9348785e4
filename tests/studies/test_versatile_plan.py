"""Chapter 5 plan: the seeds each arm trains, and specs that do not move when the plan grows."""

import pandas as pd
import pytest

from effconv.errors import EffconvError
from effconv.studies.versatile import plan
from effconv.studies.versatile import results as versatile_results
from versatile_fakes import LABELS


def test_cpu_plan_seeds_per_arm_keep_the_stored_specs():
    specs = plan.experiments("cpu")
    count = pd.Series([versatile_results.VARIANTS[s.name] for s in specs]).value_counts()
    assert count["baseline"] == count["versatile v1"] == 5
    assert all(count[label] == 3 for label in LABELS[2:])
    control = next(s for s in specs if s.name == "vgg16-masks-b-lambda0")
    assert control.model_kwargs["conv_kwargs"]["ortho_weight"] == 0.0
    # adding seeds and the control must not move the specs of the runs already stored
    stored = {s.filename for s in specs if s.seed == 0}
    assert {"vgg16-v1-7d8223bdcf.json", "vgg16-v2-74e0c7fe1e.json", "vgg16-masks-a-2bfb964588.json",
            "vgg16-masks-b-3984fb2cb5.json", "vgg16-baseline-a4956a753a.json"} <= stored
    with pytest.raises(EffconvError, match="not defined for chapter 5"):
        plan.experiments("huge")
