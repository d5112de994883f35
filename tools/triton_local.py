"""Run a real ``tritonserver`` on 127.0.0.1 for tests and the bench (no GPU, no container).

PyTriton's wheel (in the venv made by ``tools/triton_server_venv.sh``) bundles the server
binary, its Python backend and one backend stub per Python version. ``TritonServer`` lays out
a backend folder with the stub of the venv's Python, puts that interpreter's ``lib`` folder on
``LD_LIBRARY_PATH`` (the stub links ``libpython3.x.so``) and the venv's site-packages on
``PYTHONPATH`` (the served models import ONNX Runtime), and serves a model repository
exported with ``realtime triton export --platform python --kind cpu``.

    python tools/triton_local.py REPO   # serves REPO until Ctrl-C, printing the URLs
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_VENV = ROOT / ".triton-venv"


class ServerUnavailable(RuntimeError):
    """The server cannot run here (no venv, or it did not start): tests skip on this."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def find_venv() -> Path:
    venv = Path(os.environ.get("TRITON_VENV", DEFAULT_VENV))
    if not (venv / "bin" / "python").exists():
        raise ServerUnavailable(f"no Triton server venv at {venv}: run tools/triton_server_venv.sh")
    return venv


def _venv_python_info(venv: Path) -> tuple[str, str, str]:
    code = (
        "import sys, sysconfig, site; "
        "print(f'{sys.version_info[0]}.{sys.version_info[1]}'); "
        "print(sysconfig.get_config_var('LIBDIR')); print(site.getsitepackages()[0])"
    )
    out = subprocess.run(
        [str(venv / "bin" / "python"), "-c", code], capture_output=True, text=True, check=True
    )
    version, libdir, site = out.stdout.split()
    return version, libdir, site


class TritonServer:
    """One ``tritonserver`` process serving ``repo`` on free (or given) 127.0.0.1 ports."""

    def __init__(
        self, repo: Path, workdir: Path, venv: Path | None = None, extra_args: tuple[str, ...] = ()
    ) -> None:
        self.extra_args = tuple(extra_args)  # e.g. the --grpc-use-ssl flags
        self.repo = Path(repo)
        self.workdir = Path(workdir)
        self.venv = venv or find_venv()
        self.version, self.libdir, self.site = _venv_python_info(self.venv)
        pkg = Path(self.site) / "pytriton" / "tritonserver"
        self.binary = pkg / "bin" / "tritonserver"
        if not self.binary.exists():
            raise ServerUnavailable(f"{self.binary} is missing (nvidia-pytriton not installed?)")
        self.backends = self.workdir / "backends"
        py = self.backends / "python"
        py.mkdir(parents=True, exist_ok=True)
        for f in ("libtriton_python.so", "triton_python_backend_utils.py"):
            shutil.copy(pkg / "backends" / "python" / f, py / f)
        shutil.copy(pkg / "python_backend_stubs" / self.version / "triton_python_backend_stub", py)
        self.libs = Path(self.site) / "nvidia_pytriton.libs"
        self.http_port = self.grpc_port = self.metrics_port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = self.workdir / "server.log"

    @property
    def grpc_url(self) -> str:
        return f"grpc://127.0.0.1:{self.grpc_port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["LD_LIBRARY_PATH"] = ":".join(
            p for p in (self.libdir, str(self.libs), env.get("LD_LIBRARY_PATH")) if p
        )
        env["PYTHONPATH"] = self.site
        env["PATH"] = f"{self.venv / 'bin'}:{env.get('PATH', '')}"
        env["OMP_NUM_THREADS"] = "1"
        return env

    def start(self, timeout: float = 120.0, *, same_ports: bool = False) -> TritonServer:
        """Start and wait until ready; ``same_ports`` restarts on the previous ports."""
        if not same_ports or not self.grpc_port:
            self.http_port, self.grpc_port, self.metrics_port = free_port(), free_port(), free_port()
        cmd = [
            str(self.binary),
            f"--model-repository={self.repo}",
            f"--backend-directory={self.backends}",
            "--http-address=127.0.0.1",
            "--grpc-address=127.0.0.1",
            "--metrics-address=127.0.0.1",
            f"--http-port={self.http_port}",
            f"--grpc-port={self.grpc_port}",
            f"--metrics-port={self.metrics_port}",
            "--allow-gpu-metrics=false",
            "--exit-timeout-secs=2",
            *self.extra_args,
        ]
        log = open(self.log_path, "ab")  # noqa: SIM115 - the process owns it until it ends
        self.proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, env=self._env(), start_new_session=True
        )
        log.close()
        deadline = time.monotonic() + timeout
        url = f"http://127.0.0.1:{self.http_port}/v2/health/ready"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerUnavailable(f"tritonserver exited ({self.proc.returncode}): {self.log_tail()}")
            try:
                with urllib.request.urlopen(url, timeout=1) as r:
                    if r.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise ServerUnavailable(f"tritonserver was not ready in {timeout:.0f} s: {self.log_tail()}")

    def log_tail(self, n: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def _signal(self, sig: int, *, group: bool = True) -> None:
        """To the server and its backend stubs, or (``group=False``) to the server alone."""
        if self.proc is not None and self.proc.poll() is None:
            (os.killpg if group else os.kill)(self.proc.pid, sig)

    def pause(self) -> None:
        """SIGSTOP to the server alone: it keeps its sockets open and answers nothing (a
        stall). Its Python backend stubs run on: stopping them too crashed the server on
        resume now and then (signal 11 in libtriton_python.so, a lock_exception in its shared
        memory), a fault of the test server's backend that no client can recover from."""
        self._signal(signal.SIGSTOP, group=False)

    def resume(self) -> None:
        self._signal(signal.SIGCONT, group=False)

    def kill(self) -> None:
        """SIGKILL, as a crash or a pulled cable would."""
        if self.proc is not None and self.proc.poll() is None:
            self._signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.resume()
        self._signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.kill()


def main() -> int:
    import tempfile

    repo = Path(sys.argv[1])
    with tempfile.TemporaryDirectory() as tmp:
        server = TritonServer(repo, Path(tmp)).start()
        print(f"serving {repo}: {server.grpc_url} {server.http_url} (Ctrl-C stops)", file=sys.stderr)
        try:
            while server.proc is not None and server.proc.poll() is None:
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
