"""Run the real command line with a swapper that raises on frames FIRST..LAST.

    python tests/onair/swap_fails.py FIRST LAST -- ARGS...

The runner passes such a frame through unswapped (so the stream goes on): the frames the
output guard must keep off the air.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the checkout this file is in


def main() -> int:
    first, last = int(sys.argv[1]), int(sys.argv[2])
    assert sys.argv[3] == "--"
    from realtime.swap.mesh.swapper import MeshSwapper

    real = MeshSwapper.__call__

    def failing(self, frame):  # type: ignore[no-untyped-def]
        if first <= frame.index <= last:
            raise RuntimeError(f"injected swapper failure on frame {frame.index}")
        return real(self, frame)

    MeshSwapper.__call__ = failing  # type: ignore[method-assign]
    from realtime.cli import main as cli_main

    return cli_main(sys.argv[4:])


if __name__ == "__main__":
    sys.exit(main())
