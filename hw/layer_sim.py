"""One HW layer of a build, alone in Verilator against FINN's python execution of that node.

`xnorflow sim BUILD_DIR --layer NAME` takes the node from the folded graph the stitcher used
(rtl/folded.onnx), so the layer runs with the build's own PE/SIMD, weights and thresholds, on
random frames over its input types, at full rate and with input gaps and output stalls.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

from xnorflow.errors import XnorflowError
from xnorflow.hw.accelerator import check_equal
from xnorflow.hw.build import open_build
from xnorflow.hw.ops import hw_nodes, layer_rtl
from xnorflow.hw.ops.common import run_frames
from xnorflow.hw.ops.mvau import weight_stream
from xnorflow.hw.streams import random_tensor

GAPS = {"seed": 11, "in_gap": 0.3, "out_stall": 0.3}


def find_layer(model: ModelWrapper, name: str):
    """The HW node called `name`; the error lists the layers there are."""
    nodes = {n.name: n for n in hw_nodes(model)}
    if name not in nodes:
        raise XnorflowError(f"no HW layer '{name}' in this build",
                            f"use one of: {', '.join(nodes)}")
    return nodes[name]


def node_reference(model: ModelWrapper, node, xs: list[np.ndarray]) -> list[np.ndarray]:
    """FINN's python execution of one node on its dynamic inputs (initializers from the graph)."""
    ctx = {i: model.get_initializer(i) for i in node.input if model.get_initializer(i) is not None}
    ctx |= dict(zip([i for i in node.input if i not in ctx], xs))
    ctx |= {o: np.zeros(model.get_tensor_shape(o), np.float32) for o in node.output}
    getCustomOp(node).execute_node(ctx, model.graph)
    return [np.asarray(ctx[o]) for o in node.output]


def simulate_layer(build_dir: Path, name: str, frames: int = 4, seed: int = 0) -> dict:
    """Simulate one layer on random frames; raise on the first word that differs from FINN."""
    model = open_build(build_dir).folded()
    node = find_layer(model, name)
    rtl = layer_rtl(model, node)
    ins = rtl.inputs[:len([i for i in node.input if model.get_initializer(i) is None])]
    weights = [weight_stream(model.get_initializer(node.input[1]), getCustomOp(node))] if len(rtl.inputs) > len(ins) \
        else []   # an MVAU with mem_mode "external": its own weights on in1_V
    rng = np.random.default_rng(seed)
    xs = [[random_tensor(rng, p.dtype, p.normal) for p in ins] + weights for _ in range(max(frames, 2))]
    refs = [node_reference(model, node, x) for x in xs]
    cycles = {}
    for label, kwargs in (("full rate", {}), ("gaps and stalls", GAPS)):
        ys, res = run_frames(rtl, xs, **kwargs)
        for o, y in enumerate(ys):
            check_equal(y, np.stack([r[o].reshape(y.shape[1:]) for r in refs]), f"layer {name} ({label}), output {o}")
        cycles[label] = res.cycles
    return {"layer": name, "op_type": node.op_type, "module": rtl.design.top, "frames": len(xs),
            "bit_exact": True, "cycles": cycles["full rate"], "cycles_with_gaps": cycles["gaps and stalls"]}
