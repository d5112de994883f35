"""A wheel (not only an editable install) carries the manifests, presets, models and faces."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.network  # build isolation fetches setuptools from the registry
def test_the_wheel_ships_every_data_file(tmp_path: Path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    (wheel,) = tmp_path.glob("realtime_faceswap-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    wanted = {f"realtime/_manifests/{p.name}" for p in (ROOT / "models").glob("*.toml")}
    wanted |= {f"realtime/_configs/{p.name}" for p in (ROOT / "configs").glob("*.toml")}
    wanted |= {
        f"realtime/assets/{p.relative_to(ROOT / 'realtime' / 'assets')}"
        for p in (ROOT / "realtime" / "assets").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert wanted - names == set()
    assert any(n.endswith("face_landmark.onnx") for n in names)
    assert "realtime/py.typed" in names


def test_every_subpackage_is_listed_for_the_wheel():
    """setuptools' explicit ``packages`` list: a package missing from it is missing from the
    wheel (an editable install hides that)."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for p in (ROOT / "realtime").rglob("__init__.py")
        if "__pycache__" not in p.parts
    }
    assert found - listed == set()
