"""Frame sources: camera, video file or URL, still image, synthetic demo."""
