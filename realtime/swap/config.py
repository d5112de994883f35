"""The mesh swapper's own small typed config, apart from its kernels (numba), so a preset can be
checked without compiling anything."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from realtime.errors import ConfigError
from realtime.swap.blend import BLEND_MODES
from realtime.swap.select import check_mode


@dataclass(frozen=True)
class MeshSettings:
    """How the mesh swapper draws a face. Lengths are fractions of the face's size (the larger
    side of its mesh box), so one preset suits near and far faces.

    - ``geometry``: 0 keeps the target's face shape, 1 takes the source's eye spacing, nose,
      brows and mouth placement (expression and outline stay the target's either way). The
      default is the judge's choice (``tools/eval_quality.py --sweep``): mean dlib identity
      0.626 at 0, 0.629 at 0.25, 0.629 at 0.5, 0.622 at 0.75, 0.613 at 1 on the bundled
      photos (stills and moving sequences, both directions). Identity comes mostly from the
      texture; past 0.5 the source's shape fits the target's head and light worse.
    - ``mask_erode``, ``mask_feather``: the blend mask starts ``mask_erode`` inside the face
      outline and ramps to full over ``mask_feather``; ``blend``: overall strength 0..1.
    - ``blend_mode``: ``feather`` (alpha) or ``multiband`` (a two-band Laplacian blend that
      spreads any residual tone step wider; ~1 ms more per face).
    - ``color``: strength of the skin-tone transfer (mean/std of luma and chroma over the
      skin, see ``realtime.swap.color``); ``shading``: how much of the target's
      low-frequency light replaces the source's, blurred over ``shading_sigma``.
    - ``color_smoothing``: weight of the newest frame in the per-track colour statistics
      (1 = no smoothing).
    - ``keep_mouth`` / ``keep_eyes``: show the target's own mouth interior / eyes, with a
      soft band of ``mouth_feather`` around them (over the inner lip edge: the lips' shape
      is expression, so the target's own keeps speech readable).
    - ``forehead``: how much of the forehead above the brows is swapped (the mesh's top
      often holds hair or a hat brim).
    - ``select``, ``track_id``: which faces to swap (see ``select_faces``).
    - ``occlusion``: how fully live pixels that are not this face's skin (a hand, a cup,
      hair, glasses) stay in front of the swap, 0..1 (0: off; ``realtime.swap.occlusion``);
      ``occlusion_threshold``: how far from the skin's colour (robust standard deviations)
      a pixel must be to count as an object (lower keeps more).
    - ``grain``: how much of the camera's noise, measured on the target's skin, is given to
      the drawn face, 0..1 (``realtime.swap.grain``); ``steady``: a tracked point moving
      less than this (fraction of face size) per frame moves only part of the way, which
      holds back landmark jitter that makes a detailed photo shimmer (0: off).
    - ``sharp``: sample the photo bicubically where it is shrunk (keeps its detail; about
      0.5 ms more per face), bilinearly otherwise.
    - ``jaw``: the fade narrows from the mouth down to the chin, so the swap reaches the jaw
      line instead of leaving a band of the target's chin inside it. Off by default: it
      draws over more of what is held below the mouth (tools/bench_quality.py: a cup on
      the chin changes by 17 grey levels with it, 8 without).
    """

    geometry: float = 0.5
    mask_erode: float = 0.02
    mask_feather: float = 0.08
    blend: float = 1.0
    blend_mode: str = "feather"
    color: float = 1.0
    shading: float = 1.0
    shading_sigma: float = 0.06
    color_smoothing: float = 0.2
    keep_mouth: bool = True
    keep_eyes: bool = False
    mouth_feather: float = 0.04
    forehead: float = 0.8
    select: str = "all"
    track_id: int | None = None
    occlusion: float = 1.0
    occlusion_threshold: float = 4.0
    grain: float = 1.0
    steady: float = 0.01
    sharp: bool = True
    jaw: bool = False

    def __post_init__(self) -> None:
        unit = ("geometry", "blend", "color", "shading", "forehead", "occlusion", "grain")
        for name in unit:
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ConfigError(f"swap.{name} must be within [0, 1], got {v}", fix="e.g. 0.5")
        for name in ("mask_erode", "mask_feather", "shading_sigma", "mouth_feather", "steady"):
            v = getattr(self, name)
            if not 0.0 <= v <= 0.5:
                raise ConfigError(
                    f"swap.{name} must be within [0, 0.5] (a fraction of the face size), got {v}",
                    fix="e.g. 0.05",
                )
        if not 0.0 < self.color_smoothing <= 1.0:
            raise ConfigError(
                f"swap.color_smoothing must be within (0, 1], got {self.color_smoothing}",
                fix="e.g. 0.2; 1 turns smoothing off",
            )
        if self.blend_mode not in BLEND_MODES:
            raise ConfigError(
                f"swap.blend_mode must be one of {', '.join(BLEND_MODES)}, got {self.blend_mode!r}",
                fix="use 'feather'",
            )
        if not 2.0 <= self.occlusion_threshold <= 20.0:
            raise ConfigError(
                f"swap.occlusion_threshold must be within [2, 20], got {self.occlusion_threshold}",
                fix="e.g. 4; lower keeps more of what is in front of the face",
            )
        check_mode(self.select, self.track_id)

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> MeshSettings:
        """Settings from a preset's ``[swap]`` table or keywords; unknown keys and values of the
        wrong type raise ``ConfigError`` naming them."""
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(options) - set(known))
        if unknown:
            raise ConfigError(
                f"unknown mesh swapper setting(s): {', '.join(unknown)}",
                fix=f"use one of {', '.join(known)}",
            )
        values: dict[str, Any] = {}
        for key, value in options.items():
            default = getattr(cls(), key)
            if isinstance(default, bool):
                ok = isinstance(value, bool)
            elif isinstance(default, float):
                ok = isinstance(value, (int, float)) and not isinstance(value, bool)
                value = float(value) if ok else value
            elif isinstance(default, str):
                ok = isinstance(value, str)
            else:  # track_id: int or None
                ok = value is None or (isinstance(value, int) and not isinstance(value, bool))
            if not ok:
                raise ConfigError(
                    f"swap.{key} must be {type(default).__name__ if default is not None else 'an int'}"
                    f", got {value!r}",
                    fix=f"e.g. {key} = {default!r}",
                )
            values[key] = value
        return cls(**values)


@dataclass(frozen=True)
class ModelAccess:
    """Where downloaded models live and what may run them: shared by every model a run opens."""

    provider: str | None = None
    models_dir: str | None = None
    trust_unverified: bool = False
    # A Triton server that runs the neural models (``--remote``), how long one call may take,
    # what a lost server leaves (``pass``: the face unswapped, ``mesh``: the mesh swapper) and
    # how long a file job waits for it to come back.
    remote: str | None = None
    remote_budget_ms: float = 66.0
    remote_fallback: str = "pass"
    remote_patience_s: float = 0.0

    def __post_init__(self) -> None:
        if self.remote_fallback not in ("pass", "mesh"):
            raise ConfigError(f"--remote-fallback must be pass or mesh, got {self.remote_fallback!r}")

    def session_options(self, on_build: Any = None) -> Any:
        """``SessionOptions`` for a model opened with this access (one thread on a CPU)."""
        from realtime.inference.session import SessionOptions

        if self.remote:
            return SessionOptions(
                threads=1, on_build=on_build, remote=self.remote, remote_budget_ms=self.remote_budget_ms
            )
        return SessionOptions(threads=1, on_build=on_build)


FACE_SELECT = ("one", "many", "reference")


@dataclass(frozen=True)
class SwapConfig:
    """What the swap step needs: the swapper's name, the source photos, which faces of a
    frame to swap (``face_select``: ``one`` = the largest, ``many`` = all, ``reference`` = the
    faces that look like the ``reference`` photos), the mesh swapper's settings and the model
    access of a neural one."""

    swapper: str = "auto"
    faces: tuple[str, ...] = ()
    face_index: int | None = None
    face_select: str = "many"
    reference: tuple[str, ...] = ()
    mesh: MeshSettings = MeshSettings()
    models: ModelAccess = ModelAccess()

    def __post_init__(self) -> None:
        if self.face_select not in FACE_SELECT:
            raise ConfigError(
                f"unknown --face-select {self.face_select!r}", fix=f"choose one of {', '.join(FACE_SELECT)}"
            )
        if self.face_select == "reference" and not self.reference:
            raise ConfigError("--face-select reference needs --reference PHOTO")
        if self.reference and self.face_select != "reference":
            raise ConfigError("--reference is only used with --face-select reference")


@dataclass(frozen=True)
class EnhanceConfig:
    """A face enhancer after the swap, run on every ``every``-th frame."""

    model: str
    every: int = 1
    models: ModelAccess = ModelAccess()

    def __post_init__(self) -> None:
        if self.every < 1:
            raise ConfigError(f"--enhance-every must be >= 1, got {self.every}")
