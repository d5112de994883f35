"""Frame sources: camera, video file or URL, still image, synthetic demo.
``realtime.sources.registry`` makes each from its spec in the plan."""
