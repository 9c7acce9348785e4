"""The device-resident loader: exact augmentation, seeded order, eval order, sharding, and the plain pipeline."""

import numpy as np
import torch
import torch.nn.functional as F

from effconv.data.loader import DeviceLoader
from effconv.data.torchvision_pipeline import torchvision_loader


def _reference(images, index, offset, flip, mean, std):
    image = torch.from_numpy(images[index]).permute(2, 0, 1).float()
    crop = F.pad(image, (4, 4, 4, 4))[:, offset[0]:offset[0] + 32, offset[1]:offset[1] + 32]
    if flip:
        crop = crop.flip(-1)
    return (crop / 255 - torch.tensor(mean).view(3, 1, 1)) / torch.tensor(std).view(3, 1, 1)


def test_augmentation_is_a_padded_crop_and_flip(tiny):
    loader = DeviceLoader(tiny.train_x, tiny.train_y, batch_size=64, train=True, mean=tiny.mean, std=tiny.std, seed=5)
    images, labels = next(iter(loader))
    assert images.shape == (64, 3, 32, 32) and images.dtype == torch.float32
    assert images.is_contiguous(memory_format=torch.channels_last)
    # rebuild the first batch by hand from the same seeded draws
    count = len(tiny.train_y)
    order = torch.randperm(count, generator=torch.Generator().manual_seed(5 * 100_003))
    draws = torch.Generator().manual_seed(5 * 100_003 + 7_919)
    offsets = torch.randint(0, 9, (count, 2), generator=draws)
    flips = torch.randint(0, 2, (count,), generator=draws).bool()
    for i in range(64):
        index = int(order[i])
        expected = _reference(tiny.train_x, index, offsets[i].tolist(), bool(flips[i]), tiny.mean, tiny.std)
        assert torch.allclose(images[i], expected, atol=1e-5)
        assert int(labels[i]) == tiny.train_y[index]
    assert flips[:64].any() and (~flips[:64]).any()


def test_epochs_are_seeded_and_differ(tiny):
    def first_labels(seed, epoch):
        loader = DeviceLoader(tiny.train_x, tiny.train_y, batch_size=32, train=True, mean=tiny.mean, std=tiny.std, seed=seed)
        loader.set_epoch(epoch)
        return next(iter(loader))[1]

    assert torch.equal(first_labels(1, 0), first_labels(1, 0))
    assert not torch.equal(first_labels(1, 0), first_labels(1, 1))
    assert not torch.equal(first_labels(1, 0), first_labels(2, 0))


def test_eval_order_length_and_drop_last(tiny):
    test = DeviceLoader(tiny.test_x, tiny.test_y, batch_size=50, train=False, mean=tiny.mean, std=tiny.std)
    labels = torch.cat([y for _, y in test])
    assert len(test) == 3 and labels.tolist() == tiny.test_y.tolist()  # 128 = 50 + 50 + 28, in order
    train = DeviceLoader(tiny.train_x, tiny.train_y, batch_size=100, train=True, mean=tiny.mean, std=tiny.std)
    assert len(train) == 2 and sum(1 for _ in train) == 2  # the ragged last batch is dropped in training


def test_ranks_take_disjoint_shards(tiny, monkeypatch):
    seen = []
    for rank in range(2):
        loader = DeviceLoader(tiny.train_x, tiny.train_y, batch_size=16, train=True, mean=tiny.mean, std=tiny.std, seed=0)
        monkeypatch.setattr(loader, "_shard", lambda rank=rank: (rank, 2))
        order = loader._order()
        assert len(order) == len(tiny.train_y) // 2 and len(loader) == len(order) // 16
        seen.append(set(order.tolist()))
    assert not seen[0] & seen[1]


def test_plain_pipeline_matches_in_distribution(tiny):
    plain = torchvision_loader(tiny.train_x, tiny.train_y, batch_size=64, train=True, mean=tiny.mean, std=tiny.std,
                               workers=0)
    device = DeviceLoader(tiny.train_x, tiny.train_y, batch_size=64, train=True, mean=tiny.mean, std=tiny.std)
    a, _ = next(iter(plain))
    b, _ = next(iter(device))
    assert a.shape == b.shape
    # both normalise the same way: per-channel statistics of a batch agree roughly
    assert np.allclose(a.mean((0, 2, 3)), b.mean((0, 2, 3)), atol=0.25)
    assert np.allclose(a.std((0, 2, 3)), b.std((0, 2, 3)), atol=0.25)
