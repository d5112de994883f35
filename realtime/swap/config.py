"""The mesh swapper's own small typed config, apart from its kernels (numba), so a preset can be
checked without compiling anything."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from realtime.inference.models import ModelAccess
from realtime.options import from_table, opt, validate
from realtime.swap.mesh.blend import BLEND_MODES
from realtime.swap.select import SELECT_MODES, check_mode


@dataclass(frozen=True)
class MeshSettings:
    """How the mesh swapper draws a face (the ``[swap]`` section). Lengths are fractions of the
    face's size (the larger side of its mesh box), so one preset suits near and far faces.

    ``geometry``'s default is the judge's choice (``tools/eval_quality.py --sweep``): mean dlib
    identity 0.626 at 0, 0.629 at 0.25, 0.629 at 0.5, 0.622 at 0.75, 0.613 at 1 on the bundled
    photos. Identity comes mostly from the texture; past 0.5 the source's shape fits the target's
    head and light worse. ``keep_mouth`` keeps the target's mouth interior with a soft band over
    the inner lip edge: the lips' shape is expression, so the target's own keeps speech readable.
    ``occlusion`` keeps live pixels that are not this face's skin (a hand, a cup, hair, glasses)
    in front of the swap (``realtime.swap.mesh.occlusion``); ``grain`` gives the drawn face the
    camera's noise (``realtime.swap.mesh.grain``); ``steady`` damps sub-pixel landmark tremble.
    """

    SECTION: ClassVar[str] = "swap"

    geometry: float = opt(
        0.5,
        "0 keeps the target's face shape, 1 takes the source's features' placement",
        minimum=0,
        maximum=1,
        step=0.05,
        live=True,
        label="Face shape: yours (0) to the photo's (1)",
    )
    mask_erode: float = opt(
        0.02,
        "how far inside the face outline the blend mask starts (fraction of face size)",
        minimum=0,
        maximum=0.5,
        step=0.01,
        live=True,
        label="Mask inset",
    )
    mask_feather: float = opt(
        0.08,
        "width of the mask's soft edge (fraction of face size)",
        minimum=0,
        maximum=0.5,
        step=0.01,
        live=True,
        label="Edge softness",
    )
    blend: float = opt(
        1.0,
        "overall strength of the swap",
        minimum=0,
        maximum=1,
        step=0.05,
        live=True,
        label="Face strength",
        basic=True,
    )
    blend_mode: str = opt(
        "feather",
        "feather (alpha) or multiband (spreads a tone step wider, ~1 ms more)",
        choices=BLEND_MODES,
        live=True,
        label="Blend method",
    )
    color: float = opt(
        1.0,
        "strength of the skin-tone transfer",
        minimum=0,
        maximum=1,
        step=0.05,
        live=True,
        label="Skin tone match",
        basic=True,
    )
    shading: float = opt(
        1.0,
        "how much of the target's light replaces the source's",
        minimum=0,
        maximum=1,
        step=0.05,
        live=True,
        label="Light from your room",
    )
    shading_sigma: float = opt(
        0.06,
        "blur of that light (fraction of face size)",
        minimum=0,
        maximum=0.5,
        step=0.01,
        live=True,
        label="Light blur",
    )
    color_smoothing: float = opt(
        0.2,
        "weight of the newest frame in the colour statistics (1: none)",
        minimum=0,
        maximum=1,
        open_min=True,
        step=0.01,
        slider=(0.01, 1),
        live=True,
        label="Colour change speed",
    )
    keep_mouth: bool = opt(
        True,
        "show the target's own mouth interior",
        live=True,
        label="Keep your own mouth",
    )
    keep_eyes: bool = opt(False, "show the target's own eyes", live=True, label="Keep your own eyes")
    mouth_feather: float = opt(
        0.04,
        "soft band around the kept mouth and eyes (fraction of face size)",
        minimum=0,
        maximum=0.5,
        step=0.01,
        live=True,
        label="Mouth and eye edge softness",
    )
    forehead: float = opt(
        0.8,
        "how much of the forehead above the brows is swapped",
        minimum=0,
        maximum=1,
        step=0.05,
        live=True,
        label="Forehead covered",
    )
    select: str = opt(
        "all",
        "which faces are swapped: all, the largest, or one track",
        choices=SELECT_MODES,
        live=True,
        label="Which faces",
        basic=True,
    )
    track_id: int | None = opt(
        None,
        "the track swapped when select is track (click a face in the preview)",
        minimum=0,
        maximum=1000,
        step=1,
        live=True,
        label="Face number (when one face)",
    )

    occlusion: float = opt(
        1.0,
        "how fully a hand, cup, hair or glasses in front of the face stay in front (0: off)",
        minimum=0,
        maximum=1,
        step=0.05,
        live=True,
        label="Keep hands and objects in front",
        basic=True,
    )
    occlusion_threshold: float = opt(
        4.0,
        "how unlike the face's skin a pixel must be to stay in front (robust deviations; lower: more)",
        minimum=2,
        maximum=20,
        step=0.5,
        live=True,
        label="Object sensitivity",
    )
    occlusion_memory: float = opt(
        3.5,
        "in a stream, how far a pixel must be from what that point of the face looked like a"
        " moment ago to stay in front (spreads; lower: more; 0: off)",
        minimum=0,
        maximum=20,
        step=0.5,
        live=True,
        label="Object memory",
    )
    grain: float = opt(
        1.0,
        "how much of the camera's noise, measured on the target's skin, the drawn face gets (0: none)",
        minimum=0,
        maximum=1,
        step=0.05,
        live=True,
        label="Camera grain",
    )
    steady: float = opt(
        0.01,
        "moves smaller than this (fraction of face size) are damped: less shimmer (0: off)",
        minimum=0,
        maximum=0.5,
        step=0.001,
        slider=(0, 0.05),
        live=True,
        label="Steadiness",
    )
    sharp: bool = opt(
        True,
        "bicubic sampling where the photo is shrunk: keeps its detail (~0.5 ms a face)",
        live=True,
        label="Sharp sampling",
    )
    jaw: bool = opt(
        False,
        "the fade narrows toward the chin (no band of the real chin inside it); off by default: "
        "it draws over more of what is held below the mouth",
        live=True,
        label="Reach the jaw line",
    )

    def __post_init__(self) -> None:
        validate(self)
        check_mode(self.select, self.track_id)

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> MeshSettings:
        """Settings from a ``[swap]`` table or keywords, checked like a preset's."""
        return from_table(cls, dict(options), "swap settings", cls.SECTION)  # type: ignore[no-any-return]


FACE_SELECT = ("one", "many", "reference")


@dataclass(frozen=True)
class SwapConfig:
    """What the swap step needs: the swapper's name, the source photos, which faces of a
    frame to swap (``pick``: ``one`` = the largest, ``many`` = all, ``reference`` = the
    faces that look like the ``reference`` photos), the mesh swapper's settings and the model
    access of a neural one."""

    swapper: str = "auto"
    faces: tuple[str, ...] = ()
    face_index: int | None = None
    pick: str = "many"
    reference: tuple[str, ...] = ()
    mesh: MeshSettings = MeshSettings()
    models: ModelAccess = field(default_factory=ModelAccess)
