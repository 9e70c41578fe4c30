"""Single-node FINN HW graphs of the data-movement and shortcut layers, and random inputs for them."""
from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper
from qonnx.core.datatype import BaseDataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx
from qonnx.custom_op.registry import getCustomOp
from qonnx.util.basic import qonnx_make_model

from finn_nodes import FINN_DOMAIN
from xnorflow.hw.ops import DOMAIN
from xnorflow.hw.streams import random_tensor


def _wrap(op: str, n_in: int, n_out: int, domain: str = FINN_DOMAIN, **attrs) -> ModelWrapper:
    """A one-node graph in0.. -> out0..; shapes and data types come from the node itself."""
    ins, outs = [f"in{i}" for i in range(n_in)], [f"out{i}" for i in range(n_out)]
    node = helper.make_node(op, ins, outs, domain=domain, backend="fpgadataflow",
                            name=f"{op}_0", **attrs)
    inst = getCustomOp(node)
    vi = [helper.make_tensor_value_info(n, TensorProto.FLOAT, list(inst.get_normal_input_shape(i)))
          for i, n in enumerate(ins)]
    vo = [helper.make_tensor_value_info(n, TensorProto.FLOAT, list(inst.get_normal_output_shape(i)))
          for i, n in enumerate(outs)]
    model = ModelWrapper(qonnx_make_model(helper.make_graph([node], "g", vi, vo)))
    node = model.graph.node[0]
    inst = getCustomOp(node)
    for i, n in enumerate(ins):
        model.set_tensor_datatype(n, inst.get_input_datatype(i))
    for i, n in enumerate(outs):
        model.set_tensor_datatype(n, inst.get_output_datatype(i))
    return model


def swg_model(ifm: tuple[int, int], ch: int, simd: int, k: tuple[int, int],
              stride: tuple[int, int], dt: BaseDataType, ram_style: str = "distributed"
              ) -> ModelWrapper:
    """ConvolutionInputGenerator (no padding, dilation 1)."""
    ofm = [(i - kk) // s + 1 for i, kk, s in zip(ifm, k, stride)]
    return _wrap("ConvolutionInputGenerator", 1, 1, ConvKernelDim=list(k), IFMChannels=ch,
                 IFMDim=list(ifm), OFMDim=ofm, SIMD=simd, Stride=list(stride),
                 Dilation=[1, 1], inputDataType=dt.name, outputDataType=dt.name,
                 ram_style=ram_style)


def fmpadding_model(img: tuple[int, int], pad: tuple[int, int, int, int], ch: int, simd: int,
                    dt: BaseDataType, minimum: bool = False) -> ModelWrapper:
    """FMPadding (zero border), or with `minimum` xnorflow's MinPadding; pad = (top, left, bottom, right)."""
    return _wrap("FMPadding", 1, 1, DOMAIN if minimum else FINN_DOMAIN, ImgDim=list(img), Padding=list(pad),
                 NumChannels=ch, SIMD=simd, inputDataType=dt.name)


def pool_model(fxn: str, k: tuple[int, int], odims: tuple[int, int], ch: int, pe: int,
               idt: BaseDataType, odt: BaseDataType, batch: int = 1) -> ModelWrapper:
    """Pool (MaxPool, AccPool, QuantAvgPool, AvgPool) on im2col-ordered windows."""
    return _wrap("Pool", 1, 1, Channels=ch, PE=pe, KernelSize=list(k), Function=fxn,
                 OutImgDims=list(odims), InputDataType=idt.name, OutputDataType=odt.name,
                 BatchSize=batch)


def global_acc_pool_model(vecs: list[int], ch: int, pe: int, dt: BaseDataType) -> ModelWrapper:
    """GlobalAccPool over [batch, H, W]."""
    return _wrap("GlobalAccPool", 1, 1, NumChannels=ch, PE=pe, inputDataType=dt.name,
                 numInputVectors=vecs)


def duplicate_model(vecs: list[int], ch: int, pe: int, dt: BaseDataType) -> ModelWrapper:
    """DuplicateStreams with two outputs."""
    return _wrap("DuplicateStreams", 1, 2, NumChannels=ch, PE=pe, NumOutputStreams=2,
                 inputDataType=dt.name, numInputVectors=vecs)


def add_model(shape: list[int], pe: int, lhs: BaseDataType, rhs: BaseDataType,
              out: BaseDataType) -> ModelWrapper:
    """ElementwiseAdd of two streams of the same shape."""
    return _wrap("ElementwiseAdd", 2, 1, lhs_shape=shape, rhs_shape=shape, out_shape=shape,
                 lhs_dtype=lhs.name, rhs_dtype=rhs.name, out_dtype=out.name, PE=pe)


def concat_model(vecs: list[int], chans: tuple[int, int], simd: int,
                 dts: tuple[BaseDataType, BaseDataType]) -> ModelWrapper:
    """StreamingConcat of two streams along channels."""
    return _wrap("StreamingConcat", 2, 1, SIMD=simd, ChannelsPerStream=list(chans),
                 inputDataTypes=[d.name for d in dts], numInputVectors=vecs)


def label_select_model(vecs: list[int], labels: int, pe: int, k: int,
                       dt: BaseDataType) -> ModelWrapper:
    """LabelSelect (top-k indices; FINN picks the output type)."""
    return _wrap("LabelSelect", 1, 1, Labels=labels, PE=pe, K=k, inputDataType=dt.name,
                 numInputVectors=vecs)


def dwc_model(shape: list[int], in_elems: int, out_elems: int, dt: BaseDataType) -> ModelWrapper:
    """StreamingDataWidthConverter between words of in_elems and out_elems elements."""
    bits = dt.bitwidth()
    return _wrap("StreamingDataWidthConverter", 1, 1, inShape=shape, outShape=shape,
                 inWidth=in_elems * bits, outWidth=out_elems * bits, dataType=dt.name)


def finn_outputs(model: ModelWrapper, *xs: np.ndarray) -> list[np.ndarray]:
    """FINN's python execution of the node on inputs in0, in1, ...; its outputs in order."""
    res = execute_onnx(model, {f"in{i}": x.astype(np.float32) for i, x in enumerate(xs)})
    return [res[o.name] for o in model.graph.output]


def random_inputs(rng: np.random.Generator, model: ModelWrapper) -> list[np.ndarray]:
    """One random tensor per graph input, of its shape and FINN data type."""
    return [random_tensor(rng, model.get_tensor_datatype(i.name), model.get_tensor_shape(i.name))
            for i in model.graph.input]
