"""The LightningModule every chapter trains with: image classification with the papers' recipe options.

Blocks can take part in training through three small hooks, found by walking the model once:

- ``auxiliary_loss() -> Tensor``: added to the task loss (versatile filters' orthogonal mask loss);
- ``post_step()``: called after every optimizer step (clipping a mask proxy back into [0, 1]);
- a parameter with the attribute ``_no_weight_decay = True`` is never decayed (mask proxies);
- a parameter with the attribute ``_lr_scale = s`` trains at ``s`` times the learning rate (its own group).
"""

from __future__ import annotations

import math

import pytorch_lightning as pl
import torch
from torch import nn

from effconv.train.recipes import Recipe


class Classifier(pl.LightningModule):
    def __init__(self, model: nn.Module, recipe: Recipe):
        super().__init__()
        self.model = model
        self.recipe = recipe
        self.criterion = nn.CrossEntropyLoss(label_smoothing=recipe.label_smoothing)
        self._aux = [m for m in model.modules() if callable(getattr(m, "auxiliary_loss", None))]
        self._post_step = [m for m in model.modules() if callable(getattr(m, "post_step", None))]
        # the compiled forward is kept out of the module tree, so checkpoints hold one copy of the weights
        self.__dict__["_forward"] = torch.compile(model) if recipe.compile else model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.__dict__["_forward"](x)

    def training_step(self, batch, batch_idx):
        images, labels = batch
        logits = self(images)
        loss = self.criterion(logits, labels)
        if self._aux:
            aux = torch.stack([m.auxiliary_loss() for m in self._aux]).sum()
            self.log("aux_loss", aux, on_step=False, on_epoch=True, sync_dist=True)
            loss = loss + aux
        accuracy = (logits.argmax(1) == labels).float().mean()
        self.log("train_loss", loss, on_step=False, on_epoch=True, sync_dist=True)
        self.log("train_acc", accuracy, on_step=False, on_epoch=True, sync_dist=True)
        return loss

    def on_train_batch_end(self, outputs, batch, batch_idx) -> None:
        for module in self._post_step:
            module.post_step()

    def validation_step(self, batch, batch_idx):
        images, labels = batch
        logits = self(images)
        self.log("test_loss", nn.functional.cross_entropy(logits, labels), on_epoch=True, sync_dist=True,
                 batch_size=len(labels))
        self.log("test_acc", (logits.argmax(1) == labels).float().mean(), on_epoch=True, sync_dist=True,
                 batch_size=len(labels))

    def configure_optimizers(self):
        recipe = self.recipe
        groups: dict[tuple[bool, float], list] = {}
        for param in self.model.parameters():
            if not param.requires_grad:
                continue
            exempt = getattr(param, "_no_weight_decay", False) or (param.ndim <= 1 and not recipe.decay_norm_and_bias)
            groups.setdefault((not exempt, float(getattr(param, "_lr_scale", 1.0))), []).append(param)
        # always the decayed and the exempt group first (tests and checkpoints rely on that order)
        order = sorted(groups, key=lambda key: (key[1] != 1.0, not key[0], key[1]))
        optimizer = torch.optim.SGD(
            [{"params": groups[key], "weight_decay": recipe.weight_decay if key[0] else 0.0, "lr": recipe.lr * key[1]}
             for key in order],
            lr=recipe.lr, momentum=recipe.momentum, nesterov=recipe.nesterov and recipe.momentum > 0,
        )
        total = max(1, int(self.trainer.estimated_stepping_batches))
        warmup = min(total - 1, int(recipe.warmup_epochs * total / recipe.epochs))
        schedule = lr_lambda(recipe.schedule, total, warmup)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}


def lr_lambda(schedule: str, total: int, warmup: int):
    """Multiplier of the base lr at each step: linear warmup, then cosine to 0, one-cycle or constant.

    The one-cycle form here is the linear variant (warmup to the peak, then a straight line to 0),
    which short schedules favour; ``cosine`` is the ACNet repository's per-iteration cosine.
    """

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        if schedule == "cosine":
            return 0.5 * (1.0 + math.cos(math.pi * progress))
        if schedule == "onecycle":
            return 1.0 - progress
        return 1.0

    return factor
