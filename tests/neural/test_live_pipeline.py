"""A neural swapper (synthetic inswapper with the real tensor contract) in the live pipeline."""

from pathlib import Path

import numpy as np

from realtime.faces.analysis import AnalysisSettings, FaceAnalyzer
from realtime.images import load_image
from realtime.inference.models import ModelAccess
from realtime.pipeline import Pipeline, PipelineConfig
from realtime.sources.synthetic import SyntheticSource
from realtime.swap.neural.swapper import NeuralSwapper
from tests.neural.synthetic_models import write_synthetic_models
from tests.pipeline.fakes import RecordingSink

ASSETS = Path(__file__).resolve().parents[2] / "realtime" / "assets" / "faces"


class KeepImages(RecordingSink):
    def __init__(self):
        super().__init__()
        self.images = []

    def write(self, frame):
        super().write(frame)
        self.images.append((frame.image.copy(), frame.faces))


def test_synthetic_inswapper_changes_the_face_and_nothing_else(tmp_path: Path):
    specs = write_synthetic_models(tmp_path, ["inswapper_128", "arcface_w600k_r50"])
    analyzer = FaceAnalyzer(AnalysisSettings())
    src_img = load_image(ASSETS / "astronaut.jpg")
    face = analyzer.analyze_image(src_img)[0]
    swapper = NeuralSwapper.load(
        ModelAccess(models_dir=tmp_path, specs=specs), "inswapper_128", src_img, face.kps
    )
    source = SyntheticSource(width=640, height=360, fps=30, live=False, motion=0.0, noise=0.0, seed=3)
    reference = SyntheticSource(width=640, height=360, fps=30, live=False, motion=0.0, noise=0.0, seed=3)
    reference.open()
    original = reference.read().image.copy()
    sink = KeepImages()
    pipe = Pipeline(
        source, [analyzer, swapper], [sink], PipelineConfig(live=False), stages=[[analyzer], [swapper]]
    )
    pipe.run(max_frames=5, duration=30)
    image, faces = sink.images[0]
    assert len(faces) == 1
    x1, y1, x2, y2 = faces[0].box.astype(int)
    diff = np.abs(image.astype(int) - original.astype(int)).sum(axis=2)
    inside = diff[y1:y2, x1:x2]
    # the synthetic swapper brightens its crop by a known offset: the face changed
    assert inside.mean() > 10
    # far from the face nothing moved
    pad = 40
    outside = diff.copy()
    outside[max(0, y1 - pad) : y2 + pad, max(0, x1 - pad) : x2 + pad] = 0
    assert outside.max() == 0
