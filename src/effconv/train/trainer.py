"""Train a model on CIFAR-10 with Lightning: the one place where a Trainer is configured.

Lightning does the heavy lifting (seeding, per-epoch checkpoints and resume, CSV logging, bf16
autocast, DDP); this module only chooses its settings for our recipes and collects the per-epoch
curve that goes into a result file.
"""

from __future__ import annotations

import logging
from contextlib import nullcontext
import os
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback, ModelCheckpoint
from pytorch_lightning.loggers import CSVLogger

from effconv.checks import check_accelerator
from effconv.data.cifar import CifarArrays
from effconv.data.loader import DeviceLoader
from effconv.data.torchvision_pipeline import torchvision_loader
from effconv.errors import EffconvError
from effconv.train.backends import exact_fp32, use_fast_backends
from effconv.train.module import Classifier
from effconv.train.recipes import Recipe

EpochHook = Callable[[torch.nn.Module], Any]
log = logging.getLogger("effconv")


def resolve_accelerator(accelerator: str = "auto") -> str:
    check_accelerator(accelerator)
    if accelerator == "auto":
        return "gpu" if torch.cuda.is_available() else "cpu"
    if accelerator in ("gpu", "cuda") and not torch.cuda.is_available():
        raise EffconvError("accelerator 'gpu' was asked for but no CUDA device is visible; use --accelerator cpu.")
    return "gpu" if accelerator == "cuda" else accelerator


def precision_for(accelerator: str, requested: str = "auto") -> str:
    """The Lightning precision a run uses: the recipe's, or for "auto" bf16 autocast on GPUs that
    support it and fp32 on CPU (the cpu profile may ask for "bf16-mixed" explicitly)."""
    if requested != "auto":
        if requested == "bf16-mixed" and accelerator == "gpu" and not torch.cuda.is_bf16_supported():
            raise EffconvError("precision bf16-mixed was asked for but this GPU has no bf16; use precision=32-true.")
        return requested
    if accelerator == "gpu" and torch.cuda.is_bf16_supported():
        return "bf16-mixed"
    return "32-true"


def show_progress() -> bool:
    """Progress bars in an interactive terminal only: off under papermill, CI and pipes.

    ``EFFCONV_PROGRESS=0/1`` overrides.
    """
    env = os.environ.get("EFFCONV_PROGRESS")
    if env is not None:
        return env not in ("0", "false", "no", "")
    return sys.stderr.isatty()


def quiet_lightning() -> None:
    """Lightning's info banners go to stderr, which the book treats as error output."""
    for name in ("pytorch_lightning", "lightning.pytorch", "lightning.fabric", "lightning_fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    for pattern in (".*does not have many workers.*", ".*LeafSpec.*", ".*smaller than the logging interval.*",
                    ".*Checkpoint directory.*exists and is not empty.*", ".*Experiment logs directory.*exists and is not empty.*", ".*`isinstance\\(treespec, LeafSpec\\)`.*",
                    ".*You are using a CUDA device.*Tensor Cores.*", ".*could not determine the length.*"):
        warnings.filterwarnings("ignore", message=pattern)


def to_channels_last(model: torch.nn.Module) -> torch.nn.Module:
    """Store every 4-D parameter and buffer channels_last, in place.

    ``model.to(memory_format=...)`` refuses models holding tensors of another rank (a learnable-mask
    layer keeps 5-D mask proxies), so the conversion is done tensor by tensor.
    """
    for tensor in [*model.parameters(), *model.buffers()]:
        if tensor.dim() == 4:
            tensor.data = tensor.data.contiguous(memory_format=torch.channels_last)
    return model


def onednn_is_safe(model: torch.nn.Module, device: torch.device) -> bool:
    """False where oneDNN is known to crash on this model: its AVX2 kernels (CPUs without AVX-512) segfault
    in the weight gradient of a strided 1x1 conv with fewer than 8 input channels whenever a tensor is
    channels_last (measured with torch 2.14.1: ``Conv2d(4, 8, 1, stride=2)``). Only the tiny smoke-test
    models have such convs; they train with PyTorch's native kernels instead."""
    if device.type != "cpu" or torch.backends.cpu.get_cpu_capability().startswith("AVX512"):
        return True
    return not any(isinstance(m, torch.nn.Conv2d) and m.kernel_size == (1, 1) and max(m.stride) > 1
                   and m.in_channels < 8 for m in model.modules())


class NonFiniteLoss(EffconvError):
    """Training diverged: the loss became NaN or infinite."""


class EpochHistory(Callback):
    """Records one row per epoch (losses, accuracies, lr, seconds, optional analyses); resumable.

    It also keeps the training time of earlier sessions in the checkpoint, so a run that was interrupted
    and resumed reports its cumulative training time, not only the resumed part's.
    """

    def __init__(self, hooks: dict[str, EpochHook] | None = None):
        self.rows: list[dict[str, Any]] = []
        self.hooks = hooks or {}
        self._started = 0.0
        self.prior_seconds = 0.0      # training time of earlier sessions (from the checkpoint)
        self._session_started: float | None = None

    def on_train_start(self, trainer, pl_module) -> None:
        self._session_started = time.perf_counter()

    def session_seconds(self) -> float:
        return 0.0 if self._session_started is None else time.perf_counter() - self._session_started

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._started = time.perf_counter()
        for loader in (trainer.train_dataloader, trainer.val_dataloaders):
            if hasattr(loader, "set_epoch"):
                loader.set_epoch(trainer.current_epoch)

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if torch.is_tensor(v) and v.numel() == 1}
        loss = metrics.get("train_loss")
        if loss is not None and not np.isfinite(loss):
            raise NonFiniteLoss(f"training diverged: the train loss of epoch {trainer.current_epoch + 1} is {loss}; "
                                "lower lr or lengthen the warm-up (--set lr=... warmup_epochs=...), then rerun.")
        row: dict[str, Any] = {"epoch": trainer.current_epoch + 1, **metrics,
                               "lr": trainer.optimizers[0].param_groups[0]["lr"],
                               "seconds": round(time.perf_counter() - self._started, 3)}
        for name, hook in self.hooks.items():
            row[name] = hook(pl_module.model)
        self.rows.append(row)

    def state_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "train_seconds": self.prior_seconds + self.session_seconds()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.rows = list(state_dict.get("rows", []))
        # checkpoints written before this field existed: the epochs' own times are the best estimate
        self.prior_seconds = float(state_dict.get("train_seconds",
                                                  sum(row.get("seconds", 0.0) for row in self.rows)))


@dataclass
class FitOutcome:
    model: torch.nn.Module
    history: list[dict[str, Any]]
    final: dict[str, float]
    best: dict[str, float]
    wall_seconds: float  # cumulative training time over every session of this run (resumes included)
    accelerator: str
    precision: str
    devices: int
    resumed_from_epoch: int = 0
    session_seconds: float = 0.0  # the part of wall_seconds spent in this process
    is_global_zero: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


def make_loaders(data: CifarArrays, recipe: Recipe, *, device: torch.device, seed: int):
    if recipe.loader == "device":
        train = DeviceLoader(data.train_x, data.train_y, batch_size=recipe.batch_size, train=True, mean=data.mean,
                             std=data.std, device=device, seed=seed)
        test = DeviceLoader(data.test_x, data.test_y, batch_size=recipe.eval_batch_size, train=False,
                            mean=data.mean, std=data.std, device=device)
        return train, test
    pin = device.type == "cuda"
    train = torchvision_loader(data.train_x, data.train_y, batch_size=recipe.batch_size, train=True,
                               mean=data.mean, std=data.std, seed=seed, pin_memory=pin)
    test = torchvision_loader(data.test_x, data.test_y, batch_size=recipe.eval_batch_size, train=False,
                              mean=data.mean, std=data.std, seed=seed, pin_memory=pin)
    return train, test


def fit(model: torch.nn.Module, recipe: Recipe, data: CifarArrays, *, seed: int, workdir: Path,
        accelerator: str = "auto", devices: int = 1, progress: bool | None = None,
        epoch_hooks: dict[str, EpochHook] | None = None, deterministic: bool = False,
        checkpoints: bool = True, num_nodes: int = 1) -> FitOutcome:
    """Train ``model`` with ``recipe``; checkpoints go to ``workdir`` and an interrupted run resumes there.

    ``checkpoints=False`` writes no per-epoch checkpoint: for jobs whose cache does not outlive them (a
    time-limited job on a machine that is wiped afterwards), where a checkpoint could never be resumed
    and only costs disk writes (about 120 MB an epoch for VGG-16). ``num_nodes`` > 1 trains one run with
    DDP across nodes; Lightning reads the ranks from the cluster (Slurm's ``srun`` environment).

    Runs are seeded (``seed_everything``); on CPU a seed reproduces a run exactly at a fixed thread count
    (tested) without ``deterministic``, which forces ``torch.use_deterministic_algorithms`` and makes CPU
    training about 4.7x slower here, so it is opt-in.
    """
    quiet_lightning()
    accelerator = resolve_accelerator(accelerator)
    precision = precision_for(accelerator, recipe.precision)
    pl.seed_everything(seed, workers=True, verbose=False)
    use_fast_backends(accelerator)
    if recipe.channels_last:
        to_channels_last(model)
    device = torch.device("cuda" if accelerator == "gpu" else "cpu")
    if devices > 1 and accelerator == "gpu":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    train_loader, test_loader = make_loaders(data, recipe, device=device, seed=seed)

    workdir.mkdir(parents=True, exist_ok=True)
    history = EpochHistory(epoch_hooks)
    callbacks: list[Callback] = [history]
    if checkpoints:
        callbacks.append(ModelCheckpoint(dirpath=workdir, filename="last", save_top_k=1, every_n_epochs=1,
                                         enable_version_counter=False))
    trainer = pl.Trainer(
        max_epochs=recipe.epochs, accelerator=accelerator, devices=devices, num_nodes=num_nodes,
        strategy="ddp" if devices * num_nodes > 1 else "auto", precision=precision,
        deterministic=deterministic, logger=CSVLogger(workdir, name="csv", version=0),
        callbacks=callbacks, enable_checkpointing=checkpoints,
        enable_progress_bar=show_progress() if progress is None else progress,
        enable_model_summary=False, num_sanity_val_steps=0, log_every_n_steps=max(1, min(50, len(train_loader))),
        use_distributed_sampler=False,
    )
    last = workdir / "last.ckpt"
    resumed_from = 0
    if last.exists():
        try:
            resumed_from = int(torch.load(last, map_location="cpu", weights_only=False).get("epoch", -1)) + 1
        except Exception as err:  # a checkpoint cut off mid-write is dropped, and training starts over
            log.warning("checkpoint %s is unreadable (%s: %s), probably cut off mid-write; dropped it and "
                        "training from epoch 1.", last, type(err).__name__, err)
            last.unlink()
            resumed_from = 0
    module = Classifier(model, recipe)
    started = time.perf_counter()
    # (entering mkldnn.flags at all warns about TF32 on stderr, so only where oneDNN must be off)
    with nullcontext() if onednn_is_safe(model, device) else torch.backends.mkldnn.flags(enabled=False):
        try:
            trainer.fit(module, train_dataloaders=train_loader, val_dataloaders=test_loader,
                        ckpt_path=str(last) if last.exists() else None)
        except NonFiniteLoss:
            last.unlink(missing_ok=True)  # a diverged model is no point to resume from
            raise
    session = time.perf_counter() - started

    rows = history.rows
    if not rows:
        raise EffconvError(f"training produced no epochs (checkpoint in {workdir} already complete?); "
                           "delete that folder to retrain.")
    final = {k: rows[-1][k] for k in ("test_acc", "test_loss", "train_acc", "train_loss") if k in rows[-1]}
    best_row = max(rows, key=lambda r: r.get("test_acc", float("-inf")))
    best = {"test_acc": best_row.get("test_acc"), "epoch": best_row["epoch"]}
    return FitOutcome(model=module.model, history=rows, final=final, best=best,
                      wall_seconds=history.prior_seconds + session, session_seconds=session, accelerator=accelerator, precision=precision, devices=devices, resumed_from_epoch=resumed_from,
                      is_global_zero=trainer.is_global_zero)


@torch.inference_mode()
def evaluate(model: torch.nn.Module, images: np.ndarray, labels: np.ndarray, *, mean, std,
             device: str | torch.device | None = None, batch_size: int = 1000, exact: bool = False) -> float:
    """Top-1 accuracy of ``model`` on uint8 NHWC ``images`` (no augmentation), in eval mode.

    By default as the run trained: bf16 autocast on a GPU, fp32 on a CPU. ``exact=True`` evaluates in
    fp32 with TF32 off (``exact_fp32``) on any device: for checks whose claim is an equality, such as a
    fused model's accuracy against its unfused twin's (under bf16 about 1% of predictions flip between
    two models that are equal in exact arithmetic).
    """
    device = torch.device(device) if device is not None else next(model.parameters()).device
    loader = DeviceLoader(images, labels, batch_size=batch_size, train=False, mean=mean, std=std, device=device)
    was_training = model.training
    model.eval()
    correct = 0
    if exact:
        autocast = exact_fp32()
    elif device.type == "cuda":
        autocast = torch.autocast("cuda", dtype=torch.bfloat16)
    else:
        autocast = torch.autocast("cpu", enabled=False)
    with autocast:
        for batch, target in loader:
            correct += int((model(batch).argmax(1) == target).sum())
    model.train(was_training)
    return correct / len(labels)
