"""Quality by an independent judge (dlib), on the bundled photos in both directions.

The thresholds are the swapper's acceptance criteria: identity >= 0.55 on stills, closer to
the source than to the target on >= 80 % of moving frames, mouth opening within 0.03 of the
target's, flicker on a noisy still <= 1.2 times the input's.
"""

from __future__ import annotations

from typing import Any

import pytest

from realtime.faces.analysis import FaceAnalyzer
from realtime.swap.mesh.photo import SourceFace
from realtime.swap.mesh.swapper import MeshSettings
from tools.quality.harness import DIRECTIONS, evaluate_direction, seam_comparison
from tools.quality.judge import Judge, identity_score, load_photo


@pytest.fixture(scope="module")
def judge() -> Judge:
    return Judge()


@pytest.fixture(scope="module")
def results(judge: Judge, analyzer: FaceAnalyzer, bundled_sources: dict[str, SourceFace]) -> dict[str, Any]:
    settings = MeshSettings()
    return {
        f"{s}->{t}": evaluate_direction(
            judge, analyzer, bundled_sources[s], s, t, settings, frames=16, noise_frames=12
        )
        for s, t in DIRECTIONS
    }


def test_the_judge_tells_the_two_people_apart(judge: Judge) -> None:
    a, g = judge.face(load_photo("astronaut")), judge.face(load_photo("grace_hopper"))
    assert a is not None and g is not None
    assert identity_score(g, a, g) == 0.0  # an unswapped target scores 0
    assert identity_score(a, a, g) == 1.0  # the source itself scores 1


@pytest.mark.parametrize("direction", [f"{s}->{t}" for s, t in DIRECTIONS])
def test_identity_on_stills(results: dict[str, Any], direction: str) -> None:
    assert results[direction]["still"]["identity"] >= 0.55


@pytest.mark.parametrize("direction", [f"{s}->{t}" for s, t in DIRECTIONS])
def test_identity_on_moving_sequences(results: dict[str, Any], direction: str) -> None:
    moving = results[direction]["moving"]
    assert moving["frames"] >= 12  # the judge found the face in most frames
    assert moving["swapped"] == 1.0  # the swapper followed the face in every frame
    assert moving["closer_to_source"] >= 0.8


@pytest.mark.parametrize("direction", [f"{s}->{t}" for s, t in DIRECTIONS])
def test_expression_is_kept(results: dict[str, Any], direction: str) -> None:
    still = results[direction]["still"]
    assert abs(still["mouth_result"] - still["mouth_target"]) <= 0.03


@pytest.mark.parametrize("direction", [f"{s}->{t}" for s, t in DIRECTIONS])
def test_no_flicker_on_a_still_noisy_sequence(results: dict[str, Any], direction: str) -> None:
    assert results[direction]["flicker"] <= 1.2


@pytest.mark.parametrize(("source", "target"), DIRECTIONS)
def test_multiband_hides_a_tone_step_better(
    analyzer: FaceAnalyzer, bundled_sources: dict[str, SourceFace], source: str, target: str
) -> None:
    # Colour matching off: the skin tones differ across the seam, which the blend must hide.
    seam = seam_comparison(analyzer, bundled_sources[source], load_photo(target), color=0.0, shading=0.0)
    assert seam["multiband"] < seam["feather"] - 0.01
