"""FMPadding (FINN's feature-map padding) on our fm_padding.sv: zero words, which on BINARY streams is -1.

The reference is FINN's FMPadding python execution. FINN pads with zeros only; a max pool's padding (PyTorch pads
with -inf) is the smallest value of the pool's input type instead: `MinPadding`, FINN's FMPadding with that border,
is the op of this package's domain that carries it (its border follows the input type when that is narrowed).
"""
from __future__ import annotations

import numpy as np
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

from finn.custom_op.fpgadataflow.fmpadding import FMPadding
from xnorflow.hw.ops.common import HWOp, LayerRTL
from xnorflow.hw.ops.sliding_window import cummax_need
from xnorflow.hw.streams import mem_file


class MinPadding(FMPadding):
    """FINN's FMPadding whose border elements are the smallest value of the input datatype."""

    def get_input_datatype(self, ind: int = 0) -> DataType:
        """The input datatype (it need not hold 0)."""
        return DataType[self.get_nodeattr("inputDataType")]

    def execute_node(self, context: dict, graph) -> None:
        """np.pad with the input datatype's minimum."""
        node, pad = self.onnx_node, self.get_nodeattr("Padding")
        padded = np.pad(context[node.input[0]], ((0, 0), (pad[0], pad[2]), (pad[1], pad[3]), (0, 0)), "constant",
                        constant_values=self.get_input_datatype().min())
        context[node.output[0]] = padded.astype(np.float32).reshape(context[node.output[0]].shape)


def pad_min(inst) -> bool:
    """fm_padding.sv's PAD_MIN: a MinPadding whose border has bits set, i.e. a signed type's minimum (1 followed by
    zeros in two's complement; BIPOLAR's -1 and an unsigned type's 0 are zero bits)."""
    if not isinstance(inst, MinPadding):
        return False
    dtype = inst.get_input_datatype()
    return int(mem_file(np.array([[dtype.min()]]), dtype), 16) != 0


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
        """fm_padding (PAD_MIN only where the border is not zero, so zero-padded designs keep their parameters)."""
        self.check_folding(node)
        inst = getCustomOp(node)
        (h, w), (top, left, bottom, right) = inst.get_nodeattr("ImgDim"), inst.get_nodeattr("Padding")
        params = {"IMG_H": h, "IMG_W": w, "C": inst.get_nodeattr("NumChannels"), "SIMD": inst.get_nodeattr("SIMD"),
                  "BITS": inst.get_input_datatype().bitwidth(), "PAD_T": top, "PAD_L": left,
                  "PAD_B": bottom, "PAD_R": right}
        return self.design(inst, "fm_padding", params | ({"PAD_MIN": 1} if pad_min(inst) else {}))
