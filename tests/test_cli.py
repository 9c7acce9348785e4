"""The command line: one clear line and exit status 2 on bad input, never a traceback; a smoke run and its hit."""

import json
import os
import subprocess
import sys

import pytest


def effconv(*args, env=None, timeout=600):
    return subprocess.run([sys.executable, "-m", "effconv.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


@pytest.mark.parametrize("args, message", [
    (["train", "--model", "resnet2O"], "unknown model 'resnet2O'"),
    (["train", "--model", "resnet20", "--profile", "fast"], "unknown profile 'fast'"),
    (["train", "--model", "resnet20", "--conv", "magic"], "unknown conv factory 'magic'"),
    (["run", "nochapter"], "unknown chapter 'nochapter'"),
    (["flops", "vgg16_cifar", "--input-size", "3", "2", "2"], "does not accept an input of size"),
    (["flops", "resnet20", "--width", "-1"], "must be a number > 0"),
    (["train", "--model", "resnet20", "--set", "lr"], "is not FIELD=VALUE"),
    (["train", "--model", "resnet20", "--set", "dropout=0.1"], "is not FIELD=VALUE"),
    (["train", "--model", "resnet20", "--set", "nesterov=maybe"], "is not a valid bool"),
    (["train", "--model", "resnet20", "--set", "schedule=linear"], "unknown schedule 'linear'"),
    (["train", "--model", "resnet20", "--data", "jpeg-q0"], "JPEG quality must be 1 to 95"),
])
def test_bad_input_is_one_line(args, message, tmp_path):
    # no data on purpose: a bad argument must be reported before the data is looked for
    done = effconv(*args, env={"EFFCONV_DATA": str(tmp_path / "missing.tar.gz")})
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr


def test_missing_data_is_one_line(tmp_path):
    done = effconv("train", "--model", "resnet20", env={"EFFCONV_DATA": str(tmp_path / "none.tar.gz"),
                                                       "EFFCONV_CACHE": str(tmp_path)})
    assert done.returncode == 2 and "CIFAR-10 is not available" in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_result_that_is_not_json(tmp_path):
    bad = tmp_path / "r.json"
    bad.write_text("{oops")
    done = effconv("show", str(bad))
    assert done.returncode == 2 and "not valid JSON" in done.stderr and "Traceback" not in done.stderr


def test_flops_prints_counts():
    done = effconv("flops", "resnet56")
    assert done.returncode == 0 and "resnet56: 125.75M MACs" in done.stdout and "conv 3x3" in done.stdout


@pytest.mark.slow
def test_smoke_train_writes_provenance_then_hits(isolated):
    first = effconv("train", "--model", "resnet20", "--width", "0.25", "--profile", "smoke")
    assert first.returncode == 0, first.stderr
    path = first.stdout.strip().splitlines()[-1].removeprefix("result: ")
    result = json.loads(open(path).read())
    prov = result["provenance"]
    assert path.startswith(str(isolated / "cache" / "smoke-results"))  # smoke results never go to results/
    assert prov["profile"] == "smoke" and prov["seed"] == 0 and prov["data"]["source"] in ("jpeg", "raw")
    assert prov["versions"]["torch"] and prov["device"] and "commit" in prov["git"] and prov["wall_seconds"] > 0
    assert len(result["curve"]) == 1 and 0 <= result["metrics"]["final"]["test_acc"] <= 1
    second = effconv("train", "--model", "resnet20", "--width", "0.25", "--profile", "smoke")
    assert second.returncode == 0 and second.stdout == first.stdout  # the stored result, not a new run
    assert json.loads(open(path).read())["provenance"]["finished"] == prov["finished"]


def test_recipe_overrides_are_typed():
    from effconv.cli import parse_overrides

    assert parse_overrides(["lr=0.05", "batch_size=64", "nesterov=false", "schedule=onecycle",
                            "train_subset=none"]) == {
        "lr": 0.05, "batch_size": 64, "nesterov": False, "schedule": "onecycle", "train_subset": None}
    assert parse_overrides([]) == {}
