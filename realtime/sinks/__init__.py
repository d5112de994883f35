"""Frame sinks: virtual camera, preview window, video file, still image, MJPEG over HTTP, the
panel's preview, null. ``realtime.sinks.registry`` makes each from its spec in the plan."""
