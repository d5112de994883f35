"""Opening a model of the catalog as a session: the model layer's one way in.

``open_model`` is the one bridge from a manifest name to a running session: it verifies the file
(cached sha256), opens it through ``inference.session.open_session`` and checks the file's
input names against the manifest, so a wrong file fails at start with a clear message rather
than with a shape error mid-stream.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from realtime.catalog.manifest import ModelSpec, load_manifests
from realtime.catalog.store import ensure, model_path
from realtime.errors import ModelError
from realtime.inference.session import BuildCallback, InferenceSession, SessionOptions, open_session


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


REMOTE_FALLBACKS = ("pass", "mesh")  # what a lost --remote server leaves


@dataclass(frozen=True)
class ModelAccess:
    """Where downloaded models live and what may run them: shared by every model a run opens.

    ``specs`` replaces the manifests of ``models/`` (tests pass synthetic models this way).
    """

    provider: str | None = None
    models_dir: str | os.PathLike[str] | None = None
    trust_unverified: bool = False
    # A Triton server that runs the neural models (``--remote``), how long one call may take,
    # what a lost server leaves (``pass``: the face unswapped, ``mesh``: the mesh swapper) and
    # how long a file job waits for it to come back.
    remote: str | None = None
    remote_budget_ms: float = 66.0
    remote_fallback: str = "pass"
    remote_patience_s: float = 0.0
    threads: int = 1  # intra-op threads of a model run on a CPU (the plan's ``Threads.ort``)
    specs: Mapping[str, ModelSpec] | None = field(default=None, compare=False, repr=False)

    def session_options(self, on_build: BuildCallback | None = None) -> SessionOptions:
        """``SessionOptions`` for a model opened with this access."""
        if self.remote:
            return SessionOptions(
                threads=self.threads,
                on_build=on_build,
                remote=self.remote,
                remote_budget_ms=self.remote_budget_ms,
            )
        return SessionOptions(threads=self.threads, on_build=on_build)

    def manifests(self) -> Mapping[str, ModelSpec]:
        return load_manifests() if self.specs is None else self.specs


def open_model(
    name: str, access: ModelAccess, on_build: BuildCallback | None = None
) -> tuple[ModelSpec, Path, InferenceSession]:
    """Verify model ``name`` in the cache and open it; errors say how to fetch a missing one.

    With ``access.remote`` the model is served by Triton and needs no local file.
    """
    specs = access.manifests()
    options = access.session_options(on_build)
    if access.remote:
        if name not in specs:
            raise ModelError(f"unknown model {name!r}", fix=f"known models: {', '.join(sorted(specs))}")
        spec = specs[name]
        path = model_path(spec, access.models_dir)
    else:
        spec, path = ensure(name, access.models_dir, specs=specs, trust_unverified=access.trust_unverified)
    session = open_session(path, prefer=access.provider, options=options, label=name)
    check_session_io(spec, session)
    return spec, path, session
