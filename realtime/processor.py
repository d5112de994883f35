"""What a processing step is: anything that maps a ``Frame`` to a new ``Frame``.

Face analysis, swap, enhance and the debug overlay are processors; the processing stage runs
them as one chain. A new feature is a new processor, not a new thread.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from realtime.frame import Frame


@runtime_checkable
class Processor(Protocol):
    name: str

    def __call__(self, frame: Frame) -> Frame: ...
