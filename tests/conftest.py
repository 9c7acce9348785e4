"""Shared fixtures: the real CIFAR-10 (a small slice for training tests) and isolated store/cache folders."""

from __future__ import annotations

import pytest
import torch

from effconv.data.cifar import available_sources, load_cifar10, subset
from effconv.paths import cache_dir


@pytest.fixture(scope="session")
def cifar():
    """The full arrays (decoded once, cached); training tests take slices of it."""
    if not available_sources():
        pytest.skip("CIFAR-10 is not available here (no offline archive, no raw batches)")
    return load_cifar10()


@pytest.fixture(scope="session")
def tiny(cifar):
    """256 training and 128 test images, class-balanced: enough to exercise training in seconds."""
    return subset(cifar, 256, 128, seed=0)


@pytest.fixture
def isolated(tmp_path, monkeypatch, cifar):
    """Results and caches in a temporary folder, sharing only the decoded CIFAR arrays (to stay fast)."""
    real_cache = cache_dir()
    monkeypatch.setenv("EFFCONV_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("EFFCONV_CACHE", str(tmp_path / "cache"))
    (tmp_path / "cache").mkdir()
    for npz in real_cache.glob("cifar10-*.npz"):
        (tmp_path / "cache" / npz.name).symlink_to(npz)
    return tmp_path


@pytest.fixture
def single_thread():
    """One torch thread: on 2 shared cores OpenMP's thread barriers dominate small convolutions."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
