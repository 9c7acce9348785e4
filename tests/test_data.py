"""CIFAR-10 sources: counts, caching, subsets, and the error when no data is there."""

import numpy as np
import pytest

from effconv.data import cifar as cifar_module
from effconv.data.cifar import CLASSES, check_source, load_cifar10, reencode, resolve_source, subset
from effconv.errors import EffconvError


def test_counts_classes_and_stats(cifar):
    assert cifar.train_x.shape == (50_000, 32, 32, 3) and cifar.test_x.shape == (10_000, 32, 32, 3)
    assert cifar.train_x.dtype == np.uint8
    assert np.bincount(cifar.train_y).tolist() == [5000] * 10
    assert np.bincount(cifar.test_y).tolist() == [1000] * 10
    assert cifar.source in ("jpeg", "raw")
    # the per-channel mean of CIFAR-10 training images is about (0.491, 0.482, 0.447)
    assert np.allclose(cifar.mean, (0.4914, 0.4822, 0.4465), atol=2e-3)


def test_subset_is_balanced_and_reproducible(cifar):
    a, b = subset(cifar, 500, 100, seed=3), subset(cifar, 500, 100, seed=3)
    assert np.bincount(a.train_y).tolist() == [50] * 10 and np.bincount(a.test_y).tolist() == [10] * 10
    assert np.array_equal(a.train_x, b.train_x)
    assert a.subset == {"train": 500, "test": 100}
    assert not np.array_equal(a.train_x, subset(cifar, 500, 100, seed=4).train_x)


def test_missing_data_names_both_ways(tmp_path, monkeypatch):
    monkeypatch.setenv("EFFCONV_DATA", str(tmp_path / "nowhere.tar.gz"))
    monkeypatch.setenv("EFFCONV_CACHE", str(tmp_path / "cache"))
    with pytest.raises(EffconvError) as err:
        load_cifar10()
    message = str(err.value)
    assert "EFFCONV_DATA" in message and "--download" in message
    with pytest.raises(EffconvError, match="--download"):
        load_cifar10("raw")
    with pytest.raises(EffconvError, match="unknown data source"):
        resolve_source("imagenet")


def test_corrupt_cache_is_rebuilt_not_used(tmp_path):
    broken = tmp_path / "cifar10-jpeg-0000.npz"
    broken.write_bytes(b"not an npz")
    assert cifar_module._load_cached(broken, "jpeg") is None
    assert not broken.exists()


def test_unreadable_archive_is_a_clear_error(tmp_path, monkeypatch):
    bad = tmp_path / "cifar10-jpeg.tar.gz"
    bad.write_bytes(b"garbage")
    monkeypatch.setenv("EFFCONV_DATA", str(bad))
    monkeypatch.setenv("EFFCONV_CACHE", str(tmp_path / "cache"))
    with pytest.raises(EffconvError, match="cannot read the CIFAR-10 archive"):
        load_cifar10("jpeg")


def test_class_order_is_canonical():
    assert CLASSES == tuple(sorted(CLASSES))


def test_reencoded_sources_are_named_and_checked():
    assert check_source("jpeg-q50") == "jpeg-q50" and resolve_source("jpeg-q5") == "jpeg-q5"
    for bad in ("jpeg-q0", "jpeg-q96"):
        with pytest.raises(EffconvError, match="quality must be 1 to 95"):
            check_source(bad)
    with pytest.raises(EffconvError, match="jpeg-q<N>"):
        check_source("jpeg-50")


def test_reencoding_degrades_more_at_lower_quality(cifar):
    images = cifar.test_x[:64]
    errors = {q: np.abs(reencode(images, q).astype(int) - images).mean() for q in (95, 50, 10)}
    assert reencode(images, 50).dtype == np.uint8 and reencode(images, 50).shape == images.shape
    assert 0 < errors[95] < errors[50] < errors[10]
