"""Fixtures of the Triton tests: synthetic models exported as a model repository, and a real
``tritonserver`` (PyTriton's, from ``tools/triton_server_venv.sh``) serving it on 127.0.0.1.

Where the server cannot start the tests skip, unless ``REALTIME_REQUIRE_TRITON=1`` (set by
``.ci/run``, which makes the venv first): there a server that cannot start is a failure.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from realtime.catalog.manifest import ModelSpec
from realtime.remote.export import ExportOptions, export_model, export_repository
from tests.neural.synthetic_models import write_synthetic_models
from tools.triton_local import ServerUnavailable, TritonServer

SERVED = ["inswapper_128", "hyperswap_1a_256"]  # and arcface_w600k_r50, which both require
# Served under simswap_256's name: a model whose shapes are not the manifest's.
MISMATCH = ("inswapper_128", "simswap_256")
PY_CPU = ExportOptions(platform="python", kind="cpu", max_batch_size=8, queue_delay_us=500)


@dataclass
class Served:
    models: Path
    specs: dict[str, ModelSpec]
    repo: Path


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Served:
    root = tmp_path_factory.mktemp("triton")
    models, repo = root / "models", root / "repo"
    specs = write_synthetic_models(models, [*SERVED, "arcface_w600k_r50"])
    export_repository(SERVED, repo, options=PY_CPU, models_dir=models, specs=specs)
    export_repository(  # inswapper_128_nobatch: the bench compares it with inswapper_128
        ["inswapper_128"], repo / "nobatch", options=PY_CPU, models_dir=models, specs=specs,
        with_requirements=False, unbatched_copies=True,
    )  # fmt: skip
    (repo / "nobatch" / "inswapper_128_nobatch").rename(repo / "inswapper_128_nobatch")
    shutil.rmtree(repo / "nobatch")
    src, name = MISMATCH
    export_model(specs[src], models / specs[src].file, repo, PY_CPU, name=name)
    return Served(models, specs, repo)


def start_server(repo: Path, workdir: Path, extra_args: tuple[str, ...] = ()) -> TritonServer:
    try:
        return TritonServer(repo, workdir, extra_args=extra_args).start()
    except ServerUnavailable as exc:
        if os.environ.get("REALTIME_REQUIRE_TRITON") == "1":
            pytest.fail(f"the Triton test server must run here: {exc}")
        pytest.skip(f"tritonserver cannot start here: {exc}")


@pytest.fixture(scope="session")
def triton(served: Served, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TritonServer]:
    """One server shared by the tests that do not hurt it."""
    server = start_server(served.repo, tmp_path_factory.mktemp("triton-server"))
    yield server
    server.stop()


@pytest.fixture
def own_triton(served: Served, tmp_path: Path) -> Iterator[TritonServer]:
    """A server of the test's own, to kill, stall and restart."""
    server = start_server(served.repo, tmp_path / "server")
    yield server
    server.stop()
