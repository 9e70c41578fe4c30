"""Bipolar padding and shared signs through the XNOR conversion, and max-pool padding: FINN lacks all three.

A binary conv pads with -1 (`F.pad(..., value=-1)` exports as an ONNX Pad). Stock FINN keeps the Pad
at -1 after ConvertBipolarMatMulToXnorPopcount re-encodes the stream {-1,+1} as {0,1}, and its
InferFMPadding only takes zero pads. We fold the Pad into the lowered conv's Im2Col (pad value -1),
then re-encode that pad value with the stream (-1 -> 0, +1 -> 1); InferConvInpGen then makes
FMPadding (pad 0 on the BINARY stream, i.e. bipolar -1) + ConvolutionInputGenerator.

The exporter merges identical sign quantizers on one tensor (ReActNet's duplicated 1x1 convs), so one bipolar
MultiThreshold feeds two MatMuls; ConvertBipolarMatMulToXnorPopcount re-encodes it for the first and then finds
no bipolar producer for the second. Each consumer gets its own copy of the sign first.

A padded max pool (PyTorch pads with -inf) is exact on integers padded with the smallest value of the input's
datatype, as every window keeps a real element (pad < kernel, prepare.py): FINN's InferPool lowers it to an
Im2Col with that pad value, which FINN's InferConvInpGen refuses unless it is 0. Its FMPadding becomes a
MinPadding instead (hw/ops/fm_padding.py), whose border is the minimum of its input type.
"""
import copy

import numpy as np
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation
from qonnx.transformation.infer_shapes import InferShapes

from finn.transformation.fpgadataflow.convert_to_hw.conv_inp_gen import InferConvInpGen
from xnorflow.errors import XnorflowError
from xnorflow.hw.ops import DOMAIN


class FoldBipolarPadIntoIm2Col(Transformation):
    """Pad(NCHW, constant +-1) -> Transpose(to NHWC) -> Im2Col  ==>  Transpose -> Im2Col(pad_amount, pad_value)."""

    def apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
        for pad in model.graph.node:
            if pad.op_type != "Pad":
                continue
            trans = model.find_consumer(pad.output[0])
            im2col = model.find_consumer(trans.output[0]) if trans is not None else None
            if trans is None or trans.op_type != "Transpose" or im2col is None or im2col.op_type != "Im2Col":
                raise XnorflowError(f"Pad '{pad.name}' does not feed a conv",
                                    "use F.pad with value -1 only directly in front of a binary conv")
            self.fold(model, pad, trans, im2col)
            return model.transform(InferShapes()), True
        return model, False

    def fold(self, model: ModelWrapper, pad, trans, im2col) -> None:
        """Move the pad amounts (NCHW pads [.., t, l, .., b, r]) and value onto the Im2Col."""
        pads = [int(p) for p in model.get_initializer(pad.input[1])]
        value = float(np.asarray(model.get_initializer(pad.input[2])).flat[0])
        inst = getCustomOp(im2col)
        inst.set_nodeattr("pad_amount", [pads[2], pads[3], pads[6], pads[7]])
        inst.set_nodeattr("pad_value", int(value))
        nhwc = model.get_tensor_shape(pad.input[0])
        inst.set_nodeattr("input_shape", str((nhwc[0], nhwc[2], nhwc[3], nhwc[1])))
        trans.input[0] = pad.input[0]
        model.set_tensor_shape(trans.output[0], [nhwc[0], nhwc[2], nhwc[3], nhwc[1]])
        model.graph.node.remove(pad)


class EncodeBipolarPadValue(Transformation):
    """After XNOR conversion a BINARY stream encodes bipolar v as (v + 1) / 2: re-encode Im2Col pad values."""

    def apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
        for node in model.graph.node:
            if node.op_type == "Im2Col" and model.get_tensor_datatype(node.input[0]) == DataType["BINARY"]:
                inst = getCustomOp(node)
                if inst.get_nodeattr("pad_value") == -1:
                    inst.set_nodeattr("pad_value", 0)
        return model, False


class UnshareBipolarThresholds(Transformation):
    """A bipolar MultiThreshold with several consumers becomes one copy per consumer (one sign per binary conv)."""

    def apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
        for i, node in enumerate(model.graph.node):
            consumers = model.find_consumers(node.output[0]) if node.op_type == "MultiThreshold" else []
            if len(consumers) > 1 and getCustomOp(node).get_nodeattr("out_dtype") == "BIPOLAR":
                for k, consumer in enumerate(consumers[1:]):
                    self.copy_for(model, i + k + 1, node, consumer)
                return model.transform(InferShapes()), True
        return model, False

    def copy_for(self, model: ModelWrapper, index: int, node, consumer) -> None:
        """Insert a copy of `node` (own thresholds, own output) at `index` feeding `consumer`."""
        clone = copy.deepcopy(node)
        clone.name = f"{node.name}_{consumer.name}"
        clone.input[1] = model.make_new_valueinfo_name()
        model.set_initializer(clone.input[1], model.get_initializer(node.input[1]).copy())
        clone.output[0] = model.make_new_valueinfo_name()
        model.set_tensor_datatype(clone.output[0], DataType["BIPOLAR"])
        consumer.input[list(consumer.input).index(node.output[0])] = clone.output[0]
        model.graph.node.insert(index, clone)


class InferConvInpGenWithMinPadding(Transformation):
    """FINN's InferConvInpGen, where an Im2Col padding with its input type's nonzero minimum (a max pool's) gets a
    MinPadding in place of the zero FMPadding."""

    def apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
        padded = set()
        for node in model.get_nodes_by_op_type("Im2Col"):
            inst, dtype = getCustomOp(node), model.get_tensor_datatype(node.input[0])
            if any(inst.get_nodeattr("pad_amount")) and inst.get_nodeattr("pad_value") == dtype.min() != 0:
                padded.add(f"FMPadding_Batch_{node.name}")  # the name InferConvInpGen gives its FMPadding
                inst.set_nodeattr("pad_value", 0)
        model = model.transform(InferConvInpGen())
        for node in model.graph.node:
            if node.name in padded:
                node.domain = DOMAIN
                padded.remove(node.name)
        if padded:  # its Im2Col, left as it was, now pads with 0
            raise XnorflowError(f"a max pool's padding did not become a HW layer ({', '.join(sorted(padded))})",
                                "report the model: the pool's input lacks a shape or an integer datatype")
        return model, False
