"""What a processing step is: anything that maps a ``Frame`` to a new ``Frame``.

Face analysis, swap, enhance and the debug overlay are processors; the processing stage runs
them as one chain. A new feature is a new processor, not a new thread.

With ``workers > 1`` every worker runs the same chain, so a processor says whether one object
may be called from several threads at once: ``thread_safe = True`` is a promise that it may
(its shared state is locked, its sessions serialise their own device buffers). A processor
without the attribute is taken as not thread-safe, and the pipeline gives each worker its own
instance or serialises its calls (``realtime.pipeline.workers``).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from realtime.frame import Frame


@runtime_checkable
class Processor(Protocol):
    """``name`` labels the step in stats and logs. Optional members: ``thread_safe: bool``
    (class attribute; absent means False, see above) and ``reset()`` (called after repeated
    failures). They are not Protocol members, so any callable with a ``name`` still fits."""

    name: str

    def __call__(self, frame: Frame) -> Frame: ...


def is_thread_safe(processor: object) -> bool:
    """The processor's ``thread_safe`` declaration; absent means False."""
    return getattr(processor, "thread_safe", False) is True
