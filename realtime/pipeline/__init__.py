"""The threaded pipeline: rings, stages and stats."""

from realtime.pipeline.pipeline import Pipeline, PipelineConfig
from realtime.pipeline.ring import Lease, Policy, Ring, RingClosed
from realtime.pipeline.stats import Stats, percentiles

__all__ = ["Lease", "Pipeline", "PipelineConfig", "Policy", "Ring", "RingClosed", "Stats", "percentiles"]
