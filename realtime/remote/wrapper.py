"""The thin server-side wrapper: one ONNX graph around a model so crops travel as uint8.

Chosen over a Triton ensemble because one graph is one model to deploy, version and check,
with no extra hop between a pre-processing model and the network inside the server; and
ONNX Runtime and TensorRT both run it. The wrapper:

1. takes uint8 BGR crops ``[N, S, S, 3]`` (and the other inputs in their own dtype),
2. converts them as ``faces.align.crop_to_tensor`` does (colour order, (x - mean) / std,
   layout),
3. runs the model once per batch item inside a ``Scan`` (our models have a fixed batch of one;
   the scan lets Triton's dynamic batcher hand the graph a whole batch in one call),
4. turns an image output back into uint8 BGR pixels (``out * std + mean``, clipped, rounded).

The model's own tensor names are prefixed inside the scan body (``m/``), since ONNX forbids a
subgraph from reusing an outer name; the wrapper's inputs and outputs keep the manifest names.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from realtime.errors import ModelError
from realtime.inference.triton_wire import WireContract

PREFIX = "m/"


def _rename_graph(graph: Any) -> None:
    """Prefix every tensor name of ``graph`` (and of its nested subgraphs) with ``PREFIX``."""

    def ren(name: str) -> str:
        return PREFIX + name if name else name

    for coll in (graph.input, graph.output, graph.value_info):
        for vi in coll:
            vi.name = ren(vi.name)
    for init in graph.initializer:
        init.name = ren(init.name)
    for sparse in graph.sparse_initializer:
        sparse.values.name = ren(sparse.values.name)
    for node in graph.node:
        node.input[:] = [ren(n) for n in node.input]
        node.output[:] = [ren(n) for n in node.output]
        for attr in node.attribute:
            if attr.HasField("g"):
                _rename_graph(attr.g)
            for g in attr.graphs:
                _rename_graph(g)


def _opset(model: Any) -> int:
    return max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=13)


def _axes_node(helper: Any, op: str, src: str, dst: str, axes_attr: bool) -> Any:
    if axes_attr:
        return helper.make_node(op, [src], [dst], axes=[0])
    return helper.make_node(op, [src, "b/axes0"], [dst])


def build_wrapper(model_path: Path, c: WireContract) -> Any:
    """The wrapper ``ModelProto`` for the model at ``model_path`` under contract ``c``."""
    # Heavy: loaded only when a wrapper is built.
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(model_path))
    opset = _opset(model)  # kept: the model's nodes mean what they mean at its own opset
    if opset < 11:
        raise ModelError(
            f"{model_path.name} uses ONNX opset {opset}; the wrapper needs 11 or newer",
            fix="convert the model with onnx.version_converter first",
        )
    axes_attr = opset < 13  # Unsqueeze/Squeeze take axes as an attribute before opset 13
    g = model.graph
    init_names = {i.name for i in g.initializer}
    model_inputs = [i for i in g.input if i.name not in init_names]
    _rename_graph(g)
    by_name = {t.name: t for t in c.inputs}
    out_by_name = {t.name: t for t in c.outputs}

    # The scan body: one batch item in, the model (batch of one) in the middle, one item out.
    body_nodes: list[Any] = []
    body_inputs: list[Any] = []
    body_outputs: list[Any] = []
    axes0 = numpy_helper.from_array(np.array([0], np.int64), "b/axes0")
    for vi in model_inputs:
        name = vi.name[len(PREFIX) :]
        elem = vi.type.tensor_type.elem_type
        body_inputs.append(helper.make_tensor_value_info(f"b/{name}", elem, None))
        body_nodes.append(_axes_node(helper, "Unsqueeze", f"b/{name}", vi.name, axes_attr))
    body_nodes.extend(g.node)
    for vo in g.output:
        name = vo.name[len(PREFIX) :]
        elem = vo.type.tensor_type.elem_type
        body_nodes.append(_axes_node(helper, "Squeeze", vo.name, f"b/out/{name}", axes_attr))
        body_outputs.append(helper.make_tensor_value_info(f"b/out/{name}", elem, None))
    body = helper.make_graph(
        body_nodes,
        "item",
        body_inputs,
        body_outputs,
        initializer=[*g.initializer] if axes_attr else [*g.initializer, axes0],
        value_info=list(g.value_info),
    )
    body.sparse_initializer.extend(g.sparse_initializer)

    nodes: list[Any] = []
    inits: list[Any] = []
    graph_inputs: list[Any] = []
    scan_inputs: list[str] = []
    rgb = c.color == "rgb" and any(t.image for t in (*c.inputs, *c.outputs))
    if rgb:
        inits.append(numpy_helper.from_array(np.array([2, 1, 0], np.int64), "w/bgr"))
    for vi in model_inputs:
        name = vi.name[len(PREFIX) :]
        t = by_name[name]
        graph_inputs.append(
            helper.make_tensor_value_info(
                name, helper.np_dtype_to_tensor_dtype(np.dtype(t.dtype)), ["N", *t.dims]
            )
        )
        if not t.image:
            scan_inputs.append(name)
            continue
        x = f"w/{name}"
        nodes.append(helper.make_node("Cast", [name], [f"{x}/f"], to=TensorProto.FLOAT))
        cur = f"{x}/f"
        if rgb:
            nodes.append(helper.make_node("Gather", [cur, "w/bgr"], [f"{x}/rgb"], axis=3))
            cur = f"{x}/rgb"
        inits.append(numpy_helper.from_array(np.asarray(c.mean, np.float32), f"{x}/mean"))
        inits.append(numpy_helper.from_array(np.asarray(c.std, np.float32), f"{x}/std"))
        nodes.append(helper.make_node("Sub", [cur, f"{x}/mean"], [f"{x}/c"]))
        nodes.append(helper.make_node("Div", [f"{x}/c", f"{x}/std"], [f"{x}/n"]))
        cur = f"{x}/n"
        if t.layout == "nchw":
            nodes.append(helper.make_node("Transpose", [cur], [f"{x}/nchw"], perm=[0, 3, 1, 2]))
            cur = f"{x}/nchw"
        scan_inputs.append(cur)
    scan_outputs = [f"w/out/{vo.name[len(PREFIX) :]}" for vo in g.output]
    nodes.append(
        helper.make_node(
            "Scan", scan_inputs, scan_outputs, body=body, num_scan_inputs=len(scan_inputs), name="per_item"
        )
    )
    graph_outputs: list[Any] = []
    for vo, raw in zip(g.output, scan_outputs, strict=True):
        name = vo.name[len(PREFIX) :]
        t = out_by_name[name]
        graph_outputs.append(
            helper.make_tensor_value_info(
                name, helper.np_dtype_to_tensor_dtype(np.dtype(t.dtype)), ["N", *t.dims]
            )
        )
        if not t.image:
            nodes.append(helper.make_node("Identity", [raw], [name]))
            continue
        y = f"w/o/{name}"
        inits += [
            numpy_helper.from_array(np.array(c.out_std, np.float32), f"{y}/std"),
            numpy_helper.from_array(np.array(c.out_mean, np.float32), f"{y}/mean"),
            numpy_helper.from_array(np.array(0.0, np.float32), f"{y}/lo"),
            numpy_helper.from_array(np.array(255.0, np.float32), f"{y}/hi"),
        ]
        nodes += [
            helper.make_node("Transpose", [raw], [f"{y}/nhwc"], perm=[0, 2, 3, 1]),
            helper.make_node("Mul", [f"{y}/nhwc", f"{y}/std"], [f"{y}/s"]),
            helper.make_node("Add", [f"{y}/s", f"{y}/mean"], [f"{y}/p"]),
            helper.make_node("Clip", [f"{y}/p", f"{y}/lo", f"{y}/hi"], [f"{y}/c"]),
            helper.make_node("Round", [f"{y}/c"], [f"{y}/r"]),
        ]
        cur = f"{y}/r"
        if rgb:
            nodes.append(helper.make_node("Gather", [cur, "w/bgr"], [f"{y}/bgr"], axis=3))
            cur = f"{y}/bgr"
        nodes.append(helper.make_node("Cast", [cur], [name], to=TensorProto.UINT8))
    graph = helper.make_graph(nodes, f"{c.model}_uint8", graph_inputs, graph_outputs, initializer=inits)
    opsets = [o for o in model.opset_import if o.domain not in ("", "ai.onnx")]
    opsets.append(helper.make_opsetid("", opset))
    wrapped = helper.make_model(graph, opset_imports=opsets, producer_name="realtime triton export")
    wrapped.ir_version = max(model.ir_version, 8)
    return wrapped
