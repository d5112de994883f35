"""The control surface without a browser: outputs added and removed while a pipeline runs,
hotkeys reaching the same commands as the panel, the settings schema against the checks, and
a controller over a real demo run."""

from __future__ import annotations

import time
from dataclasses import fields
from pathlib import Path

import av
import pytest

from realtime.errors import ConfigError, InputError
from realtime.faces.config import AnalysisSettings
from realtime.pipeline import Pipeline, PipelineConfig
from realtime.sinks.file import FileSink
from realtime.sinks.window import WindowSink
from realtime.swap.config import MeshSettings
from tests.pipeline.fakes import CountingSource, RecordingSink
from tests.sinks.test_window_sink import FakeGui


def test_schema_names_every_setting_and_its_ranges_pass_the_checks() -> None:
    from realtime.panel.schema import schema

    sc = schema()
    assert [e["name"] for e in sc["swap"]] == [f.name for f in fields(MeshSettings)]
    assert [e["name"] for e in sc["faces"]] == [f.name for f in fields(AnalysisSettings)]
    for section, cls in (("swap", MeshSettings), ("faces", AnalysisSettings)):
        for e in sc[section]:
            assert e["meaning"]
            if e["name"] == "track_id":
                continue
            if e["kind"] == "number":
                kind = int if e["integer"] else float
                for v in (e["min"], e["max"]):
                    cls(**{e["name"]: kind(v)})  # accepted
                with pytest.raises(ConfigError):
                    cls(**{e["name"]: kind(e["min"] - 1)})  # below: refused
            elif e["kind"] == "choice":
                for v in e["choices"]:
                    if e["name"] != "select" or v != "track":
                        cls(**{e["name"]: v})


def test_a_recording_added_and_removed_while_running_is_complete(tmp_path: Path) -> None:
    kept = RecordingSink()
    pipe = Pipeline(CountingSource(fps=60, size=(48, 64)), [], [kept], PipelineConfig())
    pipe.start()
    try:
        time.sleep(0.3)
        rec = FileSink(str(tmp_path / "rec.mp4"), preset="ultrafast")
        pipe.add_output(rec)
        time.sleep(1.0)
        report = pipe.remove_output(rec)  # returns once the file is finalised
        assert report.error is None and report.written > 20
        with av.open(str(tmp_path / "rec.mp4")) as f:
            assert sum(1 for _ in f.decode(video=0)) == report.written
        before = len(kept.frames)
        time.sleep(0.3)
        assert len(kept.frames) > before  # the other output went on, undisturbed
        with pytest.raises(ValueError):
            pipe.remove_output(rec)
    finally:
        pipe.stop()
        pipe.join()


def test_hotkeys_go_through_the_command_handler() -> None:
    import numpy as np

    from realtime.frame import Frame

    pipe = Pipeline(CountingSource(), [], [RecordingSink()], PipelineConfig())
    seen: list[str] = []
    pipe.command_handler = seen.append
    gui = FakeGui(keys=[ord(" "), ord("r"), ord("q")])
    sink = WindowSink("t", gui=gui, hud=False)
    from realtime.sinks.base import SinkContext

    sink.open(SinkContext(64, 48, 30.0, command=pipe.command))  # what the pipeline hands its sinks
    for i in range(3):
        sink.write(Frame(i, 0.0, np.zeros((48, 64, 3), np.uint8)))
    sink.close()
    assert seen == ["toggle_processing", "reload_face", "stop"]


@pytest.fixture(scope="module")
def demo_controller(tmp_path_factory: pytest.TempPathFactory):
    import os

    from realtime.app import plan_from_settings
    from realtime.build import build
    from realtime.control import Controller
    from realtime.settings import Settings, merge

    os.environ["REALTIME_DATA_DIR"] = str(tmp_path_factory.mktemp("data"))
    settings = merge(
        Settings(),
        {"source.demo": True, "source.size": (320, 240), "output.sinks": ["null"]},
    )
    run = build(plan_from_settings(settings))
    ctl = Controller(run)
    ctl.attach()
    run.pipeline.start()
    deadline = time.monotonic() + 30
    while not ctl.preview.faces and time.monotonic() < deadline:
        time.sleep(0.1)
    yield ctl
    run.pipeline.stop()
    run.pipeline.join()
    ctl.close()
    del os.environ["REALTIME_DATA_DIR"]


def test_controller_commands_on_a_demo_run(demo_controller) -> None:
    ctl = demo_controller
    assert ctl.run("pause")["processing"] is False and ctl.state()["processing"] is False
    ctl.pipeline.command("toggle_processing")  # a hotkey: the same command
    assert ctl.state()["processing"] is True
    with pytest.raises(ConfigError, match="unknown command"):
        ctl.run("format_disk")
    with pytest.raises(ConfigError, match=r"swap\.blend"):
        ctl.run("set_swap", {"blend": 2.0})
    with pytest.raises(ConfigError, match=r"unknown key 'swap\.bogus'"):
        ctl.run("set_swap", {"bogus": 1})
    assert ctl.run("set_swap", {"blend": 0.5})["swap"]["blend"] == 0.5
    assert ctl.swapper.settings.blend == 0.5
    with pytest.raises(ConfigError, match="cannot change while running"):
        ctl.run("set_faces", {"detector": "full"})
    assert ctl.run("set_faces", {"detect_every": 3})["faces"]["detect_every"] == 3
    face = ctl.state()["faces"][0]
    x1, y1, x2, y2 = face["box"]
    out = ctl.run("select", {"x": (x1 + x2) / 2, "y": (y1 + y2) / 2})
    assert out["swap"]["select"] == "track" and out["swap"]["track_id"] == face["track_id"]
    with pytest.raises(InputError, match="no face at"):
        ctl.run("select", {"x": 1, "y": 1})
    with pytest.raises(ConfigError, match="not a usable name"):
        ctl.run("preset_save", {"name": "../../etc/evil"})
    saved = Path(ctl.run("preset_save", {"name": "mine"})["path"])
    ctl.run("set_swap", {"blend": 1.0, "select": "all", "track_id": None})
    ctl.run("preset_load", {"name": "mine"})
    assert ctl.swapper.settings.blend == 0.5
    from realtime.settings import load_preset

    assert load_preset(saved).faces.detect_every == 3
    with pytest.raises(ConfigError, match="not recording"):
        ctl.run("record_stop")
    with pytest.raises(ConfigError, match="no face enhancer runs"):
        ctl.run("enhance_every", {"n": 2})
    assert ctl.state()["enhance_every"] is None


def test_uploads_are_limited_and_decoded_with_the_pixel_limit(demo_controller) -> None:
    import cv2
    import numpy as np

    ctl = demo_controller
    with pytest.raises(InputError, match="limit"):
        ctl.upload_face(b"x" * 2000, max_bytes=1000)
    # A PNG header that claims 100000 x 100000 pixels: refused before it is decoded.
    _ok, png = cv2.imencode(".png", np.zeros((8, 8, 3), np.uint8))
    bomb = bytearray(png.tobytes())
    bomb[16:24] = (100000).to_bytes(4, "big") * 2
    with pytest.raises(InputError):
        ctl.upload_face(bytes(bomb), max_bytes=10**6)
    assert ctl.recent_faces() == []  # nothing stored
