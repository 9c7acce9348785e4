"""A loader that keeps the uint8 dataset on the training device and augments it there.

The whole split is copied to the device once (CIFAR-10 train is 150 MB as uint8, padded 240 MB). Each
batch is one gather: random crop with 4-pixel zero padding and horizontal flip are folded into the
row/column indices, then the uint8 pixels become normalised floats in channels_last layout. Shuffling
and augmentation draws come from a CPU generator seeded with (seed, epoch), so the sequence of
batches is the same on CPU and GPU and after a resume. Under DDP each rank takes its own slice of the
permutation.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F

PAD = 4


class DeviceLoader:
    """Iterate ``(images, labels)`` batches from uint8 NHWC images stored on ``device``."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, *, batch_size: int, train: bool,
                 mean, std, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32,
                 seed: int = 0, drop_last: bool | None = None):
        self.device = torch.device(device)
        self.batch_size = batch_size
        self.train = train
        self.dtype = dtype
        self.seed = seed
        self.epoch = 0
        self.drop_last = train if drop_last is None else drop_last
        pixels = torch.from_numpy(np.ascontiguousarray(images)).to(self.device)
        # pad once (NHWC: pad W and H), so a crop is just an offset into the padded image
        self.images = F.pad(pixels, (0, 0, PAD, PAD, PAD, PAD)) if train else pixels
        self.labels = torch.from_numpy(np.asarray(labels, dtype=np.int64)).to(self.device)
        # normalisation as one multiply-add on raw 0..255 values: (x/255 - mean)/std
        std_t = torch.tensor(std, device=self.device, dtype=dtype).view(1, 3, 1, 1)
        self.scale = 1.0 / (255.0 * std_t)
        self.shift = -torch.tensor(mean, device=self.device, dtype=dtype).view(1, 3, 1, 1) / std_t
        self._grid = torch.arange(32, device=self.device)

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose shuffle/augmentation draws the next iteration uses."""
        self.epoch = epoch

    def _shard(self) -> tuple[int, int]:
        if dist.is_available() and dist.is_initialized():
            return dist.get_rank(), dist.get_world_size()
        return 0, 1

    def _order(self) -> torch.Tensor:
        count = len(self.labels)
        if not self.train:
            order = torch.arange(count)
        else:
            generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
            order = torch.randperm(count, generator=generator)
        rank, world = self._shard()
        if world > 1:
            per_rank = count // world
            order = order[rank::world][:per_rank]
        return order

    def __len__(self) -> int:
        count = len(self._order()) if self._shard()[1] > 1 else len(self.labels)
        return count // self.batch_size if self.drop_last else -(-count // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = self._order()
        count = len(order)
        if self.train:
            generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch + 7_919)
            offsets = torch.randint(0, 2 * PAD + 1, (count, 2), generator=generator).to(self.device)
            flips = torch.randint(0, 2, (count,), generator=generator).bool().to(self.device)
        order = order.to(self.device)
        stop = count - count % self.batch_size if self.drop_last else count
        for start in range(0, stop, self.batch_size):
            index = order[start:start + self.batch_size]
            if self.train:
                part = slice(start, start + len(index))
                rows = offsets[part, :1] + self._grid                      # (B, 32)
                cols = torch.where(flips[part, None], 31 - self._grid, self._grid) + offsets[part, 1:]
                # one flat gather over (image, row, col) is ~2x faster than 3-tensor advanced indexing
                side = 32 + 2 * PAD
                flat = (index[:, None, None] * side + rows[:, :, None]) * side + cols[:, None, :]
                batch = self.images.view(-1, 3).index_select(0, flat.view(-1)).view(len(index), 32, 32, 3)
            else:
                batch = self.images.index_select(0, index)
            # NHWC -> NCHW view: the memory stays channels_last, which is what the convs prefer
            batch = batch.permute(0, 3, 1, 2).to(self.dtype).mul_(self.scale).add_(self.shift)
            yield batch, self.labels[index]
