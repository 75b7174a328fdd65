"""Real servers for the benchmarks: gunicorn with 2 sync workers (gunicorn's default worker, as contract §4's
production set-up), on a free loopback port, stopped (SIGTERM, then SIGKILL) when the block ends."""

from __future__ import annotations

import http.client
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
WORKERS = 2


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(port: int, path: str, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode} before serving")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", path)
            status = connection.getresponse().status
            connection.close()
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn on port {port} not ready after {timeout:.0f} s")


@contextmanager
def gunicorn(
    target: str, env: dict[str, str], *, pythonpath: Path | None = None, ready_path: str = "/healthz"
) -> Iterator[int]:
    """Serve `target` (module:app) with 2 workers; yields the port."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--workers",
        str(WORKERS),
        "--bind",
        f"127.0.0.1:{port}",
        "--chdir",
        str(ROOT),
        "--log-level",
        "warning",
        "--timeout",
        "120",
    ]
    if pythonpath is not None:
        command += ["--pythonpath", str(pythonpath)]
    full_env = {**os.environ, **env}
    process = subprocess.Popen([*command, target], env=full_env, cwd=ROOT)  # noqa: S603 - fixed arguments
    try:
        wait_ready(port, ready_path, process)
        yield port
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def app_env(database_url: str, storage_dir: Path) -> dict[str, str]:
    """The app's settings for a production-like server on the benchmark database.

    Production refuses an embedded database at start-up, so the SQLite runs keep the development
    environment: the same code path, without secure cookies and HSTS."""
    return {
        "IAS_ENV": "production" if database_url.startswith("postgresql") else "development",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "DATABASE_URL": database_url,
        "IAS_STORAGE_DIR": str(storage_dir),
        "FLASK_APP": "wsgi:app",
    }
