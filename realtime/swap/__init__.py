"""Face swapping: the swappers by name (``SWAPPERS``), face selection and stills.

A swapper factory takes the source photos, an optional ``face_index`` and the swapper's own
settings as keywords, and returns a processor (``name = "swap"``) with ``set_source`` and
``load_source`` for changing the face at run time. Neural swappers register here too.
"""

from __future__ import annotations

from collections.abc import Callable

from realtime.processor import Processor
from realtime.swap.mesh import MeshSettings, MeshSwapper, create_mesh_swapper
from realtime.swap.select import SELECT_MODES, select_faces
from realtime.swap.source import SourceFace, prepare_source

SwapperFactory = Callable[..., Processor]

SWAPPERS: dict[str, SwapperFactory] = {
    "mesh": create_mesh_swapper,
}

__all__ = [
    "SELECT_MODES",
    "SWAPPERS",
    "MeshSettings",
    "MeshSwapper",
    "SourceFace",
    "SwapperFactory",
    "create_mesh_swapper",
    "prepare_source",
    "select_faces",
]
