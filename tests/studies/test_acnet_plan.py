"""Chapter 3's plan: the stand-ins of the CIFAR-10 table, the longer schedules and the seeds planned by power."""

from effconv.claims.power import paired_sd
from effconv.studies.acnet import plan
from effconv.studies.acnet.evidence import accuracy, per_seed
from effconv.studies.acnet.results import load_runs
from effconv.studies.acnet.results import variant_of


def test_every_family_of_the_paper_table_is_planned_with_paired_seeds():
    specs = plan.table_specs("cpu")
    for model in ("cifar_quick", "vgg16_cifar", "resnet20", "wrn16_8", "densenet40"):
        arms = {v: {s.seed for s in specs if s.model == model and variant_of(s) == v} for v in ("base", "acnet")}
        assert arms["base"] == arms["acnet"] and len(arms["base"]) >= 3, model


def test_the_schedule_runs_are_separate_from_table_1():
    longer = plan.schedule_specs("cpu")
    assert {s.recipe.epochs for s in longer} == set(plan.LONGER_EPOCHS["cpu"]) and len(longer) == 10
    assert not {s.key for s in longer} & {s.key for s in plan.table_specs("cpu")}


def test_power_plans_match_their_first_stage_and_plan_that_many_seeds():
    table = load_runs("cpu", log=lambda *_: None).table
    for model, power in plan.POWER["cpu"].items():
        first = set(range(power.first_stage))
        base = {s: v for s, v in per_seed([table], model, "base", accuracy).items() if s in first}
        acnet = {s: v for s, v in per_seed([table], model, "acnet", accuracy).items() if s in first}
        assert len(base) == len(acnet) == power.first_stage
        assert round(paired_sd(acnet, base), 2) == power.sd
        assert set(range(power.trained_pairs)) <= set(plan.table_seeds("cpu", model))
    resnet = plan.power_plan("cpu", "resnet20")
    assert plan.table_seeds("cpu", "resnet20") == tuple(range(resnet.trained_pairs))
