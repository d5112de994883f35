"""Where downloaded model files live, whether they are there, and whether they are intact.

The cache folder is, in order: an explicit ``models_dir`` (the ``--models-dir`` flag), the
``REALTIME_MODELS_DIR`` environment variable, then ``platformdirs.user_cache_dir("realtime")``
``/models``. Bundled models are always read from the package.

Hashing a 550 MB swapper takes seconds, so a verified hash is remembered in a small sidecar
file (``<file>.sha256.json``) keyed by the file's size and modification time: verification at
each start costs one ``stat`` until the file changes. ``realtime models verify`` always
re-reads the whole file: a sidecar only proves that size and mtime are unchanged.

Models without a published sha256 are refused until the user pins one: ``trust_unverified``
computes the file's hash and records it in ``trusted.json`` in the cache folder; later runs
check the file against that pinned hash.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from realtime.catalog.manifest import (
    DOWNLOAD_SUFFIX,
    PICKLED_SUFFIXES,
    ModelSpec,
    load_manifests,
    sha256_file,
)
from realtime.errors import ConfigError, ModelError

log = logging.getLogger(__name__)

ENV_VAR = "REALTIME_MODELS_DIR"
TRUST_FILE = "trusted.json"
SIDECAR_SUFFIX = ".sha256.json"
PART_SUFFIX = ".part"


def default_models_dir() -> Path:
    """The per-user cache folder for models (without the overrides)."""
    return Path(platformdirs.user_cache_dir("realtime")) / "models"


def resolve_models_dir(models_dir: str | os.PathLike[str] | None = None) -> Path:
    """The cache folder to use: the explicit argument, else $REALTIME_MODELS_DIR, else default."""
    if models_dir is not None and str(models_dir):
        return Path(models_dir).expanduser()
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        return Path(env).expanduser()
    return default_models_dir()


def model_path(spec: ModelSpec, models_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where the model's file is (bundled) or belongs (downloaded)."""
    if spec.bundled:
        return spec.bundled_path
    return resolve_models_dir(models_dir) / spec.file


def check_loadable_suffix(spec: ModelSpec) -> None:
    """Refuse pickled checkpoints always, and anything but ONNX for downloaded models."""
    suffix = Path(spec.file).suffix.lower()
    if suffix in PICKLED_SUFFIXES or (not spec.bundled and suffix != DOWNLOAD_SUFFIX):
        raise ModelError(
            f"model {spec.name!r} is {spec.file}: only ONNX is loaded (pickled checkpoints run code)",
            fix="use an .onnx export of the model",
        )


def is_present(spec: ModelSpec, models_dir: str | os.PathLike[str] | None = None) -> bool:
    """Cheap check (one stat): the file exists and has the manifest's size, where known."""
    path = model_path(spec, models_dir)
    try:
        size = path.stat().st_size
    except OSError:
        return False
    return path.is_file() and (spec.size == 0 or size == spec.size)


def where_to_get(spec: ModelSpec, models_dir: str | os.PathLike[str] | None = None) -> str:
    """One line telling the user exactly how to obtain the file, by command or by hand."""
    path = model_path(spec, models_dir)
    urls = " or ".join(spec.urls) if spec.urls else "(no public URL)"
    return f"run `realtime models fetch {spec.name}`, or download {urls} and put it at {path}"


def missing_error(spec: ModelSpec, models_dir: str | os.PathLike[str] | None = None) -> ModelError:
    return ModelError(
        f"model {spec.name!r} is not in the model cache ({model_path(spec, models_dir)})",
        fix=where_to_get(spec, models_dir),
    )


@dataclass(frozen=True)
class Verified:
    """The result of a successful verification."""

    path: Path
    sha256: str
    pinned: bool  # True: checked against a locally pinned hash, not a published one


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + SIDECAR_SUFFIX)


def cached_sha256(path: Path) -> str:
    """The file's sha256, from the sidecar when size and mtime are unchanged, else computed."""
    st = path.stat()
    side = _sidecar(path)
    try:
        rec = json.loads(side.read_text(encoding="utf-8"))
        if rec.get("size") == st.st_size and rec.get("mtime_ns") == st.st_mtime_ns:
            return str(rec["sha256"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    digest = sha256_file(path)
    remember_sha256(path, digest)  # a read-only cache still verifies, just not faster next time
    return digest


def _sha256(path: Path, rehash: bool) -> str:
    """The file's hash: read in full when ``rehash`` (and the sidecar refreshed), else cached."""
    if not rehash:
        return cached_sha256(path)
    digest = sha256_file(path)
    remember_sha256(path, digest)
    return digest


def remember_sha256(path: Path, digest: str) -> None:
    """Record a hash just computed (e.g. by the downloader) so the next verify is a stat."""
    st = path.stat()
    try:
        _sidecar(path).write_text(
            json.dumps({"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": digest}), encoding="utf-8"
        )
    except OSError as exc:
        log.debug("cannot write hash sidecar for %s: %s", path, exc)


def read_trusted(models_dir: str | os.PathLike[str] | None = None) -> dict[str, dict[str, object]]:
    """Locally pinned hashes of files that have no published sha256, by file name."""
    path = resolve_models_dir(models_dir) / TRUST_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ModelError(
            f"{path} is unreadable: {exc}", fix=f"delete {path} and pin the hashes again"
        ) from exc
    return data if isinstance(data, dict) else {}


def pin_hash(
    spec: ModelSpec, sha256: str, size: int, models_dir: str | os.PathLike[str] | None = None
) -> None:
    """Record the user-accepted hash of an unverifiable model (``--trust-unverified``)."""
    folder = resolve_models_dir(models_dir)
    trusted = read_trusted(folder)
    trusted[spec.file] = {"sha256": sha256, "size": size, "model": spec.name}
    tmp = folder / (TRUST_FILE + ".tmp")
    tmp.write_text(json.dumps(trusted, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(tmp, folder / TRUST_FILE)
    log.warning("pinned unverified %s: sha256 %s (%d bytes), trusted on your word", spec.file, sha256, size)


def expected_sha256(spec: ModelSpec, models_dir: str | os.PathLike[str] | None = None) -> tuple[str, bool]:
    """(hash to check against, pinned?) - the published sha256, else a locally pinned one, else ''."""
    if spec.sha256:
        return spec.sha256, False
    rec = read_trusted(models_dir).get(spec.file)
    if isinstance(rec, dict) and isinstance(rec.get("sha256"), str):
        return str(rec["sha256"]), True
    return "", False


def unverifiable_error(spec: ModelSpec) -> ModelError:
    return ModelError(
        f"model {spec.name!r} has no published sha256 to check it against ({spec.hash_note or 'none'})",
        fix=f"if you trust the file, run `realtime models verify --trust-unverified {spec.name}`",
    )


def verify(
    spec: ModelSpec,
    models_dir: str | os.PathLike[str] | None = None,
    *,
    trust_unverified: bool = False,
    rehash: bool = False,
) -> Verified:
    """Check the file is there, ONNX, of the right size and hash; raise ``ModelError`` if not.

    The hash comes from the sidecar while the file's size and mtime match it (a start-up
    check costs one ``stat``). ``rehash`` reads the whole file instead: the user's explicit
    check (``realtime models verify``) must not trust a sidecar that a file rewritten with
    the same size and mtime (a restored backup, a bad copy, bit rot) would still match.

    A file with neither a published nor a pinned hash is refused unless ``trust_unverified``,
    which pins its current hash. A mismatching file is left in place (the user may want to
    inspect it) and the error says how to replace it.
    """
    check_loadable_suffix(spec)
    path = model_path(spec, models_dir)
    if not path.is_file():
        raise missing_error(spec, models_dir)
    size = path.stat().st_size
    if spec.size and size != spec.size:
        raise ModelError(
            f"model file {path} has {size} bytes, expected {spec.size} (incomplete or a different file)",
            fix=f"delete it and {where_to_get(spec, models_dir)}",
        )
    expected, pinned = expected_sha256(spec, models_dir)
    if not expected:
        if not trust_unverified:
            raise unverifiable_error(spec)
        digest = _sha256(path, rehash)
        pin_hash(spec, digest, size, models_dir)
        return Verified(path, digest, True)
    digest = _sha256(path, rehash)
    if digest != expected:
        what = "pinned" if pinned else "published"
        raise ModelError(
            f"model file {path} fails its sha256 check (got {digest[:12]}..., {what} {expected[:12]}...)",
            fix=f"delete it and {where_to_get(spec, models_dir)}",
        )
    return Verified(path, digest, pinned)


def ensure(
    name: str,
    models_dir: str | os.PathLike[str] | None = None,
    *,
    specs: Mapping[str, ModelSpec] | None = None,
    trust_unverified: bool = False,
) -> tuple[ModelSpec, Path]:
    """The spec and verified path of model ``name``; the error says how to get a missing one."""
    specs = load_manifests() if specs is None else specs
    if name not in specs:
        raise ConfigError(f"unknown model {name!r}", fix=f"known models: {', '.join(sorted(specs))}")
    spec = specs[name]
    if spec.bundled:
        return spec, spec.bundled_path
    return spec, verify(spec, models_dir, trust_unverified=trust_unverified).path
