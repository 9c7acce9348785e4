"""`effconv results migrate`: results stored under the old hash (precision left out at "auto") move to their
current key, once; a second run changes nothing; conflicts and unknown keys are refused."""

from __future__ import annotations

import json

import pytest

from effconv.cli import main
from effconv.experiments.migrate import migrate
from effconv.experiments.spec import ExperimentSpec, digest
from effconv.experiments.store import ResultStore
from effconv.paths import results_dir
from effconv.train.recipes import Recipe, recipe_for


def _spec(seed: int = 0, **recipe) -> ExperimentSpec:
    return ExperimentSpec(chapter="acnet", name="resnet20-base", model="resnet20", recipe=recipe_for("cpu", epochs=2,
                          **recipe), profile="cpu", seed=seed, model_kwargs={"width": 0.25})


def _old_file(root, spec: ExperimentSpec, *, precision: str | None = "32-true", accelerator: str = "cpu",
              acc: float = 0.5):
    """A result as a checkout from before this migration wrote it: the recipe without its precision, the file
    named by the hash of that spec."""
    old = spec.to_dict()
    del old["recipe"]["precision"]
    prov = {"wall_seconds": 1.0, "device": "test", "accelerator": accelerator, "git": {"commit": "c33d40d" + "0" * 33}}
    if precision:
        prov["precision"] = precision
    payload = {"schema": 1, "key": digest(old), "spec": old, "metrics": {"final": {"test_acc": acc}, "best": {}},
               "curve": [{"epoch": 1}, {"epoch": 2}], "analyses": {"probe": [1, 2]}, "provenance": prov}
    path = root / spec.chapter / f"{spec.name}-{digest(old)}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=1))
    return path, payload


def _snapshot(root):
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.json"))}


def test_an_old_key_is_renamed_to_the_current_key_once(tmp_path):
    spec = _spec()
    old_path, old = _old_file(tmp_path, spec)
    assert old_path.name != spec.filename  # the precision is in the key now
    report = migrate(tmp_path)
    assert report.count("renamed") == 1 and report.summary().endswith("0 conflicting, 0 refused")
    assert not old_path.exists()
    found = ResultStore(tmp_path).load(spec)  # the key the current code computes finds it
    assert found is not None and found["key"] == spec.key
    # only the key and the recipe's precision changed; what the run measured and where it ran did not
    assert {k: v for k, v in found.items() if k not in ("key", "spec")} == \
           {k: v for k, v in old.items() if k not in ("key", "spec")}
    assert found["spec"] == {**old["spec"], "recipe": {**old["spec"]["recipe"], "precision": "32-true"}}
    before = _snapshot(tmp_path)
    again = migrate(tmp_path)
    assert again.count("renamed") == 0 and again.count("current") == 1 and _snapshot(tmp_path) == before


def test_results_landing_later_from_an_older_checkout_migrate_on_the_next_run(tmp_path):
    _old_file(tmp_path, _spec(seed=0))
    migrate(tmp_path)
    late, _ = _old_file(tmp_path, _spec(seed=1))
    report = migrate(tmp_path)
    assert (report.count("renamed"), report.count("current")) == (1, 1) and not late.exists()
    assert all(ResultStore(tmp_path).load(_spec(seed=s)) for s in (0, 1))


def test_the_key_names_the_precision_the_run_trained_in(tmp_path):
    # "auto" on a GPU trained in bf16: it must not land on the fp32 run's key the cpu profile plans
    _old_file(tmp_path, _spec(), precision="bf16-mixed", accelerator="gpu")
    migrate(tmp_path)
    assert ResultStore(tmp_path).load(_spec()) is None
    assert ResultStore(tmp_path).load(_spec(precision="bf16-mixed")) is not None


def test_a_conflicting_target_is_reported_and_nothing_is_overwritten(tmp_path, capsys):
    spec = _spec()
    _old_file(tmp_path, spec, acc=0.5)
    other = {"metrics": {"final": {"test_acc": 0.6}, "best": {}}, "curve": [{}, {}],
             "provenance": {"wall_seconds": 1.0, "device": "test"}}
    ResultStore(tmp_path).save(spec, other)
    before = _snapshot(tmp_path)
    report = migrate(tmp_path)
    assert report.count("conflicting") == 1 and report.count("renamed") == 0 and _snapshot(tmp_path) == before
    with pytest.raises(SystemExit) as ended:
        main(["results", "migrate", str(tmp_path)])
    assert ended.value.code == 1 and _snapshot(tmp_path) == before
    assert "conflicting" in capsys.readouterr().out


def test_an_identical_target_only_loses_the_old_name(tmp_path):
    # a migration cut short after writing the new file: the rerun finishes it
    store, elsewhere = tmp_path / "store", tmp_path / "elsewhere"
    old_path, _ = _old_file(store, _spec())
    _old_file(elsewhere, _spec())
    migrate(elsewhere)
    target = store / "acnet" / _spec().filename
    target.write_bytes((elsewhere / "acnet" / target.name).read_bytes())
    report = migrate(store)
    assert report.count("renamed") == 1 and not old_path.exists()
    assert target.read_bytes() == (elsewhere / "acnet" / target.name).read_bytes()


def test_unknown_keys_and_unrecorded_precisions_are_refused(tmp_path):
    edited, payload = _old_file(tmp_path, _spec(seed=0))
    payload["spec"]["seed"] = 5  # edited after it ran: hashes to neither key
    edited.write_text(json.dumps(payload))
    _old_file(tmp_path, _spec(seed=1), precision=None, accelerator="gpu")
    before = _snapshot(tmp_path)
    report = migrate(tmp_path)
    reasons = sorted(detail for _, status, detail in report.rows if status == "refused")
    assert len(reasons) == 2 and _snapshot(tmp_path) == before
    assert any("not to the key" in r for r in reasons) and any("does not record the precision" in r for r in reasons)


def test_dry_run_renames_nothing(tmp_path, capsys):
    _old_file(tmp_path, _spec())
    before = _snapshot(tmp_path)
    main(["results", "migrate", str(tmp_path), "--dry-run"])
    assert _snapshot(tmp_path) == before and "1 renamed" in capsys.readouterr().out


def test_auto_precision_resolves_by_profile_not_by_machine():
    auto = ExperimentSpec(chapter="acnet", name="x", model="resnet20", recipe=Recipe(epochs=2, precision="auto"),
                          profile="cpu")
    fp32 = ExperimentSpec(chapter="acnet", name="x", model="resnet20", recipe=Recipe(epochs=2, precision="32-true"),
                          profile="cpu")
    assert auto.key == fp32.key and auto.to_dict()["recipe"]["precision"] == "32-true"
    full = ExperimentSpec(chapter="acnet", name="x", model="resnet20", recipe=Recipe(epochs=2), profile="full")
    assert full.recipe.precision == "bf16-mixed"
    assert recipe_for("cpu").to_dict()["precision"] == "32-true"


def test_no_committed_result_is_stored_under_an_old_key():
    report = migrate(results_dir(), dry_run=True)
    stale = [f"{name} ({status}: {detail})" for name, status, detail in report.rows if status != "current"]
    assert not stale, f"run `effconv results migrate` and commit the renames: {stale}"
