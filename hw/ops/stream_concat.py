"""StreamingConcat (channel concatenation of two streams) on our stream_concat.sv.

The reference is FINN's StreamingConcat python execution; more inputs are concatenated by chaining nodes.
"""
from __future__ import annotations

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

from xnorflow.hw.ops.common import HWOp, LayerRTL, fail
from xnorflow.hw.streams import operand_kind


class StreamingConcatOp(HWOp):
    """Per pixel, CF0 words of input 0 then CF1 words of input 1."""

    op_type = "StreamingConcat"
    folding = (("SIMD", "ChannelsPerStream"),)
    modules = {"stream_concat": ("skid_buffer.sv", "operand_decode.sv", "stream_concat.sv")}

    def need(self, node, rtl: LayerRTL, i: int) -> np.ndarray:
        """Per vector CF0 words of input 0, then CF1 of input 1."""
        p, k = rtl.design.params, np.arange(rtl.outputs[0].words)
        cf0, cf1 = p["CF0"], p["CF1"]
        vec, j = k // (cf0 + cf1), k % (cf0 + cf1) + 1
        return vec * cf0 + np.minimum(j, cf0) if i == 0 else vec * cf1 + np.maximum(j - cf0, 0)

    def rtl(self, model: ModelWrapper, node) -> LayerRTL:
        """stream_concat of two inputs."""
        self.check_folding(node)
        inst = getCustomOp(node)
        chans, simd = list(inst.get_nodeattr("ChannelsPerStream")), inst.get_nodeattr("SIMD")
        if len(chans) != 2:
            fail(node, f"{len(chans)} inputs", "concatenate two streams per node (chain them)")
        in0, in1 = inst.get_input_datatype(0), inst.get_input_datatype(1)
        params = {"SIMD": simd, "CF0": chans[0] // simd, "CF1": chans[1] // simd,
                  "IBITS0": in0.bitwidth(), "IKIND0": operand_kind(in0), "IBITS1": in1.bitwidth(),
                  "IKIND1": operand_kind(in1), "OBITS": inst.get_output_datatype().bitwidth()}
        return self.design(inst, "stream_concat", params, n_in=2)
