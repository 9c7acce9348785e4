"""Deployment checked, not assumed: export a model to ONNX, run it in onnxruntime, compare with PyTorch, time both.

Needs the ``deploy`` extra (``pip install "effconv[deploy]"``: onnx, onnxruntime). The export uses PyTorch's
TorchScript-based exporter (``torch.onnx.export(..., dynamo=False)``): the newer torch.export-based one needs
onnxscript, which the pinned environment does not carry. The tracer freezes Python control flow at the
example's shape (our blocks' input checks, a versatile layer's crop arithmetic), so a graph is exported for
one input shape and checked at that shape; what the tracer warned about is kept in ``ExportedModel.notes``.

Errors are reported as max absolute error and relative error (max absolute error over the largest
absolute PyTorch output), since randomly initialised networks put out logits of very different scales.
"""

from __future__ import annotations

import io
import statistics
import tempfile
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import pandas as pd
import torch
from torch import nn

from effconv.analysis.latency import measure_latency
from effconv.errors import EffconvError

__all__ = ["ExportedModel", "compare_outputs", "export_onnx", "onnx_accuracy", "onnx_session", "quantize_int8",
           "time_eager_and_onnx"]

OPSET = 17


def _require(module: str):
    try:
        return __import__(module)
    except ImportError as err:
        raise EffconvError(f"{module} is not installed: pip install 'effconv[deploy]' (onnx, onnxruntime).") from err


@dataclass
class ExportedModel:
    """An ONNX graph exported from a PyTorch model, with the example it was traced at."""

    onnx: bytes
    example: torch.Tensor
    op_types: Counter = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)

    @property
    def size_mb(self) -> float:
        """The serialised graph's size (weights included), in MB."""
        return len(self.onnx) / 1e6


def export_onnx(model: nn.Module, input_shape: Sequence[int] = (1, 3, 224, 224), *, opset: int = OPSET,
                seed: int = 0) -> ExportedModel:
    """Export ``model`` (in eval mode) to ONNX at ``input_shape`` and check the graph with ``onnx.checker``.

    An op the exporter cannot express raises ``EffconvError`` naming it. Tracer warnings (Python values frozen
    into the graph) do not stop the export; their distinct first lines are kept in ``notes``.

    >>> from effconv.models import create_model
    >>> exported = export_onnx(create_model("shufflenet_v1", groups=3, num_classes=1000))
    >>> exported.op_types["Transpose"]                      # one per channel shuffle
    16
    """
    onnx = _require("onnx")
    if not isinstance(model, nn.Module):
        raise EffconvError(f"export_onnx needs a torch.nn.Module, got {type(model).__name__}.")
    shape = tuple(input_shape)
    if len(shape) != 4 or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in shape):
        raise EffconvError(f"input_shape must be (N, C, H, W) with positive integers, e.g. (1, 3, 224, 224); "
                           f"got {input_shape!r}.")
    example = torch.randn(shape, generator=torch.Generator().manual_seed(seed))
    buffer = io.BytesIO()
    model.eval()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            torch.onnx.export(model, (example,), buffer, dynamo=False, opset_version=opset,
                              input_names=["input"], output_names=["output"])
        except Exception as err:  # the exporter raises many kinds; the first line names the op
            first = (str(err).strip().splitlines() or [type(err).__name__])[0]
            raise EffconvError(f"{type(model).__name__} does not export to ONNX opset {opset}: {first}") from err
    graph = onnx.load_from_string(buffer.getvalue())
    onnx.checker.check_model(graph)
    # the tracer's warnings say what it froze into the graph; the exporter's own deprecation notice is not
    # about the model, so it is left out
    notes = list(dict.fromkeys(str(w.message).strip().splitlines()[0][:200] for w in caught
                               if issubclass(w.category, torch.jit.TracerWarning)))
    return ExportedModel(buffer.getvalue(), example, Counter(node.op_type for node in graph.graph.node), notes)


def onnx_session(exported: ExportedModel, *, threads: int = 1):
    """An onnxruntime CPU session for the graph, with ``threads`` intra-op threads (1 by default, like the book's
    timings) and all graph optimisations on."""
    ort = _require("onnxruntime")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only: its optimiser's notes are not ours to show
    return ort.InferenceSession(exported.onnx, options, providers=["CPUExecutionProvider"])


def compare_outputs(model: nn.Module, exported: ExportedModel, session=None) -> dict[str, float]:
    """Run the traced example through PyTorch (eval mode) and onnxruntime: max absolute error, the largest
    absolute PyTorch output, and their ratio (the relative error)."""
    session = session or onnx_session(exported)
    model.eval()
    with torch.no_grad():
        reference = model(exported.example).numpy()
    ours = session.run(None, {"input": exported.example.numpy()})[0]
    if ours.shape != reference.shape:
        raise EffconvError(f"onnxruntime returned shape {ours.shape}, PyTorch {reference.shape}: the graph is wrong.")
    max_abs = float(abs(ours - reference).max())
    scale = float(abs(reference).max())
    return {"max_abs": max_abs, "max_output": scale, "max_rel": max_abs / scale if scale else float("nan")}


def time_eager_and_onnx(model: nn.Module, exported: ExportedModel, *, rounds: int = 3, repeats: int = 10,
                        warmup: int = 3, threads: int = 1) -> pd.DataFrame:
    """Per-image latency of eager PyTorch and onnxruntime on the CPU, interleaved over ``rounds`` rounds.

    Each round times both with ``effconv.analysis.latency.measure_latency`` (``warmup`` + ``repeats`` calls,
    ``threads`` threads each), so a load change on the machine hits both alike. Returns one row per runtime:
    the median over rounds of the round medians, the rounds' min and max, and the speed-up of onnxruntime.
    """
    for name, value in (("rounds", rounds), ("repeats", repeats)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise EffconvError(f"{name} must be an integer >= 1, got {value!r}.")
    session = onnx_session(exported, threads=threads)
    array = exported.example.numpy()

    def run_onnx(_: torch.Tensor):
        return session.run(None, {"input": array})

    medians: dict[str, list[float]] = {"PyTorch eager": [], "onnxruntime": []}
    for _ in range(rounds):
        for runtime, target in (("PyTorch eager", model), ("onnxruntime", run_onnx)):
            result = measure_latency(target, exported.example, warmup=warmup, repeats=repeats, threads=threads)
            medians[runtime].append(result.median_ms)
    rows = [{"runtime": runtime, "median_ms": statistics.median(values), "min_ms": min(values),
             "max_ms": max(values), "rounds": rounds, "repeats": repeats, "threads": threads}
            for runtime, values in medians.items()]
    table = pd.DataFrame(rows)
    table["speedup"] = table["median_ms"].iloc[0] / table["median_ms"]
    return table


def quantize_int8(exported: ExportedModel, calibration: Iterable[torch.Tensor], *, per_channel: bool = True) -> ExportedModel:
    """Post-training static INT8 quantisation with onnxruntime: int8 weights (one scale per output channel,
    or one per tensor with ``per_channel=False``) and int8 activations whose ranges are the min and max seen
    on the ``calibration`` batches (each of the exported example's shape), in the QDQ format.

    The graph is first prepared by onnxruntime's ``quant_pre_process`` (shape inference, graph
    optimisation), as its documentation asks. Returns the quantised graph with the same example, so
    ``compare_outputs`` and ``onnx_accuracy`` take it like the float one.
    """
    onnx = _require("onnx")
    _require("onnxruntime")
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    batches = [batch.contiguous().numpy() for batch in calibration]
    if not batches:
        raise EffconvError("quantize_int8 needs at least one calibration batch (a slice of training images).")
    for batch in batches:
        if tuple(batch.shape) != tuple(exported.example.shape):
            raise EffconvError(f"a calibration batch has shape {tuple(batch.shape)}, the graph takes "
                               f"{tuple(exported.example.shape)}: export at the batch size you calibrate with.")

    class Batches(CalibrationDataReader):
        def __init__(self):
            self.left = iter(batches)

        def get_next(self):
            batch = next(self.left, None)
            return None if batch is None else {"input": batch}

    with tempfile.TemporaryDirectory() as folder:
        plain, prepared, quantised = (Path(folder) / name for name in ("float.onnx", "prepared.onnx", "int8.onnx"))
        plain.write_bytes(exported.onnx)
        quant_pre_process(str(plain), str(prepared))
        quantize_static(str(prepared), str(quantised), Batches(), quant_format=QuantFormat.QDQ,
                                     per_channel=per_channel, activation_type=QuantType.QInt8,
                                     weight_type=QuantType.QInt8)
        data = quantised.read_bytes()
    graph = onnx.load_from_string(data)
    return ExportedModel(data, exported.example, Counter(node.op_type for node in graph.graph.node), list(exported.notes))


def onnx_accuracy(exported: ExportedModel, batches: Iterable[tuple[torch.Tensor, torch.Tensor]], *,
                  threads: int = 1) -> float:
    """Top-1 accuracy of the graph in onnxruntime over ``(images, labels)`` batches (normalised float images of
    the exported example's shape, e.g. from ``effconv.data.loader.DeviceLoader(..., train=False)``)."""
    session = onnx_session(exported, threads=threads)
    correct = total = 0
    for images, labels in batches:
        if tuple(images.shape) != tuple(exported.example.shape):
            raise EffconvError(f"a batch has shape {tuple(images.shape)}, the graph takes "
                               f"{tuple(exported.example.shape)}: use a batch size that divides the images.")
        logits = session.run(None, {"input": images.contiguous().numpy()})[0]
        correct += int((logits.argmax(1) == labels.numpy()).sum())
        total += len(labels)
    if not total:
        raise EffconvError("onnx_accuracy got no batches.")
    return correct / total
