"""QONNX-level checks and rewrites FINN lacks, run before ConvertQONNXtoFINN.

They need the Quant nodes (scale, bit width) that ConvertQONNXtoFINN dissolves:
- refuse what the integer flow cannot represent, with one XnorflowError naming the node and the fix;
- average pooling on a fixed-point grid is an integer window sum times 1/k^2: make the sum explicit so
  FINN turns it into a Pool(AccPool) / GlobalAccPool HW layer and the 1/k^2 into the next thresholds;
- RPReLU (Sub -> PRelu -> Add -> Quant) becomes a per-channel lookup table on the integer stream;
- a BN + requantisation after a channel Concat (Hyper-BinaryNet: binary conv ++ DPConv) moves into each branch,
  so the Concat joins two streams on one grid;
- ReLU of a signed grid tensor is the same grid, unsigned with one bit less;
- the exporter merges identical quantized weights (DPConv's all-ones channel sums): each layer gets its own copy,
  as FINN folds weights per layer;
- the TorchScript exporter writes one node per call, so an activation quantized twice (ReActNet's downsample signs
  one input for two convolutions) arrives as two identical nodes: they become one, as the dynamo exporter writes it.
"""
import numpy as np
from onnx import NodeProto, TensorProto, helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.base import Transformation
from qonnx.transformation.infer_shapes import InferShapes
from qonnx.util.basic import get_by_name

from xnorflow.hw.ops import DOMAIN
from xnorflow.errors import XnorflowError

SUPPORTED = {"Quant", "BipolarQuant", "Conv", "BatchNormalization", "Add", "Sub", "Mul", "Pad", "AveragePool",
             "ReduceMean", "GlobalAveragePool", "Reshape", "Flatten", "Gemm", "MatMul", "Concat", "PRelu",
             "MaxPool", "Relu", "Identity", "Div", "Sigmoid", "Unsqueeze"}  # the last two: R2B's gate (gate.py)
QUANTS = ("Quant", "BipolarQuant")
# data movement that surrounds an unsupported layer (an LSTM's Transposes): named only when nothing else is
LAYOUT_OPS = {"Transpose", "Squeeze", "Unsqueeze", "Shape", "Gather", "Slice", "Cast", "Constant", "Expand"}


def where(model: ModelWrapper, node: NodeProto) -> str:
    """'<op> <name> (node i of n)' for error messages."""
    i = list(model.graph.node).index(node)
    return f"{node.op_type} '{node.name}' (node {i + 1} of {len(model.graph.node)})"


def quant_of(model: ModelWrapper, tensor: str) -> NodeProto | None:
    """The Quant node setting `tensor`'s grid: its producer, or through a Concat (of one grid) its first input's, or
    through a MaxPool (a max of grid values is on the grid) its input's."""
    prod = model.find_producer(tensor)
    if prod is not None and prod.op_type in ("Concat", "MaxPool"):
        return quant_of(model, prod.input[0])
    return prod if prod is not None and prod.op_type == "Quant" else None


def attrs_of(node: NodeProto) -> dict:
    """A node's attributes as a dict (for copying it)."""
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def grid(model: ModelWrapper, q: NodeProto) -> tuple[float, float, int, int, int]:
    """Fixed-point grid of a Quant node: (scale, zero point, bits, signed, narrow)."""
    scale, zp, bits = (model.get_initializer(i) for i in q.input[1:4])
    if scale is None or zp is None or bits is None or np.unique(scale).size != 1:
        raise XnorflowError(f"{where(model, q)} has a non-constant or per-channel activation scale",
                            "quantize shortcut activations with the one constant fixed-point shortcut quantizer")
    attr = attrs_of(q)
    return float(scale.flat[0]), float(zp), int(bits), int(attr.get("signed", 1)), int(attr.get("narrow", 0))


def signed_grid(model: ModelWrapper, q: NodeProto) -> bool:
    """True when a Quant node's grid is signed with zero point 0 (symmetric around 0)."""
    _, zero_point, _, signed, _ = grid(model, q)
    return signed == 1 and zero_point == 0.0


def sole_consumer(model: ModelWrapper, node: NodeProto) -> NodeProto | None:
    """The one node reading `node`'s output, or None (no consumer, or a fork)."""
    consumers = model.find_consumers(node.output[0])
    return consumers[0] if len(consumers) == 1 else None


def quant_dtype(model: ModelWrapper, q: NodeProto) -> DataType:
    """Integer datatype of a Quant node's output."""
    _, _, bits, signed, narrow = grid(model, q)
    return DataType[("INT" if signed else "UINT") + str(bits)] if not narrow else DataType[f"INT{bits}"]


def is_binary(model: ModelWrapper, tensor: str) -> bool:
    """True when `tensor` comes from a BipolarQuant (a {-1,+1} activation)."""
    prod = model.find_producer(tensor)
    return prod is not None and prod.op_type == "BipolarQuant"


def first_unsupported(model: ModelWrapper) -> NodeProto | None:
    """The node to name when layers are unsupported: the first compute layer, else the first layout op."""
    unsupported = [n for n in model.graph.node if n.op_type not in SUPPORTED]
    return next((n for n in unsupported if n.op_type not in LAYOUT_OPS), unsupported[0] if unsupported else None)


def check_supported(model: ModelWrapper) -> None:
    """Refuse resized shortcuts, unsupported layers, float layers, zero-padded binary convs and mixed shortcut grids."""
    for node in model.graph.node:
        check_resized_shortcut(model, node)
    node = first_unsupported(model)
    if node is not None:
        raise XnorflowError(f"unsupported layer {where(model, node)}",
                            "build the model from Brevitas quant layers, BN, pooling, add, concat and RPReLU")
    for node in model.graph.node:
        if node.op_type in QUANTS and get_by_name(node.attribute, "rounding_mode") is not None:
            mode = helper.get_attribute_value(get_by_name(node.attribute, "rounding_mode")).decode()
            if mode != "ROUND":
                raise XnorflowError(f"{where(model, node)} rounds with {mode}", "use round-to-nearest quantizers")
        check_float_inputs(model, node)
        check_maxpool(model, node)
        check_padding(model, node)
        check_join(model, node)


RESIZES = {"Slice": "crops", "Pad": "pads"}


def resized_join(model: ModelWrapper, node: NodeProto) -> NodeProto | None:
    """The residual join (Add, Concat) that a chain of crops and pads starting at `node` feeds, or None."""
    for consumer in model.find_consumers(node.output[0]):
        if consumer.op_type in ("Add", "Concat"):
            return consumer
        join = resized_join(model, consumer) if consumer.op_type in RESIZES else None
        if join is not None:
            return join
    return None


def check_resized_shortcut(model: ModelWrapper, node: NodeProto) -> None:
    """A shortcut cropped (Slice) or padded (Pad) to the other branch's size before a join has no HW layer."""
    join = resized_join(model, node) if node.op_type in RESIZES else None
    if join is not None:
        raise XnorflowError(f"{where(model, node)} {RESIZES[node.op_type]} the shortcut of {where(model, join)}: "
                            "a resized shortcut has no HW layer",
                            "add the shortcut as it is and pad the binary conv with -1 by k // 2 "
                            "(F.pad(x, (1, 1, 1, 1), value=-1.0) for 3x3, padding=0) so both branches keep one size")


def check_float_inputs(model: ModelWrapper, node: NodeProto) -> None:
    """A Conv/Gemm/MatMul needs quantized weights and a quantized (or padded quantized) input."""
    if node.op_type not in ("Conv", "Gemm", "MatMul"):
        return
    wprod = model.find_producer(node.input[1])
    if wprod is None or wprod.op_type not in QUANTS:
        raise XnorflowError(f"{where(model, node)} has float weights",
                            "use a Brevitas QuantConv2d/QuantLinear with a weight quantizer")
    src = node.input[0]
    prod = model.find_producer(src)
    while prod is not None and prod.op_type in ("Pad", "Reshape", "Flatten", "MaxPool"):  # same grid
        prod = model.find_producer(prod.input[0])
    if prod is None or prod.op_type not in QUANTS:
        raise XnorflowError(f"{where(model, node)} reads a float (unquantized) input",
                            "put a QuantIdentity (shortcut or binary quantizer) in front of it")


def check_maxpool(model: ModelWrapper, node: NodeProto) -> None:
    """A max pool needs kernel >= stride, symmetric padding below the kernel (every window keeps a real element, so
    padding with the input type's minimum is exact), no dilation or ceil mode, and no negative scale behind it."""
    if node.op_type != "MaxPool":
        return
    attrs = attrs_of(node)
    kernel, stride = list(attrs["kernel_shape"]), list(attrs.get("strides", [1, 1]))
    pads = list(attrs.get("pads", [0, 0, 0, 0]))
    if len(kernel) != 2 or any(k < s for k, s in zip(kernel, stride)) or pads[:2] != pads[2:] \
            or any(p >= k for p, k in zip(pads, kernel)) \
            or any(d != 1 for d in attrs.get("dilations", [1])) or attrs.get("ceil_mode", 0):
        raise XnorflowError(f"unsupported max pool {where(model, node)} (kernel {kernel}, stride {stride}, pads "
                            f"{pads})", "use MaxPool2d(k, stride <= k, padding < k) without dilation or ceil_mode")
    consumer = sole_consumer(model, node)
    if consumer is not None and np.any(scale_of(model, consumer) < 0):
        raise XnorflowError(f"{where(model, consumer)} scales the max pool {node.name}'s output by a negative "
                            "factor, which does not commute with max", "put the BatchNorm before the MaxPool2d "
                            "(conv -> BN -> activation -> pool)")


def scale_of(model: ModelWrapper, node: NodeProto) -> np.ndarray:
    """Per-channel factor of a BatchNormalization or constant Mul (1 for any other node)."""
    if node.op_type == "BatchNormalization":
        gamma, _, _, var = (model.get_initializer(i) for i in node.input[1:5])
        return gamma / np.sqrt(var + attrs_of(node).get("epsilon", 1e-5))
    const = model.get_initializer(node.input[1]) if node.op_type == "Mul" else None
    return np.ones(1) if const is None else const


def check_padding(model: ModelWrapper, node: NodeProto) -> None:
    """A binary conv must pad with a bipolar value (+1/-1), never 0."""
    zero_pad = False
    if node.op_type == "Conv" and is_binary(model, node.input[0]):
        zero_pad = any(get_by_name(node.attribute, "pads").ints) if get_by_name(node.attribute, "pads") else False
    if node.op_type == "Pad" and is_binary(model, node.input[0]):
        value = model.get_initializer(node.input[2]) if len(node.input) > 2 and node.input[2] else None
        zero_pad = value is None or float(np.asarray(value).flat[0]) not in (-1.0, 1.0)
    if zero_pad:
        raise XnorflowError(f"binary conv input is zero-padded at {where(model, node)}: 0 is not in {{-1,+1}}",
                            "pad binary activations with -1 (F.pad(x, pads, value=-1.0)) and use padding=0 in the conv")


def check_join(model: ModelWrapper, node: NodeProto) -> None:
    """Both branches of a residual Add (and all Concat inputs) must be on one fixed-point grid."""
    if node.op_type not in ("Add", "Concat") or any(model.get_initializer(i) is not None for i in node.input):
        return
    quants = [quant_of(model, i) for i in node.input]
    if any(q is None for q in quants):
        raise XnorflowError(f"{where(model, node)} joins an unquantized branch",
                            "end every branch with the shared shortcut QuantIdentity before the add/concat")
    grids = {grid(model, q) for q in quants}
    if len(grids) != 1 or next(iter(grids))[1] != 0.0:
        raise XnorflowError(f"{where(model, node)} joins different fixed-point formats {sorted(grids)}",
                            "use the one shortcut quantizer (same bits, power-of-two scale, zero point 0) on every branch")


def new_tensor(model: ModelWrapper, shape: list[int]) -> str:
    """A fresh float tensor with a known shape."""
    name = model.make_new_valueinfo_name()
    model.graph.value_info.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, shape))
    return name


def const(model: ModelWrapper, value: np.ndarray, dtype: type = np.float32) -> str:
    """A fresh initializer."""
    name = model.make_new_valueinfo_name()
    model.set_initializer(name, np.asarray(value, dtype=dtype))
    return name


def chain(model: ModelWrapper, index: int, src: str, dst: str, steps: list[tuple]) -> None:
    """Insert nodes (op, extra inputs, attrs, out shape) from `src` to `dst` at `index`."""
    for k, (op, extra, attrs, shape) in enumerate(steps):
        out = dst if k == len(steps) - 1 else new_tensor(model, shape)
        model.graph.node.insert(index + k, helper.make_node(op, [src] + extra, [out], **attrs))
        src = out


def nhwc(shape: list[int]) -> list[int]:
    """NCHW shape -> NHWC shape."""
    return [shape[0], shape[2], shape[3], shape[1]]


class AveragePoolToSumPool(Transformation):
    """AveragePool(k, stride k) of a fixed-point tensor q*s -> (window sum of q) * s/k^2, sum lowered for FINN."""

    def apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
        for i, node in enumerate(model.graph.node):
            if node.op_type == "AveragePool":
                self.rewrite(model, i, node)
                return model.transform(InferShapes()), True
        return model, False

    def rewrite(self, model: ModelWrapper, i: int, node: NodeProto) -> None:
        """Mul(1/s) -> NHWC -> Im2Col -> Reshape -> ReduceSum -> NCHW -> Mul(s/k^2)."""
        attrs = attrs_of(node)
        k, stride = list(attrs["kernel_shape"]), list(attrs.get("strides", attrs["kernel_shape"]))
        q = quant_of(model, node.input[0])
        if k != stride or k[0] != k[1] or any(attrs.get("pads", [])) or q is None:
            raise XnorflowError(f"unsupported average pool {where(model, node)}",
                                "use AvgPool2d(k) (stride k, no padding) on a shortcut-quantized tensor")
        s = grid(model, q)[0]
        ishape, oshape = model.get_tensor_shape(node.input[0]), model.get_tensor_shape(node.output[0])
        n, c, oh, ow = oshape
        model.graph.node.remove(node)
        chain(model, i, node.input[0], node.output[0], [
            ("Mul", [const(model, 1.0 / s)], {}, ishape),
            ("Transpose", [], {"perm": [0, 2, 3, 1]}, nhwc(ishape)),
            ("Im2Col", [], {"domain": "qonnx.custom_op.general", "stride": stride, "kernel_size": k,
                            "input_shape": str(tuple(nhwc(ishape))), "depthwise": 1}, [n, oh, ow, k[0] * k[1] * c]),
            ("Reshape", [const(model, [n, oh, ow, k[0] * k[1], c], np.int64)], {}, [n, oh, ow, k[0] * k[1], c]),
            ("ReduceSum", [const(model, [-2], np.int64)], {"keepdims": 0}, [n, oh, ow, c]),
            ("Transpose", [], {"perm": [0, 3, 1, 2]}, oshape),
            ("Mul", [const(model, s / (k[0] * k[1]))], {}, oshape),
        ])


class ReduceMeanToGlobalAveragePool(Transformation):
    """ReduceMean over H, W with keepdims (AdaptiveAvgPool2d(1)) is ONNX GlobalAveragePool."""

    def apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
        for node in model.graph.node:
            if node.op_type != "ReduceMean":
                continue
            axes = model.get_initializer(node.input[1]) if len(node.input) > 1 else None
            keep = get_by_name(node.attribute, "keepdims")
            if axes is None or sorted(int(a) % 4 for a in axes) != [2, 3] or (keep is not None and keep.i == 0):
                raise XnorflowError(f"unsupported mean {where(model, node)}",
                                    "use AdaptiveAvgPool2d(1) (a global average pool keeping dims)")
            node.op_type = "GlobalAveragePool"
            del node.input[1:]
            del node.attribute[:]
            return model, True
        return model, False


def on_binary_conv(model: ModelWrapper, node: NodeProto) -> bool:
    """True when `node` reads a binary conv's output through constant Mul/Add only (R2B's scaled-conv PReLU).

    That PReLU is left for chain_lut.py, which tabulates it on the conv's raw popcount after XNOR conversion."""
    prod = model.find_producer(node.input[0])
    while prod is not None and prod.op_type in ("Mul", "Add") and model.get_initializer(prod.input[1]) is not None:
        prod = model.find_producer(prod.input[0])
    return prod is not None and prod.op_type == "Conv" and is_binary(model, skip_pad(model, prod.input[0]))


def skip_pad(model: ModelWrapper, tensor: str) -> str:
    """The tensor a Pad reads, or `tensor` itself when no Pad produces it."""
    prod = model.find_producer(tensor)
    return prod.input[0] if prod is not None and prod.op_type == "Pad" else tensor


class RPReLUToLUT(Transformation):
    """Quant_a -> Sub(gamma) -> PRelu -> Add(zeta) -> Quant_b becomes Mul(1/s_a) -> ChannelwiseLUT -> Mul(s_b)."""

    def apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
        for node in model.graph.node:
            if node.op_type == "PRelu" and not on_binary_conv(model, node):
                self.rewrite(model, node)
                return model.transform(InferShapes()), True
        return model, False

    def match(self, model: ModelWrapper, prelu: NodeProto) -> tuple[NodeProto, ...]:
        """(Quant_a, Sub, PRelu, Add, Quant_b) or an XnorflowError."""
        sub = model.find_producer(prelu.input[0])
        add = model.find_consumer(prelu.output[0])
        qa = quant_of(model, sub.input[0]) if sub is not None and sub.op_type in ("Sub", "Add") else None
        qb = model.find_consumer(add.output[0]) if add is not None and add.op_type == "Add" else None
        if qa is None or qb is None or qb.op_type != "Quant":
            raise XnorflowError(f"unsupported PReLU at {where(model, prelu)}",
                                "use RPReLU as: shortcut quant -> x - gamma -> PReLU -> + zeta -> shortcut quant")
        return qa, sub, prelu, add, qb

    def table(self, model: ModelWrapper, nodes: tuple[NodeProto, ...]) -> tuple[np.ndarray, DataType, DataType]:
        """Evaluate the float chain on every input integer, per channel, then requantize (half to even)."""
        qa, sub, prelu, add, qb = nodes
        idt, odt = quant_dtype(model, qa), quant_dtype(model, qb)
        s_a, s_b = grid(model, qa)[0], grid(model, qb)[0]
        c = model.get_tensor_shape(prelu.input[0])[1]
        per_chan = lambda t: np.broadcast_to(np.asarray(model.get_initializer(t), np.float32).reshape(-1), (c,))
        gamma, slope, zeta = (per_chan(n.input[1]) for n in (sub, prelu, add))
        gamma = gamma if sub.op_type == "Sub" else -gamma
        x = (np.arange(idt.min(), idt.max() + 1, dtype=np.float32) * np.float32(s_a))[None, :]
        t = x - gamma[:, None]
        y = np.where(t >= 0, t, slope[:, None] * t) + zeta[:, None]
        return np.clip(np.round(y / np.float32(s_b)), odt.min(), odt.max()).astype(np.float32), idt, odt

    def rewrite(self, model: ModelWrapper, prelu: NodeProto) -> None:
        """Replace the chain with Mul -> NHWC -> LUT -> NCHW -> Mul."""
        nodes = self.match(model, prelu)
        table, idt, odt = self.table(model, nodes)
        qa, sub, _, _, qb = nodes
        shape = model.get_tensor_shape(prelu.input[0])
        i = list(model.graph.node).index(sub)
        for n in nodes[1:]:
            model.graph.node.remove(n)
        chain(model, i, sub.input[0], qb.output[0], [  # sub.input[0]: the grid tensor (a Concat's, not qa's)
            ("Mul", [const(model, 1.0 / grid(model, qa)[0])], {}, shape),
            ("Transpose", [], {"perm": [0, 2, 3, 1]}, nhwc(shape)),
            ("ChannelwiseLUT", [const(model, table)], {"domain": DOMAIN, "backend": "fpgadataflow",
             "NumChannels": shape[1], "inputDataType": idt.name, "outputDataType": odt.name,
             "numInputVectors": nhwc(shape)[:3]}, nhwc(shape)),
            ("Transpose", [], {"perm": [0, 3, 1, 2]}, shape),
            ("Mul", [const(model, grid(model, qb)[0])], {}, shape),
        ])


class BatchNormQuantIntoConcat(Transformation):
    """Concat -> BatchNorm -> Quant  ==>  per input: BatchNorm (its channels) -> Quant, then Concat."""

    def apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
        for node in model.graph.node:
            bn = sole_consumer(model, node) if node.op_type == "Concat" else None
            quant = sole_consumer(model, bn) if bn is not None and bn.op_type == "BatchNormalization" else None
            if quant is not None and quant.op_type == "Quant":
                self.rewrite(model, node, bn, quant)
                return model.transform(InferShapes()), True
        return model, False

    def rewrite(self, model: ModelWrapper, concat: NodeProto, bn: NodeProto, quant: NodeProto) -> None:
        """Slice the BN parameters per Concat input; each slice gets its own BN and a copy of the Quant."""
        params = [model.get_initializer(i) for i in bn.input[1:]]
        start, i = 0, list(model.graph.node).index(concat)
        for k, src in enumerate(list(concat.input)):
            shape = model.get_tensor_shape(src)
            width = shape[1]
            sliced = [const(model, p[start:start + width]) for p in params]
            dst = new_tensor(model, shape)
            chain(model, i, src, dst, [
                ("BatchNormalization", sliced, attrs_of(bn), shape),
                ("Quant", list(quant.input[1:]), {"domain": quant.domain} | attrs_of(quant), shape)])
            concat.input[k] = dst
            i, start = i + 2, start + width
        concat.output[0] = quant.output[0]
        model.graph.node.remove(bn)
        model.graph.node.remove(quant)


class ReluToUnsignedQuant(Transformation):
    """Quant(signed, b bits, scale s) -> Relu  ==>  Quant(unsigned, b - 1 bits, scale s) of the same input."""

    def apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
        for node in model.graph.node:
            prod = model.find_producer(node.input[0]) if node.op_type == "Relu" else None
            if prod is not None and prod.op_type == "Quant" and signed_grid(model, prod):
                self.rewrite(model, node, prod)
                return model, True
        return model, False

    def rewrite(self, model: ModelWrapper, relu: NodeProto, quant: NodeProto) -> None:
        """Replace the Relu by an unsigned Quant (b - 1 bits) reading the signed Quant's input."""
        bits = const(model, grid(model, quant)[2] - 1)
        unsigned = helper.make_node("Quant", [quant.input[0], quant.input[1], quant.input[2], bits], [relu.output[0]],
                                    name=f"{relu.name}_unsigned", domain=quant.domain,
                                    **(attrs_of(quant) | {"signed": 0, "narrow": 0}))
        model.graph.node.insert(list(model.graph.node).index(relu), unsigned)
        model.graph.node.remove(relu)
        if not model.find_consumers(quant.output[0]):
            model.graph.node.remove(quant)


class UnshareWeightQuants(Transformation):
    """A Quant/BipolarQuant of constant weights feeding several layers becomes one copy per layer."""

    def apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
        for i, node in enumerate(model.graph.node):
            consumers = model.find_consumers(node.output[0])
            if node.op_type in QUANTS and model.get_initializer(node.input[0]) is not None and len(consumers) > 1:
                for consumer in consumers[1:]:
                    out = new_tensor(model, model.get_tensor_shape(node.output[0]))
                    clone = helper.make_node(node.op_type, list(node.input), [out], name=f"{node.name}_{consumer.name}",
                                             domain=node.domain, **attrs_of(node))
                    consumer.input[list(consumer.input).index(node.output[0])] = out
                    model.graph.node.insert(i, clone)
                return model, True
        return model, False


def _operand(model: ModelWrapper, tensor: str) -> str | tuple:
    """An input as compared for merging: an activation by name, a constant by its value."""
    value = model.get_initializer(tensor)
    return tensor if value is None else (value.dtype.str, value.shape, value.tobytes())


class MergeRepeatedActivationOps(Transformation):
    """Two nodes of one op on the same activations, parameters and attributes become one (weights stay per layer)."""

    def apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
        seen: dict[tuple, NodeProto] = {}
        graph_outputs = {o.name for o in model.graph.output}
        for node in model.graph.node:
            if all(model.get_initializer(i) is not None for i in node.input):
                continue
            key = (node.domain, node.op_type, tuple(_operand(model, i) for i in node.input),
                   tuple(a.SerializeToString() for a in node.attribute))
            first = seen.setdefault(key, node)
            if first is not node and not graph_outputs.intersection(node.output):
                for old, new in zip(node.output, first.output):
                    for consumer in model.find_consumers(old):
                        consumer.input[list(consumer.input).index(old)] = new
                model.graph.node.remove(node)
                return model, True
        return model, False


def prepare(model: ModelWrapper) -> ModelWrapper:
    """Merge repeated nodes, rewrite ReLU and Concat joins onto grids, check the QONNX graph, then rewrite pooling
    and RPReLU."""
    for t in (MergeRepeatedActivationOps(), UnshareWeightQuants(), ReluToUnsignedQuant(), BatchNormQuantIntoConcat()):
        model = model.transform(t)
    check_supported(model)
    for t in (ReduceMeanToGlobalAveragePool(), AveragePoolToSumPool(), RPReLUToLUT()):
        model = model.transform(t)
    return model
