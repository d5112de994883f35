"""One person in several photos (``--face FOLDER``): each frame draws the photo nearest the
live face's head pose, a track keeps its photo until another is clearly nearer, and a photo
smaller than the live face loses to one as large (``realtime.swap.mesh.variants``)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from realtime.swap.mesh.photo import SourceFace
from realtime.swap.mesh.swapper import MeshSwapper
from realtime.swap.mesh.variants import CHIN, EYE_A, EYE_B, NOSE, Variants, head_pose

REPO = Path(__file__).resolve().parents[2]
FACES = REPO / "realtime" / "assets" / "faces"


def _turned(face: SourceFace, turn: float) -> SourceFace:
    """``face`` with its nose tip moved ``turn`` eye distances across (a head turned aside)."""
    mesh = np.array(face.mesh, np.float32)
    axis = mesh[EYE_B, :2] - mesh[EYE_A, :2]
    mesh[NOSE, :2] += turn * axis
    return replace(face, mesh=mesh)


def test_head_pose_reads_a_turn_across_and_ignores_roll(bundled_sources: dict[str, SourceFace]) -> None:
    face = next(iter(bundled_sources.values()))
    assert abs(head_pose(face.mesh)[0]) < 0.05  # the bundled photos look at the camera
    assert head_pose(_turned(face, 0.3).mesh)[0] - head_pose(face.mesh)[0] > 0.25
    mesh = np.array(face.mesh, np.float32)
    centre = mesh[:, :2].mean(axis=0)
    rot = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), 25, 1.0)
    mesh[:, :2] = mesh[:, :2] @ rot[:, :2].T + rot[:, 2]
    assert np.allclose(head_pose(mesh), head_pose(face.mesh), atol=0.02)  # a rolled head
    assert mesh[CHIN, 1] > mesh[NOSE, 1]


def test_pick_follows_the_pose_keeps_a_track_photo_and_prefers_a_large_photo(
    bundled_sources: dict[str, SourceFace],
) -> None:
    face = next(iter(bundled_sources.values()))
    person = Variants([_turned(face, -0.4), face, _turned(face, 0.4)])
    size = face.size
    assert person.pick(_turned(face, -0.35).mesh, size) == 0
    assert person.pick(face.mesh, size) == 1
    assert person.pick(_turned(face, 0.35).mesh, size) == 2
    # Halfway between two photos the track keeps the one it has: no flicker.
    assert person.pick(_turned(face, 0.2).mesh, size, current=1) == 1
    assert person.pick(_turned(face, 0.2).mesh, size, current=2) == 2
    assert person.pick(_turned(face, 0.38).mesh, size, current=1) == 2  # clearly nearer: it moves
    # Two frontal photos, one of half the size: a live face as large as the big one takes it.
    small = replace(face, texture=cv2.resize(face.texture, None, fx=0.5, fy=0.5), mesh=face.mesh * 0.5)
    assert Variants([small, face]).pick(face.mesh, size) == 1


def test_the_swapper_draws_each_frame_from_the_photo_nearest_its_pose(
    bundled_sources: dict[str, SourceFace], photo_faces
) -> None:
    face = next(iter(bundled_sources.values()))
    turned = _turned(face, 0.45)
    swapper = MeshSwapper([[face, turned]])
    drawn: list[SourceFace] = []
    real = swapper.swap_face

    def spy(image, live, source, *a, **k):  # type: ignore[no-untyped-def]
        drawn.append(source)
        return real(image, live, source, *a, **k)

    swapper.swap_face = spy  # type: ignore[method-assign]
    from realtime.frame import Frame

    image, live = next(iter(photo_faces.values()))
    live = replace(live, track_id=3)
    swapper(Frame(0, 0.0, image, (live,)))
    mesh = np.array(live.mesh, np.float32)
    mesh[NOSE, :2] += 0.45 * (mesh[EYE_B, :2] - mesh[EYE_A, :2])
    swapper(Frame(1, 0.033, image, (replace(live, mesh=mesh),)))
    assert drawn[0] is face and drawn[1] is turned


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "realtime", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180, cwd=REPO)


def test_a_folder_is_one_person_in_several_photos_through_the_cli(tmp_path: Path) -> None:
    me = tmp_path / "me"
    me.mkdir()
    shutil.copy(FACES / "grace_hopper.jpg", me / "front.jpg")
    img = cv2.imread(str(FACES / "grace_hopper.jpg"))
    cv2.imwrite(str(me / "small.png"), cv2.resize(img, None, fx=0.6, fy=0.6))
    (me / "notes.txt").write_text("not a photo")
    out = tmp_path / "out.png"
    done = _run("--input", str(FACES / "astronaut.jpg"), "--face", str(me), "--output", str(out),
                "--log-level", "info")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "2 photos of one person" in " ".join(done.stderr.split())
    result, before = cv2.imread(str(out)), cv2.imread(str(FACES / "astronaut.jpg"))
    changed = np.abs(result.astype(int) - before.astype(int)).sum(axis=2) > 30
    assert changed.mean() > 0.01  # the face (a few % of the picture) was swapped


def test_an_empty_folder_is_one_line_before_the_run(tmp_path: Path) -> None:
    (tmp_path / "nobody").mkdir()
    done = _run("--input", str(FACES / "astronaut.jpg"), "--face", str(tmp_path / "nobody"),
                "--output", str(tmp_path / "o.png"))  # fmt: skip
    assert done.returncode == 2, done.stderr
    lines = [ln for ln in done.stderr.splitlines() if ln.startswith("realtime: error:")]
    assert len(lines) == 1 and "--face folder has no photos" in lines[0], done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "o.png").exists()
