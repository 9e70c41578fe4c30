"""Thresholding: FINN's multi-threshold activation on our thresholding.sv (a binary search per channel).

The reference is FINN's Thresholding python execution.
"""
from __future__ import annotations

from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

from xnorflow.hw.ops.common import HWOp, LayerRTL
from xnorflow.hw.ops.thresholds import (THRESH_FILE, clip_thresholds, compare_bits, shared_param,
                                        threshold_mem_files, threshold_memories)
from xnorflow.hw.resource_model import Memory
from xnorflow.hw.streams import operand_kind, signed_type


class ThresholdingOp(HWOp):
    """PE channels per cycle, each compared with its sorted thresholds."""

    op_type = "Thresholding"
    folding = (("PE", "NumChannels"),)
    modules = {"thresholding": ("skid_buffer.sv", "rom.sv", "operand_decode.sv", "channel_fold.sv",
                                "threshold_search.sv", "thresholding.sv")}

    def terms(self, rtl: LayerRTL) -> dict[str, float]:
        """Stream bits, a base and the threshold comparators."""
        p = rtl.design.params
        return super().terms(rtl) | {"compare_bits": compare_bits(p["NTHRES"], p["PE"], p["TBITS"])}

    def memories(self, rtl: LayerRTL) -> list[Memory]:
        """The threshold roms (a shared row's once per lane)."""
        p = rtl.design.params
        return threshold_memories(p["NTHRES"], p["PE"], p["C"] // p["PE"], p["TBITS"], p.get("THRESH_SHARED", 0))

    def rtl(self, model: ModelWrapper, node) -> LayerRTL:
        """thresholding with its threshold memories."""
        self.check_folding(node)
        inst = getCustomOp(node)
        ch, pe = inst.get_nodeattr("NumChannels"), inst.get_nodeattr("PE")
        idt, odt = inst.get_input_datatype(0), inst.get_output_datatype()
        lo, hi = int(idt.min()), int(idt.max())
        thr = clip_thresholds(model.get_initializer(node.input[1]), lo, hi)
        tbits = max(signed_type(lo, hi + 1).bitwidth(), idt.bitwidth() + 1)
        params = {"C": ch, "PE": pe, "IBITS": idt.bitwidth(), "IKIND": operand_kind(idt),
                  "TBITS": tbits, "NTHRES": thr.shape[1], "OBITS": odt.bitwidth(),
                  "ACTVAL": inst.get_nodeattr("ActVal"), "THRESH_FILE": THRESH_FILE} | shared_param(thr)
        mems = threshold_mem_files(thr, pe, DataType[f"INT{tbits}"], hi + 1)
        return self.design(inst, "thresholding", params, mems=mems)
