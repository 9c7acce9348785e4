"""Chapter 5 stored runs as frames: mask statistics over training and after it, from synthetic results."""

import pytest

from effconv.errors import EffconvError
from effconv.studies.versatile import plan
from effconv.studies.versatile import results as versatile_results
from versatile_fakes import cpu_results, mask_overall


def test_mask_curves_and_final_masks():
    specs, results = cpu_results({"learned masks (a)": 0.85, "learned masks (b)": 0.86}, changed=0.03)
    initial = {"learned masks (a)": mask_overall(0.0), "learned masks (b)": mask_overall(0.0)}
    curves = versatile_results.mask_curves(specs, results, initial)
    assert set(curves["variant"]) == {"learned masks (a)", "learned masks (b)"}  # the control was not run
    changed = curves[(curves["statistic"] == "changed_from_init") & (curves["variant"] == "learned masks (b)")
                     & (curves["seed"] == 0)]
    assert list(changed["epoch"]) == [0, 1, 2, 3]
    assert changed["value"].iloc[0] == 0.0 and changed["value"].iloc[-1] == pytest.approx(0.03)
    assert versatile_results.mask_curves(specs, results).query("epoch == 0").empty  # no initial stats given
    final = versatile_results.final_masks(specs, results)
    assert set(final["status"]) == {"stored", "not run"} and (final["status"] == "stored").sum() == 6
    assert final.loc[final["status"] == "stored", "changed_from_init"].tolist() == [0.03] * 6
    layers = versatile_results.mask_layers(next(r for s, r in zip(specs, results) if s.name == "vgg16-masks-b" and r))
    assert list(layers["layer"]) == ["features.0.conv"] and layers.loc[0, "mask_entries"] == 27


def test_mask_tables_when_not_run():
    specs, results = cpu_results({})
    assert versatile_results.mask_curves(specs, results, {"learned masks (a)": mask_overall(0.0)}).empty
    final = versatile_results.final_masks(specs, results)
    assert (final["status"] == "not run").all() and len(final) == 9 and final["density"].isna().all()
    assert versatile_results.mask_layers(None).empty


def test_initial_masks_are_the_concentric_start_of_each_learned_mask_arm():
    specs = [s for s in plan.experiments("smoke") if s.seed == 0]
    initial = versatile_results.initial_masks(specs)
    assert set(initial) == set(versatile_results.MASKED)
    assert all(stats["changed_from_init"] == 0.0 for stats in initial.values())  # nothing trained yet
    assert versatile_results.masked_spec(specs).name == "vgg16-masks-a"  # the plan's first learned-mask run
    with pytest.raises(EffconvError, match="no learned-mask run"):
        versatile_results.masked_spec([s for s in specs if s.name == "vgg16-baseline"])
