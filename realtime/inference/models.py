"""Opening a model of the catalog as a session: the model layer's one way in.

``open_model`` is the one bridge from a manifest name to a running session: it verifies the file
(cached sha256), opens it through ``inference.session.open_session`` and checks the file's
input names against the manifest, so a wrong file fails at start with a clear message rather
than with a shape error mid-stream.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from realtime.catalog.manifest import ModelSpec, load_manifests
from realtime.catalog.store import ensure, model_path
from realtime.errors import ModelError
from realtime.inference.session import InferenceSession, SessionOptions, open_session


def check_session_io(spec: ModelSpec, session: InferenceSession) -> None:
    """Raise ``ModelError`` when the file's inputs are not the manifest's (names and ranks)."""
    got = {t.name: len(t.shape) for t in session.inputs}
    for t in spec.inputs:
        if t.name not in got:
            raise ModelError(
                f"model file for {spec.name!r} has inputs {sorted(got)}, the manifest expects {t.name!r}",
                fix="the file is not the model the manifest describes; delete it and fetch it again",
            )
        if got[t.name] != len(t.shape):
            raise ModelError(
                f"model {spec.name!r} input {t.name!r} has rank {got[t.name]}, expected {len(t.shape)}",
                fix="the file is not the model the manifest describes; delete it and fetch it again",
            )
    if spec.outputs and len(session.outputs) < len(spec.outputs):
        raise ModelError(
            f"model {spec.name!r} has {len(session.outputs)} outputs, expected {len(spec.outputs)}",
            fix="the file is not the model the manifest describes; delete it and fetch it again",
        )


def open_model(
    name: str,
    models_dir: str | os.PathLike[str] | None = None,
    *,
    specs: Mapping[str, ModelSpec] | None = None,
    prefer: str | Sequence[str] | None = None,
    options: SessionOptions | None = None,
    trust_unverified: bool = False,
) -> tuple[ModelSpec, Path, InferenceSession]:
    """Verify model ``name`` in the cache and open it; errors say how to fetch a missing one."""
    specs = load_manifests() if specs is None else specs
    if options is not None and options.remote:  # served by Triton: no local file needed
        if name not in specs:
            raise ModelError(f"unknown model {name!r}", fix=f"known models: {', '.join(sorted(specs))}")
        spec = specs[name]
        path = model_path(spec, models_dir)
        session = open_session(path, prefer=prefer, options=options, label=name)
        check_session_io(spec, session)
        return spec, path, session
    spec, path = ensure(name, models_dir, specs=specs, trust_unverified=trust_unverified)
    session = open_session(path, prefer=prefer, options=options, label=name)
    check_session_io(spec, session)
    return spec, path, session
