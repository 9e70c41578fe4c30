"""The host ends of a build as data: the input quantizer and layout change before the HW part, the logit
scale and bias after it, described as JSON ops and executed in numpy.

hw.onnx's host ends (build_flows.hw_graph.split_host) are small graphs of Transpose, Reshape, Flatten,
MultiThreshold (before) and constant Mul, Add (after). A PYNQ board has no qonnx, so `describe` turns each
graph into a list of ops (on the build machine; it imports qonnx only when called) and `run` executes such
a list in numpy on a batch, element for element as qonnx executes the graph on each frame.
"""
from __future__ import annotations

import numpy as np

from ..errors import XnorflowError

F32 = np.float32


def _array(value: np.ndarray) -> dict:
    """A float32 array as JSON (exact: every float32 is a JSON double)."""
    value = np.asarray(value, F32)
    return {"shape": list(value.shape), "values": [float(v) for v in value.ravel()]}


def _from_json(entry: dict) -> np.ndarray:
    """An array written by `_array`."""
    return np.asarray(entry["values"], F32).reshape(entry["shape"])


def _channel_axis(layout: str, rank: int) -> int:
    """The channel axis qonnx's MultiThreshold uses: from `data_layout`, else guessed from the rank as qonnx does."""
    if not layout and rank < 5:
        layout = {2: "NC", 3: "NWC", 4: "NCHW"}.get(rank) or ""
    return layout.index("C") if "C" in layout else 1


def _describe_node(model, node) -> dict:
    """One host-end node as a JSON op."""
    from qonnx.custom_op.registry import getCustomOp

    out_shape = model.get_tensor_shape(node.output[0])
    if node.op_type == "Transpose":
        return {"op": "transpose", "perm": _perm(node)}
    if node.op_type in ("Reshape", "Flatten"):
        return {"op": "reshape", "shape": list(out_shape[1:])}
    if node.op_type == "MultiThreshold":
        inst = getCustomOp(node)
        rank = len(model.get_tensor_shape(node.input[0]))
        return {"op": "multithreshold", "thresholds": _array(model.get_initializer(node.input[1])),
                "channel_axis": _channel_axis(inst.get_nodeattr("data_layout"), rank),
                "out_scale": float(inst.get_nodeattr("out_scale")), "out_bias": float(inst.get_nodeattr("out_bias"))}
    if node.op_type in ("Mul", "Add") and model.get_initializer(node.input[1]) is not None:
        return {"op": node.op_type.lower(), "value": _array(model.get_initializer(node.input[1]))}
    raise XnorflowError(f"host-end node {node.op_type} '{node.name}' has no numpy form in the driver",
                        "report the model: the driver runs Transpose, Reshape, Flatten, MultiThreshold, Mul, Add")


def _perm(node) -> list[int]:
    """The `perm` attribute of a Transpose node; its batch axis must stay first."""
    perm = next(list(a.ints) for a in node.attribute if a.name == "perm")
    if perm[0] != 0:
        raise XnorflowError(f"host-end Transpose '{node.name}' moves the batch axis (perm {perm})",
                            "report the model: the driver runs the host ends on a batch")
    return perm


def describe(model) -> list[dict]:
    """A host-end graph (a qonnx ModelWrapper of split_host) as its list of JSON ops."""
    return [_describe_node(model, node) for node in model.graph.node]


def _multithreshold(x: np.ndarray, op: dict) -> np.ndarray:
    """qonnx's MultiThreshold: per channel, the count of thresholds x is >= to, then scaled and biased."""
    thresholds = _from_json(op["thresholds"])
    v = np.moveaxis(x.swapaxes(op["channel_axis"], 1), 1, -1)
    counts = np.count_nonzero(v[..., None] >= thresholds, axis=-1).astype(x.dtype)
    counts = np.moveaxis(counts, -1, 1).swapaxes(op["channel_axis"], 1)
    return F32(op["out_scale"]) * counts + F32(op["out_bias"])


def _step(x: np.ndarray, op: dict) -> np.ndarray:
    """One op on a batch."""
    kind = op["op"]
    if kind == "transpose":
        return np.transpose(x, op["perm"])
    if kind == "reshape":
        return x.reshape(len(x), *op["shape"])
    if kind == "multithreshold":
        return _multithreshold(x, op)
    if kind == "mul":
        return x * _from_json(op["value"])
    if kind == "add":
        return x + _from_json(op["value"])
    raise XnorflowError(f"runtime.json names an unknown host op '{kind}'",
                        "rebuild the deploy folder with this version of xnorflow")


def run(ops: list[dict], x: np.ndarray) -> np.ndarray:
    """Execute a list of host-end ops on a float32 batch (frames first)."""
    x = np.asarray(x, F32)
    for op in ops:
        x = _step(x, op)
    return np.ascontiguousarray(x)
