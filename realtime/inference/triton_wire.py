"""The wire contract of a served model: what travels between the laptop and Triton.

Image tensors (a crop in, a swapped or restored crop out) travel as uint8 BGR crops, batch
first (``[N, S, S, 3]``), a quarter of float32; everything else (identity vectors, embeddings,
masks) travels in its own dtype. The server-side wrapper (``realtime.remote.export``) does the
colour order, normalisation and layout the manifest gives; the client (``TritonSession``)
turns the caller's float tensors into bytes and back, so callers see the manifest's contract.

Both sides derive the contract from the same ``ModelSpec``, so a client can check a server's
model metadata against it at start.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from realtime.catalog.manifest import ModelSpec, TensorSpec

# Triton's datatype names (model metadata) and config enums, by numpy dtype name.
TRITON_DTYPES = {
    "float32": "FP32",
    "float16": "FP16",
    "float64": "FP64",
    "uint8": "UINT8",
    "int8": "INT8",
    "int32": "INT32",
    "int64": "INT64",
    "bool": "BOOL",
}
# Kinds whose image output goes back to pixels with extra.output_mean/std (defaults per kind).
_IMAGE_OUTPUT_DEFAULTS = {"swapper": (0.0, 255.0), "enhancer": (127.5, 127.5)}


@dataclass(frozen=True)
class WireTensor:
    """One tensor as Triton sees it: ``dims`` without the batch dimension."""

    name: str
    dtype: str  # numpy dtype name
    dims: tuple[int, ...]
    image: bool = False  # a uint8 BGR crop standing for the model's float image tensor
    layout: str = "nchw"  # the model's own layout of an image tensor

    @property
    def triton_dtype(self) -> str:
        return TRITON_DTYPES[self.dtype]


@dataclass(frozen=True)
class WireContract:
    model: str
    inputs: tuple[WireTensor, ...]
    outputs: tuple[WireTensor, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    color: str
    out_mean: float
    out_std: float

    def bytes_per_item(self) -> tuple[int, int]:
        """Tensor bytes of one face (batch item), (client to server, server to client)."""

        def size(ts: tuple[WireTensor, ...]) -> int:
            return sum(int(np.prod(t.dims)) * np.dtype(t.dtype).itemsize for t in ts)

        return size(self.inputs), size(self.outputs)


def _image_layout(t: TensorSpec, spec: ModelSpec) -> str | None:
    """``nchw`` / ``nhwc`` when ``t`` is a 3-channel square image tensor of batch one."""
    shape = t.shape
    if len(shape) != 4 or shape[0] != 1 or t.dtype != "float32":
        return None
    if shape[1] == 3 and shape[2] == shape[3]:
        return "nchw"
    if shape[3] == 3 and shape[1] == shape[2] and spec.extra.get("layout") == "nhwc":
        return "nhwc"
    return None


def _dims(t: TensorSpec) -> tuple[int, ...]:
    dims = tuple(int(d) if isinstance(d, int) else -1 for d in t.shape[1:])
    return dims


def contract(spec: ModelSpec) -> WireContract:
    """The wire contract of ``spec``: image inputs of any model, and the image output of a
    swapper or enhancer, become uint8 BGR crops; the rest keeps the manifest's dtype."""
    ins: list[WireTensor] = []
    for t in spec.inputs:
        layout = _image_layout(t, spec) if spec.mean and spec.std else None
        if layout:
            s = int(t.shape[2] if layout == "nchw" else t.shape[1])
            ins.append(WireTensor(t.name, "uint8", (s, s, 3), image=True, layout=layout))
        else:
            ins.append(WireTensor(t.name, t.dtype, _dims(t)))
    outs: list[WireTensor] = []
    out_mean, out_std = _IMAGE_OUTPUT_DEFAULTS.get(spec.kind, (0.0, 1.0))
    out_mean = float(spec.extra.get("output_mean", out_mean))
    out_std = float(spec.extra.get("output_std", out_std))
    for t in spec.outputs:
        layout = _image_layout(t, spec) if spec.kind in _IMAGE_OUTPUT_DEFAULTS else None
        if layout == "nchw":
            s = int(t.shape[2])
            outs.append(WireTensor(t.name, "uint8", (s, s, 3), image=True, layout=layout))
        else:
            outs.append(WireTensor(t.name, t.dtype, _dims(t)))
    return WireContract(
        spec.name,
        tuple(ins),
        tuple(outs),
        tuple(float(v) for v in spec.mean),
        tuple(float(v) for v in spec.std),
        spec.color,
        out_mean,
        out_std,
    )


def encode_image(x: np.ndarray, c: WireContract, layout: str) -> np.ndarray:
    """The caller's normalised float image batch -> uint8 BGR crops ``[N, S, S, 3]``.

    Inverts ``faces.align.crop_to_tensor`` exactly (the crop was uint8 to begin with)."""
    img = np.asarray(x, np.float32)
    if layout == "nchw":
        img = img.transpose(0, 2, 3, 1)
    img = img * np.asarray(c.std, np.float32) + np.asarray(c.mean, np.float32)
    if c.color == "rgb":
        img = img[..., ::-1]
    return np.ascontiguousarray(np.clip(np.rint(img), 0, 255).astype(np.uint8))


def decode_image(u: np.ndarray, c: WireContract, layout: str) -> np.ndarray:
    """uint8 BGR crops from the server -> the model's float output units (what
    ``faces.align.tensor_to_crop`` turns back into exactly these pixels)."""
    img = np.asarray(u, np.float32)
    if c.color == "rgb":
        img = img[..., ::-1]
    x = (img - c.out_mean) / c.out_std
    if layout == "nchw":
        x = x.transpose(0, 3, 1, 2)
    return np.ascontiguousarray(x, np.float32)
