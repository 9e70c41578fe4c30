"""Streamlined graph -> FINN HW-layer graph (python execution), saved stage by stage with report.json."""
import json
import time
from pathlib import Path

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation
from qonnx.util.basic import get_by_name

from finn.transformation.fpgadataflow.convert_to_hw.binary_matrix_vector_activation import (
    InferBinaryMatrixVectorActivation)
from finn.transformation.fpgadataflow.convert_to_hw.concat import InferConcatLayer
from finn.transformation.fpgadataflow.convert_to_hw.duplicate_streams import InferDuplicateStreamsLayer
from finn.transformation.fpgadataflow.convert_to_hw.elementwise_binary_operation import (
    InferElementwiseBinaryOperation)
from finn.transformation.fpgadataflow.convert_to_hw.global_acc_pool import InferGlobalAccPoolLayer
from finn.transformation.fpgadataflow.convert_to_hw.pool import InferPool
from finn.transformation.fpgadataflow.convert_to_hw.pool_from_reduce import InferPoolFromReduce
from finn.transformation.fpgadataflow.convert_to_hw.quantized_matrix_vector_activation import (
    InferQuantizedMatrixVectorActivation)
from finn.transformation.fpgadataflow.convert_to_hw.thresholding import InferThresholdingLayer
from finn.transformation.fpgadataflow.create_dataflow_partition import CreateDataflowPartition
from finn.transformation.move_reshape import RemoveCNVtoFCFlatten
from finn.util.fpgadataflow import is_fpgadataflow_node
from finn.util.settings import initialize_dummy_settings

from xnorflow.build_dir import replacing
from xnorflow.build_flows.chain_lut import NarrowPopcountOutputs
from xnorflow.build_flows.fast_qonnx import accelerated
from xnorflow.build_flows.padding import InferConvInpGenWithMinPadding
from xnorflow.build_flows.piecewise_requantize import TablesToPiecewiseRequantizers
from xnorflow.build_flows.requantize import ThresholdsToRequantizers
from xnorflow.build_flows.rounding import NEAR_TIES
from xnorflow.build_flows.streamline import round_thresholds, streamline, tidy, to_finn, to_fixpoint
from xnorflow.chatter import say
from xnorflow.errors import XnorflowError
from xnorflow.hw.ops import op_of
from xnorflow.hw.ops.requantize import rom_bits

# Host-side ends of the graph: NCHW->NHWC or flattening and quantizing of the float input, scaling of the logits.
HOST_HEAD = {"Transpose": "input layout NCHW->NHWC", "Reshape": "input flatten", "Flatten": "input flatten",
             "MultiThreshold": "input quantizer"}
HOST_TAIL = {"Mul": "output scale", "Add": "output bias"}
STAGES = ("qonnx", "finn", "streamlined", "hw", "dataflow_parent")


def pools_to_hw(model: ModelWrapper) -> ModelWrapper:
    """Window and global sums become Pool(AccPool)/GlobalAccPool; their 1/N goes into the next thresholds."""
    model = tidy(model.transform(InferPoolFromReduce()).transform(InferGlobalAccPoolLayer()))
    return round_thresholds(to_fixpoint(model))


class DenseSingleChannelConv(Transformation):
    """A one-channel conv (DPConv's 1 -> 1 k x k) is lowered as 'depthwise': drop that mark so it becomes an MVAU."""

    def apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
        for node in model.graph.node:
            sparse = node.op_type == "MatMul" and model.get_tensor_sparsity(node.input[1]) is not None
            if sparse and model.get_tensor_shape(node.input[1])[1] == 1:
                entries = get_by_name(model.graph.quantization_annotation, node.input[1], "tensor_name")
                entries.quant_parameter_tensor_names.remove(
                    get_by_name(entries.quant_parameter_tensor_names, "tensor_sparsity", "key"))
        return model, False


def to_hw(model: ModelWrapper) -> ModelWrapper:
    """Streamlined graph -> FINN HW layers (MVAU, Thresholding, SWG, FMPadding, Pool, Add, Concat, ...).

    InferPool lowers max pools to SWG + Pool(MaxPool) before InferConvInpGen turns its Im2Col into the SWG (and a
    padded pool's padding into a MinPadding)."""
    model = pools_to_hw(model)
    head = detach_host_input(model)
    for t in (DenseSingleChannelConv(), InferBinaryMatrixVectorActivation(), InferQuantizedMatrixVectorActivation(),
              InferThresholdingLayer(), InferPool(), InferConvInpGenWithMinPadding(),
              InferElementwiseBinaryOperation(lambda m, n: not on_host_tail(m, n)),
              InferConcatLayer(), RemoveCNVtoFCFlatten(), InferDuplicateStreamsLayer(), NarrowPopcountOutputs(),
              ThresholdsToRequantizers(), TablesToPiecewiseRequantizers()):
        model = model.transform(t)
    reattach_host_input(model, head)
    model = tidy(model)
    check_all_hw(model)
    return model


def detach_host_input(model: ModelWrapper) -> tuple[list, object]:
    """Take the float-input quantizer (and layout Transposes) off the graph head, so no HW layer sees floats."""
    head, graph_in = [], model.graph.input[0]
    while model.graph.node[0].op_type in HOST_HEAD and len(model.find_consumers(model.graph.node[0].output[0])) == 1:
        node = model.graph.node[0]
        if node.op_type == "MultiThreshold" and model.get_tensor_datatype(node.input[0]).is_integer():
            break
        head.append((node, {i: model.get_initializer(i) for i in node.input[1:]}))
        model.graph.node.remove(node)
    if head:
        new_in = model.get_tensor_valueinfo(head[-1][0].output[0])
        model.graph.value_info.remove(new_in)
        model.graph.input.remove(graph_in)
        model.graph.input.append(new_in)
    return head, graph_in


def reattach_host_input(model: ModelWrapper, detached: tuple[list, object]) -> None:
    """Put the host-side head back in front of the HW layers."""
    head, graph_in = detached
    if head:
        model.graph.value_info.append(model.graph.input[0])
        model.graph.input.remove(model.graph.input[0])
        model.graph.input.append(graph_in)
    for i, (node, params) in enumerate(head):
        model.graph.node.insert(i, node)
        for name, value in params.items():
            model.set_initializer(name, value)


def check_all_hw(model: ModelWrapper) -> None:
    """Every node is a HW layer except the host-side input layout and quantizer, and the output scale and bias."""
    nodes = list(model.graph.node)
    for i, node in enumerate(nodes):
        if not is_fpgadataflow_node(node) and host_role(model, node) is None:
            raise XnorflowError(f"layer {node.op_type} '{node.name}' (node {i + 1} of {len(nodes)}, input "
                                f"{model.get_tensor_datatype(node.input[0]).name}) has no integer HW form",
                                "quantize its input and output with the shortcut quantizer, or use a supported layer")


def host_role(model: ModelWrapper, node) -> str | None:
    """What a non-HW node at the graph's ends does on the host, or None when it is not at an end."""
    i = list(model.graph.node).index(node)
    if all(not is_fpgadataflow_node(n) for n in model.graph.node[: i + 1]) and node.op_type in HOST_HEAD:
        return HOST_HEAD[node.op_type]
    if on_host_tail(model, node):
        return HOST_TAIL[node.op_type]
    return None


def on_host_tail(model: ModelWrapper, node) -> bool:
    """True when `node` is a constant Mul/Add of the float logits' chain that ends the graph (scale and bias)."""
    if node.op_type not in HOST_TAIL or model.get_initializer(node.input[1]) is None:
        return False
    if node.output[0] == model.graph.output[0].name:
        return True
    consumers = model.find_consumers(node.output[0])
    return len(consumers) == 1 and on_host_tail(model, consumers[0])


def split_host(model: ModelWrapper) -> tuple[ModelWrapper, ModelWrapper, ModelWrapper]:
    """hw.onnx as (host pre-processing, HW part, host post-processing); each a graph of its own."""
    nodes = list(model.graph.node)
    hw = [i for i, n in enumerate(nodes) if is_fpgadataflow_node(n)]
    if not hw:
        raise XnorflowError("hw.onnx has no HW layers", "rebuild it with `xnorflow build --target hw-graph`")
    first_in, last_out = nodes[hw[0]].input[0], nodes[hw[-1]].output[0]
    graph_in, graph_out = model.graph.input[0].name, model.graph.output[0].name
    return (subgraph(model, nodes[:hw[0]], graph_in, first_in),
            subgraph(model, nodes[hw[0]:hw[-1] + 1], first_in, last_out),
            subgraph(model, nodes[hw[-1] + 1:], last_out, graph_out))


def subgraph(model: ModelWrapper, nodes: list, inp: str, out: str) -> ModelWrapper:
    """A copy of `model` with only `nodes`, reading tensor `inp` and producing tensor `out`."""
    part = ModelWrapper(model.model.__deepcopy__())
    names = {n.name for n in nodes}
    for node in [n for n in part.graph.node if n.name not in names]:
        part.graph.node.remove(node)
    for io, name in ((part.graph.input, inp), (part.graph.output, out)):
        vi = part.get_tensor_valueinfo(name)
        if vi in part.graph.value_info:
            part.graph.value_info.remove(vi)
        del io[:]
        io.append(vi)
    return part


def dataflow_partition(model: ModelWrapper, out: Path) -> ModelWrapper:
    """FINN's CreateDataflowPartition; its failure (a cycle) becomes a XnorflowError."""
    try:
        return model.transform(CreateDataflowPartition(partition_model_dir=str(out / "dataflow_partition")))
    except Exception as exc:  # FINN raises plain exceptions for cycles
        raise XnorflowError(f"CreateDataflowPartition failed: {exc}",
                            "report the model: a residual pattern was left non-streamable") from exc


def retarget_partitions(parent: Path, old: Path, new: Path) -> None:
    """Point the parent graph's partition nodes at the build directory's final place (FINN stores absolute paths)."""
    model = ModelWrapper(str(parent))
    for node in model.get_nodes_by_op_type("StreamingDataflowPartition"):
        inst = getCustomOp(node)
        inst.set_nodeattr("model", inst.get_nodeattr("model").replace(str(old), str(new), 1))
    model.save(str(parent))


def layer_report(model: ModelWrapper, node) -> dict:
    """Op type, shapes, bit widths, thresholds and MACs/BOPs of one layer."""
    entry = {"name": node.name, "op_type": node.op_type,
             "in_shape": model.get_tensor_shape(node.input[0]), "out_shape": model.get_tensor_shape(node.output[0]),
             "in_dtype": model.get_tensor_datatype(node.input[0]).name,
             "out_dtype": model.get_tensor_datatype(node.output[0]).name}
    if not is_fpgadataflow_node(node):
        return entry | {"host": host_role(model, node)}
    inst = getCustomOp(node)
    attrs = {a: inst.get_nodeattr(a) for a in ("weightDataType", "accDataType", "MW", "MH") if has_attr(inst, a)}
    entry |= attrs
    if len(node.input) > 1 and model.get_initializer(node.input[-1]) is not None and node.op_type != "MVAU":
        entry["table_or_thresholds"] = list(model.get_initializer(node.input[-1]).shape)
    if node.op_type == "MVAU":
        entry |= mvau_counts(model, node, inst)
    return entry | memory_bits(model, node, inst)


def memory_bits(model: ModelWrapper, node, inst) -> dict:
    """Parameter memory of a HW layer: MVAU weights, thresholds or lookup tables (entries x entry bits), and a
    requantiser's m and c per channel."""
    bits = {}
    if node.op_type == "Requantize":
        w = op_of(node).widths(model, node) | {"PIECES": inst.get_nodeattr("Pieces")}
        return {"requantizer_memory_bits": inst.get_nodeattr("NumChannels") * sum(rom_bits(w))}
    if node.op_type == "MVAU":
        wbits = 1 if inst.get_nodeattr("binaryXnorMode") else model.get_tensor_datatype(node.input[1]).bitwidth()
        bits["weight_memory_bits"] = inst.get_nodeattr("MW") * inst.get_nodeattr("MH") * wbits
    table_at = 2 if node.op_type == "MVAU" else 1
    table = model.get_initializer(node.input[table_at]) if len(node.input) > table_at else None
    if table is not None:
        entry_bits = (inst.get_output_datatype() if node.op_type == "ChannelwiseLUT"
                      else model.get_tensor_datatype(node.input[table_at])).bitwidth()
        bits["threshold_memory_bits"] = int(table.size) * entry_bits
    return bits


def has_attr(inst, name: str) -> bool:
    """True when the custom op declares attribute `name`."""
    return name in inst.get_nodeattr_types()


def mvau_counts(model: ModelWrapper, node, inst) -> dict:
    """MACs per frame, BOPs (MACs x weight bits x input bits) and threshold count of an MVAU."""
    macs = int(np.prod(model.get_tensor_shape(node.output[0])[:-1])) * inst.get_nodeattr("MW") * inst.get_nodeattr("MH")
    wbits = model.get_tensor_datatype(node.input[1]).bitwidth() if inst.get_nodeattr("binaryXnorMode") == 0 else 1
    ibits = model.get_tensor_datatype(node.input[0]).bitwidth()
    thres = model.get_initializer(node.input[2]) if len(node.input) > 2 else None
    return {"weight_bits": wbits, "input_bits": ibits, "macs": macs, "bops": macs * wbits * ibits,
            "xnor": bool(inst.get_nodeattr("binaryXnorMode")), "thresholds": None if thres is None else list(thres.shape)}


def report(model: ModelWrapper) -> dict:
    """report.json content: per layer, plus totals."""
    layers = [layer_report(model, n) for n in model.graph.node]
    hw_layers = [l for l in layers if "host" not in l]
    return {"layers": layers, "total_macs": sum(l.get("macs", 0) for l in layers),
            "total_bops": sum(l.get("bops", 0) for l in layers), "hw_layers": len(hw_layers),
            "weight_memory_bits": sum(l.get("weight_memory_bits", 0) for l in layers),
            "threshold_memory_bits": sum(l.get("threshold_memory_bits", 0) for l in layers),
            "requantizer_memory_bits": sum(l.get("requantizer_memory_bits", 0) for l in layers),
            "hw_op_types": [l["op_type"] for l in hw_layers]}


def build_hw_graph(onnx_path: str | Path, out_dir: str | Path, meta: dict | None = None) -> dict:
    """QONNX file -> out_dir/{qonnx,finn,streamlined,hw,dataflow_parent}.onnx + report.json (with `meta`); the report.

    Staged beside out_dir and renamed into place at the end (xnorflow.build_dir), so a failed build leaves nothing
    and only an earlier xnorflow build is ever replaced."""
    with replacing(out_dir) as tmp:
        return write_hw_graph(onnx_path, tmp, Path(out_dir).resolve(), meta)


def write_hw_graph(onnx_path: str | Path, tmp: Path, final: Path, meta: dict | None = None) -> dict:
    """Run every stage into staging directory `tmp`, whose partitions will live at `final`; the report."""
    initialize_dummy_settings()
    with accelerated():
        rep = (meta or {}) | run_stages(ModelWrapper(str(onnx_path)), tmp)
    (tmp / "report.json").write_text(json.dumps(rep, indent=1, default=str))
    if rep["near_ties"]:
        say(f"warning: {rep['near_ties']} integer thresholds lie within float32 noise of an integer input; "
            "frames that hit one may round differently before and after streamlining (snap the model's "
            "requantizers with xnorflow.training.requant before export)")
    retarget_partitions(tmp / "dataflow_parent.onnx", tmp, final)
    return rep


def run_stages(model: ModelWrapper, out: Path) -> dict:
    """Run and save every stage into `out`; the report with seconds per stage."""
    seconds = {}
    for stage, step in (("qonnx", lambda m: m), ("finn", to_finn), ("streamlined", streamline), ("hw", to_hw)):
        began = time.perf_counter()
        model = step(model)
        model.save(str(out / f"{stage}.onnx"))
        seconds[stage] = round(time.perf_counter() - began, 3)
    rep = report(model) | {"near_ties": int(model.get_metadata_prop(NEAR_TIES) or 0)}  # round_thresholds' count
    began = time.perf_counter()
    dataflow_partition(model, out).save(str(out / "dataflow_parent.onnx"))
    seconds["dataflow_partition"] = round(time.perf_counter() - began, 3)
    return rep | {"seconds": seconds}
