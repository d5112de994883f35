"""``realtime triton export``: a Triton model repository from our manifests.

Per model: ``NAME/config.pbtxt`` and ``NAME/1/`` holding the uint8 wrapper
(``realtime.remote.wrapper``). The platforms:

* ``onnxruntime`` (default): ``platform: "onnxruntime_onnx"``, ``1/model.onnx``.
* ``tensorrt``: ``platform: "tensorrt_plan"``; the plan must be built on the serving GPU, so
  the wrapper is written as ``NAME/model.onnx`` with ``NAME/BUILD.txt`` giving the
  ``trtexec`` command that writes ``1/model.plan``.
* ``python``: Triton's Python backend running the same wrapper with ONNX Runtime
  (``1/model.py``), for a server built without the ONNX Runtime backend (PyTriton's
  ``tritonserver``, used by the tests).

Every config field written is one of Triton's ``ModelConfig`` protobuf
(``model_config.proto``): name, platform or backend, max_batch_size, input, output,
dynamic_batching (max_queue_delay_microseconds, preferred_batch_size), instance_group
(count, kind).
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from realtime.catalog.manifest import ModelSpec, load_manifests
from realtime.catalog.store import ensure
from realtime.errors import ConfigError
from realtime.inference.triton_wire import WireContract, WireTensor, contract
from realtime.remote.wrapper import build_wrapper

log = logging.getLogger(__name__)

PLATFORMS = ("onnxruntime", "tensorrt", "python")
KINDS = ("gpu", "cpu")
_PYTHON_MODEL = Path(__file__).resolve().parent / "python_model.py"


@dataclass(frozen=True)
class ExportOptions:
    platform: str = "onnxruntime"
    max_batch_size: int = 8
    dynamic_batching: bool = True
    queue_delay_us: int = 500  # short: a live frame cannot wait long for company
    instances: int = 1
    kind: str = "gpu"

    def check(self) -> None:
        if self.platform not in PLATFORMS:
            raise ConfigError(f"unknown platform {self.platform!r}", fix=f"choose {', '.join(PLATFORMS)}")
        if self.kind not in KINDS:
            raise ConfigError(f"unknown instance kind {self.kind!r}", fix="choose gpu or cpu")
        if self.max_batch_size < 1 or self.instances < 1 or self.queue_delay_us < 0:
            raise ConfigError("--max-batch and --instances must be at least 1, --queue-delay-us >= 0")


def _tensor_block(t: WireTensor) -> str:
    dims = ", ".join(str(d) for d in t.dims)
    return f'  {{\n    name: "{t.name}"\n    data_type: TYPE_{t.triton_dtype}\n    dims: [ {dims} ]\n  }}'


def config_text(c: WireContract, opts: ExportOptions, name: str | None = None) -> str:
    """The ``config.pbtxt`` of one model under ``opts``."""
    lines = [f'name: "{name or c.model}"']
    if opts.platform == "onnxruntime":
        lines.append('platform: "onnxruntime_onnx"')
    elif opts.platform == "tensorrt":
        lines.append('platform: "tensorrt_plan"')
    else:
        lines.append('backend: "python"')
    lines.append(f"max_batch_size: {opts.max_batch_size}")
    lines.append("input [\n" + ",\n".join(_tensor_block(t) for t in c.inputs) + "\n]")
    lines.append("output [\n" + ",\n".join(_tensor_block(t) for t in c.outputs) + "\n]")
    if opts.dynamic_batching:
        preferred = sorted({b for b in (2, 4, opts.max_batch_size) if b <= opts.max_batch_size})
        lines.append(
            "dynamic_batching {\n"
            f"  preferred_batch_size: [ {', '.join(str(b) for b in preferred)} ]\n"
            f"  max_queue_delay_microseconds: {opts.queue_delay_us}\n}}"
        )
    kind = "KIND_GPU" if opts.kind == "gpu" else "KIND_CPU"
    lines.append(f"instance_group [\n  {{\n    count: {opts.instances}\n    kind: {kind}\n  }}\n]")
    return "\n".join(lines) + "\n"


def _trtexec_help(c: WireContract, opts: ExportOptions) -> str:
    shapes = ",".join(f"{t.name}:{{}}x{'x'.join(str(d) for d in t.dims)}" for t in c.inputs)
    lo, hi = shapes.replace("{}", "1"), shapes.replace("{}", str(opts.max_batch_size))
    return (
        "Build the TensorRT plan on the serving GPU (plans are tied to the GPU and TensorRT version):\n"
        f"  trtexec --onnx=model.onnx --saveEngine=1/model.plan --fp16 "
        f"--minShapes={lo} --optShapes={lo} --maxShapes={hi}\n"
    )


def export_model(spec: ModelSpec, model_file: Path, out: Path, opts: ExportOptions, name: str = "") -> Path:
    """Write one model's folder into repository ``out``; return the folder."""
    # Heavy: loaded only when a repository is exported.
    import onnx

    c = contract(spec)
    name = name or spec.name
    folder = out / name
    version = folder / "1"
    version.mkdir(parents=True, exist_ok=True)
    wrapped = build_wrapper(model_file, c)
    onnx.checker.check_model(wrapped)
    if opts.platform == "tensorrt":
        onnx.save(wrapped, str(folder / "model.onnx"))
        (folder / "BUILD.txt").write_text(_trtexec_help(c, opts), encoding="utf-8")
    else:
        onnx.save(wrapped, str(version / "model.onnx"))
    if opts.platform == "python":
        shutil.copyfile(_PYTHON_MODEL, version / "model.py")
    (folder / "config.pbtxt").write_text(config_text(c, opts, name), encoding="utf-8")
    return folder


def export_repository(
    names: Sequence[str],
    out: Path,
    *,
    options: ExportOptions | None = None,
    models_dir: str | os.PathLike[str] | None = None,
    specs: Mapping[str, ModelSpec] | None = None,
    trust_unverified: bool = False,
    with_requirements: bool = True,
    unbatched_copies: bool = False,
) -> list[Path]:
    """Export ``names`` (and, with ``with_requirements``, the models they require, e.g. a
    swapper's recognizer) from the verified model cache into repository ``out``.
    ``unbatched_copies`` adds ``NAME_nobatch`` without dynamic batching, for the bench."""
    opts = options or ExportOptions()
    opts.check()
    specs = load_manifests() if specs is None else specs
    todo: list[str] = []
    for n in names:
        for m in [n, *(specs[n].requires if with_requirements and n in specs else ())]:
            if m not in todo:
                todo.append(m)
    written: list[Path] = []
    for n in todo:
        spec, path = ensure(n, models_dir, specs=specs, trust_unverified=trust_unverified)
        written.append(export_model(spec, path, out, opts))
        log.info("exported %s to %s (%s)", n, written[-1], opts.platform)
        if unbatched_copies:
            flat = ExportOptions(**{**opts.__dict__, "dynamic_batching": False})
            written.append(export_model(spec, path, out, flat, name=f"{n}_nobatch"))
    return written
