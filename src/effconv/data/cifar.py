"""CIFAR-10 as uint8 arrays, from the offline JPEG archive or torchvision's original batches.

The sources, one of which every result records:

- ``jpeg``: ``cifar10-jpeg.tar.gz`` (all 60,000 images re-encoded as JPEG quality 75, so slightly lossy),
  found at ``$EFFCONV_DATA`` or ``../shared/data/`` next to the repository. Decoded once (about 12 s)
  and cached as arrays in the user cache directory.
- ``raw``: the original lossless batches through ``torchvision.datasets.CIFAR10``; downloaded only when
  asked (``download=True`` / ``effconv data --download``), since most machines here have no internet.
- ``jpeg-q<N>`` (N from 1 to 95): the ``jpeg`` images encoded once more at JPEG quality N with Pillow's
  standard tables. Lower qualities degrade the images further, which measures how accuracy depends on
  JPEG loss; without the raw batches that is the only way to estimate what the quality-75 copy costs.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
import tarfile
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from effconv.errors import EffconvError
from effconv.paths import cache_dir, repo_root

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
SOURCES = ("jpeg", "raw")
SHIPPED_QUALITY = 75  # the offline copy's JPEG quality (../shared/data/README.md)
REENCODED = re.compile(r"jpeg-q(\d+)")
_EXPECTED = {"train": 50_000, "test": 10_000}
log = logging.getLogger("effconv")


@dataclass
class CifarArrays:
    """Images as uint8 NHWC arrays (N, 32, 32, 3) and int64 labels, plus where they came from."""

    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    source: str
    mean: tuple[float, float, float] = field(default=(0.0, 0.0, 0.0))
    std: tuple[float, float, float] = field(default=(1.0, 1.0, 1.0))
    subset: dict | None = None

    def describe(self) -> str:
        extra = f", subset {self.subset}" if self.subset else ""
        return f"CIFAR-10 ({self.source}): {len(self.train_y):,} train / {len(self.test_y):,} test{extra}"


def jpeg_archive_path() -> Path:
    """Where the offline archive is expected: ``$EFFCONV_DATA`` or ``<repo>/../shared/data/``."""
    env = os.environ.get("EFFCONV_DATA")
    if env:
        return Path(env).expanduser().resolve()
    return (repo_root().parent / "shared" / "data" / "cifar10-jpeg.tar.gz").resolve()


def raw_root() -> Path:
    return cache_dir() / "cifar10-raw"


def _missing_data_error() -> EffconvError:
    return EffconvError(
        "CIFAR-10 is not available. Either (a) place the offline archive cifar10-jpeg.tar.gz at "
        f"{jpeg_archive_path()} or point EFFCONV_DATA to it, or (b) fetch the original batches on a "
        "machine with internet: `effconv data --source raw --download` (torchvision's CIFAR10, stored in "
        f"{raw_root()})."
    )


def available_sources() -> list[str]:
    found = []
    if jpeg_archive_path().is_file():
        found.append("jpeg")
    if (raw_root() / "cifar-10-batches-py").is_dir():
        found.append("raw")
    return found


def reencode_quality(source: str) -> int | None:
    """N for a ``jpeg-q<N>`` source, None for any other name; a quality outside 1..95 is an error."""
    match = REENCODED.fullmatch(source)
    if match is None:
        return None
    quality = int(match.group(1))
    if not 1 <= quality <= 95:
        raise EffconvError(f"data source {source!r}: the JPEG quality must be 1 to 95 (Pillow advises against "
                           f"more), got {quality}; for example jpeg-q50.")
    return quality


def check_source(source: str) -> str:
    """``source`` if it names a data source (``jpeg``, ``raw`` or ``jpeg-q<N>``), else a clear error."""
    if source in SOURCES or reencode_quality(source) is not None:
        return source
    raise EffconvError(f"unknown data source {source!r}; use one of {', '.join(SOURCES)} or jpeg-q<N> "
                       "(the JPEG copy re-encoded at quality N, e.g. jpeg-q50).")


def resolve_source(source: str = "auto") -> str:
    """``auto`` picks the offline JPEG archive if present, else cached raw batches."""
    if source != "auto":
        check_source(source)
        return source
    found = available_sources()
    if not found:
        _archive()  # names a folder given in place of the archive; else the missing-data message
    return found[0]


def load_cifar10(source: str = "auto", *, download: bool = False) -> CifarArrays:
    """Load CIFAR-10 (decoding and caching on first use) and check its counts."""
    source = resolve_source(source)
    quality = reencode_quality(source)
    if source == "jpeg":
        arrays = _load_jpeg()
    elif quality is not None:
        arrays = _load_reencoded(quality)
    else:
        arrays = _load_raw(download)
    _check_counts(arrays)
    return arrays


def subset(arrays: CifarArrays, train: int | None, test: int | None, seed: int = 0) -> CifarArrays:
    """A reproducible class-balanced slice (used by the smoke profile)."""
    if train is None and test is None:
        return arrays
    rng = np.random.default_rng(seed)

    def pick(labels: np.ndarray, count: int | None) -> np.ndarray:
        if count is None or count >= len(labels):
            return np.arange(len(labels))
        per_class = max(1, count // len(CLASSES))
        chosen = [rng.permutation(np.flatnonzero(labels == c))[:per_class] for c in range(len(CLASSES))]
        return np.sort(np.concatenate(chosen))

    tr, te = pick(arrays.train_y, train), pick(arrays.test_y, test)
    return CifarArrays(arrays.train_x[tr], arrays.train_y[tr], arrays.test_x[te], arrays.test_y[te],
                       arrays.source, arrays.mean, arrays.std, {"train": len(tr), "test": len(te)})


def _channel_stats(images: np.ndarray) -> tuple[tuple[float, ...], tuple[float, ...]]:
    pixels = images.reshape(-1, 3).astype(np.float64) / 255.0
    return tuple(pixels.mean(0).round(4).tolist()), tuple(pixels.std(0).round(4).tolist())


def _check_counts(arrays: CifarArrays) -> None:
    for split, labels, images in (("train", arrays.train_y, arrays.train_x), ("test", arrays.test_y, arrays.test_x)):
        if len(labels) != _EXPECTED[split] or images.shape[1:] != (32, 32, 3):
            raise EffconvError(
                f"CIFAR-10 ({arrays.source}) {split} split has {len(labels)} images of shape {images.shape[1:]}, "
                f"expected {_EXPECTED[split]} of (32, 32, 3); the data is incomplete or corrupt: delete the cache "
                f"in {cache_dir()} and check the archive."
            )
        counts = np.bincount(labels, minlength=len(CLASSES))
        if len(counts) != len(CLASSES) or counts.min() != counts.max():
            raise EffconvError(f"CIFAR-10 ({arrays.source}) {split} labels are not 10 balanced classes: {counts}.")


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:16]


def _load_cached(path: Path, source: str) -> CifarArrays | None:
    """The decoded arrays in ``path``, or None when missing or unreadable (a truncated or corrupt cache is
    deleted, reported and rebuilt by the caller, never used)."""
    if not path.exists():
        return None
    try:
        with np.load(path) as cached:
            arrays = CifarArrays(cached["train_x"], cached["train_y"], cached["test_x"], cached["test_y"], source,
                                 tuple(cached["mean"].tolist()), tuple(cached["std"].tolist()))
        _check_counts(arrays)
        return arrays
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as err:
        log.warning("decoded CIFAR-10 cache %s is unreadable (%s); rebuilding it.", path, err)
        path.unlink(missing_ok=True)
        return None


def _save_cache(path: Path, arrays: CifarArrays) -> None:
    """Write the cache under a unique temporary name and rename it into place, so two processes decoding
    at once never write into one file; a full or read-only cache folder only costs the next decode."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.{os.getpid()}.", suffix=".npz", dir=path.parent)
    except OSError as err:
        log.warning("cannot cache the decoded CIFAR-10 in %s (%s); it will be decoded again next time.",
                    path.parent, err.strerror or err)
        return
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, train_x=arrays.train_x, train_y=arrays.train_y, test_x=arrays.test_x,
                     test_y=arrays.test_y, mean=np.array(arrays.mean), std=np.array(arrays.std))
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as err:
        log.warning("cannot cache the decoded CIFAR-10 in %s (%s); it will be decoded again next time.",
                    path.parent, err.strerror or err)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _archive() -> Path:
    archive = jpeg_archive_path()
    if archive.is_dir():
        raise EffconvError(f"the CIFAR-10 archive path {archive} is a folder; point EFFCONV_DATA to the file "
                           "cifar10-jpeg.tar.gz itself.")
    if not archive.is_file():
        raise _missing_data_error()
    return archive


def _load_jpeg() -> CifarArrays:
    archive = _archive()
    cache = cache_dir() / f"cifar10-jpeg-{_file_digest(archive)}.npz"
    cached = _load_cached(cache, "jpeg")
    if cached is not None:
        return cached
    from PIL import Image

    splits: dict[str, list[tuple[int, str, np.ndarray]]] = {"train": [], "test": []}
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                parts = member.name.split("/")
                if not member.isfile() or len(parts) < 4 or parts[-3] not in splits or not parts[-1].endswith(".jpg"):
                    continue
                label = CLASSES.index(parts[-2])
                data = tar.extractfile(member).read()
                image = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.uint8)
                splits[parts[-3]].append((label, parts[-1], image))
    except (tarfile.TarError, OSError, ValueError, EOFError, zlib.error) as err:
        # EOFError: a copy cut short; zlib.error / TarError: damaged bytes
        raise EffconvError(f"cannot read the CIFAR-10 archive {archive} ({type(err).__name__}: {err}); it is "
                           "truncated or corrupt: re-copy it (or point EFFCONV_DATA to a good copy).") from err

    def stack(items):
        items.sort(key=lambda item: (item[0], item[1]))  # deterministic order: class, file name
        return np.stack([i[2] for i in items]), np.array([i[0] for i in items], dtype=np.int64)

    train_x, train_y = stack(splits["train"])
    test_x, test_y = stack(splits["test"])
    mean, std = _channel_stats(train_x)
    arrays = CifarArrays(train_x, train_y, test_x, test_y, "jpeg", mean, std)
    _check_counts(arrays)
    _save_cache(cache, arrays)
    return arrays


def jpeg_scale(quality: int) -> float:
    """The IJG (libjpeg, Pillow) quantisation-table scale, in percent of the standard tables, at ``quality``."""
    return 5000 / quality if quality < 50 else 200 - 2 * quality


def reencode(images: np.ndarray, quality: int) -> np.ndarray:
    """Each uint8 RGB image encoded as JPEG at ``quality`` (Pillow's defaults: 4:2:0 chroma) and decoded."""
    from PIL import Image

    out = np.empty_like(images)
    for index, image in enumerate(images):
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="JPEG", quality=quality)
        out[index] = np.asarray(Image.open(buffer).convert("RGB"))
    return out


def _load_reencoded(quality: int) -> CifarArrays:
    source = f"jpeg-q{quality}"
    archive = _archive()
    cache = cache_dir() / f"cifar10-jpeg-{_file_digest(archive)}-q{quality}.npz"
    cached = _load_cached(cache, source)
    if cached is not None:
        return cached
    base = _load_jpeg()
    train_x, test_x = reencode(base.train_x, quality), reencode(base.test_x, quality)
    mean, std = _channel_stats(train_x)
    arrays = CifarArrays(train_x, base.train_y, test_x, base.test_y, source, mean, std)
    _save_cache(cache, arrays)
    return arrays


def _load_raw(download: bool) -> CifarArrays:
    from torchvision.datasets import CIFAR10

    root = raw_root()
    try:
        train = CIFAR10(str(root), train=True, download=download)
        test = CIFAR10(str(root), train=False, download=download)
    except RuntimeError as err:  # torchvision: "Dataset not found or corrupted"
        raise _missing_data_error() from err
    except OSError as err:  # download attempted without network
        raise EffconvError(f"downloading CIFAR-10 failed ({err}); this machine may have no internet. "
                           "Use the offline JPEG archive instead (EFFCONV_DATA).") from err
    train_x, test_x = np.asarray(train.data, dtype=np.uint8), np.asarray(test.data, dtype=np.uint8)
    mean, std = _channel_stats(train_x)
    return CifarArrays(train_x, np.asarray(train.targets, dtype=np.int64), test_x,
                       np.asarray(test.targets, dtype=np.int64), "raw", mean, std)
