"""Single-node FINN HW graphs (MVAU, Thresholding) and their python execution: the reference."""
from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper
from qonnx.core.datatype import BaseDataType, DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx
from qonnx.util.basic import qonnx_make_model

FINN_DOMAIN = "finn.custom_op.fpgadataflow"


def _model(node, in_shape: tuple, out_shape: tuple, in_dt: BaseDataType,
           out_dt: BaseDataType, inits: dict[str, tuple[np.ndarray, BaseDataType]]) -> ModelWrapper:
    """Wrap one node with float tensors `inp` -> `outp` and its initializers."""
    inp = helper.make_tensor_value_info("inp", TensorProto.FLOAT, list(in_shape))
    outp = helper.make_tensor_value_info("outp", TensorProto.FLOAT, list(out_shape))
    model = ModelWrapper(qonnx_make_model(helper.make_graph([node], "g", [inp], [outp])))
    model.set_tensor_datatype("inp", in_dt)
    model.set_tensor_datatype("outp", out_dt)
    for name, (value, dt) in inits.items():
        model.set_initializer(name, value.astype(np.float32))
        model.set_tensor_datatype(name, dt)
    return model


def mvau_model(mw: int, mh: int, pe: int, simd: int, idt: BaseDataType, wdt: BaseDataType,
               odt: BaseDataType, weights: np.ndarray, thresholds: np.ndarray | None,
               tdt: BaseDataType | None, vecs: list[int], xnor: bool, actval: int = 0,
               mem_mode: str = "internal_decoupled") -> ModelWrapper:
    """A one-node MVAU graph (thresholds None = noActivation; mem_mode "external": weights on a stream)."""
    inputs = ["inp", "weights"] + ([] if thresholds is None else ["thresh"])
    node = helper.make_node(
        "MVAU", inputs, ["outp"], domain=FINN_DOMAIN, backend="fpgadataflow", name="mvau0",
        MW=mw, MH=mh, PE=pe, SIMD=simd, inputDataType=idt.name, weightDataType=wdt.name,
        outputDataType=odt.name, ActVal=actval, binaryXnorMode=int(xnor),
        noActivation=int(thresholds is None), numInputVectors=vecs, mem_mode=mem_mode)
    inits = {"weights": (weights, wdt)}
    if thresholds is not None:
        inits["thresh"] = (thresholds, tdt)
    return _model(node, (*vecs, mw), (*vecs, mh), idt, odt, inits)


def external_mvau_chain(rng: np.random.Generator, widths: tuple[int, ...], vecs: list[int],
                        folds: tuple[tuple[int, int], ...] = ((2, 4), (2, 2))) -> ModelWrapper:
    """MVAUs in a chain, every one with mem_mode "external" (weights on a stream): layer i maps widths[i] to
    widths[i + 1] channels at (PE, SIMD) folds[i] (by default 2 x 4, then 2 x 2: each layer's weight words
    differ), 2-bit activations (UINT2, 3 thresholds) and weights (INT2)."""
    names = ["inp", *(f"act{i}" for i in range(1, len(widths) - 1)), "outp"]
    nodes, inits = [], {}
    for i, (mw, mh, (pe, simd)) in enumerate(zip(widths, widths[1:], folds)):
        nodes.append(helper.make_node(
            "MVAU", [names[i], f"w{i}", f"t{i}"], [names[i + 1]], domain=FINN_DOMAIN, backend="fpgadataflow",
            name=f"mvau{i}", MW=mw, MH=mh, PE=pe, SIMD=simd, inputDataType="UINT2", weightDataType="INT2",
            outputDataType="UINT2", ActVal=0, binaryXnorMode=0, noActivation=0, numInputVectors=vecs,
            mem_mode="external"))
        inits[f"w{i}"] = (rng.integers(-2, 2, (mw, mh)), DataType["INT2"])
        inits[f"t{i}"] = (np.sort(rng.integers(-3 * mw // 2, mw, (mh, 3)), axis=1), DataType["INT16"])
    inp = helper.make_tensor_value_info("inp", TensorProto.FLOAT, [*vecs, widths[0]])
    outp = helper.make_tensor_value_info("outp", TensorProto.FLOAT, [*vecs, widths[-1]])
    acts = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [*vecs, w]) for n, w in zip(names[1:-1], widths[1:])]
    model = ModelWrapper(qonnx_make_model(helper.make_graph(nodes, "g", [inp], [outp], value_info=acts)))
    for name in names:
        model.set_tensor_datatype(name, DataType["UINT2"])
    for name, (value, dt) in inits.items():
        model.set_initializer(name, value.astype(np.float32))
        model.set_tensor_datatype(name, dt)
    return model


def thresholding_model(ch: int, pe: int, idt: BaseDataType, odt: BaseDataType,
                       thresholds: np.ndarray, tdt: BaseDataType, vecs: list[int],
                       actval: int = 0) -> ModelWrapper:
    """A one-node Thresholding graph."""
    node = helper.make_node(
        "Thresholding", ["inp", "thresh"], ["outp"], domain=FINN_DOMAIN, backend="fpgadataflow",
        name="thr0", NumChannels=ch, PE=pe, numSteps=thresholds.shape[1],
        inputDataType=idt.name, weightDataType=tdt.name, outputDataType=odt.name,
        ActVal=actval, numInputVectors=vecs)
    return _model(node, (*vecs, ch), (*vecs, ch), idt, odt, {"thresh": (thresholds, tdt)})


def finn_execute(model: ModelWrapper, x: np.ndarray) -> np.ndarray:
    """FINN's python execution of the graph on input `x`."""
    return execute_onnx(model, {"inp": x.astype(np.float32)})["outp"]
