"""The steady mesh and the finer texture pyramid (issue 24: less shimmer, sharper faces)."""

from __future__ import annotations

import math

import numpy as np

from realtime.swap.mesh.photo import LEVEL_STEP, SourceFace
from realtime.swap.mesh.steady import MeshSteadier


def test_a_tremble_is_damped_and_a_move_passes() -> None:
    rng = np.random.default_rng(0)
    base = rng.uniform(0, 200, (468, 3)).astype(np.float32)
    st = MeshSteadier()
    st.update(1, 0, base, 1.0)
    jitter = [
        st.update(1, i, base + rng.normal(0, 0.15, base.shape).astype(np.float32), 1.0) for i in range(1, 20)
    ]
    moved = np.mean([np.abs(b - a)[:, :2].mean() for a, b in zip(jitter[:-1], jitter[1:])])
    assert moved < 0.05  # the raw tremble moves ~0.17 px a frame
    jump = base + np.float32(5.0)
    assert np.allclose(st.update(1, 20, jump, 1.0), jump)  # a real move is taken whole
    assert st.update(-1, 21, base, 1.0) is base  # stills pass through


def test_texture_levels_step_by_sqrt2_and_the_level_is_never_smaller_than_needed(
    bundled_sources: dict[str, SourceFace],
) -> None:
    src = bundled_sources["grace_hopper"]
    assert len(src.levels) >= 3
    for k, s in enumerate(src.scales):
        assert abs(s - LEVEL_STEP**-k) < 0.02
    for target in (40.0, 70.0, 100.0, 130.0, 190.0):
        _, scale = src.level_for(target)
        ratio = src.size * scale / target
        assert ratio >= 1.0 - 1e-3 or scale == src.scales[0]
        assert ratio < math.sqrt(2.0) + 1e-3 or scale == src.scales[-1]
