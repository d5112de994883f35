"""realtime: live face swap from a camera to a virtual camera."""

__version__ = "0.1.0"
