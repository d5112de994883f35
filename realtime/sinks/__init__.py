"""Frame sinks: virtual camera, preview window, video file, MJPEG over HTTP, null."""
