"""LabelSelect (top-K class indices, largest first) on our label_select.sv.

The reference is FINN's LabelSelect python execution.
"""
from __future__ import annotations

from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

from xnorflow.hw.ops.common import HWOp, LayerRTL, check_range, fail
from xnorflow.hw.streams import operand_kind


class LabelSelectOp(HWOp):
    """PE logits per cycle into a running top-K, the K indices at the frame's end."""

    op_type = "LabelSelect"
    folding = (("PE", "Labels"),)
    modules = {"label_select": ("skid_buffer.sv", "operand_decode.sv", "label_select.sv")}
    accumulates = True

    def terms(self, rtl: LayerRTL) -> dict[str, float]:
        """Stream bits, a base and the insertion network: PE x K compare-and-keep cells of a value and its index."""
        p = rtl.design.params
        return super().terms(rtl) | {"insert_bits": float(p["PE"] * p["K"] * (p["IBITS"] + p["LABELS"].bit_length()))}

    def rtl(self, model: ModelWrapper, node) -> LayerRTL:
        """label_select."""
        self.check_folding(node)
        inst = getCustomOp(node)
        labels, pe, k = inst.get_nodeattr("Labels"), inst.get_nodeattr("PE"), inst.get_nodeattr("K")
        idt, odt = inst.get_input_datatype(), inst.get_output_datatype()
        if not 1 <= k <= labels:
            fail(node, f"K={k} outside 1..{labels}", "choose K between 1 and Labels")
        check_range(node, odt, 0, labels - 1)
        params = {"LABELS": labels, "PE": pe, "IBITS": idt.bitwidth(), "IKIND": operand_kind(idt),
                  "K": k, "OBITS": odt.bitwidth()}
        return self.design(inst, "label_select", params)
