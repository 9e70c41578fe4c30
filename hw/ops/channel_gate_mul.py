"""ChannelGateMul, an op FINN lacks: Real-to-Binary's data-driven re-scaling (R2B Eq. 3) on our
channel_gate_mul.sv.

Every pixel of a stream is multiplied by a per-frame channel vector computed from the same frame: an
activation x activation product, which no FINN streaming layer computes. `ChannelGateMul.execute_node`
is the reference; the RTL takes the frame's gate vector on in1_V, then the frame's pixels on in0_V.
"""
from __future__ import annotations

import numpy as np
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

from xnorflow.hw.ops.channelwise_lut import ChannelwiseLUT
from xnorflow.hw.ops.common import HWOp, LayerRTL, dsp_product, fail, uses_dsp
from xnorflow.hw.resource_model import Memory
from xnorflow.hw.streams import operand_kind


class ChannelGateMul(ChannelwiseLUT):
    """y[n, ..., c] = x[n, ..., c] * g[n, c] of a channels-last stream and a per-frame gate (input 1)."""

    def get_nodeattr_types(self) -> dict:
        """ChannelwiseLUT's attributes plus the gate stream's datatype."""
        return super().get_nodeattr_types() | {"gateDataType": ("s", True, "")}

    def execute_node(self, context: dict, graph) -> None:
        """Multiply each pixel's channels by the frame's gate vector."""
        x, g = context[self.onnx_node.input[0]], context[self.onnx_node.input[1]]
        gate = g.reshape(g.shape[0], *([1] * (x.ndim - 2)), g.shape[-1])
        context[self.onnx_node.output[0]] = (x * gate).astype(np.float32)

    def get_input_datatype(self, ind: int = 0) -> DataType:
        """Stream (0) or gate (1) datatype."""
        return DataType[self.get_nodeattr("gateDataType" if ind == 1 else "inputDataType")]

    def get_normal_input_shape(self, ind: int = 0) -> tuple[int, ...]:
        """(1, ..., C) for the stream, (1, C) for the gate."""
        shape = super().get_normal_input_shape()
        return (shape[0], shape[-1]) if ind == 1 else shape

    def get_folded_input_shape(self, ind: int = 0) -> tuple[int, ...]:
        """Channels folded by PE, on both inputs."""
        *outer, c = self.get_normal_input_shape(ind)
        pe = self.get_nodeattr("PE")
        return (*outer, c // pe, pe)

    def get_normal_output_shape(self, ind: int = 0) -> tuple[int, ...]:
        """The stream's shape."""
        return self.get_normal_input_shape(0)

    def get_folded_output_shape(self, ind: int = 0) -> tuple[int, ...]:
        """The stream's folded shape."""
        return self.get_folded_input_shape(0)

    def get_instream_width(self, ind: int = 0) -> int:
        """PE words of the stream or the gate per cycle."""
        return self.get_nodeattr("PE") * self.get_input_datatype(ind).bitwidth()


class ChannelGateMulOp(HWOp):
    """PE products per cycle of a pixel's channels and the frame's gate vector."""

    op_type = "ChannelGateMul"
    folding = (("PE", "NumChannels"),)
    modules = {"channel_gate_mul": ("skid_buffer.sv", "operand_decode.sv", "channel_gate_mul.sv")}

    def terms(self, rtl: LayerRTL) -> dict[str, float]:
        """Stream bits, a base and the PE products in LUTs (none where they go to DSP48s)."""
        p = rtl.design.params
        dsp = dsp_product(p["IBITS"], p["IKIND"] != 0, p["GBITS"], p["GKIND"] != 0)
        return super().terms(rtl) | {"lut_lanes": 0.0 if dsp else float(p["PE"] * p["IBITS"] * p["GBITS"])}

    def memories(self, rtl: LayerRTL) -> list[Memory]:
        """The gate vector: C/PE words of PE gates, read without a register."""
        p = rtl.design.params
        return [Memory(p["C"] // p["PE"], p["PE"] * p["GBITS"], "async")]

    def dsps(self, model: ModelWrapper, node) -> int:
        """A DSP48 per lane where Yosys maps the product to one."""
        inst = getCustomOp(node)
        return inst.get_nodeattr("PE") if uses_dsp(inst.get_input_datatype(0), inst.get_input_datatype(1)) else 0

    def rtl(self, model: ModelWrapper, node) -> LayerRTL:
        """channel_gate_mul, after checking that the output type holds every product."""
        self.check_folding(node)
        inst = getCustomOp(node)
        xdt, gdt, odt = inst.get_input_datatype(0), inst.get_input_datatype(1), inst.get_output_datatype()
        products = [int(a * b) for a in (xdt.min(), xdt.max()) for b in (gdt.min(), gdt.max())]
        if min(products) < odt.min() or max(products) > odt.max():
            fail(node, f"{odt.name} cannot hold {xdt.name} x {gdt.name}", "widen outputDataType")
        params = {"C": inst.get_nodeattr("NumChannels"), "PE": inst.get_nodeattr("PE"),
                  "PIXELS": int(np.prod(inst.get_nodeattr("numInputVectors")[1:])),
                  "IBITS": xdt.bitwidth(), "IKIND": operand_kind(xdt), "GBITS": gdt.bitwidth(),
                  "GKIND": operand_kind(gdt), "OBITS": odt.bitwidth()}
        return self.design(inst, "channel_gate_mul", params, n_in=2)
