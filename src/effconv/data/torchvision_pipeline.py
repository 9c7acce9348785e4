"""The plain pipeline, kept for comparison: a torchvision Dataset with PIL transforms and a DataLoader."""

from __future__ import annotations

import os

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms


class ArrayDataset(Dataset):
    """uint8 NHWC arrays served as PIL images through a torchvision transform."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, transform):
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int):
        return self.transform(Image.fromarray(self.images[index])), int(self.labels[index])


def torchvision_loader(images: np.ndarray, labels: np.ndarray, *, batch_size: int, train: bool, mean, std,
                       workers: int | None = None, seed: int = 0, pin_memory: bool = False) -> DataLoader:
    """The standard CIFAR recipe: pad-4 random crop and flip (train), ToTensor, Normalize."""
    steps = [transforms.RandomCrop(32, padding=4), transforms.RandomHorizontalFlip()] if train else []
    transform = transforms.Compose([*steps, transforms.ToTensor(), transforms.Normalize(mean, std)])
    workers = min(4, os.cpu_count() or 1) if workers is None else workers
    return DataLoader(
        ArrayDataset(images, labels, transform), batch_size=batch_size, shuffle=train, drop_last=train,
        num_workers=workers, pin_memory=pin_memory, persistent_workers=workers > 0,
        generator=torch.Generator().manual_seed(seed),
    )
