"""Batched versions of the FINN streamlining steps that dominate a full-size build (profiled on a full-size build).

FINN's AbsorbScalarBiasIntoMultiThreshold rewrites one MultiThreshold -> Add per pass over the graph, then
re-infers datatypes and shapes of a deep copy of the whole model and starts again: on reactnet-a-cifar it was
28% of the conversion. Each absorption only touches its own MultiThreshold and Add (no check reads an inferred
shape or datatype), so all of them are done in one pass here, with FINN's checks, followed by the same
datatype and shape inference FINN's last pass ends with.
"""
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation
from qonnx.transformation.infer_datatypes import InferDataTypes
from qonnx.transformation.infer_shapes import InferShapes


def shifted_dtype(out_bias: float, steps: int) -> DataType:
    """FINN's smallest integer type for MultiThreshold outputs out_bias + [0, steps]."""
    low, high = out_bias, out_bias + steps
    return DataType.get_smallest_possible(high if low >= 0 else min(low, -(high + 1)))


class AbsorbScalarBiasesIntoMultiThresholds(Transformation):
    """FINN's AbsorbScalarBiasIntoMultiThreshold (max_bitwidth_increase 0), every absorption in one pass."""

    def apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
        for node in list(model.graph.node):
            while node.op_type == "MultiThreshold" and self.absorb(model, node):
                pass
        return model.transform(InferDataTypes()).transform(InferShapes()), False

    def absorb(self, model: ModelWrapper, node) -> bool:
        """Fold the scalar constant Add after `node` into its out_bias where the output width does not grow."""
        if model.is_fork_node(node) or model.is_join_node(node):
            return False
        add = model.find_consumer(node.output[0])
        bias = model.get_initializer(add.input[1]) if add is not None and add.op_type == "Add" else None
        thresholds = model.get_initializer(node.input[1])
        if bias is None or thresholds is None or not (bias.ndim == 0 or all(x == 1 for x in bias.shape)):
            return False
        inst = getCustomOp(node)
        out_bias = float(inst.get_nodeattr("out_bias") + bias.flatten()[0])
        odt = shifted_dtype(out_bias, thresholds.shape[-1])
        if not (odt.allowed(out_bias + thresholds.shape[-1]) and odt.allowed(out_bias)):
            return False
        if odt.bitwidth() > DataType[inst.get_nodeattr("out_dtype")].bitwidth():
            return False
        inst.set_nodeattr("out_bias", out_bias)
        inst.set_nodeattr("out_dtype", odt.name)
        node.output[0] = add.output[0]
        model.graph.node.remove(add)
        model.set_tensor_datatype(node.output[0], odt)
        return True
