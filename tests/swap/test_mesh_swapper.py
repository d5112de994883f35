"""The swap processor: what it changes, what it leaves alone, and bad input."""

from __future__ import annotations

import threading

import cv2
import numpy as np
import pytest

from realtime.errors import ConfigError, NoFaceError
from realtime.frame import Face, Frame
from realtime.processor import Processor
from realtime.swap import SWAPPERS
from realtime.swap.mesh.geometry import blend_geometry
from realtime.swap.mesh.masks import EYE_LEFT, LIPS_INNER
from realtime.swap.mesh.photo import SourceFace
from realtime.swap.mesh.swapper import MeshSettings, MeshSwapper
from tools.quality.judge import PHOTOS, load_photo

PhotoFaces = dict[str, tuple[np.ndarray, Face]]


def _frame(photo_faces: PhotoFaces, name: str, index: int = 0, track: int = -1) -> Frame:
    img, face = photo_faces[name]
    return Frame(index, index / 30, img.copy(), (face.with_(track_id=track),))


def test_is_a_processor_named_swap(bundled_sources: dict[str, SourceFace]) -> None:
    sw = MeshSwapper(bundled_sources["astronaut"])
    assert isinstance(sw, Processor) and sw.name == "swap"


def test_frames_without_faces_pass_through(
    bundled_sources: dict[str, SourceFace], photo_faces: PhotoFaces
) -> None:
    sw = MeshSwapper(bundled_sources["astronaut"])
    img = photo_faces["grace_hopper"][0].copy()
    empty = Frame(0, 0.0, img)
    assert sw(empty) is empty
    face = photo_faces["grace_hopper"][1]
    no_mesh = Frame(1, 0.0, img, (face.with_(mesh=None),))
    out = sw(no_mesh)  # a face it chose and could not swap: unchanged, and marked as missed
    assert out.image is img and out.swapped == 0 and out.flags == {"swap_missed"}


def test_changes_only_the_face(bundled_sources: dict[str, SourceFace], photo_faces: PhotoFaces) -> None:
    sw = MeshSwapper(bundled_sources["astronaut"])
    frame = _frame(photo_faces, "grace_hopper")
    out = sw(frame)
    assert out is not frame and out.image is not frame.image
    assert out.faces == frame.faces and out.index == frame.index
    np.testing.assert_array_equal(frame.image, photo_faces["grace_hopper"][0])  # input untouched
    changed = np.any(out.image != frame.image, axis=2)
    mesh = frame.faces[0].mesh
    assert mesh is not None
    x0, y0 = np.floor(mesh[:, :2].min(axis=0)).astype(int) - 3
    x1, y1 = np.ceil(mesh[:, :2].max(axis=0)).astype(int) + 3
    assert changed.sum() > 0.4 * (x1 - x0) * (y1 - y0)
    outside = changed.copy()
    outside[y0:y1, x0:x1] = False
    assert not outside.any()


def test_keeps_the_target_mouth_interior(
    bundled_sources: dict[str, SourceFace], photo_faces: PhotoFaces
) -> None:
    frame = _frame(photo_faces, "astronaut")  # smiling: her teeth show
    mesh = frame.faces[0].mesh
    assert mesh is not None
    source = bundled_sources["grace_hopper"]
    h, w = frame.image.shape[:2]
    for geometry in (0.0, 0.25):
        # Where the blended mesh puts the mouth, the target's own mouth is drawn, moved along.
        move = blend_geometry(source.mesh, mesh, source.weights, geometry).mouth
        expect = cv2.warpAffine(frame.image, move, (w, h), flags=cv2.INTER_LINEAR)
        inner = np.zeros((h, w), np.uint8)
        lips = mesh[LIPS_INNER, :2] @ move[:, :2].T + move[:, 2]
        cv2.fillPoly(inner, [np.round(lips).astype(np.int32)], 1)
        inner = cv2.erode(inner, np.ones((3, 3), np.uint8)).astype(bool)
        assert inner.sum() > 50
        kept = MeshSwapper(source, MeshSettings(geometry=geometry))(frame)
        diff = np.abs(kept.image.astype(int) - expect)[inner].mean()
        assert diff < 8, geometry  # the real teeth stay
    lost = MeshSwapper(source, MeshSettings(keep_mouth=False))(frame)
    assert np.abs(lost.image.astype(int) - frame.image)[inner].mean() > 25


def test_a_writable_frame_is_swapped_in_place(
    bundled_sources: dict[str, SourceFace], photo_faces: PhotoFaces
) -> None:
    sw = MeshSwapper(bundled_sources["astronaut"])
    copied = sw(_frame(photo_faces, "grace_hopper"))
    frame = _frame(photo_faces, "grace_hopper").with_flag("writable")
    out = sw(frame)
    assert out.image is frame.image  # drawn into the owned buffer: no full-frame copy
    np.testing.assert_array_equal(out.image, copied.image)  # same result as the copying path


def test_face_half_outside_the_frame(bundled_sources: dict[str, SourceFace], photo_faces: PhotoFaces) -> None:
    img, face = photo_faces["grace_hopper"]
    mesh = face.mesh
    assert mesh is not None
    cut = int(mesh[:, 0].mean())  # the frame ends in the middle of the face
    crop = np.ascontiguousarray(img[:, cut:])
    shifted = mesh.copy()
    shifted[:, 0] -= cut
    f = Face(
        np.array([0, face.box[1], face.box[2] - cut, face.box[3]]),
        face.score,
        face.kps - (cut, 0),
        mesh=shifted,
    )
    out = MeshSwapper(bundled_sources["astronaut"])(Frame(0, 0.0, crop, (f,)))
    assert out.image.shape == crop.shape
    assert np.any(out.image != crop)
    # Entirely outside: nothing to draw, the image passes unchanged (marked: the face it chose
    # was not swapped, so the output guard keeps it off the air rather than guess).
    gone = mesh.copy()
    gone[:, 0] -= img.shape[1] + 50
    g = Face(np.array([0, 0, 1, 1]), 0.9, np.zeros((5, 2)), mesh=gone)
    frame = Frame(1, 0.0, crop, (g,))
    out = MeshSwapper(bundled_sources["astronaut"])(frame)
    assert out.image is crop and out.swapped == 0 and "swap_missed" in out.flags


def test_degenerate_meshes_do_not_crash(bundled_sources: dict[str, SourceFace]) -> None:
    img = np.full((120, 160, 3), 80, np.uint8)
    sw = MeshSwapper(bundled_sources["astronaut"])
    for mesh in (
        np.zeros((468, 3)),
        np.full((468, 3), 50.0),
        np.random.default_rng(0).uniform(0, 100, (468, 3)),
    ):
        frame = Frame(0, 0.0, img, (Face(np.array([0, 0, 100, 100]), 0.9, np.zeros((5, 2)), mesh=mesh),))
        out = sw(frame)
        assert out.image.shape == img.shape


def test_colour_statistics_are_smoothed_per_track(
    bundled_sources: dict[str, SourceFace], photo_faces: PhotoFaces
) -> None:
    # Without the shading step, whose low-frequency luma follows the target at once.
    settings = MeshSettings(color_smoothing=0.1, shading=0.0)
    sw = MeshSwapper(bundled_sources["astronaut"], settings)
    first = sw(_frame(photo_faces, "grace_hopper", 0, track=1)).image
    img, face = photo_faces["grace_hopper"]
    darker = Frame(1, 1 / 30, (img * 0.6).astype(np.uint8), (face.with_(track_id=1),))
    smoothed = sw(darker).image
    fresh = MeshSwapper(bundled_sources["astronaut"], settings)(darker.with_faces((face,))).image
    centre = tuple(int(v) for v in face.center)[::-1]
    y, x = centre
    region = (slice(y - 10, y + 10), slice(x - 10, x + 10))
    # A sudden change of light moves the tone only a tenth of the way on a tracked face...
    assert smoothed[region].mean() > fresh[region].mean() + 10
    assert first[region].mean() > smoothed[region].mean()


def test_set_source_from_another_thread(
    bundled_sources: dict[str, SourceFace], photo_faces: PhotoFaces
) -> None:
    sw = MeshSwapper(bundled_sources["astronaut"])
    errors: list[BaseException] = []
    stop = threading.Event()

    def flip() -> None:
        try:
            while not stop.is_set():
                sw.set_source(bundled_sources["grace_hopper"])
                sw.set_source(bundled_sources["astronaut"])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    t = threading.Thread(target=flip)
    t.start()
    try:
        for i in range(20):
            sw(_frame(photo_faces, "grace_hopper", i, track=1))
    finally:
        stop.set()
        t.join()
    assert not errors
    sw.set_source(bundled_sources["grace_hopper"])
    assert sw.source is bundled_sources["grace_hopper"]
    a = MeshSwapper(bundled_sources["astronaut"])(_frame(photo_faces, "grace_hopper")).image
    b = sw(_frame(photo_faces, "grace_hopper")).image
    assert np.abs(a.astype(int) - b).mean() > 0.5


def test_load_source_switches_and_keeps_the_old_face_on_error(
    bundled_sources: dict[str, SourceFace], tmp_path
) -> None:
    sw = MeshSwapper(bundled_sources["astronaut"])
    new = sw.load_source(PHOTOS["grace_hopper"])
    assert sw.source is new and new.path == PHOTOS["grace_hopper"]
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.zeros((100, 100, 3), np.uint8))
    with pytest.raises(NoFaceError):
        sw.load_source(blank)
    assert sw.source is new


def test_multiband_mode_runs(bundled_sources: dict[str, SourceFace], photo_faces: PhotoFaces) -> None:
    frame = _frame(photo_faces, "grace_hopper")
    out = MeshSwapper(bundled_sources["astronaut"], MeshSettings(blend_mode="multiband"))(frame)
    assert np.any(out.image != frame.image)


@pytest.mark.parametrize(
    "options",
    [{"geometry": 1.5}, {"blend_mode": "poisson"}, {"mask_feather": -0.1}, {"color_smoothing": 0.0},
     {"select": "track"}, {"geomtry": 0.5}, {"keep_mouth": "yes"}],
)  # fmt: skip
def test_bad_settings_are_config_errors(options: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        MeshSettings.from_options(options)


def test_registry_builds_the_mesh_swapper(analyzer: object) -> None:
    from realtime.swap import swapper_factory
    from realtime.swap.config import MeshSettings, SwapConfig

    config = SwapConfig("mesh", (str(PHOTOS["astronaut"]),), mesh=MeshSettings(geometry=0.0, keep_eyes=True))
    sw = SWAPPERS["mesh"](config, analyzer)
    assert isinstance(sw, MeshSwapper)
    assert sw.settings.geometry == 0.0 and sw.settings.keep_eyes
    assert swapper_factory("mesh") is SWAPPERS["mesh"]
    assert callable(swapper_factory("inswapper_128"))
    with pytest.raises(ConfigError, match="unknown swapper"):
        swapper_factory("nope")


def test_a_face_leaving_the_frame_through_the_live_chain(bundled_sources: dict[str, SourceFace]) -> None:
    from realtime.faces.analysis import FaceAnalyzer

    img = load_photo("grace_hopper")
    h, w = img.shape[:2]
    analyzer, swapper = FaceAnalyzer(), MeshSwapper(bundled_sources["astronaut"])
    seen = unseen = 0
    for i, dx in enumerate(np.linspace(0, 0.75 * w, 12)):  # slides out to the right
        shifted = cv2.warpAffine(img, np.array([[1, 0, dx], [0, 1, 0]], np.float32), (w, h))
        frame = analyzer(Frame(i, i / 30, shifted))
        out = swapper(frame)
        assert out.image.shape == shifted.shape
        if frame.faces:
            seen += 1
        else:
            unseen += 1
            assert out is frame  # no face: the frame passes through untouched
    assert seen >= 3 and unseen >= 1


def test_keep_eyes_shows_the_target_eyes(
    bundled_sources: dict[str, SourceFace], photo_faces: PhotoFaces
) -> None:
    frame = _frame(photo_faces, "astronaut")
    mesh = frame.faces[0].mesh
    assert mesh is not None
    eye = np.zeros(frame.image.shape[:2], np.uint8)
    cv2.fillPoly(eye, [np.round(mesh[EYE_LEFT, :2]).astype(np.int32)], 1)
    eye = eye.astype(bool)
    source = bundled_sources["grace_hopper"]
    kept = MeshSwapper(source, MeshSettings(geometry=0.0, keep_eyes=True))(frame).image
    swapped = MeshSwapper(source, MeshSettings(geometry=0.0))(frame).image
    assert np.abs(kept.astype(int) - frame.image)[eye].mean() < 6
    assert np.abs(swapped.astype(int) - frame.image)[eye].mean() > 15


def test_select_swaps_only_the_chosen_track(
    bundled_sources: dict[str, SourceFace], photo_faces: PhotoFaces
) -> None:
    img, face = photo_faces["grace_hopper"]
    w = img.shape[1]
    canvas = np.ascontiguousarray(np.concatenate([img, img], axis=1))  # the same face twice
    mesh = face.mesh
    assert mesh is not None
    shift = np.array([w, 0, 0], np.float32)
    box = face.box + np.array([w, 0, w, 0], np.float32)
    right = face.with_(box=box, kps=face.kps + shift[:2], mesh=mesh + shift, track_id=8)
    frame = Frame(0, 0.0, canvas, (face.with_(track_id=4), right))
    out = MeshSwapper(bundled_sources["astronaut"], MeshSettings(select="track", track_id=8))(frame).image
    assert np.array_equal(out[:, :w], img)  # track 4 untouched
    assert np.any(out[:, w:] != img)
    both = MeshSwapper(bundled_sources["astronaut"])(frame).image
    assert np.any(both[:, :w] != img) and np.any(both[:, w:] != img)


def test_the_swapped_frame_counts_its_swapped_faces(
    bundled_sources: dict[str, SourceFace], photo_faces: PhotoFaces
) -> None:
    from realtime.swap.mesh.swapper import MeshSwapper

    img, face = next(iter(photo_faces.values()))
    src = next(iter(bundled_sources.values()))
    swapper = MeshSwapper(src)
    tiny = face.with_(mesh=face.mesh * 0.01)  # a face of a few pixels cannot be swapped
    out = swapper(Frame(0, 0.0, np.ascontiguousarray(img), faces=(face, tiny)))
    assert out.swapped == 1 and len(out.faces) == 2
    assert swapper(Frame(1, 0.0, np.ascontiguousarray(img))).swapped == 0
