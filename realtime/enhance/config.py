"""The enhance stage's own small typed config: which enhancer, how often, with which model access."""

from __future__ import annotations

from dataclasses import dataclass, field

from realtime.inference.models import ModelAccess


@dataclass(frozen=True)
class EnhanceConfig:
    """A face enhancer after the swap, run on every ``every``-th frame."""

    model: str
    every: int = 1
    models: ModelAccess = field(default_factory=ModelAccess)
