"""Trained weights: a stored run retrained, kept with its record, and loaded back with one call."""

from __future__ import annotations


import pytest
import torch

from effconv.errors import EffconvError
from effconv.experiments.runner import run_experiment
from effconv.ops.acb import ACBlock
from effconv.trained import keep_weights, load_trained, planned_spec, trained_info, trained_weights


@pytest.fixture
def kept(isolated, single_thread):
    """The smoke profile's Cifar-quick ACNet: stored once, then retrained with its weights kept."""
    spec = planned_spec("acnet", "cifar-quick-acnet", seed=0, profile="smoke")
    stored = run_experiment(spec, accelerator="cpu")
    record = keep_weights("acnet", "cifar-quick-acnet", 0, profile="smoke", require_clean=False, log=lambda _: None)
    return spec, stored, record


def test_a_retrain_re_makes_the_stored_run_and_its_weights_load(kept, isolated):
    spec, stored, record = kept
    smoke = isolated / "cache" / "smoke-results"  # a smoke run's weights stay beside its result, in the cache
    assert not (isolated / "results").exists() or not any((isolated / "results").rglob("*.pt"))
    # same machine, same thread count, same seed: the retrain repeats the stored run exactly
    assert record["exact"] and record["difference_pp"] == 0
    assert record["retrained"]["test_acc"] == stored["metrics"]["final"]["test_acc"]
    assert record["key"] == spec.key and record["weights"] == spec.filename.replace(".json", ".pt")
    model = load_trained("acnet", "cifar-quick-acnet", 0, root=smoke)
    assert not model.training and any(isinstance(m, ACBlock) for m in model.modules())
    fused = load_trained("acnet", "cifar-quick-acnet", 0, fused=True, root=smoke)
    assert not any(isinstance(m, ACBlock) for m in fused.modules())
    x = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(fused(x), model(x), atol=1e-4, rtol=1e-4)
    table = trained_weights(smoke)
    assert table[["chapter", "name", "seed"]].values.tolist() == [["acnet", "cifar-quick-acnet", 0]]


def test_a_corrupt_weights_file_is_refused_with_the_fix(kept, isolated):
    spec, _, record = kept
    smoke = isolated / "cache" / "smoke-results"
    path = smoke / "acnet" / "weights" / record["weights"]
    path.write_bytes(path.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(EffconvError, match="SHA-256.*git checkout"):
        load_trained("acnet", "cifar-quick-acnet", 0, root=smoke)
    path.unlink()
    with pytest.raises(EffconvError, match="missing"):
        load_trained("acnet", "cifar-quick-acnet", 0, root=smoke)


def test_unknown_names_seeds_and_absent_weights_are_named(isolated):
    with pytest.raises(EffconvError, match="plans no run named 'cifar-quick-acb'.*cifar-quick-acnet"):
        planned_spec("acnet", "cifar-quick-acb", profile="smoke")
    with pytest.raises(EffconvError, match="not seed 99"):
        planned_spec("acnet", "cifar-quick-acnet", seed=99, profile="smoke")
    with pytest.raises(EffconvError, match="no trained weights.*effconv weights acnet resnet20-base"):
        trained_info("acnet", "resnet20-base", 0)
    with pytest.raises(EffconvError, match="no stored result to re-make"):
        keep_weights("acnet", "cifar-quick-base", 0, profile="smoke", require_clean=False)


def test_committed_weights_name_a_stored_planned_result():
    """Every committed weights file sits under the key of a run its chapter plans and has stored, and
    matches its record's checksum (the records are what the book's tables of checkpoints read)."""
    from effconv.experiments.store import ResultStore

    table = trained_weights()
    for row in table.itertuples():
        info = trained_info(row.chapter, row.name, row.seed)
        spec = planned_spec(row.chapter, row.name, row.seed, info["profile"])
        assert spec.key == info["key"], f"{row.chapter}/{row.name}: weights under an old key; retrain them"
        stored = ResultStore.for_profile(info["profile"]).load(spec)
        assert stored is not None, f"{row.chapter}/{row.name}: weights of a run with no stored result"
        # the record's "stored" accuracy is the committed result's, not a copy that could drift from it
        assert info["stored"]["test_acc"] == stored["metrics"]["final"]["test_acc"]
        load_trained(row.chapter, row.name, row.seed)  # checks the file against the record's SHA-256


def test_the_readme_loads_a_kept_checkpoint():
    """The README's load_trained example runs from the repository and gives a fused model in eval mode."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    found = re.search(r"<!-- tests/test_trained.py runs this block[^>]*-->\n```python\n(.*?)```", text, re.S)
    assert found, "README.md lost its load_trained example (or the marker comment above it)"
    names: dict = {}
    exec(compile(found.group(1), "README.md", "exec"), names)
    model = names["model"]
    assert not model.training and not any(isinstance(m, ACBlock) for m in model.modules())
