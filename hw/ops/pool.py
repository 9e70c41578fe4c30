"""Pool (MaxPool, AccPool, QuantAvgPool over im2col-ordered windows) and GlobalAccPool on our pool.sv.

The references are FINN's Pool and GlobalAccPool python executions; FINN's float-mean AvgPool is refused.
"""
from __future__ import annotations

import numpy as np
from qonnx.core.datatype import BaseDataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

from xnorflow.hw.ops.common import HWOp, LayerRTL, check_range, fail
from xnorflow.hw.resource_model import Memory
from xnorflow.hw.streams import operand_kind

FUNCS = {"MaxPool": 0, "AccPool": 1, "QuantAvgPool": 2}
MODULES = {"pool": ("skid_buffer.sv", "operand_decode.sv", "channel_fold.sv", "pool.sv")}


def pool_params(node, idt: BaseDataType, odt: BaseDataType, k: int, ch: int, pe: int, func: int,
                shift: int) -> dict[str, int]:
    """pool.sv's parameters, after checking that FINN's results fit the output type."""
    lo, hi = (int(idt.min()), int(idt.max())) if func == 0 else (k * int(idt.min()), k * int(idt.max()))
    check_range(node, odt, lo >> shift, hi >> shift)
    return {"K": k, "C": ch, "PE": pe, "IBITS": idt.bitwidth(), "IKIND": operand_kind(idt),
            "OBITS": odt.bitwidth(), "FUNC": func, "SHIFT": shift}


class PoolModel(HWOp):
    """pool.sv's resource model: PE accumulators and their bank of C/PE words."""

    modules = MODULES

    @staticmethod
    def acc_bits(p: dict) -> int:
        """pool.sv's accumulator bits of all PE lanes (AB = IBITS + 2 + clog2 K each)."""
        return p["PE"] * (p["IBITS"] + 2 + (p["K"] - 1).bit_length())

    def terms(self, rtl: LayerRTL) -> dict[str, float]:
        """Stream bits, a base and the accumulators."""
        return super().terms(rtl) | {"acc_bits": float(self.acc_bits(rtl.design.params))}

    def memories(self, rtl: LayerRTL) -> list[Memory]:
        """The accumulator bank (read without a register), when there is more than one channel fold."""
        p = rtl.design.params
        cf = p["C"] // p["PE"]
        return [Memory(cf, self.acc_bits(p), "async")] if cf > 1 else []


def quant_avg_shift(idt: BaseDataType, odt: BaseDataType, k: int) -> int:
    """Right shift of FINN's QuantAvgPool: sum bits for unsigned inputs minus output bits."""
    max_bits = int((2 ** idt.bitwidth() - 1) * k).bit_length()
    return max(max_bits - odt.bitwidth(), 0)


class PoolOp(PoolModel):
    """One window of K words in, one word of PE channels out."""

    op_type = "Pool"
    folding = (("PE", "Channels"),)

    def need(self, node, rtl: LayerRTL, i: int) -> np.ndarray:
        """A whole window of the pixel before each output pixel's words."""
        n_in, n_out = rtl.inputs[0].words, rtl.outputs[0].words
        pixels = int(np.prod(getCustomOp(node).get_normal_output_shape()[:-1]))
        return (np.arange(n_out) // (n_out // pixels) + 1) * (n_in // pixels)

    def rtl(self, model: ModelWrapper, node) -> LayerRTL:
        """pool with the node's function."""
        self.check_folding(node)
        inst = getCustomOp(node)
        fxn, k = inst.get_nodeattr("Function"), int(np.prod(inst.get_nodeattr("KernelSize")))
        idt, odt = inst.get_input_datatype(), inst.get_output_datatype()
        if fxn not in FUNCS:
            fail(node, f"{fxn} is not integer-exact (FINN's python execution returns a float mean)",
                 "export average pooling as QuantAvgPool2d (or use AccPool)")
        shift = quant_avg_shift(idt, odt, k) if fxn == "QuantAvgPool" else 0
        params = pool_params(node, idt, odt, k, inst.get_nodeattr("Channels"), inst.get_nodeattr("PE"),
                             FUNCS[fxn], shift)
        return self.design(inst, "pool", params)


class GlobalAccPoolOp(PoolModel):
    """The sum over all pixels of each channel, at the frame's end."""

    op_type = "GlobalAccPool"
    folding = (("PE", "NumChannels"),)
    accumulates = True

    def rtl(self, model: ModelWrapper, node) -> LayerRTL:
        """pool summing H x W pixels."""
        self.check_folding(node)
        inst = getCustomOp(node)
        vecs = list(inst.get_nodeattr("numInputVectors"))
        if len(vecs) != 3:
            fail(node, f"numInputVectors {vecs} is not [batch, H, W]", "use a 4D NHWC input")
        params = pool_params(node, inst.get_input_datatype(), inst.get_output_datatype(), vecs[1] * vecs[2],
                             inst.get_nodeattr("NumChannels"), inst.get_nodeattr("PE"), 1, 0)
        return self.design(inst, "pool", params)
