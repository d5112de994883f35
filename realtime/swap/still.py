"""Swapping the mesh swapper's face into one still image, as a library call."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from realtime.errors import NoFaceError
from realtime.sinks.image import check_image_output, write_image
from realtime.swap.mesh.photo import prepare_source, read_image
from realtime.swap.mesh.swapper import MeshSettings, MeshSwapper
from realtime.swap.select import select_faces

if TYPE_CHECKING:
    from realtime.faces.analysis import FaceAnalyzer

log = logging.getLogger(__name__)


def _mesh_settings(settings: MeshSettings | Mapping[str, Any] | None) -> MeshSettings:
    if settings is None:
        return MeshSettings()
    if isinstance(settings, MeshSettings):
        return settings
    return MeshSettings.from_options(settings)


def swap_image(
    face_paths: Sequence[Path] | Path,
    input_image_path: Path,
    output_path: Path,
    settings: MeshSettings | Mapping[str, Any] | None = None,
    *,
    face_index: int | None = None,
    analyzer: FaceAnalyzer | None = None,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Swap the source face (from ``face_paths``) onto the faces of a still image and write it.

    A library helper for the mesh swapper (the command line runs stills through the one plan
    in ``realtime.app``, with any swapper). ``settings`` is ``MeshSettings`` or a mapping of
    its fields. Returns a small report (output path, faces
    found and swapped). Raises ``InputError`` for unreadable inputs or an output that would
    overwrite the input, and ``NoFaceError`` when the source photos or the image hold no face.
    """
    input_path, output_path = Path(input_image_path), Path(output_path)
    mesh_settings = _mesh_settings(settings)
    check_image_output(output_path, overwrite=overwrite, input_path=input_path)
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
