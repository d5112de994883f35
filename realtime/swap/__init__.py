"""Face swapping: the swappers by name (``SWAPPERS``), face selection and stills.

A swapper factory takes its own ``SwapConfig`` (source photos, face selection, mesh settings,
model access), the face analyzer and (keyword) ``on_build``, the TensorRT build display, and
returns a processor
(``name = "swap"``) that can change its face at run time. ``SWAPPERS`` names the built-in
swappers; every ``kind = "swapper"`` model of the manifests in ``models/`` is built by the one
neural factory, so a new neural model is data, not code.

Importing the package stays cheap: each factory imports its module (numba, models) when
called.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from realtime.errors import ConfigError
from realtime.processor import Processor
from realtime.swap.choose import neural_swappers
from realtime.swap.config import SwapConfig

SwapperFactory = Callable[..., Processor]


def create_mesh_swapper(config: SwapConfig, analyzer: Any, on_build: Any = None) -> Processor:
    """The landmark-mesh swapper (it runs no model of its own, so there is no engine to
    build). ``pick`` one/many become its ``largest``/``all``; ``reference`` filters
    the faces with the identity model first. Several ``--face`` photos give each person their
    own (``realtime.swap.mesh.cast``)."""
    # The mesh kernels (numba) load only when this swapper is built (start-up cost).
    from realtime.swap.mesh.swapper import MeshSwapper
    from realtime.swap.mesh.variants import prepare_cast

    mesh = config.mesh
    if config.pick == "one":
        mesh = replace(mesh, select="largest", track_id=None)
    # Several photos: one per person, by the rule of ``realtime.swap.mesh.cast``.
    sources = prepare_cast([Path(f) for f in config.faces], config.face_index, analyzer=analyzer)
    swapper = MeshSwapper(sources, mesh, analyzer=analyzer)
    if config.pick == "reference":
        # The recognizer's code loads only for a reference pick (start-up cost).
        from realtime.swap.neural.factory import reference_filter

        return reference_filter(config, analyzer, swapper, on_build=on_build)
    return swapper


def create_neural_swapper(name: str) -> SwapperFactory:
    """The factory of the manifest swapper ``name`` (inswapper_128, hyperswap_1a_256, ...)."""

    def factory(config: SwapConfig, analyzer: Any, on_build: Any = None) -> Processor:
        # Model code loads only when a neural swapper is built (start-up cost).
        from realtime.swap.neural.factory import build_neural_swapper

        return build_neural_swapper(name, config, analyzer, on_build)

    return factory


SWAPPERS: dict[str, SwapperFactory] = {
    "mesh": create_mesh_swapper,
}


def swapper_factory(name: str) -> SwapperFactory:
    """The factory for ``name``: a built-in swapper or a swapper model of the manifests."""
    if name in SWAPPERS:
        return SWAPPERS[name]

    if name in neural_swappers():
        return create_neural_swapper(name)
    raise ConfigError(
        f"unknown swapper {name!r}", fix=f"choose one of {', '.join(['auto', *SWAPPERS, *neural_swappers()])}"
    )


__all__ = ["SWAPPERS", "SwapperFactory", "create_mesh_swapper", "create_neural_swapper", "swapper_factory"]
