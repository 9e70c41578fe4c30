"""Equivalent, faster versions of the qonnx primitives that dominate a full-size build (profiled on a full-size build).

Profiled on bireal18-cifar (cProfile, 283 s), nearly all of the build was qonnx bookkeeping that FINN's
transformations redo over the whole model after every single rewrite (`model.transform(InferShapes())` inside
their `apply`), each step linear in the model, so quadratic overall:
- InferShapes (120 s): ONNX shape inference serialises the model with its weights (~170 ms for 11 M floats),
  then ModelWrapper re-checks every tensor's shape with a linear search per tensor;
- clean-up after each nested transform (57 s): SortGraph finds each node's producers by linear search,
  GiveUniqueParameterTensors converts every initializer to an array;
- InferDataTypes/InferDataLayouts (68 s): every datatype/layout lookup searches all annotations, and
  get_by_name / get_initializer / get_tensor_valueinfo build Python lists per call.
Only replacing these functions reaches the calls inside FINN's transformations: `accelerated()` swaps in the
versions below, which give the same results (same graphs, byte for byte, at every stage of bireal18-cifar and
reactnet-a-cifar), while a build runs, and restores qonnx's on exit; qonnx_patches.py checks the qonnx/FINN
versions they were proven on and reaches every module that imported a replaced function. Shape inference never
reads large float weights (only their dims and dtype; the values it may read are small int64 shapes, pads, axes),
so it gets a copy of the model without their data.
"""
import math
from collections import defaultdict
from contextlib import AbstractContextManager
from operator import attrgetter

import onnx.shape_inference as si
import qonnx.transformation.general
import qonnx.util.basic
from onnx import ModelProto, TensorProto
from onnx import numpy_helper as np_helper
from qonnx.core.datatype import BaseDataType, DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation import infer_shapes
from qonnx.transformation.base import Transformation
from qonnx.transformation.general import GiveReadableTensorNames, GiveUniqueParameterTensors, SortGraph
from qonnx.transformation.infer_data_layouts import InferDataLayouts
from qonnx.transformation.infer_datatypes import InferDataTypes
from qonnx.transformation.infer_shapes import InferShapes
from toposort import toposort_flatten

from xnorflow.build_flows.qonnx_patches import swapped

DETACH_MIN_ELEMENTS = 1024  # float initializers at least this large travel without their data


def get_by_name(container, name: str, name_field: str = "name"):
    """qonnx's get_by_name (the one item named `name`, None, or an error for several), without Python loops."""
    names = list(map(attrgetter(name_field), container))
    count = names.count(name)
    if count > 1:
        raise Exception("Found multiple get_by_name matches, undefined behavior")
    return container[names.index(name)] if count else None


def copy_fields(src, dst, skip: str) -> None:
    """Copy every set field of proto `src` into the empty `dst`, except the field named `skip`."""
    for field, value in src.ListFields():
        if field.name == skip:
            continue
        if field.label == field.LABEL_REPEATED:
            getattr(dst, field.name).extend(value)
        elif field.message_type is not None:
            getattr(dst, field.name).CopyFrom(value)
        else:
            setattr(dst, field.name, value)


def without_weights(proto: ModelProto) -> ModelProto:
    """A copy of `proto` whose large float initializers keep name, dtype and dims but no data."""
    light = ModelProto()
    copy_fields(proto, light, skip="graph")
    copy_fields(proto.graph, light.graph, skip="initializer")
    for init in proto.graph.initializer:
        large = init.data_type == TensorProto.FLOAT and math.prod(init.dims) >= DETACH_MIN_ELEMENTS
        stub = TensorProto(name=init.name, data_type=init.data_type, dims=init.dims) if large else init
        light.graph.initializer.append(stub)
    return light


def add_missing_initializer_shapes(model: ModelWrapper) -> None:
    """ModelWrapper's check_all_tensor_shapes_specified(fix_missing_init_shape=True) in one pass: same order."""
    graph = model.graph
    known = {vi.name for container in (graph.input, graph.output, graph.value_info) for vi in container}
    inits = {init.name: init for init in graph.initializer}
    for node in graph.node:
        for name in list(node.input) + list(node.output):
            if name not in known and name in inits:
                model.set_tensor_shape(name, list(inits[name].dims), dtype=inits[name].data_type)
                known.add(name)


def infer_shapes_apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
    """InferShapes.apply on a copy without weight data; what inference adds (value infos, output types) comes back."""
    hidden = infer_shapes._hide_finn_ops(model)
    inferred = si.infer_shapes(without_weights(model.model)).graph
    for field in ("output", "value_info"):
        model.graph.ClearField(field)
        getattr(model.graph, field).extend(getattr(inferred, field))
    model = ModelWrapper(model.model, fix_missing_initializer_valueinfo=False)
    add_missing_initializer_shapes(model)
    infer_shapes._restore_finn_ops(model, hidden)
    return model, False


def get_initializer(self, tensor_name: str, return_dtype: bool = False):
    """ModelWrapper.get_initializer (the first initializer named so, as an array; None), without a Python loop."""
    inits = self.graph.initializer
    names = list(map(attrgetter("name"), inits))
    if tensor_name not in names:
        return (None, None) if return_dtype else None
    init = inits[names.index(tensor_name)]
    return (np_helper.to_array(init), init.data_type) if return_dtype else np_helper.to_array(init)


def value_infos(graph) -> tuple[list, list[str]]:
    """Graph inputs, outputs and value infos (qonnx's search order) and their names."""
    infos = [*graph.input, *graph.output, *graph.value_info]
    return infos, list(map(attrgetter("name"), infos))


def get_tensor_valueinfo(self, tensor_name: str):
    """ModelWrapper.get_tensor_valueinfo (the one ValueInfoProto of the tensor, or None) without tuple lists."""
    infos, names = value_infos(self.graph)
    assert names.count(tensor_name) <= 1, "Multiple ValueInfoProto found for " + tensor_name
    return infos[names.index(tensor_name)] if tensor_name in names else None


def get_tensor_shape(self, tensor_name: str, fix_missing_init_shape: bool = False) -> list[int] | None:
    """ModelWrapper.get_tensor_shape: the value info's dims, else the initializer's shape (recorded if asked)."""
    info = get_tensor_valueinfo(self, tensor_name)
    if info is not None:
        return [d.dim_value for d in info.type.tensor_type.shape.dim]
    init, dtype = self.get_initializer(tensor_name, return_dtype=True)
    if init is not None and fix_missing_init_shape:
        self.set_tensor_shape(tensor_name, init.shape, dtype=dtype)
    return None if init is None else list(init.shape)


def sort_graph_apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
    """SortGraph.apply with producers and node positions looked up in dicts (same dependencies, same order)."""
    graph = model.graph
    if len(graph.node) == 1:
        return model, False
    nodes = list(graph.node)
    producer = {}
    for i, node in enumerate(nodes):
        for out in node.output:
            producer.setdefault(out, i)
    sources = {t.name for t in graph.initializer} | {t.name for t in graph.input}
    deps = {}
    for i, node in enumerate(nodes):
        preds = {producer[t] for t in node.input if t in producer}
        if preds or any(t in sources for t in node.input):
            deps[i] = preds  # a node with neither is dropped, as qonnx does
    order = toposort_flatten(deps)
    del graph.node[:]
    graph.node.extend(nodes[i] for i in order)
    return model, False


def unique_parameters_apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
    """GiveUniqueParameterTensors.apply reading each initializer only where it repeats (same new names)."""
    inits, seen = {t.name for t in model.graph.initializer}, set()
    for node in model.graph.node:
        for k, name in enumerate(list(node.input)):
            if name not in inits or name not in seen:
                seen.add(name)
                continue
            new_name = model.make_new_valueinfo_name()
            model.set_initializer(new_name, model.get_initializer(name))
            model.set_tensor_datatype(new_name, model.get_tensor_datatype(name))
            node.input[k] = new_name
    return model, False


def rename_all(model: ModelWrapper, new_name: dict[str, str]) -> None:
    """Rename tensors in one sweep over the graph (qonnx's rename_tensor sweeps it once per tensor). Where a node
    takes one tensor twice, both inputs are renamed; qonnx renames the first only and leaves the node dangling."""
    graph = model.graph
    for proto in (*graph.input, *graph.output, *graph.value_info, *graph.initializer):
        proto.name = new_name.get(proto.name, proto.name)
    for annotation in graph.quantization_annotation:
        annotation.tensor_name = new_name.get(annotation.tensor_name, annotation.tensor_name)
    for node in graph.node:
        for names in (node.input, node.output):
            names[:] = [new_name.get(t, t) for t in names]


class UniqueTensorNames(Transformation):
    """GiveUniqueTensorNames in one sweep: tensor_<i> by the tensor's first place in get_all_tensor_names."""

    def apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
        rename_all(model, {t: f"tensor_{i}" for i, t in reversed(list(enumerate(model.get_all_tensor_names())))})
        return model, False


def readable_names_apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
    """GiveReadableTensorNames.apply in two sweeps: unique names through model.transform (a copy, cleaned up, as
    qonnx's does), then <node>_out<k>, <node>_param<k>, global_in, global_out: the last name qonnx would give."""
    model = model.transform(UniqueTensorNames())
    inits, final = {t.name for t in model.graph.initializer}, {}
    for node in model.graph.node:
        assert node.name != "", "Found empty node name"
        final.update((t, f"{node.name}_out{k}") for k, t in enumerate(node.output))
        final.update((t, f"{node.name}_param{k}") for k, t in enumerate(t for t in node.input if t in inits))
    for prefix, tensors in (("global_in", model.graph.input), ("global_out", model.graph.output)):
        final.update((t.name, prefix if i == 0 else f"{prefix}_{i}") for i, t in enumerate(tensors))
    rename_all(model, final)
    return model, False


def group_inputs_by_category(node, model: ModelWrapper) -> tuple[list[str], list[str]]:
    """qonnx's (dynamic inputs, then initializer inputs, each in input order) without converting initializers."""
    inits = set(map(attrgetter("name"), model.graph.initializer))
    dynamics = [name for name in node.input if name not in inits]
    return dynamics, [name for name in node.input if name not in dynamics]


class IndexedAnnotations(ModelWrapper):
    """The same model proto, its tensor annotations found by name through an index (for one inference pass)."""

    def __init__(self, model: ModelWrapper) -> None:
        """Index `model`'s annotations; `model` and this view share one proto."""
        self._model_proto, self.fix_float64 = model.model, model.fix_float64
        self.annotations, self.infos = defaultdict(list), None
        for annotation in self.graph.quantization_annotation:
            self.annotations[annotation.tensor_name].append(annotation)

    def entry(self, tensor_name: str, key: str):
        """The tensor's annotation entry `key`, or None (qonnx's error where a tensor has several annotations)."""
        found = self.annotations.get(tensor_name, [])
        if len(found) > 1:
            raise Exception("Found multiple get_by_name matches, undefined behavior")
        return get_by_name(found[0].quant_parameter_tensor_names, key, "key") if found else None

    def reindex(self, tensor_name: str) -> None:
        """Look the tensor's annotations up again (after qonnx's setter may have added one)."""
        self.annotations[tensor_name] = [a for a in self.graph.quantization_annotation if a.tensor_name == tensor_name]

    def get_tensor_datatype(self, tensor_name: str) -> BaseDataType:
        """ModelWrapper's: the annotation, else FLOAT16 for a float16 container and FLOAT32 for any other."""
        entry = self.entry(tensor_name, "finn_datatype")
        if entry is not None:
            return DataType[entry.value]
        info = self.get_tensor_valueinfo(tensor_name)
        container = (info.type.tensor_type.elem_type if info is not None
                     else self.get_initializer(tensor_name, return_dtype=True)[1])
        return DataType["FLOAT16" if container == TensorProto.FLOAT16 else "FLOAT32"]

    def get_tensor_valueinfo(self, tensor_name: str):
        """ModelWrapper's, through an index of the value infos (a pass over annotations leaves them as they are)."""
        if self.infos is None:
            self.infos = defaultdict(list)
            for info in value_infos(self.graph)[0]:
                self.infos[info.name].append(info)
        found = self.infos.get(tensor_name, [])
        assert len(found) <= 1, "Multiple ValueInfoProto found for " + tensor_name
        return found[0] if found and found[0].name == tensor_name else get_tensor_valueinfo(self, tensor_name)

    def set_tensor_datatype(self, tensor_name: str, datatype: BaseDataType | None) -> None:
        """ModelWrapper's, in place where the tensor has a datatype entry."""
        entry = self.entry(tensor_name, "finn_datatype")
        if entry is not None and datatype is not None:
            entry.value = datatype.name
            return
        ModelWrapper.set_tensor_datatype(self, tensor_name, datatype)
        self.reindex(tensor_name)

    def get_tensor_layout(self, tensor_name: str) -> list[str] | None:
        """ModelWrapper's (it evaluates the stored string), through the index."""
        entry = self.entry(tensor_name, "tensor_layout")
        return eval(entry.value) if entry is not None else None

    def set_tensor_layout(self, tensor_name: str, data_layout: list[str]) -> None:
        """ModelWrapper's, in place where the tensor has a layout entry."""
        entry = self.entry(tensor_name, "tensor_layout")
        if entry is not None and type(data_layout) is list:
            entry.value = str(data_layout)
            return
        ModelWrapper.set_tensor_layout(self, tensor_name, data_layout)
        self.reindex(tensor_name)


def infer_datatypes_apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
    """InferDataTypes.apply on an IndexedAnnotations view of `model`."""
    _, changed = QONNX_INFER_DATATYPES(self, IndexedAnnotations(model))
    return model, changed


def infer_data_layouts_apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
    """InferDataLayouts.apply on an IndexedAnnotations view of `model`."""
    _, changed = QONNX_INFER_DATA_LAYOUTS(self, IndexedAnnotations(model))
    return model, changed


QONNX_INFER_DATATYPES, QONNX_INFER_DATA_LAYOUTS = InferDataTypes.apply, InferDataLayouts.apply
PATCHES = ((qonnx.util.basic, "get_by_name", get_by_name), (InferShapes, "apply", infer_shapes_apply),
           (ModelWrapper, "get_initializer", get_initializer), (ModelWrapper, "get_tensor_valueinfo", get_tensor_valueinfo),
           (ModelWrapper, "get_tensor_shape", get_tensor_shape), (SortGraph, "apply", sort_graph_apply),
           (GiveUniqueParameterTensors, "apply", unique_parameters_apply),
           (GiveReadableTensorNames, "apply", readable_names_apply),
           (InferDataTypes, "apply", infer_datatypes_apply), (InferDataLayouts, "apply", infer_data_layouts_apply),
           (qonnx.transformation.general, "group_inputs_by_category", group_inputs_by_category))


def accelerated() -> AbstractContextManager[None]:
    """Run the block with the faster primitives in place of qonnx's."""
    return swapped(PATCHES)
