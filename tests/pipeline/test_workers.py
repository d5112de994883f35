"""Processors for several workers: every processor declares ``thread_safe``; the ones that are
not thread-safe get an instance per worker or one serialised proxy."""

from __future__ import annotations

import ast
import importlib
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from realtime.frame import Frame
from realtime.pipeline.workers import Serialised, per_worker, serialise
from realtime.processor import is_thread_safe

PACKAGE = Path(__file__).resolve().parents[2] / "realtime"


def _processor_classes() -> list[tuple[str, str, ast.ClassDef]]:
    """(module, class name, node) of every class defining ``__call__(self, frame...)``."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.ClassDef):
                continue
            for item in node.body:
                if (
                    isinstance(item, ast.FunctionDef)
                    and item.name == "__call__"
                    and [a.arg for a in item.args.args[:2]] == ["self", "frame"]
                ):
                    module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
                    found.append((module, node.name, node))
    return found


def _declares_thread_safe(node: ast.ClassDef) -> bool:
    for item in ast.walk(node):
        if isinstance(item, ast.AnnAssign | ast.Assign):
            targets = item.targets if isinstance(item, ast.Assign) else [item.target]
            for t in targets:
                if (isinstance(t, ast.Name) and t.id == "thread_safe") or (
                    isinstance(t, ast.Attribute) and t.attr == "thread_safe"
                ):
                    return True
    return False


def test_every_processor_class_declares_whether_it_is_thread_safe() -> None:
    classes = [(m, c, n) for m, c, n in _processor_classes() if c not in ("ProcessorRunner", "Processor")]
    names = {c for _m, c, _n in classes}
    assert {"NeuralSwapper", "MeshSwapper", "EveryNth", "FaceAnalyzer", "FaceEnhancer"} <= names
    missing = [f"{m}.{c}" for m, c, n in classes if not _declares_thread_safe(n)]
    assert not missing, f"processors without a thread_safe declaration: {missing}"
    for module, cls, _node in classes:
        value = getattr(getattr(importlib.import_module(module), cls), "thread_safe", None)
        assert value is None or isinstance(value, bool), (module, cls, value)


class Scratch:
    """Not thread-safe, like a session with bound buffers: the frame goes through a shared
    buffer, and the result is read back after the other threads had a chance to run."""

    name = "scratch"

    def __init__(self) -> None:
        self.buffer = np.zeros((4, 4, 3), np.uint8)
        self.resets = 0
        self.calls = 0

    def __call__(self, frame: Frame) -> Frame:
        self.calls += 1
        self.buffer[...] = frame.image
        time.sleep(0.001)
        return frame.with_image(self.buffer.copy())

    def reset(self) -> None:
        self.resets += 1


def _frame(i: int) -> Frame:
    return Frame(index=i, captured_at=0.0, image=np.full((4, 4, 3), i, np.uint8))


def _results(proc: object, threads: int = 4, rounds: int = 30) -> list[int]:
    wrong = [0] * threads

    def worker(i: int) -> None:
        for _ in range(rounds):
            out = proc(_frame(i))  # type: ignore[operator]
            wrong[i] += int(not np.all(out.image == i))

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return wrong


def test_the_scratch_processor_really_is_unsafe_when_shared() -> None:
    assert sum(_results(Scratch())) > 0


def test_a_serialised_processor_gives_each_thread_its_own_result() -> None:
    inner = Scratch()
    proxy = serialise(inner)
    assert isinstance(proxy, Serialised) and is_thread_safe(proxy)
    assert _results(proxy) == [0, 0, 0, 0]
    assert proxy.name == "scratch" and proxy.calls == 4 * 30  # attributes are the inner's
    proxy.reset()  # type: ignore[attr-defined]
    assert inner.resets == 1
    assert serialise(proxy) is proxy


def test_thread_safe_processors_are_not_wrapped() -> None:
    class Safe:
        name = "safe"
        thread_safe = True

        def __call__(self, frame: Frame) -> Frame:
            return frame

    safe = Safe()
    assert serialise(safe) is safe
    chains = per_worker([safe, Scratch()], 3)
    assert [c[0] for c in chains] == [safe, safe, safe]


def test_per_worker_copies_with_a_factory_else_shares_one_serialised_proxy() -> None:
    original = Scratch()
    copied = per_worker([original], 3, factory=lambda p: Scratch())
    firsts = [c[0] for c in copied]
    assert firsts[0] is original and len({id(p) for p in firsts}) == 3
    assert not any(isinstance(p, Serialised) for p in firsts)

    shared = per_worker([original], 3)
    assert len({id(c[0]) for c in shared}) == 1 and isinstance(shared[0][0], Serialised)

    declined = per_worker([original], 2, factory=lambda p: p)
    assert declined[0][0] is declined[1][0] and isinstance(declined[0][0], Serialised)

    assert per_worker([original], 1) == [[original]]
    with pytest.raises(ValueError):
        per_worker([original], 0)
