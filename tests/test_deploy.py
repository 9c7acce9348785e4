"""ONNX export, onnxruntime agreement and timing helpers (effconv.deploy) on small models."""

from __future__ import annotations

import pytest
import torch

from effconv.errors import EffconvError
from effconv.models import create_model
from effconv.ops import reparameterize_model

pytest.importorskip("onnxruntime")  # pinned in requirements.txt (the deploy extra)

from effconv.deploy import (compare_outputs, export_onnx, onnx_accuracy, quantize_int8,  # noqa: E402
                            time_eager_and_onnx)


def test_fused_acnet_exports_as_plain_convs_and_agrees():
    model = reparameterize_model(create_model("cifar_quick", conv="acb").eval())
    exported = export_onnx(model, (2, 3, 32, 32))
    assert exported.op_types["Conv"] == 3 and "BatchNormalization" not in exported.op_types
    errors = compare_outputs(model, exported)
    assert errors["max_rel"] < 1e-5 and errors["max_output"] > 0


def test_shufflenet_shuffle_becomes_reshape_transpose():
    model = create_model("shufflenet_v1_cifar", groups=3, width=0.25)
    exported = export_onnx(model, (1, 3, 32, 32))
    assert exported.op_types["Transpose"] == 16  # one channel shuffle per unit
    assert compare_outputs(model, exported)["max_rel"] < 1e-5


def test_a_wrong_graph_is_caught():
    model = create_model("cifar_quick").eval()
    exported = export_onnx(model, (1, 3, 32, 32))
    with torch.no_grad():
        model.classifier[-1].bias.add_(1.0)  # the graph keeps the weights it was exported with
    assert compare_outputs(model, exported)["max_abs"] > 1e-3


def test_int8_graph_is_quantised_close_and_scored_like_the_float_one():
    torch.manual_seed(0)
    model = create_model("cifar_quick").eval()
    exported = export_onnx(model, (8, 3, 32, 32))
    calibration = [torch.randn(8, 3, 32, 32, generator=torch.Generator().manual_seed(i)) for i in range(3)]
    for per_channel in (True, False):
        int8 = quantize_int8(exported, calibration, per_channel=per_channel)
        assert int8.op_types["QuantizeLinear"] > 0 and int8.op_types["DequantizeLinear"] > 0
        errors = compare_outputs(model, int8)
        # int8 rounding moves the logits, but not by more than a small part of their range
        assert 0 < errors["max_rel"] < 0.3
    # labels chosen as the float graph's own predictions: it scores 1.0, the INT8 graph agrees on most
    with torch.no_grad():
        labels = [model(batch).argmax(1) for batch in calibration]
    batches = list(zip(calibration, labels))
    assert onnx_accuracy(exported, batches) == 1.0
    assert onnx_accuracy(int8, batches) >= 0.5
    with pytest.raises(EffconvError, match="export at the batch size"):
        quantize_int8(exported, [torch.randn(4, 3, 32, 32)])
    with pytest.raises(EffconvError, match="at least one calibration batch"):
        quantize_int8(exported, [])
    with pytest.raises(EffconvError, match="batch size that divides"):
        onnx_accuracy(exported, [(torch.randn(4, 3, 32, 32), torch.zeros(4, dtype=torch.long))])


def test_timing_table_has_both_runtimes():
    model = create_model("cifar_quick").eval()
    exported = export_onnx(model, (1, 3, 32, 32))
    table = time_eager_and_onnx(model, exported, rounds=2, repeats=2, warmup=1)
    assert list(table["runtime"]) == ["PyTorch eager", "onnxruntime"]
    assert (table["median_ms"] > 0).all() and table["speedup"].iloc[0] == 1.0
    assert (table["min_ms"] <= table["median_ms"]).all() and (table["median_ms"] <= table["max_ms"]).all()


@pytest.mark.parametrize("call, message", [
    (lambda: export_onnx("resnet20"), "export_onnx needs a torch.nn.Module"),
    (lambda: export_onnx(torch.nn.Conv2d(3, 3, 1), (3, 32, 32)), "input_shape must be (N, C, H, W)"),
    (lambda: time_eager_and_onnx(torch.nn.Conv2d(3, 3, 1), None, rounds=0), "rounds must be an integer >= 1"),
])
def test_bad_input(call, message):
    with pytest.raises(EffconvError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call()
