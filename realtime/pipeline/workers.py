"""Processors for several workers: share the thread-safe ones, and give each worker its own
instance of the others or serialise their calls.

With ``workers > 1`` every worker runs the same chain at the same time. A processor that has
not declared ``thread_safe = True`` (see ``realtime.processor``) must not be called by two
workers at once: ``per_worker`` builds one chain per worker accordingly.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from realtime.frame import Frame
from realtime.processor import Processor, is_thread_safe

Factory = Callable[[Processor], Processor]


class Serialised:
    """A processor whose calls run one at a time, under one lock; everything else (``name``,
    ``reset``, any attribute) is the wrapped processor's, so it stands in for it anywhere."""

    thread_safe = True

    def __init__(self, processor: Processor) -> None:
        self.__dict__["processor"] = processor
        self.__dict__["name"] = processor.name
        self.__dict__["_lock"] = threading.Lock()

    def __call__(self, frame: Frame) -> Frame:
        with self._lock:
            return self.processor(frame)

    def reset(self) -> None:
        """The wrapped processor's ``reset`` (under the lock); nothing if it has none."""
        reset = getattr(self.processor, "reset", None)
        if callable(reset):
            with self._lock:
                reset()

    def __getattr__(self, attr: str) -> Any:  # only for what this class does not define
        return getattr(self.__dict__["processor"], attr)

    def __setattr__(self, attr: str, value: Any) -> None:
        setattr(self.processor, attr, value)

    def __repr__(self) -> str:
        return f"Serialised({self.processor!r})"


def serialise(processor: Processor) -> Processor:
    """``processor`` itself when it is thread-safe, else a ``Serialised`` proxy of it."""
    if is_thread_safe(processor) or isinstance(processor, Serialised):
        return processor
    return Serialised(processor)


def per_worker(
    processors: Sequence[Processor], workers: int, factory: Factory | None = None
) -> list[list[Processor]]:
    """One processor chain per worker.

    Thread-safe processors are shared. For the others, ``factory(processor)`` (when given)
    returns a new, independent instance for each extra worker (worker 0 keeps the original);
    a factory that cannot copy a processor returns it unchanged. A processor not copied is
    shared by all workers through one ``Serialised`` proxy.
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if workers == 1:
        return [list(processors)]
    chains: list[list[Processor]] = [[] for _ in range(workers)]
    for proc in processors:
        copies: list[Processor]
        if is_thread_safe(proc):
            copies = [proc] * workers
        else:
            extra = [factory(proc) for _ in range(workers - 1)] if factory is not None else []
            if extra and all(c is not proc for c in extra):
                copies = [proc, *extra]
            else:
                copies = [serialise(proc)] * workers
        for chain, copy in zip(chains, copies, strict=True):
            chain.append(copy)
    return chains
