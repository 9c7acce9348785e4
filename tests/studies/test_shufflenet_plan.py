"""Chapter 2's plan: the seeds planned by power for the headline g = 8 vs g = 1 contrasts."""

def test_power_plans_match_their_first_stage_and_plan_that_many_seeds():
    """Each power plan's spread is the one its first stage's stored runs give, and both arms train the pairs
    its budget covers."""
    from effconv.claims.power import paired_sd
    from effconv.studies.shufflenet import plan as shufflenet_plan
    from effconv.studies.shufflenet import report as shufflenet_report
    from effconv.studies.shufflenet.results import load_runs

    table = load_runs("cpu", log=lambda *_: None).table
    for (scale, groups), power in shufflenet_plan.POWER["cpu"].items():
        first = range(power.first_stage)
        g1 = {s: v for s, v in shufflenet_report.seed_errors(table, scale, 1).items() if s in first}
        gk = {s: v for s, v in shufflenet_report.seed_errors(table, scale, groups).items() if s in first}
        assert len(g1) == len(gk) == power.first_stage
        assert round(paired_sd(g1, gk), 2) == power.sd
        for g in (1, groups):
            trained = shufflenet_plan.seeds("cpu", "table2", scale, g)
            assert set(range(power.trained_pairs)) <= set(trained)
            assert power.funded or len(trained) < power.pairs   # unfunded pairs stay out of the plan
