"""Face swapping: the swappers by name (``SWAPPERS``), face selection and stills.

A swapper factory takes the source photos, an optional ``face_index`` and the swapper's own
settings as keywords, and returns a processor (``name = "swap"``) with ``set_source`` and
``load_source`` for changing the face at run time. Neural swappers register here too.

Importing the package stays cheap: each factory imports its module (numba, models) when
called.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from realtime.processor import Processor

SwapperFactory = Callable[..., Processor]


def create_mesh_swapper(*args: Any, **kwargs: Any) -> Processor:
    """``realtime.swap.mesh.create_mesh_swapper``, imported on first use."""
    from realtime.swap.mesh import create_mesh_swapper as create

    return create(*args, **kwargs)


SWAPPERS: dict[str, SwapperFactory] = {
    "mesh": create_mesh_swapper,
}

__all__ = ["SWAPPERS", "SwapperFactory", "create_mesh_swapper"]
