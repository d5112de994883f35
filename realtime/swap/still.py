"""Swapping a face into one still image: ``realtime --face a.jpg --input b.jpg --output c.jpg``."""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2

from realtime.errors import InputError, NoFaceError
from realtime.paths import same_file
from realtime.swap.mesh import MeshSettings, MeshSwapper
from realtime.swap.select import select_faces
from realtime.swap.source import prepare_source, read_image

if TYPE_CHECKING:
    from realtime.faces.analysis import FaceAnalyzer

log = logging.getLogger(__name__)


def _check_output(input_path: Path, output_path: Path) -> None:
    """Refuse to overwrite the input, a missing folder or a format OpenCV cannot write."""
    if same_file(output_path, input_path):
        raise InputError(
            f"refusing to overwrite the input image {input_path}", fix="choose another --output path"
        )
    if not output_path.parent.is_dir():
        raise InputError(f"output folder does not exist: {output_path.parent}", fix="create it first")
    if not cv2.haveImageWriter(str(output_path)):
        raise InputError(
            f"cannot write images of type {output_path.suffix or '(none)'!r}: {output_path}",
            fix="use .jpg or .png",
        )


def write_image(path: Path, image: object, params: Sequence[int] = ()) -> None:
    """Encode and write an image atomically: to a temporary name beside it, then rename, so a
    crash never leaves a half-written file under the real name. The file gets the usual
    permissions (0666 less the umask). ``params`` go to ``cv2.imencode``."""
    ok, data = cv2.imencode(path.suffix, image, list(params))  # type: ignore[call-overload]
    if not ok:
        raise InputError(f"cannot encode the output image {path}", fix="use .jpg or .png")
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.tobytes())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise InputError(
            f"cannot write {path}: {exc.strerror}", fix="check the folder's permissions"
        ) from exc


def _mesh_settings(settings: object) -> tuple[MeshSettings, int | None]:
    """``MeshSettings`` (and a face index) from what the caller has: ``MeshSettings``, a
    mapping of its fields, or the app's settings (its ``swap`` table and ``face_index``)."""
    if settings is None:
        return MeshSettings(), None
    if isinstance(settings, MeshSettings):
        return settings, None
    if isinstance(settings, Mapping):
        return MeshSettings.from_options(settings), None
    table = getattr(settings, "swap", None)
    if isinstance(table, Mapping):
        index = getattr(settings, "face_index", None)
        return MeshSettings.from_options(table), index if isinstance(index, int) else None
    raise TypeError(f"unsupported settings for swap_image: {type(settings).__name__}")


def swap_image(
    face_paths: Sequence[Path] | Path,
    input_image_path: Path,
    output_path: Path,
    settings: MeshSettings | Mapping[str, Any] | object | None = None,
    *,
    face_index: int | None = None,
    analyzer: FaceAnalyzer | None = None,
) -> dict[str, Any]:
    """Swap the source face (from ``face_paths``) onto the faces of a still image and write it.

    ``settings`` is ``MeshSettings``, a mapping of its fields, or the app's settings (its
    ``[swap]`` table and ``face_index`` are used). Returns a small report (output path, faces
    found and swapped). Raises ``InputError`` for unreadable inputs or an output that would
    overwrite the input, and ``NoFaceError`` when the source photos or the image hold no face.
    """
    input_path, output_path = Path(input_image_path), Path(output_path)
    mesh_settings, index = _mesh_settings(settings)
    face_index = face_index if face_index is not None else index
    _check_output(input_path, output_path)
    if analyzer is None:
        from realtime.faces.analysis import FaceAnalyzer

        analyzer = FaceAnalyzer()
    source = prepare_source(face_paths, face_index, analyzer=analyzer)
    image = read_image(input_path)
    faces = analyzer.analyze_image(image)
    if not faces:
        raise NoFaceError(
            f"no face found in the input image {input_path}",
            fix="use an image with a clear, visible face",
        )
    swapper = MeshSwapper(source, mesh_settings)
    out = image.copy()
    selected = select_faces(faces, mesh_settings.select, mesh_settings.track_id)
    swapped = sum(swapper.swap_face(out, f, source) for f in selected)
    write_image(output_path, out)
    log.info("swapped %d of %d face(s) of %s into %s", swapped, len(faces), input_path, output_path)
    return {
        "mode": "still",
        "output": str(output_path),
        "source": str(source.path) if source.path else None,
        "faces": len(faces),
        "swapped": int(swapped),
    }
