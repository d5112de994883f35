"""One answer to "is there an NVIDIA GPU here?" for the tests marked ``gpu``."""

import shutil
import subprocess

import pytest


def has_nvidia_gpu() -> bool:
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return False
    try:
        return subprocess.run([exe, "-L"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


needs_gpu = pytest.mark.skipif(not has_nvidia_gpu(), reason="no NVIDIA GPU found (nvidia-smi)")
