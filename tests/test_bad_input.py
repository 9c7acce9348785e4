"""Every refusal is one line: a table of bad command lines and API calls.

Each CLI case runs in-process (``effconv.cli.main``) and must end with exit status 2, exactly one line
on stderr naming the problem (the expected fragment), no traceback, and nothing written to the results
store. The data archive is pointed at a missing file, so a case that slipped through the checks would
end in the missing-data message instead of its own and fail here; nothing can train.
"""

from __future__ import annotations

import json
import math

import pytest
import torch

from effconv.cli import main
from effconv.errors import EffconvError

SMOKE = ["train", "--model", "resnet20", "--profile", "smoke"]


def _bad_result_shape(tmp):
    path = tmp / "bad-shape.json"
    path.write_text(json.dumps({"schema": 1, "key": "k", "spec": {"recipe": {"epochs": 2}}, "metrics": {"final": {},
                                "best": {}}, "curve": [], "analyses": {}, "provenance": {}}))
    return str(path)


def _not_json(tmp):
    path = tmp / "r.json"
    path.write_text("{oops")
    return str(path)


def _bad_cluster_config(tmp):
    path = tmp / "effconv-slurm.json"
    path.write_text(json.dumps({"gpu": 1}))
    return str(path)


def _a_list(tmp):
    path = tmp / "list.json"
    path.write_text("[1, 2]")
    return str(path)


CLI_CASES = [
    # models, profiles, names
    (["train", "--model", "resnet2O"], "unknown model 'resnet2O'"),
    (["train", "--model", "resnet20", "--profile", "fast"], "unknown profile 'fast'"),
    (["train", "--model", "resnet20", "--conv", "magic"], "unknown conv factory 'magic'"),
    (["train", "--profile", "smoke"], "the following arguments are required: --model"),
    (["train", "--model", "xception", "--width", "0.5"], "model 'xception' has no width multiplier"),
    (["train", "--model", "mobilenet_v1", "--conv", "acb"], "model 'mobilenet_v1' does not take a conv factory"),
    (["nosuch"], "invalid choice: 'nosuch'"),
    # widths, epochs, seeds, devices
    ([*SMOKE, "--width", "0"], "argument --width: the value must be a number > 0, got 0"),
    ([*SMOKE, "--width", "nan"], "must be a number > 0, got nan"),
    ([*SMOKE, "--width", "inf"], "must be a number > 0, got inf"),
    ([*SMOKE, "--width", "half"], "argument --width: must be a number > 0, got 'half'"),
    ([*SMOKE, "--epochs", "0"], "argument --epochs: the value must be an integer >= 1, got 0"),
    ([*SMOKE, "--epochs", "1.5"], "argument --epochs: must be an integer >= 1, got '1.5'"),
    ([*SMOKE, "--seed", "-1"], "seed must be an integer in [0, 4294967295], got -1"),
    ([*SMOKE, "--seed", "4294967296"], "seed must be an integer in [0, 4294967295], got 4294967296"),
    ([*SMOKE, "--seed", "one"], "argument --seed: must be an integer in [0, 4294967295], got 'one'"),
    ([*SMOKE, "--devices", "0"], "argument --devices: the value must be an integer >= 1"),
    ([*SMOKE, "--accelerator", "tpu"], "unknown accelerator 'tpu'"),
    ([*SMOKE, "--data", "png"], "unknown data source 'png'"),
    ([*SMOKE, "--data", "jpeg-q0"], "JPEG quality must be 1 to 95"),
    # recipe overrides: every number finite and in range
    ([*SMOKE, "--set", "lr=nan"], "lr must be a number > 0, got nan"),
    ([*SMOKE, "--set", "lr=0"], "lr must be a number > 0, got 0.0"),
    ([*SMOKE, "--set", "lr=inf"], "lr must be a number > 0, got inf"),
    ([*SMOKE, "--set", "weight_decay=-1"], "weight_decay must be a number >= 0, got -1.0"),
    ([*SMOKE, "--set", "weight_decay=nan"], "weight_decay must be a number >= 0, got nan"),
    ([*SMOKE, "--set", "warmup_epochs=-1"], "warmup_epochs must be a number in [0, 1], got -1.0"),
    ([*SMOKE, "--set", "warmup_epochs=5"], "warmup_epochs must be a number in [0, 1], got 5.0"),
    ([*SMOKE, "--set", "momentum=1.5"], "momentum must be a number in [0, 1), got 1.5"),
    ([*SMOKE, "--set", "momentum=-0.1"], "momentum must be a number in [0, 1), got -0.1"),
    ([*SMOKE, "--set", "batch_size=0"], "batch_size must be an integer >= 1, got 0"),
    ([*SMOKE, "--set", "batch_size=-64"], "batch_size must be an integer >= 1, got -64"),
    ([*SMOKE, "--set", "eval_batch_size=0"], "eval_batch_size must be an integer >= 1, got 0"),
    ([*SMOKE, "--set", "train_subset=0"], "train_subset must be an integer >= 1, got 0"),
    ([*SMOKE, "--set", "test_subset=-5"], "test_subset must be an integer >= 1, got -5"),
    ([*SMOKE, "--set", "label_smoothing=1"], "label_smoothing must be a number in [0, 1), got 1.0"),
    ([*SMOKE, "--set", "label_smoothing=nan"], "label_smoothing must be a number in [0, 1), got nan"),
    ([*SMOKE, "--set", "epochs=0"], "epochs must be an integer >= 1, got 0"),
    ([*SMOKE, "--set", "epochs=two"], "'two' is not a valid int"),
    ([*SMOKE, "--set", "schedule=linear"], "unknown schedule 'linear'"),
    ([*SMOKE, "--set", "loader=magic"], "unknown loader 'magic'"),
    ([*SMOKE, "--set", "precision=fp8"], "unknown precision 'fp8'"),
    ([*SMOKE, "--set", "nesterov=maybe"], "is not a valid bool"),
    ([*SMOKE, "--set", "dropout=0.1"], "is not FIELD=VALUE"),
    ([*SMOKE, "--set", "lr"], "is not FIELD=VALUE"),
    # run, campaign, bench
    (["run", "nochapter"], "unknown chapter 'nochapter'"),
    (["run", "acnet", "--profile", "fast"], "unknown profile 'fast'"),
    (["run", "acnet", "--accelerator", "tpu"], "unknown accelerator 'tpu'"),
    (["run", "acnet", "--profile", "cpu", "--only", "zzz-no-such"], "has a name containing 'zzz-no-such'"),
    (["campaign", "--time-limit", "nan"], "argument --time-limit: the value must be a number > 0, got nan"),
    (["campaign", "--time-limit", "inf"], "argument --time-limit: the value must be a number > 0, got inf"),
    (["campaign", "--time-limit", "-5"], "argument --time-limit: the value must be a number > 0, got -5"),
    (["campaign", "--time-limit", "10", "--accelerator", "tpu"], "unknown accelerator 'tpu'"),
    (["campaign", "--time-limit", "10", "--profile", "fast"], "unknown profile 'fast'"),
    (["campaign", "--executor", "pbs"], "argument --executor: invalid choice: 'pbs'"),
    (["campaign", "--executor", "slurm", "--chapters", "acnet", "--profile", "cpu", "--workers", "2"],
     "no `sbatch` on this machine"),
    (["campaign", "--executor", "slurm", "--dry-run", "--config", _bad_cluster_config], "has unknown keys ['gpu']"),
    (["train", "--model", "resnet20", "--num-nodes", "2"], "--num-nodes 2 needs a cluster allocation"),
    (["train", "--model", "resnet20", "--num-nodes", "0"], "argument --num-nodes: the value must be an integer >= 1"),
    (["results", "merge", "{tmp}/none.tar.gz"], "does not exist; give a results archive"),
    (["results", "merge", "{tmp}"], "no results (results/<chapter>/<name>-<key>.json) in"),
    (["results", "merge", _not_json], "is neither a folder nor a tar archive"),
    (["results", "migrate", "{tmp}/none"], "is not a folder; give a results folder"),
    (["bench", "loader", "--steps", "0"], "argument --steps: the value must be an integer >= 1"),
    (["bench", "loader", "--batch-size", "0"], "argument --batch-size: the value must be an integer >= 1"),
    (["bench", "epoch", "--accelerator", "tpu"], "unknown accelerator 'tpu'"),
    (["bench", "nosuch"], "invalid choice: 'nosuch'"),
    (["bench", "precision", "--modes", "fp16"], "unknown precision modes ['fp16']"),
    (["bench", "precision", "--modes", "bf16"], "the modes must include fp32"),
    (["bench", "precision", "--rounds", "0"], "argument --rounds: the value must be an integer >= 1"),
    # flops
    (["flops", "vgg16_cifar", "--input-size", "3", "2", "2"], "does not accept an input of size"),
    (["flops", "resnet20", "--input-size", "0", "32", "32"], "input_size (0, 32, 32) is not understood"),
    (["flops", "resnet20", "--width", "-1"], "argument --width: the value must be a number > 0, got -1"),
    (["flops", "resnet20", "--num-classes", "0"], "argument --num-classes: the value must be an integer >= 1"),
    (["flops", "nosuch"], "unknown model 'nosuch'"),
    # show: missing, a folder, not JSON, not a result, a bad shape
    (["show", "{tmp}/missing.json"], "does not exist"),
    (["show", "{tmp}"], "is a folder; give one result file"),
    (["show", _not_json], "is not valid JSON"),
    (["show", _a_list], "is not an effconv result"),
    (["show", _bad_result_shape], "does not match the result schema: metrics.final.test_acc is None"),
    # book and data: names checked before anything runs
    (["book", "--profile", "fast"], "unknown profile 'fast'; use one of smoke, cpu, full, best"),
    (["book", "--only", "nosuch", "overview"], "no chapter or page named nosuch"),
    (["data", "--source", "png"], "unknown data source 'png'"),
]


def _args(args, tmp):
    return [a(tmp) if callable(a) else a.replace("{tmp}", str(tmp)) for a in args]


def run_cli(args) -> int:
    try:
        return main(args)
    except SystemExit as done:  # argparse refusals exit from inside parse_args
        return done.code


@pytest.mark.parametrize("args, message", CLI_CASES, ids=[" ".join(a if isinstance(a, str) else a.__name__
                                                                     for a in c[0]) for c in CLI_CASES])
def test_cli_refuses_in_one_line(args, message, isolated, monkeypatch, capsys):
    monkeypatch.setenv("EFFCONV_DATA", str(isolated / "no-archive.tar.gz"))
    scratch = isolated / "scratch"
    scratch.mkdir()
    code = run_cli(_args(args, scratch))
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("effconv: error: "), err
    assert message in lines[0] and "Traceback" not in err
    results = isolated / "results"
    assert not results.exists() or not any(results.rglob("*")), "something was written to results/"
    assert not (isolated / "cache" / "smoke-results").exists()


def test_there_are_at_least_forty_cli_cases():
    assert len(CLI_CASES) >= 40


def test_dry_run_with_no_match_says_so(isolated, capsys):
    assert main(["run", "acnet", "--profile", "cpu", "--only", "zzz-no-such", "--dry-run"]) == 0
    assert "has a name containing 'zzz-no-such'" in capsys.readouterr().out


def test_run_can_take_some_seeds_of_an_arm(isolated, capsys):
    assert main(["run", "acnet", "--profile", "cpu", "--only", "vgg16-cifar-base", "--seeds", "2", "4", "--dry-run"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if "vgg16-cifar-base" in line]
    assert len(lines) == 2  # seeds 2 and 4 of the five planned
    assert main(["run", "acnet", "--profile", "cpu", "--only", "vgg16-cifar-base", "--seeds", "9", "--dry-run"]) == 0
    assert "and seed in [9]" in capsys.readouterr().out


def _spec(**changes):
    from effconv.experiments.spec import ExperimentSpec
    from effconv.train.recipes import recipe_for

    fields = dict(chapter="engine", name="r", model="resnet20", recipe=recipe_for("smoke"), profile="smoke")
    return ExperimentSpec(**{**fields, **changes})


def _create(*args, **kwargs):
    from effconv.models import create_model

    return create_model(*args, **kwargs)


def _flops(*args):
    from effconv.analysis.flops import count_flops

    return count_flops(*args)


def _conventions(*args, **kwargs):
    from effconv.analysis.flop_conventions import flop_conventions

    return flop_conventions(*args, **kwargs)


def _recipe(**kwargs):
    from effconv.train.recipes import recipe_for

    return recipe_for("cpu", **kwargs)


def _run(**kwargs):
    from effconv.experiments import run_experiment

    return run_experiment(_spec(), **kwargs)


def _resolve(profile):
    from effconv.experiments.report import resolve

    return resolve(lambda p: pytest.fail("specs listed for an unknown profile"), profile)


def _book_sources(only):
    from effconv.book import sources

    return sources(only)


def _grade_bound(ours, bound, side):
    from effconv.claims import grade_bound

    return grade_bound(ours, bound, side)


def _styled(df=None, **kwargs):
    import pandas as pd
    from effconv.claims.style import styled

    return styled(pd.DataFrame({"a": [1.0]}) if df is None else df, **kwargs)


def _grade_equivalence(margin):
    from effconv.claims import grade_equivalence

    return grade_equivalence({0: 1.0}, {0: 1.0}, margin=margin)


def _commit_from_env(value):
    import os
    from unittest import mock

    from effconv.provenance import commit_from_env

    with mock.patch.dict(os.environ, {"EFFCONV_COMMIT": value}):
        return commit_from_env()


API_CASES = [
    (lambda: _create("resnet20", width="0.5"), "width must be a number > 0, got '0.5'"),
    (lambda: _create("resnet20", width=math.nan), "width must be a number > 0, got nan"),
    (lambda: _create("resnet20", width=True), "width must be a number > 0, got True"),
    (lambda: _create("resnet20", num_classes=0), "num_classes must be an integer >= 1, got 0"),
    (lambda: _create("resnet20", num_classes=10.0), "num_classes must be an integer >= 1, got 10.0"),
    (lambda: _create(20), "a model name must be a string"),
    (lambda: _create(["resnet20"]), "a model name must be a string"),
    (lambda: _create("resnet20", conv=3), "conv must be the name of a conv factory"),
    (lambda: _create("resnet20", conv="acb", conv_kwargs=[1]), "conv_kwargs must be a dict"),
    (lambda: _flops("resnet20", (3, 32, 32)), "count_flops needs a torch.nn.Module"),
    (lambda: _flops(torch.nn.Conv2d(3, 3, 1), (0, 3, 32, 32)), "input_size (0, 3, 32, 32) is not understood"),
    (lambda: _conventions("mobilenet_v1"), "flop_conventions needs a torch.nn.Module"),
    (lambda: _conventions(torch.nn.Conv2d(3, 3, 1), (3, -1, 8), ptflops=False), "input_size (3, -1, 8) is not understood"),
    (lambda: _recipe(lr=math.nan), "lr must be a number > 0, got nan"),
    (lambda: _recipe(lr="0.1"), "lr must be a number > 0, got '0.1'"),
    (lambda: _recipe(weight_decay=-1), "weight_decay must be a number >= 0"),
    (lambda: _recipe(warmup_epochs=math.inf), "warmup_epochs must be a number in [0, 20], got inf"),
    (lambda: _recipe(batch_size=32.0), "batch_size must be an integer >= 1, got 32.0"),
    (lambda: _recipe(nesterov="yes"), "nesterov must be true or false"),
    (lambda: _spec(seed=-1), "seed must be an integer in [0, 4294967295], got -1"),
    (lambda: _spec(seed=2**32), "seed must be an integer in [0, 4294967295]"),
    (lambda: _spec(seed=1.0), "seed must be an integer"),
    (lambda: _spec(name=7), "experiment name 7 must be lower-case"),
    (lambda: _spec(recipe={"epochs": 1}), "recipe must be a Recipe"),
    (lambda: _run(accelerator="tpu"), "unknown accelerator 'tpu'"),
    (lambda: _run(devices=0), "devices must be an integer >= 1, got 0"),
    (lambda: _run(num_nodes=0), "num_nodes must be an integer >= 1, got 0"),
    (lambda: _commit_from_env("v1.2"), "EFFCONV_COMMIT='v1.2' is not a commit hash"),
    (lambda: _resolve("fast"), "unknown profile 'fast'; use one of smoke, cpu, full, best"),
    (lambda: _book_sources(["acnet", "acnte"]), "no chapter or page named acnte"),
    (lambda: _grade_bound(1.0, 2.0, "=<"), "a bound's side must be one of <, <=, >, >=, got '=<'"),
    (lambda: _grade_equivalence(margin=-0.5), "the equivalence margin must be a number > 0, got -0.5"),
    (lambda: _grade_equivalence(margin=math.nan), "the equivalence margin must be a number > 0, got nan"),
    (lambda: _styled(formats={"a": 2}), "styled(): a column format must be a format string like '{:+.2f}' or a callable"),
    (lambda: _styled(df=[1, 2]), "styled() takes a pandas DataFrame, not list"),
]


@pytest.mark.parametrize("call, message", API_CASES, ids=[m[:40] for _, m in API_CASES])
def test_api_refuses_with_the_same_kind_of_line(call, message, isolated):
    with pytest.raises(EffconvError) as err:
        call()
    text = str(err.value)
    assert message in text and "\n" not in text
    results = isolated / "results"
    assert not results.exists() or not any(results.rglob("*"))


def test_accelerator_is_checked_even_when_the_result_is_stored(isolated, monkeypatch):
    from effconv.experiments import runner
    from effconv.experiments.store import ResultStore

    spec = _spec()
    store = ResultStore.for_profile("smoke")
    store.save(spec, {"metrics": {"final": {"test_acc": 0.5}, "best": {"test_acc": 0.5, "epoch": 1}},
                      "curve": [{"epoch": 1}], "analyses": {},
                      "provenance": {"wall_seconds": 1.0, "device": "test", "data": {"source": "jpeg"}}})
    assert runner.run_experiment(spec)["key"] == spec.key  # a hit
    with pytest.raises(EffconvError, match="unknown accelerator 'tpu'"):
        runner.run_experiment(spec, accelerator="tpu")


def test_a_few_refusals_through_a_real_process(tmp_path):
    """The in-process cases above, as a user sees them: stderr of the real command line."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "EFFCONV_DATA": str(tmp_path / "none.tar.gz"), "EFFCONV_RESULTS": str(tmp_path / "results"),
           "EFFCONV_CACHE": str(tmp_path / "cache")}
    for args in (["train", "--model", "resnet20", "--set", "lr=nan"], ["show", str(tmp_path)],
                 ["campaign", "--time-limit", "inf"]):
        done = subprocess.run([sys.executable, "-m", "effconv.cli", *args], capture_output=True, text=True, env=env,
                              timeout=300)
        assert done.returncode == 2 and "Traceback" not in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1 and done.stderr.startswith("effconv: error: ")
    assert not (tmp_path / "results").exists()
