"""StreamingDataWidthConverter (FINN's DWC between layers of different folding) on our width_converter.sv.

The reference is FINN's StreamingDataWidthConverter python execution (an identity on the tensor).
"""
from __future__ import annotations

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

from xnorflow.hw.ops.common import HWOp, LayerRTL, fail


class StreamingDataWidthConverterOp(HWOp):
    """inWidth-bit words in, outWidth-bit words out, whole elements per word."""

    op_type = "StreamingDataWidthConverter"
    modules = {"width_converter": ("width_converter.sv",)}

    def cycles(self, model: ModelWrapper, node) -> int:
        """The frame's bits over the narrower width."""
        inst = getCustomOp(node)
        bits = int(np.prod(inst.get_normal_input_shape())) * inst.get_input_datatype().bitwidth()
        return -(-bits // min(inst.get_nodeattr("inWidth"), inst.get_nodeattr("outWidth")))

    def need(self, node, rtl: LayerRTL, i: int) -> np.ndarray:
        """Output word k needs the input words that cover its last bit."""
        p, k = rtl.design.params, np.arange(rtl.outputs[0].words)
        return np.minimum(-(-(k + 1) * p["OW"] // p["IW"]), rtl.inputs[0].words)

    def rtl(self, model: ModelWrapper, node) -> LayerRTL:
        """width_converter."""
        inst = getCustomOp(node)
        iw, ow, unit = (inst.get_nodeattr("inWidth"), inst.get_nodeattr("outWidth"),
                        inst.get_input_datatype().bitwidth())
        if iw % unit or ow % unit:
            fail(node, f"stream widths {iw} -> {ow} are not multiples of {unit}-bit elements",
                 "set inWidth and outWidth to multiples of the element width")
        return self.design(inst, "width_converter", {"IW": iw, "OW": ow, "UNIT": unit})
