"""The inference Protocol and ``open_session``, the one way any model gets run.

Backends register themselves by name in ``BACKENDS``; ``open_session`` tries them in order,
logs what it found and chose, and raises one ``ProviderError`` listing why each failed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from realtime.errors import ModelError, ProviderError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: tuple[int | str | None, ...]
    dtype: str


@runtime_checkable
class InferenceSession(Protocol):
    """A loaded model: named numpy inputs in, named numpy outputs out."""

    provider: str
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]: ...


@dataclass(frozen=True)
class SessionOptions:
    """How to run a model. ``threads`` is intra-op threads for CPU backends (1 leaves the
    other core to the pipeline); ``precision`` is ``fp32`` or ``fp16`` for GPU backends."""

    threads: int = 1
    precision: str = "fp32"
    cache_dir: Path | None = None


# A backend factory: (model path, options) -> session, raising any Exception when unusable.
BackendFactory = Callable[[Path, SessionOptions], InferenceSession]
# A probe: returns None when the backend can be tried here, else the reason it cannot.
BackendProbe = Callable[[], str | None]


@dataclass(frozen=True)
class Backend:
    name: str
    factory: BackendFactory
    probe: BackendProbe


BACKENDS: dict[str, Backend] = {}
ORDER: list[str] = []


def register_backend(name: str, factory: BackendFactory, probe: BackendProbe, *, rank: int) -> None:
    """Register a backend; ``rank`` places it in the automatic order (lower is tried first)."""
    BACKENDS[name] = Backend(name, factory, probe)
    _RANKS[name] = rank
    ORDER[:] = sorted(BACKENDS, key=lambda n: _RANKS[n])


_RANKS: dict[str, int] = {}


def available_backends() -> dict[str, str | None]:
    """Every registered backend mapped to ``None`` (usable here) or why it is not."""
    _load_builtin_backends()
    out: dict[str, str | None] = {}
    for name in ORDER:
        try:
            out[name] = BACKENDS[name].probe()
        except Exception as exc:  # a probe must never take the program down
            out[name] = f"probe failed: {exc}"
    return out


def open_session(
    model: Path,
    *,
    prefer: str | Sequence[str] | None = None,
    options: SessionOptions | None = None,
    label: str | None = None,
) -> InferenceSession:
    """Open ``model`` on the best backend that works, or on ``prefer`` when given.

    ``prefer`` forces a backend (or an ordered list of them); a forced backend that is not
    available is an error listing the ones that are.
    """
    _load_builtin_backends()
    options = options or SessionOptions()
    label = label or model.name
    if not model.is_file():
        raise ModelError(f"model file not found: {model}", fix="reinstall realtime or run `realtime models fetch`")
    avail = available_backends()
    if prefer is None:
        order = list(ORDER)
    else:
        order = [prefer] if isinstance(prefer, str) else list(prefer)
        unknown = [p for p in order if p not in BACKENDS]
        usable = [n for n, why in avail.items() if why is None]
        if unknown or all(avail.get(p) is not None for p in order):
            names = ", ".join(order)
            raise ProviderError(
                f"provider {names} is not available here",
                fix=f"available: {', '.join(usable) or 'none'}; see `realtime doctor`",
            )
    log.debug("backends for %s: %s", label, avail)
    failures: list[str] = []
    for name in order:
        why = avail.get(name)
        if why is not None:
            failures.append(f"{name}: {why}")
            continue
        try:
            sess = BACKENDS[name].factory(model, options)
        except ModelError:
            raise
        except Exception as exc:
            failures.append(f"{name}: {type(exc).__name__}: {exc}")
            log.warning("%s: provider %s failed to start (%s); trying the next one", label, name, exc)
            continue
        log.info("%s: running on %s", label, sess.provider)
        return sess
    raise ProviderError(f"no provider could run {label}: " + "; ".join(failures))


_LOADED: list[bool] = []


def _load_builtin_backends() -> None:
    """Import the built-in backend modules once; each registers itself."""
    if _LOADED:
        return
    _LOADED.append(True)
    from realtime.inference import onnxruntime as _ort  # noqa: F401
