"""The app as production runs it: gunicorn with 2 sync workers, in its own process, on the suite's database.

`Gunicorn(database_url, folder)` starts `gunicorn -w 2 --preload 'app:create_app()'` on a free loopback
port with DATABASE_URL, SECRET_KEY, IAS_STORAGE_DIR and TMPDIR set (the last two in `folder`), and
waits until both workers answer. Its error log (app tracebacks included) is `folder / "gunicorn.log"`.

Memory is read from the kernel, per worker: `peak_rss_mb()` is the high-water mark of the resident set
(VmHWM) since the last `reset_peaks()` (writing 5 to /proc/PID/clear_refs resets it).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Self

from tests.conftest import TEST_CONFIG

ROOT = Path(__file__).resolve().parents[2]
WORKERS = 2
START_TIMEOUT_S = 60.0
_LISTENING = re.compile(r"Listening at: http://127\.0\.0\.1:(\d+)")


class Gunicorn:
    def __init__(self, database_url: str, folder: Path, *, env: dict[str, str] | None = None) -> None:
        self.database_url = database_url
        self.storage = folder / "storage"
        self.tmp = folder / "tmp"
        self.log_path = folder / "gunicorn.log"
        self.extra_env = env or {}
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        self.storage.mkdir(parents=True, exist_ok=True)
        self.tmp.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "SECRET_KEY": TEST_CONFIG["SECRET_KEY"],
            "IAS_STORAGE_DIR": str(self.storage),
            "IAS_ENV": "testing",
            "TMPDIR": str(self.tmp),  # werkzeug spools large uploads here: it must stay empty
            **self.extra_env,
        }
        env.pop("TEST_DATABASE_URL", None)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "--workers",
                    str(WORKERS),
                    "--bind",
                    "127.0.0.1:0",
                    "--timeout",
                    "60",
                    "--graceful-timeout",
                    "30",
                    "--log-level",
                    "info",
                    "--preload",  # the app is imported once, before the workers fork (as in production)
                    "--no-control-socket",  # else one shared path in $HOME, fought over by other servers
                    "app:create_app()",
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=log,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited at start:\n{self.log()}")
            match = _LISTENING.search(self.log())
            if match and len(self.workers()) == WORKERS and self._healthy(int(match.group(1))):
                self.port = int(match.group(1))
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"gunicorn did not start in {START_TIMEOUT_S}s:\n{self.log()}")

    def _healthy(self, port: int) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def stop(self, *, graceful: bool = True) -> None:
        """Graceful: the workers finish the requests they hold, then exit. Otherwise they are killed."""
        if self.process is None:
            return
        if self.process.poll() is None:
            if graceful:
                self.process.send_signal(signal.SIGTERM)
            else:
                for pid in self.workers():
                    os.kill(pid, signal.SIGKILL)
                self.process.kill()
            try:
                self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def tracebacks(self) -> list[str]:
        """Every traceback the workers logged (an unhandled error), with the lines before it."""
        text = self.log()
        return [text[max(0, m.start() - 300) : m.start() + 3000] for m in re.finditer("Traceback", text)]

    # --- Processes and memory ------------------------------------------------------------------------

    def workers(self) -> list[int]:
        """The worker processes' pids (children of the gunicorn master)."""
        if self.process is None:
            return []
        master = self.process.pid
        children = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # pid (comm) state ppid …: comm may hold spaces, so split after its closing parenthesis.
            fields = stat[stat.rindex(")") + 2 :].split()
            if int(fields[1]) == master:
                children.append(int(entry.name))
        return sorted(children)

    def reset_peaks(self) -> None:
        for pid in self.workers():
            Path(f"/proc/{pid}/clear_refs").write_text("5")

    def peak_rss_mb(self) -> float:
        """The largest resident-set high-water mark among the workers, in MB."""
        peaks = [_status_kb(pid, "VmHWM") for pid in self.workers()]
        return max(peaks, default=0) / 1024

    def open_deleted_files(self) -> list[str]:
        """Files the workers hold open that were deleted: temporary files not closed."""
        held = []
        for pid in self.workers():
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                try:
                    target = os.readlink(fd)
                except OSError:
                    continue
                # gunicorn's own heartbeat files (wgunicorn-…) are unlinked at once, on purpose.
                if target.endswith("(deleted)") and "/wgunicorn-" not in target:
                    held.append(f"{pid}: {target}")
        return held


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise LookupError(f"{field} not in /proc/{pid}/status")
