"""The results inventory tables: the accuracy sanity check of the engine's plain runs."""

import json

from effconv.experiments.inventory import accuracy_checks


def write_result(root, chapter, name, model, profile, acc, epochs=20, model_kwargs=None):
    spec = {"chapter": chapter, "name": name, "model": model, "profile": profile, "seed": 0,
            "model_kwargs": model_kwargs or {}, "recipe": {"epochs": epochs}}
    result = {"schema": 1, "key": "0123456789", "spec": spec,
              "metrics": {"final": {"test_acc": acc}, "best": {"test_acc": acc, "epoch": epochs}},
              "curve": [], "analyses": {}, "provenance": {"device": "test cpu", "wall_seconds": 1.0}}
    path = root / chapter / f"{name}-{epochs}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result))


def test_targets_without_runs_are_not_run(tmp_path):
    table = accuracy_checks(tmp_path)
    assert list(table["verdict"]) == ["not run", "not run"]
    assert set(table["model"]) == {"resnet20", "resnet56"}


def test_each_plain_run_is_judged_against_its_target(tmp_path):
    write_result(tmp_path, "engine", "resnet20", "resnet20", "cpu", 0.8607, epochs=20)
    write_result(tmp_path, "engine", "resnet20", "resnet20", "cpu", 0.8850, epochs=40)
    # neither a narrowed model nor another chapter's run of the same model counts
    write_result(tmp_path, "engine", "resnet20", "resnet20", "cpu", 0.99, epochs=8, model_kwargs={"width": 0.5})
    write_result(tmp_path, "acnet", "resnet20", "resnet20", "cpu", 0.99, epochs=9)
    table = accuracy_checks(tmp_path)
    r20 = table[table["model"] == "resnet20"].set_index("epochs")
    assert sorted(r20.index) == [20, 40]
    assert r20.loc[20, "verdict"] == "missed" and r20.loc[40, "verdict"] == "met"
    assert table.loc[table["model"] == "resnet56", "verdict"].item() == "not run"


def test_a_corrupt_file_is_skipped_not_judged(tmp_path):
    (tmp_path / "engine").mkdir()
    (tmp_path / "engine" / "resnet20-bad.json").write_text("{not json")
    assert list(accuracy_checks(tmp_path)["verdict"]) == ["not run", "not run"]
