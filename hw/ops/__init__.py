"""The HW ops xnorflow maps onto its RTL, one module each, and the ONNX domain of the ops FINN lacks.

Adding an op is one module (its HWOp subclass; for an op FINN lacks also its HWCustomOp, the python
execution every other stage is checked against) and one line in OPS. qonnx finds ChannelwiseLUT,
ChannelGateMul, Requantize and FMPadding with a minimum border (MinPadding) through this package's `custom_op`
dict: the package is their ONNX domain, DOMAIN.
"""
from __future__ import annotations

from pathlib import Path

from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import add_domain_alias

from finn.util.fpgadataflow import is_fpgadataflow_node
from xnorflow.errors import XnorflowError
from xnorflow.hw.ops.add_streams import ElementwiseAddOp
from xnorflow.hw.ops.channel_gate_mul import ChannelGateMul, ChannelGateMulOp
from xnorflow.hw.ops.channelwise_lut import ChannelwiseLUT, ChannelwiseLUTOp
from xnorflow.hw.ops.common import HWOp, LayerRTL, sources
from xnorflow.hw.ops.duplicate_streams import DuplicateStreamsOp
from xnorflow.hw.ops.fm_padding import FMPaddingOp, MinPadding
from xnorflow.hw.ops.label_select import LabelSelectOp
from xnorflow.hw.ops.mvau import MVAUOp
from xnorflow.hw.ops.pool import GlobalAccPoolOp, PoolOp
from xnorflow.hw.ops.requantize import Requantize, RequantizeOp
from xnorflow.hw.ops.sliding_window import ConvolutionInputGeneratorOp
from xnorflow.hw.ops.stream_concat import StreamingConcatOp
from xnorflow.hw.ops.thresholding import ThresholdingOp
from xnorflow.hw.ops.width_converter import StreamingDataWidthConverterOp

DOMAIN = "xnorflow.hw.ops"
add_domain_alias("xnorflow.build_flows.custom_op", DOMAIN)  # the domain of graphs written by xnorflow <= 0.1

custom_op = {"ChannelwiseLUT": ChannelwiseLUT, "ChannelGateMul": ChannelGateMul, "Requantize": Requantize,
             "FMPadding": MinPadding}

OPS: dict[str, HWOp] = {op.op_type: op for op in (
    MVAUOp(), ThresholdingOp(), ConvolutionInputGeneratorOp(), FMPaddingOp(), PoolOp(), GlobalAccPoolOp(),
    DuplicateStreamsOp(), ElementwiseAddOp(), StreamingConcatOp(), LabelSelectOp(),
    StreamingDataWidthConverterOp(), ChannelwiseLUTOp(), ChannelGateMulOp(), RequantizeOp())}

STITCH_MODULES = {"stream_fifo": ("stream_fifo.sv",)}  # the stitcher's own: the FIFO on every edge


def base_op(op_type: str) -> str:
    """The generic FINN op type of a (possibly specialised _hls/_rtl) node."""
    for suffix in ("_hls", "_rtl"):
        if op_type.endswith(suffix):
            return op_type[: -len(suffix)]
    return op_type


def hw_nodes(model: ModelWrapper) -> list:
    """The HW-layer nodes (FINN fpgadataflow backend), in graph order."""
    return [n for n in model.graph.node if is_fpgadataflow_node(n)]


def op_of(node) -> HWOp:
    """The HW op of a node; one line naming the node when xnorflow has no RTL for it."""
    op = OPS.get(base_op(node.op_type))
    if op is None:
        raise XnorflowError(f"no xnorflow RTL for {node.op_type} node {node.name}",
                            f"convert the layer to one of {', '.join(sorted(OPS))}")
    return op


def layer_rtl(model: ModelWrapper, node) -> LayerRTL:
    """The RTL design of one node of a folded FINN HW graph."""
    return op_of(node).rtl(model, node)


def module_sources(top: str) -> tuple[Path, ...]:
    """SystemVerilog files of module `top` (dependencies first)."""
    tables = [op.modules for op in OPS.values()] + [STITCH_MODULES]
    files = next((t[top] for t in tables if top in t), None)
    if files is None:
        raise XnorflowError(f"no SystemVerilog module '{top}' in xnorflow's RTL", "use a module an op names")
    return sources(*files)
