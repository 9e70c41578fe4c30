"""ConvolutionInputGenerator (FINN's sliding window, im2col order) on our sliding_window.sv.

The reference is FINN's ConvolutionInputGenerator python execution.
"""
from __future__ import annotations

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

from xnorflow.hw.ops.common import HWOp, LayerRTL, fail
from xnorflow.hw.resource_model import Memory

RAM_STYLES = {"auto": "auto", "block": "block", "ultra": "block", "distributed": "distributed"}


def cummax_need(idx: np.ndarray) -> np.ndarray:
    """Words needed so far, from the input index (0-based, -1 for none) each output word reads."""
    return np.maximum.accumulate(idx + 1)


class ConvolutionInputGeneratorOp(HWOp):
    """A line buffer of K_H + S_H rows, emitting each window's K_H x K_W x C/SIMD words in turn."""

    op_type = "ConvolutionInputGenerator"
    folding = (("SIMD", "IFMChannels"),)
    modules = {"sliding_window": ("skid_buffer.sv", "ram_sdp.sv", "sliding_window.sv")}

    def need(self, node, rtl: LayerRTL, i: int) -> np.ndarray:
        """Im2col windows (oy, ox, ky, kx, cf) read input (y, x, cf)."""
        p = rtl.design.params
        cf = p["C"] // p["SIMD"]
        oh, ow = (p["IFM_H"] - p["K_H"]) // p["S_H"] + 1, (p["IFM_W"] - p["K_W"]) // p["S_W"] + 1
        oy, ox, ky, kx, c = np.meshgrid(np.arange(oh), np.arange(ow), np.arange(p["K_H"]), np.arange(p["K_W"]),
                                        np.arange(cf), indexing="ij")
        idx = ((oy * p["S_H"] + ky) * p["IFM_W"] + ox * p["S_W"] + kx) * cf + c
        return cummax_need(idx.reshape(-1))

    def spare(self, rtl: LayerRTL) -> int:
        """sliding_window.sv's DEPTH of (K_H + S_H) rows, less the K_H - 1 rows and K_W pixels of one window."""
        p = rtl.design.params
        cf = p["C"] // p["SIMD"]
        return (p["S_H"] + 1) * p["IFM_W"] * cf - p["K_W"] * cf

    def memories(self, rtl: LayerRTL) -> list[Memory]:
        """The line buffer: sliding_window.sv's DEPTH words of SIMD elements, in the node's ram_style."""
        p = rtl.design.params
        depth = (p["K_H"] + p["S_H"]) * p["IFM_W"] * (p["C"] // p["SIMD"])
        return [Memory(depth, p["SIMD"] * p["BITS"], "ram", p["RAM_STYLE"])]

    def rtl(self, model: ModelWrapper, node) -> LayerRTL:
        """sliding_window; dilation, parallel windows and dynamic mode are refused."""
        self.check_folding(node)
        inst = getCustomOp(node)
        (ih, iw), (kh, kw) = inst.get_nodeattr("IFMDim"), inst.get_nodeattr("ConvKernelDim")
        if list(inst.get_nodeattr("Dilation")) != [1, 1]:
            fail(node, "dilation other than 1 is not supported", "use Dilation [1, 1]")
        if inst.get_nodeattr("parallel_window") or inst.get_nodeattr("dynamic_mode"):
            fail(node, "parallel_window / dynamic_mode are not supported",
                 "set parallel_window=0 and dynamic_mode=0 (insert a DWC to widen the stream)")
        if kh > ih or kw > iw:
            fail(node, f"kernel {kh}x{kw} larger than the {ih}x{iw} input", "pad the input first")
        (sh, sw) = inst.get_nodeattr("Stride")
        params = {"IFM_H": ih, "IFM_W": iw, "C": inst.get_nodeattr("IFMChannels"), "SIMD": inst.get_nodeattr("SIMD"),
                  "BITS": inst.get_input_datatype().bitwidth(), "K_H": kh, "K_W": kw, "S_H": sh, "S_W": sw,
                  "RAM_STYLE": RAM_STYLES[inst.get_nodeattr("ram_style")]}
        return self.design(inst, "sliding_window", params)
