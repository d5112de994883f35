"""realtime.faces: find, follow and describe faces with the bundled MediaPipe models.

``FaceAnalyzer`` is the pipeline processor (detect + FaceMesh + tracking + smoothing);
``analyze_image`` handles still photos. See ``analysis`` for the settings.
"""

from realtime.faces.analysis import AnalysisSettings, FaceAnalyzer, analyze_image

__all__ = ["AnalysisSettings", "FaceAnalyzer", "analyze_image"]
