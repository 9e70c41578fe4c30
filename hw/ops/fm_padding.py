"""FMPadding (FINN's feature-map padding) on our fm_padding.sv: zero words, which on BINARY streams is -1.

The reference is FINN's FMPadding python execution.
"""
from __future__ import annotations

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

from xnorflow.hw.ops.common import HWOp, LayerRTL
from xnorflow.hw.ops.sliding_window import cummax_need


class FMPaddingOp(HWOp):
    """Border words from nothing, image words from the input, SIMD channels per word."""

    op_type = "FMPadding"
    folding = (("SIMD", "NumChannels"),)
    modules = {"fm_padding": ("skid_buffer.sv", "fm_padding.sv")}

    def need(self, node, rtl: LayerRTL, i: int) -> np.ndarray:
        """Border words need nothing new, image words their input word."""
        p = rtl.design.params
        cf = p["C"] // p["SIMD"]
        h, w = p["IMG_H"] + p["PAD_T"] + p["PAD_B"], p["IMG_W"] + p["PAD_L"] + p["PAD_R"]
        y, x, c = np.meshgrid(np.arange(h) - p["PAD_T"], np.arange(w) - p["PAD_L"], np.arange(cf), indexing="ij")
        inside = (y >= 0) & (y < p["IMG_H"]) & (x >= 0) & (x < p["IMG_W"])
        return cummax_need(np.where(inside, (y * p["IMG_W"] + x) * cf + c, -1).reshape(-1))

    def rtl(self, model: ModelWrapper, node) -> LayerRTL:
        """fm_padding."""
        self.check_folding(node)
        inst = getCustomOp(node)
        (h, w), (top, left, bottom, right) = inst.get_nodeattr("ImgDim"), inst.get_nodeattr("Padding")
        params = {"IMG_H": h, "IMG_W": w, "C": inst.get_nodeattr("NumChannels"), "SIMD": inst.get_nodeattr("SIMD"),
                  "BITS": inst.get_input_datatype().bitwidth(), "PAD_T": top, "PAD_L": left,
                  "PAD_B": bottom, "PAD_R": right}
        return self.design(inst, "fm_padding", params)
