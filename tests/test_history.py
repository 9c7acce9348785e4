"""Runs no current plan uses live in `results/<chapter>/history/`, never beside the live ones."""

from __future__ import annotations

from effconv.cli import main
from effconv.experiments.spec import ExperimentSpec
from effconv.experiments.store import ResultStore
from effconv.plan import is_planned, planned_files, unplanned_results
from effconv.studies import planned_specs
from effconv.train.recipes import recipe_for


def _result(spec: ExperimentSpec) -> dict:
    return {"metrics": {"final": {"test_acc": 0.5}, "best": {}}, "curve": [{}] * spec.recipe.epochs,
            "provenance": {"wall_seconds": 1.0, "device": "test"}}


def test_every_result_beside_the_ledgers_is_used_by_a_plan():
    unplanned = [str(path) for path in unplanned_results()]
    assert not unplanned, f"no plan of any profile uses these; `effconv results history` moves them: {unplanned}"


def test_an_unplanned_run_is_found_and_moved_but_a_planned_one_stays(tmp_path, monkeypatch, capsys):
    planned = planned_specs("cpu", ("acnet",))[0]
    stray = ExperimentSpec(chapter="acnet", name=planned.name, model=planned.model, recipe=recipe_for("cpu", epochs=1),
                           profile="cpu", model_kwargs={"width": 0.125})
    engine = ExperimentSpec(chapter="engine", name="resnet20", model="resnet20", recipe=recipe_for("cpu", epochs=1),
                            profile="cpu")
    store = ResultStore(tmp_path)
    for spec in (planned, stray, engine):
        store.save(spec, _result(spec))
    assert (planned.chapter, planned.filename) in planned_files()
    assert is_planned(planned) and is_planned(engine) and not is_planned(stray)
    assert unplanned_results(tmp_path) == [store.path(stray)]
    monkeypatch.setenv("EFFCONV_RESULTS", str(tmp_path))
    main(["results", "history", "--dry-run"])
    assert store.path(stray).exists() and "unplanned acnet/" in capsys.readouterr().out
    main(["results", "history"])
    assert not store.path(stray).exists() and (tmp_path / "acnet" / "history" / stray.filename).exists()
    assert store.load(planned) is not None and store.load(engine) is not None
    assert unplanned_results(tmp_path) == []
