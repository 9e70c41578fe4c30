"""ElementwiseAdd (the join of a residual shortcut) on our add_streams.sv: two integer streams, one sum.

The reference is FINN's ElementwiseAdd python execution.
"""
from __future__ import annotations

from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

from xnorflow.hw.ops.common import HWOp, LayerRTL, check_range, fail
from xnorflow.hw.streams import operand_kind


class ElementwiseAddOp(HWOp):
    """PE sums per cycle of two equally shaped streams."""

    op_type = "ElementwiseAdd"
    folding = (("PE", None),)
    modules = {"add_streams": ("skid_buffer.sv", "operand_decode.sv", "add_streams.sv")}

    def rtl(self, model: ModelWrapper, node) -> LayerRTL:
        """add_streams; broadcasting and constant operands are refused."""
        self.check_folding(node)
        inst = getCustomOp(node)
        lhs, rhs, odt = inst.get_input_datatype(0), inst.get_input_datatype(1), inst.get_output_datatype()
        if list(inst.lhs_shape) != list(inst.rhs_shape) or "const" in (inst.lhs_style, inst.rhs_style):
            fail(node, "only two streamed inputs of the same shape are supported",
                 "feed both operands as streams without broadcasting")
        if not (lhs.is_integer() and rhs.is_integer()):
            fail(node, f"inputs {lhs.name} + {rhs.name} are not integer", "quantize both operands")
        check_range(node, odt, int(lhs.min() + rhs.min()), int(lhs.max() + rhs.max()))
        params = {"PE": inst.pe, "ABITS": lhs.bitwidth(), "AKIND": operand_kind(lhs),
                  "BBITS": rhs.bitwidth(), "BKIND": operand_kind(rhs), "OBITS": odt.bitwidth()}
        return self.design(inst, "add_streams", params, n_in=2)
