"""Each option is declared once, and the command line, the preset reader and the panel schema
are made from that declaration (issue 21)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import av
import pytest

from realtime.cli import CommandLine, main_parser
from realtime.errors import ConfigError, SinkError
from realtime.options import SURFACES, Declared, declared
from realtime.panel.schema import schema
from realtime.settings import Settings, load_preset

ROOT = Path(__file__).resolve().parents[1]
ALL = [*declared(Settings), *declared(CommandLine)]


def _help_text() -> str:
    out = subprocess.run(
        [sys.executable, "-m", "realtime", "--help"], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return repr(value)


def _sample(d: Declared) -> Any:
    """A value the option accepts that is not ``None`` (for a preset line)."""
    if d.default not in (None, ()):
        return d.default
    if d.option.choices:
        return (d.option.choices[0],) if d.kind == "list" else d.option.choices[0]
    if d.kind == "list":
        return (640, 360) if d.option.parse else ("x.jpg",)
    if d.kind == "number":
        return 1
    return "out/x.mp4" if d.option.write_path else "x"


def test_every_option_is_on_every_surface_or_says_why_not() -> None:
    help_text = _help_text()
    panel = {e["key"] for entries in schema().values() for e in entries}
    for d in ALL:
        assert d.option.help, f"{d.key} has no help text"
        if set(d.option.where) != set(SURFACES):
            assert d.option.why, f"{d.key} is left off {set(SURFACES) - set(d.option.where)} without a reason"
        on_cli = d.flag is not None and re.search(rf"(^|[ ,]){re.escape(d.flag)}\b", help_text, re.M)
        assert bool(on_cli) == ("cli" in d.option.where), f"{d.key}: --help and the declaration disagree"
        assert (d.key in panel) == ("panel" in d.option.where and d.cls is not CommandLine), d.key


def test_every_preset_option_is_read_from_a_preset_and_the_others_are_refused(tmp_path: Path) -> None:
    for d in declared(Settings):
        f = tmp_path / "p.toml"
        line = f"{d.name} = {_toml(_sample(d))}\n"
        f.write_text(f"[{d.section}]\n{line}" if d.section else line)
        if "preset" in d.option.where:
            loaded = load_preset(f)
            section = getattr(loaded, d.section) if d.section else loaded
            assert getattr(section, d.name) is not None, d.key
        else:
            with pytest.raises(ConfigError, match="cannot be set in a preset"):
                load_preset(f)


def test_a_value_is_checked_the_same_way_on_every_surface(tmp_path: Path) -> None:
    """One range, declared once: the flag, the preset and the panel all refuse 2.0."""
    with pytest.raises(SystemExit):
        main_parser().parse_args(["--swap-blend", "2"])
    f = tmp_path / "p.toml"
    f.write_text("[swap]\nblend = 2.0\n")
    with pytest.raises(ConfigError, match=r"p\.toml: swap\.blend must be within \[0, 1\], got 2\.0"):
        load_preset(f)
    proc = subprocess.run(
        [sys.executable, "-m", "realtime", "--demo", "--mjpeg-port", "70000", "--sink", "null"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert proc.returncode == 2 and "--mjpeg-port: must be within [1, 65535], got 70000" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    "name", ["vcam_device", "mjpeg_port", "enhance_every", "remote_fallback", "face_select"]
)
def test_an_option_is_named_in_at_most_four_modules(name: str) -> None:
    spellings = (name, name.replace("_", "-"))
    files = [
        p.relative_to(ROOT)
        for p in (ROOT / "realtime").rglob("*")
        if p.is_file() and p.suffix in (".py", ".html") and any(s in p.read_text() for s in spellings)
    ]
    assert len(files) <= 4, files


def _demo_run(tmp_path: Path, **overrides: Any) -> Any:
    from realtime.app import plan_from_settings
    from realtime.build import build
    from realtime.control import Controller
    from realtime.settings import merge

    os.environ["REALTIME_DATA_DIR"] = str(tmp_path / "data")
    settings = merge(
        Settings(), {"source.demo": True, "source.size": (320, 240), "output.sinks": ["null"], **overrides}
    )
    run = build(plan_from_settings(settings))
    ctl = Controller(run)
    ctl.attach()
    run.pipeline.start()
    return run, ctl


def _finish(run: Any, ctl: Any) -> None:
    run.pipeline.stop()
    run.pipeline.join()
    ctl.close()
    os.environ.pop("REALTIME_DATA_DIR", None)


def test_the_panels_virtual_camera_uses_the_runs_device(tmp_path: Path) -> None:
    run, ctl = _demo_run(
        tmp_path, **{"output.vcam_device": "/dev/video97", "output.vcam_backend": "v4l2loopback"}
    )
    try:
        with pytest.raises(SinkError, match="/dev/video97"):
            ctl.run("vcam_on")
        assert ctl.state()["vcam"]["state"] == "missing"
        assert "/dev/video97" in ctl.state()["vcam"]["error"]
    finally:
        _finish(run, ctl)


def test_a_panel_recording_uses_the_runs_encoder_settings(tmp_path: Path) -> None:
    run, ctl = _demo_run(tmp_path, **{"output.codec": "h265", "output.crf": 30})
    try:
        ctl.run("record_start", {"name": "rec"})
        time.sleep(1.5)
        path = Path(ctl.run("record_stop")["path"])
    finally:
        _finish(run, ctl)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "hevc"
        frames = sum(1 for _ in container.decode(stream))
    assert frames > 5
