"""Building the enhance stage from its config."""

from __future__ import annotations

from typing import Any

from realtime.enhance.config import EnhanceConfig
from realtime.enhance.enhancer import FaceEnhancer
from realtime.enhance.every_nth import EveryNth
from realtime.processor import Processor


def build_enhancer(config: EnhanceConfig, on_build: Any = None) -> Processor:
    """The face enhancer, run on every ``every``-th frame (its cost shows in stats)."""
    enhancer = FaceEnhancer.load(config.models, config.model, on_build=on_build)
    # Wrapped even at every=1 (it then only keeps the face patches), so N can change live.
    return EveryNth(enhancer, config.every)
