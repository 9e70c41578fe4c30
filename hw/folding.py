"""Folding (PE/SIMD per layer) of a FINN HW graph: from a cycles/frame target, a board's LUT budget,
or a FINN folding-config JSON.

FINN's SetFolding only folds specialised (_hls/_rtl) nodes and knows nothing of our ChannelwiseLUT,
so the target-driven search here follows its rule (SIMD first, then PE, smallest divisor meeting the
target) on the generic nodes our RTL maps. A user's JSON goes through FINN's own ApplyConfig (node
names with _hls/_rtl are accepted too); every folding is checked against each layer's divisibility
constraint. Each op's constraints and cycle model live with the op (hw/ops/).
"""
from __future__ import annotations

import json
from pathlib import Path

from onnx import TensorProto, helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

from finn.transformation.general import ApplyConfig
from finn.util.fpgadataflow import is_fpgadataflow_node
from xnorflow.errors import XnorflowError
from xnorflow.hw.ops import base_op, hw_nodes, op_of
from xnorflow.hw.ops.common import divisors, folded_output, limit
from xnorflow.hw.ops.mvau import EXTERNAL


def check_folding(model: ModelWrapper) -> None:
    """Raise naming the first layer whose PE/SIMD breaks its divisibility constraint."""
    for node in hw_nodes(model):
        op_of(node).check_folding(node)


def layer_cycles(model: ModelWrapper, node) -> int:
    """Folded cycles per frame of one layer (its op's cycle model)."""
    return op_of(node).cycles(model, node)


def cycles_per_layer(model: ModelWrapper) -> dict[str, int]:
    """layer_cycles of every HW layer, by node name."""
    return {n.name: layer_cycles(model, n) for n in hw_nodes(model)}


def analytical_bound(model: ModelWrapper) -> int:
    """The slowest layer's folded cycles per frame: the best a stall-free pipeline can do."""
    return max(cycles_per_layer(model).values())


def _fold_to_target(model: ModelWrapper, node, target: int) -> None:
    """Smallest folding of one layer (SIMD before PE, each from 1) whose cycles meet `target`, else the largest."""
    inst = getCustomOp(node)
    for attr, _ in op_of(node).folding:
        inst.set_nodeattr(attr, 1)
    for attr, what in op_of(node).folding:
        for value in divisors(limit(inst, what)):
            inst.set_nodeattr(attr, value)
            if layer_cycles(model, node) <= target:
                return


def fold_for_cycles(model: ModelWrapper, target: int) -> ModelWrapper:
    """Fold every layer to meet `target` cycles/frame where it can (SetFolding's rule, generic nodes)."""
    for node in hw_nodes(model):
        _fold_to_target(model, node, target)
    return model


FOLDING_FIX = 'give a cycles/frame target (e.g. --folding 4000) or a FINN folding-config JSON ({"MVAU_0": {"PE": 2, "SIMD": 4}})'


def read_config(path: str | Path) -> dict:
    """A FINN folding-config JSON as a dict of per-layer attribute dicts, or one XnorflowError saying what is wrong."""
    try:
        config = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise XnorflowError(f"cannot read folding config {path}: {exc}", FOLDING_FIX) from None
    if not isinstance(config, dict):
        raise XnorflowError(f"folding config {path} is a JSON {type(config).__name__}, not an object of layers",
                            FOLDING_FIX)
    for layer, attrs in config.items():
        if not isinstance(attrs, dict):
            raise XnorflowError(f"folding config {path}: entry '{layer}' is not an object of attributes", FOLDING_FIX)
        for attr in ("PE", "SIMD"):
            value = attrs.get(attr, 1)
            if layer != "Defaults" and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise XnorflowError(f"folding config {path}: {layer}.{attr} is {value!r}, not a positive integer",
                                    FOLDING_FIX)
    return config


def check_folding_arg(folding: str | None) -> str | None:
    """`--folding` checked before anything is built: None, a positive cycles/frame target, or a readable config."""
    if folding is None:
        return None
    if str(folding).lstrip("-").isdigit():
        if int(folding) < 1:
            raise XnorflowError(f"--folding {folding}: a cycles/frame target must be a positive integer", FOLDING_FIX)
        return str(int(folding))
    read_config(folding)
    return folding


def apply_config(model: ModelWrapper, path: str | Path) -> ModelWrapper:
    """Apply a FINN folding-config JSON (node names with or without _hls/_rtl); then check it."""
    config = read_config(path)
    names = {n.name for n in model.graph.node}
    renamed = {k.replace("_hls_", "_").replace("_rtl_", "_") if k not in names else k: v
               for k, v in config.items()}
    unknown = sorted(set(renamed) - names - {"Defaults"})
    if unknown:
        raise XnorflowError(f"folding config names layers not in the graph: {', '.join(unknown[:5])}",
                            f"use the layer names of hw.onnx (e.g. {', '.join(sorted(names)[:3])})")
    for node in model.graph.node:
        if renamed.get(node.name, {}).get("mem_mode") == EXTERNAL and base_op(node.op_type) != "MVAU":
            raise XnorflowError(f"folding config: layer {node.name} ({node.op_type}) has mem_mode 'external', "
                                f"but only a MVAU can stream its weights from DDR",
                                f"drop mem_mode from {node.name}'s entry")
        known = getCustomOp(node).get_nodeattr_types() if node.name in renamed else {}
        bad = sorted(set(renamed.get(node.name, {})) - set(known))
        if bad:
            raise XnorflowError(f"folding config: layer {node.name} ({node.op_type}) has no attribute "
                                f"{', '.join(bad)}", f"its folding attributes are "
                                f"{', '.join(a for a, _ in op_of(node).folding) or 'none'}")
    model = model.transform(ApplyConfig(renamed))
    check_folding(model)
    return model


def folding_config(model: ModelWrapper) -> dict:
    """The model's folding as a FINN folding-config dict (PE/SIMD per HW layer; for a layer with weights, mem_mode
    where it streams them from DDR, else its ram_style where not "auto"; ram_style_thresholds where not "auto")."""
    config = {}
    for node in hw_nodes(model):
        inst = getCustomOp(node)
        attrs = {a: int(inst.get_nodeattr(a)) for a, _ in op_of(node).folding}
        if "mem_mode" in inst.get_nodeattr_types() and inst.get_nodeattr("mem_mode") == EXTERNAL:
            attrs["mem_mode"] = EXTERNAL
        elif "mem_mode" in inst.get_nodeattr_types() and inst.get_nodeattr("ram_style") != "auto":
            attrs["ram_style"] = inst.get_nodeattr("ram_style")
        if "ram_style_thresholds" in inst.get_nodeattr_types() and inst.get_nodeattr("ram_style_thresholds") != "auto":
            attrs["ram_style_thresholds"] = inst.get_nodeattr("ram_style_thresholds")
        if attrs:
            config[node.name] = attrs
    return config


def _elems_per_word(inst, index: int, output: bool) -> int:
    """Elements per stream word of an input or output of a HW node."""
    if output:
        return int(folded_output(inst, index)[-1])
    return int(inst.get_folded_input_shape(index)[-1])


def insert_dwcs(model: ModelWrapper) -> ModelWrapper:
    """FINN's InsertDWC for generic nodes: a width converter wherever producer and consumer words differ.

    (finn's own transformation asks the generic ConvolutionInputGenerator for a folded shape it cannot give.)
    """
    for node in list(hw_nodes(model)):
        for out_idx, tensor in enumerate(node.output):
            for consumer in model.find_consumers(tensor):
                if consumer is None or not is_fpgadataflow_node(consumer):
                    continue
                src, dst = getCustomOp(node), getCustomOp(consumer)
                in_idx = list(consumer.input).index(tensor)
                a, b = _elems_per_word(src, out_idx, True), _elems_per_word(dst, in_idx, False)
                if a != b:
                    _insert_dwc(model, node, consumer, tensor, src.get_output_datatype(out_idx), a, b)
    return model


def _insert_dwc(model: ModelWrapper, producer, consumer, tensor: str, dtype, a: int, b: int) -> None:
    """Insert one StreamingDataWidthConverter between producer and consumer on `tensor`."""
    shape = model.get_tensor_shape(tensor)
    new = f"{tensor}_dwc"  # deterministic names keep the stitched top, and its compiled model, reusable
    model.graph.value_info.append(helper.make_tensor_value_info(new, TensorProto.FLOAT, shape))
    model.set_tensor_datatype(new, dtype)
    name = f"StreamingDataWidthConverter_{producer.name}_{consumer.name}"
    dwc = helper.make_node("StreamingDataWidthConverter", [tensor], [new], name=name,
                           domain="finn.custom_op.fpgadataflow", backend="fpgadataflow", inShape=shape,
                           outShape=shape, inWidth=a * dtype.bitwidth(), outWidth=b * dtype.bitwidth(),
                           dataType=dtype.name)
    model.graph.node.insert(list(model.graph.node).index(producer) + 1, dwc)
    consumer.input[list(consumer.input).index(tensor)] = new


def split_forks(model: ModelWrapper) -> ModelWrapper:
    """Chain two-way DuplicateStreams for every fork of more than two outputs (our RTL forks in two)."""
    for node in [n for n in hw_nodes(model) if base_op(n.op_type) == "DuplicateStreams" and len(n.output) > 2]:
        inst = getCustomOp(node)
        outs, src = list(node.output), node.input[0]
        at = list(model.graph.node).index(node)
        model.graph.node.remove(node)
        for i, out in enumerate(outs[:-2]):
            rest = f"{node.name}_rest{i}"
            model.graph.value_info.append(
                helper.make_tensor_value_info(rest, TensorProto.FLOAT, model.get_tensor_shape(src)))
            model.set_tensor_datatype(rest, inst.get_input_datatype())
            model.graph.node.insert(at + i, _fork_like(node, f"{node.name}_{i}", src, [out, rest]))
            src = rest
        model.graph.node.insert(at + len(outs) - 2, _fork_like(node, f"{node.name}_{len(outs) - 2}", src, outs[-2:]))
    return model


def _fork_like(node, name: str, src: str, outs: list[str]):
    """A copy of DuplicateStreams `node` with one input and the given outputs."""
    new = helper.make_node(node.op_type, [src], outs, name=name, domain=node.domain)
    new.attribute.extend(a for a in node.attribute if a.name != "NumOutputStreams")
    new.attribute.append(helper.make_attribute("NumOutputStreams", len(outs)))
    return new
