"""`qa serve` as a child process on a loopback port with its own data folder, for the load benchmark."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"  # loopback only
QA_MAIN = "from qa.cli import main; main()"
READY_TIMEOUT = 180.0
READY_IN_A_ROW = 20  # a worker still loading is missed by chance 2**-20 of the time with two


def free_port() -> int:
    """Return a loopback port nobody listens on (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Server:
    """`qa serve` as a child process on a loopback port, with its own data folder."""

    def __init__(self, *, workdir: Path, corpus: Path, workers: int = 1) -> None:
        self.workers = workers
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.log_path = workdir / "server.log"
        self.env = os.environ | {"QA_DATA_DIR": str(workdir / "server-data")}
        self.corpus = corpus
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        """Ingest the corpus with `qa ingest`, start `qa serve` and wait until /readyz says 200."""
        done = subprocess.run([sys.executable, "-c", QA_MAIN, "ingest", str(self.corpus)], env=self.env, cwd=ROOT,
                              capture_output=True, text=True, timeout=READY_TIMEOUT)
        if done.returncode:
            raise RuntimeError(f"qa ingest exited with status {done.returncode}: {done.stderr.strip()[-500:]}")
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-c", QA_MAIN, "serve", "--host", HOST, "--port", str(self.port),
                 "--workers", str(self.workers)],
                env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.wait_ready()

    def wait_ready(self) -> None:
        """Wait until READY_IN_A_ROW fresh connections in a row get 200 from /readyz: every worker
        process loads its own model, and the kernel spreads connections over them."""
        deadline = time.monotonic() + READY_TIMEOUT
        in_a_row = 0
        while in_a_row < READY_IN_A_ROW:
            if time.monotonic() > deadline:
                raise RuntimeError(f"qa serve not ready after {READY_TIMEOUT:.0f}s\n{self.log_tail()}")
            if self.process.poll() is not None:
                raise RuntimeError(f"qa serve exited with status {self.process.returncode}\n{self.log_tail()}")
            try:
                ok = httpx.get(f"{self.url}/readyz", timeout=2.0, headers={"Connection": "close"},
                               trust_env=False).status_code == 200
            except httpx.HTTPError:
                ok = False
            in_a_row = in_a_row + 1 if ok else 0
            if not ok:
                time.sleep(0.25)

    def cpu_seconds(self) -> float | None:
        """Return the CPU seconds used so far by the server and its children (None off Linux)."""
        return tree_cpu_seconds(self.process.pid) if self.process else None

    def rss_mb(self) -> float | None:
        """Return the resident memory of the server and its children in MB (None off Linux)."""
        return tree_rss_mb(self.process.pid) if self.process else None

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """Stop the server: SIGTERM, then SIGKILL after 15 s."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


def tree_cpu_seconds(pid: int) -> float | None:
    """Return user + system CPU seconds of a process and its descendants, from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        children = _children(pid)
    except (OSError, ValueError, IndexError):
        return None
    return total + sum(tree_cpu_seconds(c) or 0.0 for c in children)


def tree_rss_mb(pid: int) -> float | None:
    """Return the resident memory (VmRSS) of a process and its descendants in MB, from /proc."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        own = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")) / 1024
        children = _children(pid)
    except (OSError, ValueError, StopIteration):
        return None
    return own + sum(tree_rss_mb(c) or 0.0 for c in children)


def _children(pid: int) -> set[int]:
    """Return the pids of a process's children, from every one of its threads."""
    return {int(c) for task in Path(f"/proc/{pid}/task").iterdir() for c in (task / "children").read_text().split()}
