"""What every ``[swap]`` and ``[faces]`` setting means and which values it takes, for the
panel's controls and ``GET /api/schema``. The dataclasses' checks are the truth; this table
says it in words (a test checks that it names every field and that its ranges are accepted)."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from realtime.faces.analysis import FaceAnalyzer
from realtime.faces.config import AnalysisSettings
from realtime.swap.blend import BLEND_MODES
from realtime.swap.config import MeshSettings
from realtime.swap.select import SELECT_MODES

# name: (meaning, range) - a range is (min, max, step) for numbers, a tuple of choices, or None.
SWAP: dict[str, tuple[str, Any]] = {
    "geometry": ("0 keeps the target's face shape, 1 takes the source's features' placement", (0, 1, 0.05)),
    "mask_erode": (
        "how far inside the face outline the blend mask starts (fraction of face size)",
        (0, 0.5, 0.01),
    ),
    "mask_feather": ("width of the mask's soft edge (fraction of face size)", (0, 0.5, 0.01)),
    "blend": ("overall strength of the swap", (0, 1, 0.05)),
    "blend_mode": ("feather (alpha) or multiband (spreads a tone step wider, ~1 ms more)", BLEND_MODES),
    "color": ("strength of the skin-tone transfer", (0, 1, 0.05)),
    "shading": ("how much of the target's light replaces the source's", (0, 1, 0.05)),
    "shading_sigma": ("blur of that light (fraction of face size)", (0, 0.5, 0.01)),
    "color_smoothing": ("weight of the newest frame in the colour statistics (1: none)", (0.01, 1, 0.01)),
    "keep_mouth": ("show the target's own mouth interior", None),
    "keep_eyes": ("show the target's own eyes", None),
    "mouth_feather": ("soft band around the kept mouth and eyes (fraction of face size)", (0, 0.5, 0.01)),
    "forehead": ("how much of the forehead above the brows is swapped", (0, 1, 0.05)),
    "select": ("which faces are swapped: all, the largest, or one track", SELECT_MODES),
    "track_id": ("the track swapped when select is track (click a face in the preview)", (0, 1000, 1)),
    "occlusion": (
        "how fully a hand, cup, hair or glasses in front of the face stay in front (0: off)",
        (0, 1, 0.05),
    ),
    "grain": ("how much of the camera's noise the drawn face gets (0: none)", (0, 1, 0.05)),
    "steady": ("moves smaller than this (fraction of face size) are damped: less shimmer", (0, 0.05, 0.001)),
    "sharp": ("bicubic sampling where the photo is shrunk: keeps its detail (~0.5 ms a face)", None),
    "jaw": ("the fade narrows toward the chin: no band of the real chin (a 'goatee') inside it", None),
    "occlusion_threshold": (
        "how unlike the face's skin a pixel must be to stay in front (lower: more)",
        (2, 20, 0.5),
    ),
}

FACES: dict[str, tuple[str, Any]] = {
    "detector": ("short: faces within ~2 m (fastest); full: small, distant faces", ("short", "full")),
    "score_threshold": ("minimum detection score", (0, 1, 0.05)),
    "detect_every": ("frames between detections looking for new faces", (1, 60, 1)),
    "presence_threshold": ("landmark presence below which a track is lost", (0, 1, 0.05)),
    "max_faces": ("faces tracked at most (0: no limit)", (0, 16, 1)),
    "min_cutoff": ("smoothing at rest in Hz (lower: steadier)", (0.01, 5, 0.01)),
    "beta": ("smoothing in motion (higher: less lag)", (0, 200, 1)),
    "threads": ("threads of each face model", (1, 16, 1)),
    "nms_threshold": ("overlap above which two detections are one face", (0, 1, 0.05)),
    "iou_match": ("overlap that matches a detection to a track", (0, 1, 0.05)),
    "reset_jump": ("a jump this large (face sizes) restarts a track's smoothing", (0.05, 5, 0.05)),
    "tile_rows": ("rows of the tile grid searched for small, far faces (0: off)", (0, 4, 1)),
}


def _entries(cls: type, table: dict[str, tuple[str, Any]], restart: tuple[str, ...]) -> list[dict[str, Any]]:
    out = []
    default = cls()
    for f in fields(cls):
        meaning, rng = table[f.name]
        value = getattr(default, f.name)
        kind = (
            "bool"
            if isinstance(value, bool)
            else "choice"
            if isinstance(rng, tuple) and isinstance(rng[0], str)
            else "number"
        )
        entry: dict[str, Any] = {"name": f.name, "meaning": meaning, "default": value, "kind": kind}
        if kind == "choice":
            entry["choices"] = list(rng)
        elif kind == "number":
            entry["min"], entry["max"], entry["step"] = rng
        entry["live"] = f.name not in restart
        out.append(entry)
    return out


def schema() -> dict[str, list[dict[str, Any]]]:
    """``{"swap": [...], "faces": [...]}``: each setting's name, meaning, default, range, and
    whether it changes live (else a preset and a restart)."""
    return {
        "swap": _entries(MeshSettings, SWAP, ()),
        "faces": _entries(AnalysisSettings, FACES, FaceAnalyzer.RESTART_ONLY),
    }
