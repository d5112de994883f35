"""The engine-build display reaches every model the app opens (issue: no silent TensorRT stall)."""

from pathlib import Path

import realtime.faces.detector as detector
import realtime.faces.landmarks as landmarks
from realtime.app import ASSETS, plan_from_settings
from realtime.build import build_chain
from realtime.settings import Settings, SourceSettings


def test_on_build_reaches_the_face_models_opened_by_the_app(monkeypatch):
    seen = []
    for module in (detector, landmarks):
        real = module.open_session

        def spy(path, *, prefer=None, options=None, label=None, _real=real):
            seen.append((Path(path).name, options.on_build))
            return _real(path, prefer=prefer, options=options, label=label)

        monkeypatch.setattr(module, "open_session", spy)

    def marker(event):
        return None

    settings = Settings(source=SourceSettings(demo=True), face=(str(ASSETS / "faces" / "astronaut.jpg"),))
    built = build_chain(plan_from_settings(settings).chain, on_build=marker)
    processors, info = built.processors, built.info
    assert info["swapper"] == "mesh" and len(processors) == 2
    assert {name for name, _ in seen} >= {"face_detection_short_range.onnx", "face_landmark.onnx"}
    assert all(cb is marker for _, cb in seen)
