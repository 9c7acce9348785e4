"""Backend settings: exact fp32 evaluation (TF32 off, no autocast), an fp32 Gram matrix under autocast,
jobs without per-epoch checkpoints, and the commit read from the environment where .git is absent."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from effconv.errors import EffconvError
from effconv.train.backends import exact_fp32
from effconv.train.recipes import Recipe
from effconv.train.trainer import evaluate, fit


def test_exact_fp32_turns_tf32_off_and_restores_it_even_after_an_error():
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = True, True
    torch.set_float32_matmul_precision("high")
    with pytest.raises(RuntimeError):
        with exact_fp32():
            assert not torch.backends.cudnn.allow_tf32 and not torch.backends.cuda.matmul.allow_tf32
            assert torch.get_float32_matmul_precision() == "highest"
            raise RuntimeError("inside")
    assert torch.backends.cudnn.allow_tf32 and torch.get_float32_matmul_precision() == "high"
    torch.set_float32_matmul_precision("highest")  # this process's default again


class _Recorder(nn.Module):
    """A linear classifier that records the dtype its logits were computed in."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(3 * 32 * 32, 10)
        self.dtypes: list[torch.dtype] = []

    def forward(self, x):
        out = self.linear(x.flatten(1))
        self.dtypes.append(out.dtype)
        return out


def test_exact_evaluation_runs_in_fp32_inside_a_bf16_autocast(tiny):
    model = _Recorder()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        # what a Lightning bf16 hook or a caller's autocast would leave on: exact=True switches it off
        exact = evaluate(model, tiny.test_x, tiny.test_y, mean=tiny.mean, std=tiny.std, exact=True)
        assert set(model.dtypes) == {torch.float32}
        model.dtypes.clear()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            logits = model(torch.zeros(2, 3, 32, 32))
        assert logits.dtype == torch.bfloat16  # the recorder does see autocast when it is on
    plain = evaluate(model, tiny.test_x, tiny.test_y, mean=tiny.mean, std=tiny.std)
    assert exact == plain  # on a CPU the default is fp32 already: both paths agree


def test_analysis_context_passes_exact_through(tiny):
    from effconv.experiments.analyses import AnalysisContext

    ctx = AnalysisContext(data=tiny, device=torch.device("cpu"), spec=None)
    model = _Recorder()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        ctx.evaluate(model, exact=True)
        with ctx.exact():
            model(torch.zeros(2, 3, 32, 32))
    assert set(model.dtypes) == {torch.float32}


def test_orthogonal_loss_is_fp32_under_autocast():
    from effconv.ops.versatile_masks import orthogonal_loss

    torch.manual_seed(0)
    masks = torch.rand(4, 3, 9)
    reference = orthogonal_loss(masks)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        under = orthogonal_loss(masks)
    assert under.dtype == torch.float32 and torch.equal(under, reference)


def test_fit_without_checkpoints_writes_none(tiny, tmp_path, single_thread):
    from effconv.models import create_model

    torch.manual_seed(0)
    outcome = fit(create_model("cifar_quick", width=0.25), Recipe(epochs=1, batch_size=64, eval_batch_size=128,
                                                                   warmup_epochs=0.0), tiny, seed=0,
                  workdir=tmp_path, checkpoints=False)
    assert len(outcome.history) == 1
    assert not list(tmp_path.rglob("*.ckpt"))


def test_commit_comes_from_the_environment_where_git_is_absent(tmp_path, monkeypatch):
    from effconv import provenance

    monkeypatch.setenv("EFFCONV_ROOT", str(tmp_path))  # a copied tree: no .git anywhere above
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    monkeypatch.delenv("EFFCONV_COMMIT", raising=False)
    assert provenance.git_state() == {"commit": None, "dirty_src": None}
    monkeypatch.setenv("EFFCONV_COMMIT", "143842cABCDEF")
    assert provenance.git_state() == {"commit": "143842cabcdef", "dirty_src": None, "source": "EFFCONV_COMMIT"}
    monkeypatch.setenv("EFFCONV_COMMIT_CLEAN", "1")
    assert provenance.git_state()["dirty_src"] is False
    monkeypatch.setenv("EFFCONV_COMMIT", "not-a-hash")
    with pytest.raises(EffconvError, match="EFFCONV_COMMIT='not-a-hash' is not a commit hash"):
        provenance.git_state()
