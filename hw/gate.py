"""RTL for xnorflow's ChannelGateMul layer (build_flows.custom_op), bit-exact with its python execution.

FINN has no activation x activation layer, so Real-to-Binary's gate product (R2B Eq. 3) runs on our
channel_gate_mul.sv: the frame's gate vector on in1_V, then the frame's pixels on in0_V.
"""
from __future__ import annotations

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

from xnorflow.hw.dataflow import MultiStreamRTL, _divides, _fail, _multi
from xnorflow.hw.streams import operand_kind


def channel_gate_mul_rtl(model: ModelWrapper, node) -> MultiStreamRTL:
    """channel_gate_mul for a ChannelGateMul node."""
    inst = getCustomOp(node)
    ch, pe = inst.get_nodeattr("NumChannels"), inst.get_nodeattr("PE")
    _divides(node, "PE", ch, pe)
    xdt, gdt, odt = inst.get_input_datatype(0), inst.get_input_datatype(1), inst.get_output_datatype()
    products = [int(a * b) for a in (xdt.min(), xdt.max()) for b in (gdt.min(), gdt.max())]
    if min(products) < odt.min() or max(products) > odt.max():
        _fail(node, f"{odt.name} cannot hold {xdt.name} x {gdt.name}", "widen outputDataType")
    params = {"C": ch, "PE": pe, "PIXELS": int(np.prod(inst.get_nodeattr("numInputVectors")[1:])),
              "IBITS": xdt.bitwidth(), "IKIND": operand_kind(xdt), "GBITS": gdt.bitwidth(),
              "GKIND": operand_kind(gdt), "OBITS": odt.bitwidth()}
    return _multi(inst, "channel_gate_mul", params, 2, 1)
