"""The inference Protocol and ``open_session``, the one way any model gets run.

Backends register themselves by name in ``BACKENDS`` (the single source of the names that
``--provider`` accepts); ``open_session`` tries them in rank order, logs what it found and
chose, falls back past a backend that fails to start with one warning that says why and how
to fix it, and raises one ``ProviderError`` when nothing can run the model.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from realtime.errors import ConfigError, ModelError, ProviderError, RemoteError

log = logging.getLogger(__name__)

ENV_PROVIDER = "REALTIME_PROVIDER"


@dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: tuple[int | str | None, ...]
    dtype: str


@runtime_checkable
class InferenceSession(Protocol):
    """A loaded model: named numpy inputs in, named numpy outputs out.

    ``provider`` is the registry name of the backend that runs it (``cpu``, ``cuda``, ...).
    ``run`` may be called from several threads: a backend whose buffers are shared between
    runs (IO binding, CUDA graphs, TensorRT bindings, an interpreter) serialises its runs, so
    processors that hold only sessions can declare themselves ``thread_safe``.
    """

    provider: str
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]: ...


@dataclass(frozen=True)
class BuildEvent:
    """Progress of a slow one-off step (a TensorRT engine build), for a UI to show."""

    phase: str  # "waiting" (another process builds it), "building", "done", "failed"
    label: str
    elapsed_s: float
    detail: str = ""


BuildCallback = Callable[[BuildEvent], None]


@dataclass(frozen=True)
class SessionOptions:
    """How to run a model.

    ``threads`` is intra-op threads for CPU work (1 leaves the other core to the pipeline).
    ``precision`` is ``auto`` (FP16 where the GPU does it well), ``fp16`` or ``fp32``.
    ``cache_dir`` overrides where engines and compiled blobs are cached. ``shapes`` fixes the
    optimisation shape of dynamic inputs for TensorRT (name -> shape). ``on_build`` receives
    progress while an engine builds, so library code never prints.
    """

    threads: int = 1
    precision: str = "auto"
    cache_dir: Path | None = None
    device_id: int = 0
    workspace_mb: int = 1024
    max_batch: int = 1
    shapes: Mapping[str, tuple[int, ...]] | None = None
    cuda_graph: bool = True
    model_sha256: str | None = None
    on_build: BuildCallback | None = None
    # A Triton server URL (``--remote``): the model runs there (backend ``triton``), and a
    # call slower than ``remote_budget_ms`` is abandoned.
    remote: str | None = None
    remote_budget_ms: float = 100.0


@dataclass(frozen=True)
class ProbeResult:
    """Why a backend cannot run here and what would make it run.

    ``installed`` marks a backend whose software is present (so the user expects it to work):
    skipping it deserves a warning, while a backend that simply is not installed is skipped
    quietly.
    """

    reason: str
    fix: str = ""
    installed: bool = False

    def text(self) -> str:
        return f"{self.reason} ({self.fix})" if self.fix else self.reason


class ModelNotSupported(Exception):
    """Raised by a backend factory that cannot run this particular model (not a failure of
    the backend): ``open_session`` moves on quietly instead of warning."""


# A backend factory: (model path, options) -> session, raising any Exception when unusable.
BackendFactory = Callable[[Path, SessionOptions], InferenceSession]
# A probe: None when the backend can be tried here, else why not (a string or ProbeResult).
BackendProbe = Callable[[], "str | ProbeResult | None"]
# Turns a start-up failure of a backend into the fix a user should apply.
FailureExplainer = Callable[[BaseException], str]


@dataclass(frozen=True)
class Backend:
    name: str
    factory: BackendFactory
    probe: BackendProbe
    rank: int
    description: str = ""
    explain: FailureExplainer | None = None


# The registry: the only module-level mutable state, filled by register_backend().
BACKENDS: dict[str, Backend] = {}
ORDER: list[str] = []


def register_backend(
    name: str,
    factory: BackendFactory,
    probe: BackendProbe,
    *,
    rank: int,
    description: str = "",
    explain: FailureExplainer | None = None,
) -> None:
    """Register a backend; ``rank`` places it in the automatic order (lower is tried first)."""
    BACKENDS[name] = Backend(name, factory, probe, rank, description, explain)
    ORDER[:] = sorted(BACKENDS, key=lambda n: (BACKENDS[n].rank, n))


def provider_names() -> list[str]:
    """Every backend name in automatic order: the choices of ``--provider``."""
    _load_builtin_backends()
    return list(ORDER)


def _normalise(outcome: str | ProbeResult | None) -> ProbeResult | None:
    if outcome is None or isinstance(outcome, ProbeResult):
        return outcome
    return ProbeResult(str(outcome))


def probe_backends() -> dict[str, ProbeResult | None]:
    """Every registered backend mapped to ``None`` (usable here) or why it is not."""
    _load_builtin_backends()
    out: dict[str, ProbeResult | None] = {}
    for name in ORDER:
        try:
            out[name] = _normalise(BACKENDS[name].probe())
        except Exception as exc:  # a probe must never take the program down
            out[name] = ProbeResult(f"probe failed: {type(exc).__name__}: {exc}", installed=True)
    return out


def available_backends() -> dict[str, str | None]:
    """Every registered backend mapped to ``None`` (usable here) or a one-line reason."""
    return {n: (p.text() if p else None) for n, p in probe_backends().items()}


def resolve_prefer(
    prefer: str | Sequence[str] | None, environ: Mapping[str, str] | None = None
) -> list[str] | None:
    """The forced backend list from ``prefer`` or ``$REALTIME_PROVIDER``; None means automatic.

    A string may list several names separated by commas; ``auto`` (or nothing) is automatic.
    """
    environ = os.environ if environ is None else environ
    if prefer is None:
        prefer = environ.get(ENV_PROVIDER, "")
    names = (
        [p.strip() for p in prefer.split(",")]
        if isinstance(prefer, str)
        else [str(p).strip() for p in prefer]
    )
    names = [n for n in names if n]
    if not names or names == ["auto"]:
        return None
    return names


def _one_line(exc: BaseException, limit: int = 240) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def open_session(
    model: Path,
    *,
    prefer: str | Sequence[str] | None = None,
    options: SessionOptions | None = None,
    label: str | None = None,
) -> InferenceSession:
    """Open ``model`` on the best backend that works, or on ``prefer`` when given.

    ``prefer`` (else ``$REALTIME_PROVIDER``) forces a backend or an ordered list of them; a
    forced backend that is not available is a ``ProviderError`` listing the ones that are.
    In automatic mode a backend that is installed but fails to start is skipped with one
    warning naming the cause and the fix.
    """
    _load_builtin_backends()
    model = Path(model)
    options = options or SessionOptions()
    label = label or model.stem
    remote = bool(options.remote)
    if remote:  # the model runs on the server: no local file, no local fallback
        prefer = ["triton"]
    if not remote and not model.is_file():
        raise ModelError(
            f"model file not found: {model}", fix="reinstall realtime or run `realtime models fetch`"
        )
    forced = resolve_prefer(prefer)
    probes = probe_backends()
    usable = [n for n, p in probes.items() if p is None]
    log.info("%s: inference providers available here: %s", label, ", ".join(usable) or "none")
    for name, p in probes.items():
        if p is not None:
            log.debug("%s: provider %s unavailable: %s", label, name, p.text())

    if forced is None:
        order = list(ORDER)
    else:
        unknown = [p for p in forced if p not in BACKENDS]
        if unknown:
            raise ProviderError(
                f"unknown provider {', '.join(unknown)}",
                fix=f"choose one of {', '.join(ORDER)}; available here: {', '.join(usable) or 'none'}",
            )
        if all(probes[p] is not None for p in forced):
            first = probes[forced[0]]
            assert first is not None
            fix = f"{first.fix}; " if first.fix else ""
            raise ProviderError(
                f"provider {', '.join(forced)} is not available here: {first.reason}",
                fix=f"{fix}available here: {', '.join(usable) or 'none'}; see `realtime doctor`",
            )
        order = forced

    failures: list[tuple[str, str, str]] = []  # (name, why, fix)
    for name in order:
        probe = probes[name]
        if probe is not None:
            if probe.installed or forced is not None:
                failures.append((name, probe.reason, probe.fix))
            continue
        backend = BACKENDS[name]
        try:
            sess = backend.factory(model, options)
        except (ModelError, ConfigError, RemoteError):
            raise
        except ModelNotSupported as exc:
            log.debug("%s: provider %s does not run this model: %s", label, name, exc)
            if forced is not None:
                failures.append((name, _one_line(exc), ""))
            continue
        except Exception as exc:
            fix = ""
            if backend.explain is not None:
                try:
                    fix = backend.explain(exc)
                except Exception as explain_exc:  # never hide the real failure
                    log.debug("explaining %s failure failed: %s", name, explain_exc)
            failures.append((name, _one_line(exc), fix))
            log.debug("%s: provider %s failed to start", label, name, exc_info=True)
            continue
        if failures:
            log.warning(
                "%s: running on %s, not %s",
                label,
                name,
                "; ".join(f"{n} ({why}{' - fix: ' + fix if fix else ''})" for n, why, fix in failures),
            )
        log.info("%s: running on %s", label, name)
        return sess

    detail = "; ".join(f"{n}: {why}" for n, why, _ in failures) or "no provider is installed"
    fixes = [f for _, _, f in failures if f]
    raise ProviderError(
        f"no provider could run {label}: {detail}",
        fix=(fixes[0] if fixes else "pip install 'realtime-faceswap[cpu]'") + "; see `realtime doctor`",
    )


# (module, required): a required module's import errors surface; an optional one written by
# another part of the project only has to exist to be loaded, and a broken one is skipped.
_BUILTIN_MODULES = (
    ("realtime.inference.tensorrt", True),
    ("realtime.inference.onnxruntime", True),
    ("realtime.inference.litert", False),
    ("realtime.inference.triton", False),
)
_LOADED: list[bool] = []


def _load_builtin_backends() -> None:
    """Import the built-in backend modules once; each registers itself on import."""
    if _LOADED:
        return
    _LOADED.append(True)
    for module, required in _BUILTIN_MODULES:
        if required:
            importlib.import_module(module)
            continue
        if importlib.util.find_spec(module) is None:
            continue
        try:
            importlib.import_module(module)
        except ImportError as exc:
            log.warning("inference backend %s could not be loaded: %s", module, exc)
