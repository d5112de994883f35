"""The landmark-mesh face swapper: a real-time swap on a CPU with no downloaded model.

Per target face: the source texture is warped onto the target's (geometry-blended) mesh by
one dense remap over the face's box, matched to the target's skin tone and light, given back
the target's own mouth interior (and optionally eyes), and blended in with a feathered mask.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from realtime.faces.landmarks import five_points
from realtime.frame import SWAP_MISSED, Face, Frame
from realtime.swap.config import MeshSettings
from realtime.swap.mesh.blend import composite, feather
from realtime.swap.mesh.cast import Cast
from realtime.swap.mesh.color import StatsSmoother, colour_stats, shading_offset, tone_transfer
from realtime.swap.mesh.geometry import blend_geometry
from realtime.swap.mesh.grain import GrainMatcher, cut_noise, mid_face_box
from realtime.swap.mesh.masks import CHIN, EYE_LEFT, EYE_RIGHT, LIPS_INNER, face_outline, fill, skin_mask
from realtime.swap.mesh.memory import FaceMemory
from realtime.swap.mesh.occlusion import keep_in_front
from realtime.swap.mesh.patch import region_of, target_feature
from realtime.swap.mesh.photo import SourceFace, prepare_source
from realtime.swap.mesh.steady import MeshSteadier
from realtime.swap.mesh.variants import Variants, people_of, prepare_cast
from realtime.swap.mesh.warp import dense_map, warp_texture
from realtime.swap.select import select_faces

if TYPE_CHECKING:
    from realtime.faces.analysis import FaceAnalyzer

log = logging.getLogger(__name__)

# The mesh point at the middle of the lower lip: where the jaw's tighter fade begins.
MOUTH_ROW = 17
# Fewer covered pixels than this and a face is too small (or too far outside the frame) to swap.
MIN_FACE_PIXELS = 64


class MeshSwapper:
    """The swap processor: ``MeshSwapper(source, settings)(frame) -> frame``.

    Swaps every selected face that has a mesh; frames without one pass through untouched.
    ``source`` may be several faces, one per person: ``cast`` (``realtime.swap.mesh.cast``) says
    who gets which. A person may be several photos (a sequence of faces): each frame draws the
    one nearest the live face's pose (``realtime.swap.mesh.variants``).
    ``set_source``/``set_sources`` switch faces between frames from any thread.
    ``set_settings`` switches the settings between frames: each frame reads them once, so
    it is drawn with one set throughout.
    """

    name = "swap"
    thread_safe = True  # the source face and the colour smoothing change under ``_lock``

    def __init__(
        self,
        source: SourceFace | Sequence[SourceFace | Sequence[SourceFace]],
        settings: MeshSettings | None = None,
        *,
        analyzer: FaceAnalyzer | None = None,
    ) -> None:
        settings = settings or MeshSettings()
        self.settings = settings
        self._people = people_of(source)
        self._sources = tuple(p.faces[0] for p in self._people)
        self._source = self._sources[0]
        self._photo: dict[int, int] = {}  # track id -> the photo of its person it is drawn from
        self.cast = Cast(len(self._sources))
        self._lock = threading.Lock()
        self._colour = StatsSmoother(settings.color_smoothing)
        self._steady = MeshSteadier()
        self._grain = GrainMatcher()
        self._memory = FaceMemory()
        self._analyzer = analyzer
        self._warm_up()

    @property
    def source(self) -> SourceFace:
        return self._source

    @property
    def sources(self) -> tuple[SourceFace, ...]:
        """The first photo of each person."""
        return self._sources

    @property
    def people(self) -> tuple[Variants, ...]:
        """Every photo of each person."""
        return self._people

    def set_source(self, source: SourceFace) -> None:
        """Use one source face for everyone from the next frame on (thread-safe)."""
        self.set_sources([source])
        log.info("swap source changed to %s", source.path or "an in-memory face")

    def set_sources(self, sources: Sequence[SourceFace | Sequence[SourceFace]]) -> None:
        """One source face (or several photos) per person from the next frame on
        (thread-safe). The same number of people keeps who has which; another number starts
        the cast over."""
        people = people_of(sources)
        with self._lock:
            if len(people) != len(self._people):
                self.cast = Cast(len(people))
            self._people = people
            self._sources = tuple(p.faces[0] for p in people)
            self._source = self._sources[0]
            self._reset_state()

    def assign(self, track_id: int, source: int) -> None:
        """Give the person of ``track_id`` source face ``source`` (``--face`` order, from 0)."""
        self.cast.assign(track_id, source)
        with self._lock:
            self._colour.reset()

    def reset(self) -> None:
        """Forget who had which face (the source restarted: tracks start over)."""
        self.cast.reset()
        with self._lock:
            self._reset_state()

    def _reset_state(self) -> None:
        """Forget every track's colour, mesh, grain and photo (call under ``_lock``)."""
        self._photo.clear()
        self._colour.reset()
        self._steady.reset()
        self._grain.reset()
        self._memory.reset()

    def set_settings(self, settings: MeshSettings) -> None:
        """Draw with ``settings`` from the next frame on (thread-safe; the panel's sliders)."""
        with self._lock:
            if settings.color_smoothing != self.settings.color_smoothing:
                self._colour = StatsSmoother(settings.color_smoothing)
            self.settings = settings  # one reference swap: a frame never sees half of it

    def load_source(self, paths: Sequence[Path] | Path, face_index: int | None = None) -> SourceFace:
        """Prepare a face from photos and switch to it (for a hotkey or a file watch).

        The preparation runs in the caller's thread while frames keep flowing; on
        ``NoFaceError``/``InputError`` the current face stays.
        """
        source = prepare_source(paths, face_index, analyzer=self._analyzer)
        self.set_source(source)
        return source

    def _warm_up(self) -> None:
        """Compile (or load from numba's cache) every kernel of the swap now, by swapping the
        source face onto itself once: a cold cache would otherwise stall the first frames."""
        tri = np.array([[0, 1, 2]], np.int32)
        pts = np.array([[0, 0, 0], [3, 0, 0], [0, 3, 0]], np.float32)
        dense_map(pts, pts[:, :2], tri, (0, 0), (4, 4))
        src = self._source
        mesh = np.asarray(src.mesh, np.float32)
        try:
            face = Face(
                box=np.concatenate([mesh[:, :2].min(axis=0), mesh[:, :2].max(axis=0)]),
                score=1.0,
                kps=five_points(mesh),
                mesh=mesh,
            )
            self.swap_face(np.array(src.texture), face, src, 0)
        except Exception as exc:  # a warm-up must never stop the swapper from starting
            log.debug("swap warm-up skipped: %r", exc)
        finally:
            self._colour.reset()

    def __call__(self, frame: Frame) -> Frame:
        with self._lock:
            s, source = self.settings, self._source
        chosen = select_faces(frame.faces, s.select, s.track_id)
        faces = [f for f in chosen if f.mesh is not None and f.mesh.shape[0] >= 468]
        if not faces:
            return frame.with_flag(SWAP_MISSED) if chosen else frame
        with self._lock:
            people, cast = self._people, self.cast
        # Every face of the frame, selected or not, so the cast sees who is still there.
        picks = dict(zip(map(id, frame.faces), cast.sources_for(frame.faces, frame.index)))
        # A stage that owns the image alone lets us draw into it: no full-frame copy.
        image = frame.image if "writable" in frame.flags else frame.image.copy()
        swapped = 0
        for face in faces:
            source = self._photo_for(face, people[picks.get(id(face), 0) % len(people)])
            swapped += self.swap_face(image, face, source, frame.index, s)
        out = frame.with_image(image).with_swapped(swapped) if swapped else frame
        return out.with_flag(SWAP_MISSED) if swapped < len(chosen) else out

    def _photo_for(self, face: Face, person: Variants) -> SourceFace:
        """The photo of ``person`` to draw ``face`` from: the nearest in pose, kept by its
        track until another is clearly nearer."""
        if len(person) == 1:
            return person.faces[0]
        assert face.mesh is not None
        size = float(max(np.ptp(face.mesh[:, 0]), np.ptp(face.mesh[:, 1])))
        with self._lock:
            current = self._photo.get(face.track_id) if face.track_id >= 0 else None
            k = person.pick(face.mesh, size, current)
            if face.track_id >= 0:
                self._photo[face.track_id] = k
        return person.faces[k]

    def swap_face(
        self,
        image: np.ndarray,
        face: Face,
        source: SourceFace,
        frame_index: int = 0,
        settings: MeshSettings | None = None,
    ) -> bool:
        """Swap one face into ``image`` in place; False (image untouched) when it cannot be."""
        s = settings or self.settings
        if face.mesh is None or face.mesh.shape[0] < 468 or not np.all(np.isfinite(face.mesh)):
            return False
        height, width = image.shape[:2]
        size = float(max(np.ptp(face.mesh[:, 0]), np.ptp(face.mesh[:, 1])))
        with self._lock:
            tgt = self._steady.update(face.track_id, frame_index, face.mesh, s.steady * size)
        if size < 8:
            return False
        shape = blend_geometry(source.mesh, tgt, source.weights, s.geometry)
        dst = shape.mesh
        region = region_of(dst, width, height, pad=2)
        if region is None:
            return False
        x0, y0, x1, y1 = region
        rh, rw = y1 - y0, x1 - x0
        origin = (x0, y0)
        texture, tex_scale = source.level_for(size)
        map1, map2, cover = dense_map(dst, source.mesh[:, :2] * tex_scale, source.triangles, origin, (rh, rw))
        outline = face_outline(dst, s.forehead)
        face_mask = cv2.bitwise_and(fill((rh, rw), outline, origin), cover)
        if cv2.countNonZero(face_mask) < MIN_FACE_PIXELS:
            return False
        patch = image[y0:y1, x0:x1]
        # Bicubic where the photo is shrunk (its detail is there to keep), bilinear where it is
        # enlarged (there is no more detail to find, and bicubic rings).
        warped = warp_texture(texture, map1, map2, sharp=s.sharp and source.size * tex_scale > 1.05 * size)

        occluded = None
        colour = np.eye(3, 4, dtype=np.float32)
        shade = None
        if s.occlusion > 0 or s.color > 0 or s.shading > 0:
            # The live face at half resolution, shared by the occluder check and the colour
            # match. One skin mask, the target's: the blended mesh moves features by a few
            # pixels at most, which the holes' margin (``grow``) absorbs.
            half = (rw // 2, rh // 2)  # exact: the region's sides are multiples of 4
            tgt_ycc = cv2.cvtColor(cv2.resize(patch, half, interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2YCrCb)
            tgt_skin = skin_mask(tgt, (half[1], half[0]), origin, 0.02 * size, 0.5)
            if s.occlusion > 0:
                occluded = self._memory.occluders(
                    face.track_id, frame_index, tgt_ycc, tgt_skin, tgt, dst, origin, size, s
                )
            if s.color > 0 or s.shading > 0:
                tone = self._match_colour(
                    tgt_ycc, tgt_skin, warped, cover, face, frame_index, size, s, occluded
                )
                if tone is not None:
                    colour, shade = tone
        if s.grain > 0:
            shade = self._add_grain(patch, warped, colour, shade, tgt, origin, face, frame_index, s, occluded)

        sigma = s.mouth_feather * size
        features = []
        if s.keep_mouth:
            features.append((LIPS_INNER, shape.mouth))
        if s.keep_eyes:
            features += [(EYE_LEFT, shape.eye_left), (EYE_RIGHT, shape.eye_right)]
        keep = []
        for loop_idx, move in features:
            outline = tgt[loop_idx, :2] @ move[:, :2].T + move[:, 2]
            piece = target_feature(image, outline, move, origin, (rh, rw), sigma)
            if piece is not None:
                keep.append(piece)

        open_edges = (
            float(tgt[:, 1].min()) < 0,
            float(tgt[:, 1].max()) > height - 1,
            float(tgt[:, 0].min()) < 0,
            float(tgt[:, 0].max()) > width - 1,
        )
        jaw = (float(dst[MOUTH_ROW, 1]) - y0, float(dst[CHIN, 1]) - y0) if s.jaw else None
        alpha = feather(face_mask, s.mask_erode * size, s.mask_feather * size, open_edges, jaw)
        if occluded is not None:
            alpha = keep_in_front(alpha, occluded, s.occlusion)
        if s.blend < 1.0:
            alpha *= s.blend
        low = s.mask_feather * size if s.blend_mode == "multiband" else 0.0
        composite(patch, warped, colour, shade, alpha, keep, low)
        return True

    def _add_grain(
        self,
        patch: np.ndarray,
        warped: np.ndarray,
        colour: np.ndarray,
        shade: np.ndarray | None,
        tgt: np.ndarray,
        origin: tuple[int, int],
        face: Face,
        frame_index: int,
        s: MeshSettings,
        occluded: np.ndarray | None,
    ) -> np.ndarray | None:
        """The luma offset with the camera's grain added (``realtime.swap.mesh.grain``): the
        noise is measured on the mid-face of the live patch and of the drawn photo."""
        box = mid_face_box(tgt, origin, patch.shape[:2])
        if box is None:
            return shade
        bx0, by0, bx1, by1 = box
        live = cv2.cvtColor(patch[by0:by1, bx0:bx1], cv2.COLOR_BGR2GRAY)
        drawn = cv2.cvtColor(cv2.transform(warped[by0:by1, bx0:bx1], colour), cv2.COLOR_BGR2GRAY)
        keep = None
        if occluded is not None:  # an object in front is not the camera's skin
            occ = occluded[by0 // 2 : (by1 + 1) // 2, bx0 // 2 : (bx1 + 1) // 2]
            if occ.any():
                big = cv2.resize(occ, (2 * occ.shape[1], 2 * occ.shape[0]), interpolation=cv2.INTER_NEAREST)
                keep = big[: by1 - by0, : bx1 - bx0] == 0
        at = (origin[0] + bx0, origin[1] + by0)
        with self._lock:
            sigma = self._grain.sigma(face.track_id, frame_index, live, drawn, at, keep)
        if sigma is None or s.grain * sigma < 0.5:
            return shade
        noise = cut_noise(patch.shape[:2], frame_index, s.grain * sigma)
        return noise if shade is None else cv2.add(shade, noise)

    def _match_colour(
        self,
        tgt_ycc: np.ndarray,
        tgt_skin: np.ndarray,
        warped: np.ndarray,
        cover: np.ndarray,
        face: Face,
        frame_index: int,
        size: float,
        s: MeshSettings,
        occluded: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray | None] | None:
        """The 3x4 colour matrix and the luma offset (int16, patch-sized, or None) that put the
        warped source in the target's tone and light; None when too little skin is visible.

        ``tgt_ycc``/``tgt_skin`` are the live face and its skin at half resolution;
        statistics come from them, shading from a quarter-resolution sample.
        """
        rh, rw = warped.shape[:2]
        half = (rw // 2, rh // 2)
        src_ycc = cv2.cvtColor(cv2.resize(warped, half, interpolation=cv2.INTER_NEAREST), cv2.COLOR_BGR2YCrCb)
        if occluded is not None:  # an object in front is not the target's skin
            tgt_skin = cv2.bitwise_and(tgt_skin, cv2.bitwise_not(occluded))
        cover_half = cv2.resize(cover, half, interpolation=cv2.INTER_NEAREST)
        src_skin = cv2.bitwise_and(tgt_skin, cover_half)
        src_stats = colour_stats(src_ycc, src_skin)
        tgt_stats = colour_stats(tgt_ycc, tgt_skin)
        if src_stats is None or tgt_stats is None:
            return None
        with self._lock:
            src_stats, tgt_stats = self._colour.update(face.track_id, frame_index, src_stats, tgt_stats)
        transfer = tone_transfer(src_stats, tgt_stats, s.color)
        if s.shading <= 0:
            return transfer.bgr_matrix(), None
        quarter = (rw // 4, rh // 4)

        def small(a: np.ndarray, scale: float = 1.0) -> np.ndarray:
            q = cv2.resize(np.ascontiguousarray(a), quarter, interpolation=cv2.INTER_AREA)
            return q.astype(np.float32) * scale

        low = shading_offset(
            small(tgt_ycc[:, :, 0]),
            small(tgt_skin, 1.0 / 255.0),
            small(src_ycc[:, :, 0]),
            small(src_skin, 1.0 / 255.0),
            transfer,
            s.shading_sigma * size / 4.0,
            s.shading,
        )
        low16 = np.round(low).astype(np.int16)
        return transfer.bgr_matrix(), cv2.resize(low16, (rw, rh), interpolation=cv2.INTER_LINEAR)


def create_mesh_swapper(
    faces: Sequence[Path] | Path,
    face_index: int | None = None,
    *,
    analyzer: FaceAnalyzer | None = None,
    **options: Any,
) -> MeshSwapper:
    """Prepare one source face per photo (raising ``NoFaceError`` before any camera opens)
    and build the swapper; ``options`` are ``MeshSettings`` fields."""
    settings = MeshSettings.from_options(options)
    if analyzer is None:
        from realtime.faces.analysis import FaceAnalyzer

        analyzer = FaceAnalyzer()
    return MeshSwapper(prepare_cast(faces, face_index, analyzer=analyzer), settings, analyzer=analyzer)
