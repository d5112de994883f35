"""FaceAnalyzer over sequences: stable ids, detection only when needed, jitter, motion."""

from __future__ import annotations

import numpy as np
import pytest

from realtime.faces.analysis import AnalysisSettings, FaceAnalyzer
from realtime.faces.landmarks import five_points
from realtime.frame import Frame

from .conftest import WALL, SensorNoise, face_crop, place

FPS = 30.0


def _frame(i: int, image: np.ndarray) -> Frame:
    return Frame(index=i, captured_at=1000.0 + i / FPS, image=image)


def _portrait(photos, name: str, size: int) -> np.ndarray:
    """A head-and-shoulders shot of one bundled photo, ``size`` pixels square."""
    if name == "astronaut":
        return face_crop(photos[name], 225, 130, 120, size)
    return face_crop(photos[name], 262, 240, 170, size)


@pytest.fixture(scope="module")
def portrait(photos) -> np.ndarray:
    return _portrait(photos, "grace_hopper", 360)


def test_two_faces_side_by_side_keep_distinct_stable_ids(photos) -> None:
    left = _portrait(photos, "astronaut", 400)
    right = _portrait(photos, "grace_hopper", 400)
    noise = SensorNoise(5)
    analyzer = FaceAnalyzer(AnalysisSettings(detect_every=5))
    ids_per_frame = []
    for i in range(40):
        dx = round(20 * np.sin(i / 6))  # the two drift towards and away from each other
        canvas = np.empty((720, 1280, 3), np.uint8)
        canvas[:] = WALL
        canvas[160:560, 150 + dx : 550 + dx] = left
        canvas[160:560, 730 - dx : 1130 - dx] = right
        out = analyzer(_frame(i, noise(canvas)))
        assert len(out.faces) == 2, f"frame {i}: {len(out.faces)} faces"
        by_x = sorted(out.faces, key=lambda f: f.center[0])
        assert by_x[0].center[0] < 640 < by_x[1].center[0]
        ids_per_frame.append((by_x[0].track_id, by_x[1].track_id))
    assert len(set(ids_per_frame)) == 1, "track ids changed"
    a, b = ids_per_frame[0]
    assert a != b and a >= 0 and b >= 0
    assert analyzer.tracker.detections_run == 8  # frames 1, 6, 11, ... 36: never more


@pytest.mark.parametrize("kind", ["noise", "wall"])
def test_noise_or_a_blank_wall_gives_no_faces(kind: str) -> None:
    rng = np.random.default_rng(2)
    noise = SensorNoise(2)
    analyzer = FaceAnalyzer()
    for i in range(8):
        if kind == "noise":
            img = rng.integers(0, 256, (720, 1280, 3), dtype=np.uint8)
        else:
            img = noise(place((1280, 720), np.zeros((0, 0, 3), np.uint8), 0, 0))
        assert analyzer(_frame(i, img)).faces == ()
    assert analyzer.analyze_image(img) == []


def test_detection_runs_at_start_and_every_n_frames_only(portrait) -> None:
    noise = SensorNoise(3)
    img = place((1280, 720), portrait, 460, 180)
    analyzer = FaceAnalyzer(AnalysisSettings(detect_every=10))
    ran = []
    for i in range(25):
        out = analyzer(_frame(i, noise(img)))
        assert [f.track_id for f in out.faces] == [0]
        ran.append(analyzer.tracker.detected_last_step)
    assert [i for i, r in enumerate(ran) if r] == [0, 10, 20]
    # with max_faces reached there is nothing new to look for: one detection in all
    single = FaceAnalyzer(AnalysisSettings(detect_every=10, max_faces=1))
    for i in range(25):
        single(_frame(i, noise(img)))
    assert single.tracker.detections_run == 1


def test_lost_face_is_dropped_and_a_returning_face_gets_a_new_id(portrait) -> None:
    noise = SensorNoise(4)
    with_face = place((1280, 720), portrait, 460, 180)
    empty = place((1280, 720), np.zeros((0, 0, 3), np.uint8), 0, 0)
    analyzer = FaceAnalyzer(AnalysisSettings(detect_every=50))
    seq = [with_face] * 5 + [empty] * 3 + [with_face] * 3
    ids = [[f.track_id for f in analyzer(_frame(i, noise(img))).faces] for i, img in enumerate(seq)]
    assert ids[:5] == [[0]] * 5
    assert ids[5:8] == [[]] * 3
    assert ids[8:] == [[1]] * 3  # found again at once, not 50 frames later


def test_reset_starts_over(portrait) -> None:
    img = place((1280, 720), portrait, 460, 180)
    analyzer = FaceAnalyzer()
    analyzer(_frame(0, img))
    analyzer.reset()
    out = analyzer(_frame(1, img))
    assert [f.track_id for f in out.faces] == [0]
    assert analyzer.tracker.detections_run == 1


def test_max_faces_limits_tracks(photos) -> None:
    canvas = np.empty((720, 1280, 3), np.uint8)
    canvas[:] = WALL
    canvas[160:560, 150:550] = _portrait(photos, "astronaut", 400)
    canvas[160:560, 730:1130] = _portrait(photos, "grace_hopper", 400)
    out = FaceAnalyzer(AnalysisSettings(max_faces=1))(_frame(0, canvas))
    assert len(out.faces) == 1


def _jitter(meshes: np.ndarray, kps: np.ndarray) -> tuple[float, float]:
    """Mean and max over landmarks of the per-point std over frames, / inter-ocular distance."""
    iod = float(np.linalg.norm(kps[:, 1] - kps[:, 0], axis=1).mean())
    per_point = np.sqrt(meshes[:, :, :2].var(axis=0).sum(axis=-1)) / iod
    return float(per_point.mean()), float(per_point.max())


def test_still_face_with_sensor_noise_does_not_shimmer(portrait) -> None:
    noise = SensorNoise(6, sigma=3.0)
    img = place((1280, 720), portrait, 460, 180)
    a, b = noise(img).astype(np.float32) - img, noise(img).astype(np.float32) - img
    assert np.std(a) == pytest.approx(3.0, abs=0.15)  # the noise this test claims to add
    assert abs(np.corrcoef(a.ravel(), b.ravel())[0, 1]) < 0.05  # and fresh every frame
    analyzer = FaceAnalyzer()
    meshes, kps, raws = [], [], []
    for i in range(75):
        out = analyzer(_frame(i, noise(img)))
        assert len(out.faces) == 1
        if i >= 15:  # after the filter has settled
            meshes.append(out.faces[0].mesh)
            kps.append(out.faces[0].kps)
            raws.append(analyzer.tracker.tracks[0].raw)
    mean, worst = _jitter(np.stack(meshes), np.stack(kps))
    raw_mean, _ = _jitter(np.stack(raws), np.stack(kps))
    assert mean <= 0.005 and worst <= 0.01, f"jitter mean {mean:.4%} max {worst:.4%}"
    assert mean < raw_mean, "smoothing did not reduce jitter"


def test_moving_face_is_never_lost_and_does_not_lag(portrait) -> None:
    noise = SensorNoise(7)
    analyzer = FaceAnalyzer(AnalysisSettings(detect_every=15))
    lags = []
    for i in range(60):
        # 14 px per frame across (420 px/s at 30 fps), bobbing up and down
        x = 40 + 14 * i
        y = 180 + round(60 * np.sin(i / 5))
        out = analyzer(_frame(i, noise(place((1280, 720), portrait, x, y))))
        assert [f.track_id for f in out.faces] == [0], f"frame {i}: {[f.track_id for f in out.faces]}"
        raw = five_points(analyzer.tracker.tracks[0].raw)
        iod = float(np.linalg.norm(raw[1] - raw[0]))
        lags.append(float(np.linalg.norm(out.faces[0].kps - raw, axis=1).max()) / iod)
    assert max(lags[5:]) < 0.05, f"smoothed points trail the face by {max(lags[5:]):.1%} of the eye distance"


def test_rolling_head_is_tracked(photos) -> None:
    """Roll up to 40 degrees over the sequence: the crop follows the eye line."""
    import cv2

    portrait = _portrait(photos, "astronaut", 360)
    analyzer = FaceAnalyzer(AnalysisSettings(detect_every=100))
    for i in range(30):
        angle = 40 * np.sin(i / 8)
        m = cv2.getRotationMatrix2D((180, 180), angle, 1.0)
        rolled = cv2.warpAffine(portrait, m, (360, 360), borderValue=WALL)
        out = analyzer(_frame(i, place((1280, 720), rolled, 460, 180)))
        assert [f.track_id for f in out.faces] == [0]
        eye_l, eye_r = out.faces[0].kps[:2]
        seen = -np.degrees(np.arctan2(eye_r[1] - eye_l[1], eye_r[0] - eye_l[0]))
        assert seen == pytest.approx(angle, abs=6.0)
    assert analyzer.tracker.detections_run == 1


def test_a_large_jump_resets_the_filter_instead_of_gliding(portrait) -> None:
    """With pure low-pass smoothing (beta 0) a jump would take many frames to catch up;
    the reset puts the points on the face in the very frame it jumped."""
    settings = AnalysisSettings(min_cutoff=0.3, beta=0.0, detect_every=100)
    analyzer = FaceAnalyzer(settings)
    for i in range(10):
        analyzer(_frame(i, place((1280, 720), portrait, 400, 180)))
    out = analyzer(_frame(10, place((1280, 720), portrait, 470, 180)))  # ~0.7 eye distances
    assert [f.track_id for f in out.faces] == [0]
    raw = five_points(analyzer.tracker.tracks[0].raw)
    iod = float(np.linalg.norm(raw[1] - raw[0]))
    assert float(np.linalg.norm(out.faces[0].kps - raw, axis=1).max()) < 0.01 * iod
    # a small step, by contrast, is smoothed (the filter was not reset)
    out = analyzer(_frame(11, place((1280, 720), portrait, 476, 180)))
    raw = five_points(analyzer.tracker.tracks[0].raw)
    assert float(np.linalg.norm(out.faces[0].kps - raw, axis=1).max()) > 0.02 * iod


def test_live_tracking_finds_a_newcomer_beside_the_frames(photos) -> None:
    """``live=True``: the periodic look for newcomers runs on the detection thread, never on
    the frame's; a second person who walks in is tracked a few frames after a due frame, and
    the first keeps their id throughout. Frames come at 30 fps, as a camera's do (the search
    takes a frame or two; on a busy machine a few more)."""
    import threading
    import time

    left = _portrait(photos, "astronaut", 400)
    right = _portrait(photos, "grace_hopper", 400)
    noise = SensorNoise(5)
    analyzer = FaceAnalyzer(AnalysisSettings(detect_every=5), live=True)
    calls: list[tuple[int, str]] = []  # (the tracker's frame, the thread) of each detector run
    real_detect = analyzer.detector.detect

    def detect(image):  # type: ignore[no-untyped-def]
        calls.append((analyzer.tracker.frames, threading.current_thread().name))
        return real_detect(image)

    analyzer.detector.detect = detect  # type: ignore[method-assign]
    first_id, seen_two = None, None
    for i in range(50):
        time.sleep(1 / 30)
        canvas = np.empty((720, 1280, 3), np.uint8)
        canvas[:] = WALL
        canvas[160:560, 150:550] = left
        if i >= 12:  # the second person walks in
            canvas[160:560, 730:1130] = right
        out = analyzer(_frame(i, noise(canvas)))
        by_x = sorted(out.faces, key=lambda f: f.center[0])
        assert by_x and by_x[0].center[0] < 640, f"frame {i}: the first face was lost"
        first_id = by_x[0].track_id if first_id is None else first_id
        assert by_x[0].track_id == first_id
        if len(out.faces) == 2 and seen_two is None:
            seen_two = i
    assert seen_two is not None and seen_two <= 12 + 5 + 12, seen_two
    main = threading.main_thread().name
    # The first frame: nothing to follow until something is found, so it waits for it.
    assert {name for frame, name in calls if frame == 1} == {main}
    later = [name for frame, name in calls if frame > 1]
    assert later and all(name.startswith("realtime-detect") for name in later), calls


def test_a_file_job_detects_inline_so_its_output_does_not_depend_on_timing(portrait) -> None:
    analyzer = FaceAnalyzer(AnalysisSettings(detect_every=3))
    for i in range(10):
        analyzer(_frame(i, portrait))
    assert analyzer.tracker.detections_run == 4 and analyzer.tracker._pool is None
