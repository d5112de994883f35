"""Model metadata as data: ``ModelSpec`` records read from the TOML manifests in ``models/``.

The manifests ship inside the wheel as ``realtime._manifests``; bundled model files ship in
``realtime/assets/models``. Nothing about a model (URL, hash, template, normalisation) lives
in code.
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from realtime.errors import ConfigError, ModelError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

KINDS = ("detector", "landmarker", "recognizer", "swapper", "enhancer", "mask", "converter")
BUNDLED_DIR = Path(__file__).resolve().parent.parent / "assets" / "models"
# Pickle-based checkpoints can run code when loaded: never accepted, bundled or not.
PICKLED_SUFFIXES = (".pth", ".pt", ".ckpt", ".pkl", ".pickle", ".bin", ".tar")
# A downloaded (not bundled) model must be an ONNX file.
DOWNLOAD_SUFFIX = ".onnx"
_HEX = set("0123456789abcdef")


@dataclass(frozen=True)
class TensorSpec:
    name: str
    shape: tuple[int | str, ...]
    dtype: str = "float32"


@dataclass(frozen=True)
class ModelSpec:
    """One model file and everything needed to fetch, verify and feed it."""

    name: str
    kind: str
    file: str
    sha256: str
    size: int
    license: str
    bundled: bool = False
    urls: tuple[str, ...] = ()
    source: str = ""
    source_sha256: str = ""
    inputs: tuple[TensorSpec, ...] = ()
    outputs: tuple[TensorSpec, ...] = ()
    template: str = ""
    crop_size: int = 0
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()
    color: str = "rgb"
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    # Why ``sha256`` is what it is (its provenance), or why it is empty.
    hash_note: str = ""
    # Other models this one cannot run without (e.g. a swapper's recognizer).
    requires: tuple[str, ...] = ()

    @property
    def bundled_path(self) -> Path:
        return BUNDLED_DIR / self.file

    @property
    def verifiable(self) -> bool:
        """True when a published sha256 exists to check the file against."""
        return bool(self.sha256)


_FIELDS = set(ModelSpec.__dataclass_fields__)


def _parse(entry: dict[str, Any], where: str) -> ModelSpec:
    data = dict(entry)
    extra = data.pop("extra", {})
    unknown = set(data) - _FIELDS
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))} in a [[model]] entry")
    for key in ("name", "kind", "file", "sha256", "size", "license"):
        if key not in data:
            raise ConfigError(f"{where}: model entry {data.get('name', '?')!r} lacks {key!r}")
    if data["kind"] not in KINDS:
        raise ConfigError(f"{where}: model {data['name']!r} has kind {data['kind']!r}; one of {KINDS}")
    for key in ("inputs", "outputs"):
        data[key] = tuple(
            TensorSpec(t["name"], tuple(t["shape"]), t.get("dtype", "float32")) for t in data.get(key, ())
        )
    for key in ("urls", "mean", "std", "requires"):
        data[key] = tuple(data.get(key, ()))
    bad_urls = [u for u in data["urls"] if not str(u).startswith("https://")]
    if bad_urls:
        raise ConfigError(f"{where}: model {data['name']!r} has non-HTTPS url(s): {bad_urls}")
    _check_file_fields(data, where)
    return ModelSpec(**data, extra=extra)


def _check_file_fields(data: dict[str, Any], where: str) -> None:
    """Reject pickled checkpoints, non-ONNX downloads and malformed hashes or sizes."""
    name, file = data["name"], str(data["file"])
    suffix = Path(file).suffix.lower()
    if suffix in PICKLED_SUFFIXES:
        raise ConfigError(f"{where}: model {name!r} is a pickled checkpoint ({file}); only ONNX is loaded")
    if not data.get("bundled", False) and suffix != DOWNLOAD_SUFFIX:
        raise ConfigError(f"{where}: downloadable model {name!r} must be an .onnx file, got {file}")
    sha = str(data["sha256"])
    if sha and (len(sha) != 64 or not set(sha) <= _HEX):
        raise ConfigError(f"{where}: model {name!r} sha256 must be 64 lowercase hex digits or empty")
    if not sha and not data.get("hash_note"):
        raise ConfigError(f"{where}: model {name!r} has no sha256 and no hash_note saying why")
    if not isinstance(data["size"], int) or data["size"] < 0:
        raise ConfigError(f"{where}: model {name!r} size must be a byte count >= 0 (0 = unknown)")


def load_manifests(folder: Path | None = None) -> dict[str, ModelSpec]:
    """Every model of every ``*.toml`` in ``folder`` (default: the shipped manifests), by name."""
    specs: dict[str, ModelSpec] = {}
    files: list[Any]
    if folder is None:
        files = sorted(
            (p for p in resources.files("realtime._manifests").iterdir() if p.name.endswith(".toml")),
            key=lambda p: p.name,
        )
    else:
        files = sorted(folder.glob("*.toml"))
    for f in files:
        try:
            doc = tomllib.loads(f.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"model manifest {f.name} is not valid TOML: {exc}") from exc
        for entry in doc.get("model", []):
            spec = _parse(entry, f.name)
            if spec.name in specs:
                raise ConfigError(f"model {spec.name!r} is defined twice (again in {f.name})")
            specs[spec.name] = spec
    return specs


def load_templates(folder: Path | None = None) -> dict[str, tuple[tuple[float, float], ...]]:
    """The five-point alignment templates of ``templates.toml``, normalised to a unit crop."""
    if folder is None:
        text = resources.files("realtime._manifests").joinpath("templates.toml").read_text("utf-8")
    else:
        text = (folder / "templates.toml").read_text(encoding="utf-8")
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"templates.toml is not valid TOML: {exc}") from exc
    out: dict[str, tuple[tuple[float, float], ...]] = {}
    for name, table in doc.get("template", {}).items():
        pts = table.get("points", [])
        if len(pts) != 5 or any(len(p) != 2 for p in pts):
            raise ConfigError(f"templates.toml: template {name!r} must have 5 [x, y] points")
        out[name] = tuple((float(x), float(y)) for x, y in pts)
    return out


def get_spec(name: str) -> ModelSpec:
    specs = load_manifests()
    if name not in specs:
        raise ModelError(f"unknown model {name!r}", fix=f"known models: {', '.join(sorted(specs))}")
    return specs[name]


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def bundled_model(name: str, *, verify: bool = True) -> tuple[ModelSpec, Path]:
    """The spec and path of a model that ships inside the package, checked against its hash."""
    spec = get_spec(name)
    path = spec.bundled_path
    if not path.is_file():
        raise ModelError(
            f"bundled model file is missing: {path}", fix="reinstall realtime (pip install --force-reinstall)"
        )
    if verify:
        size = path.stat().st_size
        if size != spec.size or sha256_file(path) != spec.sha256:
            raise ModelError(
                f"bundled model file is altered or corrupt: {path} (sha256 mismatch)",
                fix="reinstall realtime, or rerun tools/convert_mediapipe.py",
            )
    return spec, path
