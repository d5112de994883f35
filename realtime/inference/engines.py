"""The engine cache: serialised TensorRT engines (and timing caches) on disk.

An engine is only valid for one model file, GPU model, compute capability, TensorRT version
and precision, so all five are in its key and its file name. Files are written to a temporary
name and renamed into place (atomic), under a per-engine lock file, so two processes that
start together build an engine once and never read half of one. Every file carries a header
with its key and the SHA-256 of its payload: a truncated, corrupt or foreign file is detected
and rebuilt instead of crashing the run.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import struct
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

import platformdirs

from realtime.inference.engine_progress import BuildTicker
from realtime.inference.session import BuildCallback

log = logging.getLogger(__name__)

T = TypeVar("T")

ENV_ENGINE_DIR = "REALTIME_ENGINE_DIR"
MAGIC = b"RTENGINE\x01"
_HEADER_LEN = struct.Struct("<I")
ENGINE_SUFFIX = ".engine"


class CacheCorrupt(Exception):
    """A cache file that cannot be trusted; the caller rebuilds it."""


@dataclass(frozen=True)
class EngineKey:
    """Everything an engine depends on; any change means a different engine file."""

    model_sha256: str
    gpu_name: str
    compute_capability: str
    trt_version: str
    precision: str
    profile: str = ""  # digest of the optimisation profile; "" for static shapes

    def filename(self, label: str = "") -> str:
        parts = [
            _slug(label) if label else "",
            self.model_sha256[:16],
            _slug(self.gpu_name),
            "sm" + self.compute_capability.replace(".", ""),
            "trt" + _slug(self.trt_version),
            _slug(self.precision),
            self.profile[:12],
        ]
        return "-".join(p for p in parts if p) + ENGINE_SUFFIX

    def timing_cache_name(self) -> str:
        """Timing caches are shared by all models on one GPU and TensorRT version."""
        return (
            f"timing-{_slug(self.gpu_name)}-sm{self.compute_capability.replace('.', '')}"
            f"-trt{_slug(self.trt_version)}.cache"
        )


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "_", text).strip("_").lower()


def default_cache_dir(override: Path | None = None, environ: dict[str, str] | None = None) -> Path:
    """Where engines live: ``override``, ``$REALTIME_ENGINE_DIR``, a source checkout's
    ``engines/``, else the user cache dir (platformdirs)."""
    environ = dict(os.environ) if environ is None else environ
    if override is not None:
        return Path(override)
    if environ.get(ENV_ENGINE_DIR):
        return Path(environ[ENV_ENGINE_DIR])
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "engines").is_dir() and (checkout / "pyproject.toml").is_file():
        return checkout / "engines"

    return Path(platformdirs.user_cache_dir("realtime")) / "engines"


def tensorrt_version() -> str | None:
    """The installed TensorRT version from package metadata, without importing it."""
    for dist in ("tensorrt", "tensorrt-cu13", "tensorrt-cu12", "tensorrt-cu13-libs", "tensorrt-cu12-libs"):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return None


# ---------------------------------------------------------------------------------------------
# File format
# ---------------------------------------------------------------------------------------------


def pack(key: EngineKey, payload: bytes) -> bytes:
    """Header (magic, key, payload hash and size) followed by the engine bytes."""
    header = json.dumps(
        {
            "key": asdict(key),
            "sha256": hashlib.sha256(payload).hexdigest(),
            "size": len(payload),
            "created": time.time(),
        },
        sort_keys=True,
    ).encode()
    return MAGIC + _HEADER_LEN.pack(len(header)) + header + payload


def read_header(data: bytes) -> tuple[dict[str, Any], int]:
    """The header dict and the payload offset; ``CacheCorrupt`` when it is not one of ours."""
    if not data.startswith(MAGIC):
        raise CacheCorrupt("not a realtime engine file (bad magic)")
    start = len(MAGIC) + _HEADER_LEN.size
    if len(data) < start:
        raise CacheCorrupt("truncated header")
    (n,) = _HEADER_LEN.unpack_from(data, len(MAGIC))
    try:
        header = json.loads(data[start : start + n])
    except (ValueError, UnicodeDecodeError) as exc:
        raise CacheCorrupt(f"unreadable header: {exc}") from exc
    if not isinstance(header, dict) or "key" not in header:
        raise CacheCorrupt("header without a key")
    return header, start + n


def unpack(data: bytes, key: EngineKey) -> bytes:
    """The payload, checked against ``key``, its size and its SHA-256."""
    header, offset = read_header(data)
    if header["key"] != asdict(key):
        raise CacheCorrupt(f"built for another key {header['key']}")
    payload = data[offset:]
    if len(payload) != header.get("size"):
        raise CacheCorrupt(f"truncated: {len(payload)} of {header.get('size')} bytes")
    if hashlib.sha256(payload).hexdigest() != header.get("sha256"):
        raise CacheCorrupt("checksum mismatch")
    return payload


# ---------------------------------------------------------------------------------------------
# Locking and atomic writes
# ---------------------------------------------------------------------------------------------


@contextlib.contextmanager
def file_lock(
    path: Path,
    *,
    on_wait: Callable[[float], None] | None = None,
    poll_s: float = 0.1,
    timeout_s: float | None = None,
) -> Iterator[None]:
    """An exclusive inter-process lock on ``path`` (created if missing).

    Polls a non-blocking lock so that ``on_wait(elapsed)`` can report that another process
    holds it (e.g. is building the same engine).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    start = time.monotonic()
    try:
        while not _try_lock(fd):
            elapsed = time.monotonic() - start
            if timeout_s is not None and elapsed > timeout_s:
                raise TimeoutError(f"lock {path} held by another process for {elapsed:.0f} s")
            if on_wait is not None:
                on_wait(elapsed)
            time.sleep(poll_s)
        try:
            yield
        finally:
            _unlock(fd)
    finally:
        os.close(fd)


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


# ---------------------------------------------------------------------------------------------
# The cache
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CacheEntry:
    """One file of the cache, as ``realtime doctor`` lists it."""

    path: Path
    size: int
    key: dict[str, Any] | None
    problem: str | None


class EngineCache:
    """Engines under one directory, keyed by ``EngineKey``."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = default_cache_dir(root)

    def path_for(self, key: EngineKey, label: str = "") -> Path:
        return self.root / key.filename(label)

    def _lock_path(self, path: Path) -> Path:
        return path.with_name(path.name + ".lock")

    def read(self, key: EngineKey, label: str = "") -> bytes | None:
        """The cached payload, or None when missing or untrustworthy (logged)."""
        path = self.path_for(key, label)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("engine cache %s is unreadable (%s); rebuilding it", path, exc)
            return None
        try:
            return unpack(data, key)
        except CacheCorrupt as exc:
            log.warning("engine cache %s is unusable (%s); rebuilding it", path.name, exc)
            return None

    def get_or_build(
        self,
        key: EngineKey,
        build: Callable[[], bytes],
        load: Callable[[bytes], T],
        *,
        label: str = "",
        progress: BuildCallback | None = None,
    ) -> T:
        """Load the engine for ``key``, building (once, across processes) when needed.

        ``load`` turns payload bytes into a live engine and raises (or returns None) when the
        runtime rejects them, e.g. an engine from another TensorRT build; such an engine is
        rebuilt, never fatal.
        """
        path = self.path_for(key, label)
        cached = self.read(key, label)
        rejected: bytes | None = None
        if cached is not None:
            engine = self._try_load(load, cached, path)
            if engine is not None:
                return engine
            rejected = cached
        ticker = BuildTicker(progress, label or path.stem)
        waited = [False]

        def on_wait(elapsed: float) -> None:
            if not waited[0]:
                log.info("waiting for another process to build %s", path.name)
                waited[0] = True
            ticker.emit("waiting")

        with file_lock(self._lock_path(path), on_wait=on_wait):
            # Another process may have built it while this one waited for the lock.
            cached = self.read(key, label)
            if cached is not None and cached != rejected:
                engine = self._try_load(load, cached, path)
                if engine is not None:
                    ticker.emit("done")
                    return engine
            log.info(
                "building TensorRT engine %s (first run on this GPU only; this takes a while)", path.name
            )
            t0 = time.monotonic()
            with ticker:
                payload = build()
            atomic_write(path, pack(key, payload))
            log.info("built %s in %.1f s", path.name, time.monotonic() - t0)
        engine = self._try_load(load, payload, path)
        if engine is None:
            raise RuntimeError(f"the TensorRT runtime rejected the engine it just built ({path.name})")
        return engine

    def _try_load(self, load: Callable[[bytes], T], payload: bytes, path: Path) -> T | None:
        try:
            engine = load(payload)
        except Exception as exc:
            log.warning("engine %s could not be loaded (%s); rebuilding it", path.name, exc)
            return None
        if engine is None:
            log.warning("engine %s was rejected by this TensorRT; rebuilding it", path.name)
        return engine

    # Timing caches: shared across models, merged by TensorRT, so only written under the lock.

    def read_timing_cache(self, key: EngineKey) -> bytes | None:
        try:
            return (self.root / key.timing_cache_name()).read_bytes()
        except OSError:
            return None

    def write_timing_cache(self, key: EngineKey, data: bytes) -> None:
        path = self.root / key.timing_cache_name()
        with file_lock(self._lock_path(path)):
            atomic_write(path, data)

    def entries(self) -> list[CacheEntry]:
        """Every engine file with its key, or the reason it cannot be used."""
        if not self.root.is_dir():
            return []
        out = []
        for path in sorted(self.root.glob("*" + ENGINE_SUFFIX)):
            try:
                size = path.stat().st_size
                with path.open("rb") as f:
                    head = f.read(1 << 16)
                header, offset = read_header(head)
                problem = None
                if size - offset != header.get("size"):
                    problem = f"truncated: {size - offset} of {header.get('size')} bytes"
                out.append(CacheEntry(path, size, header["key"], problem))
            except (OSError, CacheCorrupt) as exc:
                out.append(CacheEntry(path, path.stat().st_size if path.exists() else 0, None, str(exc)))
        return out
