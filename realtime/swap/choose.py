"""Which swapper to run: ``auto``, ``mesh`` or a named neural swapper, with the reason why.

``auto`` picks the best neural swapper whose files (and required models) are in the cache,
but only when a GPU execution provider is available: on a CPU every neural swapper costs tens
to hundreds of milliseconds per face (inswapper: 175 GFLOPs), far past a live frame budget,
while the mesh swapper runs in a few milliseconds. "Best" is ``extra.rank`` in swappers.toml.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

from realtime.catalog import store
from realtime.catalog.manifest import ModelSpec, load_manifests
from realtime.errors import ConfigError, ModelError

MESH = "mesh"
AUTO = "auto"
# Execution providers (ONNX Runtime names) and backend names that mean a GPU.
GPU_PROVIDERS = frozenset(
    {
        "CUDAExecutionProvider", "TensorrtExecutionProvider", "DmlExecutionProvider",
        "ROCMExecutionProvider", "MIGraphXExecutionProvider", "CoreMLExecutionProvider",
        "cuda", "tensorrt", "ort-tensorrt", "directml", "rocm", "coreml",
    }
)  # fmt: skip


def neural_swappers(specs: Mapping[str, ModelSpec] | None = None) -> list[str]:
    """Swapper model names, best first."""
    specs = load_manifests() if specs is None else specs
    swappers = [s for s in specs.values() if s.kind == "swapper"]
    return [s.name for s in sorted(swappers, key=lambda s: (int(s.extra.get("rank", 1000)), s.name))]


def _missing(
    name: str, models_dir: str | os.PathLike[str] | None, specs: Mapping[str, ModelSpec], remote: bool = False
) -> list[str]:
    names = [name, *specs[name].requires]
    if remote:  # served by Triton: only inswapper's emap is read from the local file
        names = [name] if specs[name].extra.get("source") == "emap" else []
    return [n for n in names if not store.is_present(specs[n], models_dir)]


def choose_swapper(
    requested: str,
    models_dir: str | os.PathLike[str] | None,
    available_providers: Iterable[str],
    *,
    specs: Mapping[str, ModelSpec] | None = None,
    remote: str | None = None,
) -> tuple[str, str]:
    """(swapper name, one-line reason). A named neural swapper that is absent raises
    ``ModelError`` giving the ``realtime models fetch`` command and the manual path.
    With ``remote`` (a Triton server) the models run there and need no local files."""
    specs = load_manifests() if specs is None else specs
    names = neural_swappers(specs)
    providers = list(available_providers)
    if requested == MESH:
        return MESH, "requested"
    if requested == AUTO and remote:
        for name in names:
            if not _missing(name, models_dir, specs, remote=True):
                return name, f"best neural swapper, served by {remote}"
        return MESH, "no neural swapper can run remotely"
    if requested == AUTO:
        gpus = [p for p in providers if p in GPU_PROVIDERS]
        if not gpus:
            return MESH, "no GPU provider available; neural swappers are too slow for live video on a CPU"
        for name in names:
            if not _missing(name, models_dir, specs):
                return name, f"best neural swapper in the model cache, on {gpus[0]}"
        return MESH, (
            f"a GPU ({gpus[0]}) is available but no neural swapper is in the model cache; "
            f"`realtime models fetch {names[0]}` adds one"
            if names
            else "no neural swapper is defined"
        )
    if requested not in names:
        raise ConfigError(
            f"unknown swapper {requested!r}", fix=f"choose one of {', '.join([AUTO, MESH, *names])}"
        )
    missing = _missing(requested, models_dir, specs, remote=bool(remote))
    if missing and remote:  # a server that is down is said first: it is the likelier fault
        from realtime.inference.triton import check_server

        check_server(remote)
    if missing:
        by_hand = "; ".join(
            f"{specs[n].urls[0] if specs[n].urls else n} to {store.model_path(specs[n], models_dir)}"
            for n in missing
        )
        raise ModelError(
            f"swapper {requested!r} needs model file(s) not in the cache: {', '.join(missing)}",
            fix=f"run `realtime models fetch {' '.join(missing)}`, or download {by_hand}",
        )
    return requested, "requested"
