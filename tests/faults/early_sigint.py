"""``python tests/faults/early_sigint.py WHEN -- ARGS``: ``python -m realtime ARGS`` with a
SIGINT while the program is still loading (a user who presses Ctrl-C at once). WHEN is a
module name (the signal arrives as it starts to import) or a delay in seconds after our
``__main__`` starts; either way it lands in our own start-up, never in the interpreter's,
which no program can guard."""

from __future__ import annotations

import importlib.abc
import runpy
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the checkout this file is in


class InterruptOnImport(importlib.abc.MetaPathFinder):
    def __init__(self, name: str) -> None:
        self.name = name

    def find_spec(self, fullname, path, target=None):  # type: ignore[no-untyped-def]
        if fullname == self.name:
            sys.meta_path.remove(self)
            signal.raise_signal(signal.SIGINT)
        return None


when, sep, *args = sys.argv[1:]
assert sep == "--"
try:
    delay = float(when)
except ValueError:
    sys.meta_path.insert(0, InterruptOnImport(when))
else:
    import realtime  # noqa: F401  (the package itself: then the clock starts)

    signal.signal(signal.SIGALRM, lambda *_: signal.raise_signal(signal.SIGINT))
    signal.setitimer(signal.ITIMER_REAL, delay)
sys.argv = ["realtime", *args]
runpy.run_module("realtime", run_name="__main__", alter_sys=True)
