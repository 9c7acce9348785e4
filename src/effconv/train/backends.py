"""Backend settings: fast ones for training and its benchmarks, exact ones for equivalence checks.

Training on a GPU lets cuDNN pick kernels by timing them and lets matmuls and convs use TF32; both
change results in the third or fourth digit. A benchmark that skips them times a different program
than the training it predicts, and an exactness check (a fused model against its unfused twin, which
must agree to float rounding) that keeps them, or bf16 autocast, measures the backend, not the fusion.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch


def use_fast_backends(accelerator: str) -> None:
    """The settings every training run (and every benchmark of one) uses on ``accelerator``."""
    if accelerator == "gpu":
        torch.backends.cudnn.benchmark = True
        torch.set_float32_matmul_precision("high")  # TF32 matmuls


@contextmanager
def exact_fp32() -> Iterator[None]:
    """Inside: no autocast on any device, TF32 off for cuDNN convs and for matmuls, so a model runs in
    true fp32 (about 1e-7 relative error); the previous settings come back on exit, whatever happens."""
    saved = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32,
             torch.get_float32_matmul_precision())
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
    try:
        # autocast regions opened by a caller (Lightning's bf16 precision plugin) are switched off too
        with torch.autocast("cuda", enabled=False), torch.autocast("cpu", enabled=False):
            yield
    finally:
        torch.set_float32_matmul_precision(saved[2])  # first: it sets the matmul TF32 flag as well
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved[:2]
