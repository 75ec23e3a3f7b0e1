"""A private, throw-away PostgreSQL instance for the load test: its own data directory, port and
socket directory, listening on 127.0.0.1 only, trust authentication. Never the shared server.

PostgreSQL refuses to run as root, so as root every server command runs as the ``postgres``
user through ``runuser`` (the data directory is made theirs).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

PG_ROOT = Path("/usr/lib/postgresql")


def binaries() -> Path | None:
    """The bin directory of the newest Debian PostgreSQL installed, or None."""
    found = []
    for child in PG_ROOT.glob("*/bin") if PG_ROOT.is_dir() else ():
        try:
            version = int(child.parent.name.split(".")[0])
        except ValueError:
            continue
        if (child / "initdb").exists() and (child / "pg_ctl").exists():
            found.append((version, child))
    return max(found)[1] if found else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrivatePostgres:
    """``start()`` after ``__init__``; ``destroy()`` always (stops it and removes its files)."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin = bin_dir
        self.as_root = os.geteuid() == 0
        self.dir = Path(tempfile.mkdtemp(prefix="registry-load-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "postgres.log"
        self.port = free_port()
        if self.as_root:
            owner = pwd.getpwnam("postgres")  # KeyError when the user is missing
            os.chown(self.dir, owner.pw_uid, owner.pw_gid)
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, cwd=self.dir, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}\n{self.log_tail()}")
        return done

    def initdb(self) -> None:
        # --no-sync and fsync=off: nothing here survives a crash of the machine, and a fast
        # shutdown still writes every committed transaction out (a checkpoint) before stopping
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions")

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.dir} "
            "-c fsync=off -c full_page_writes=off -c max_connections=60 -c shared_buffers=32MB"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "30", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def log_tail(self, lines: int = 15) -> str:
        return tail(self.log, lines, "(no PostgreSQL log)")

    def destroy(self) -> None:
        try:
            if self.running():
                self.stop("immediate")
        except (RuntimeError, subprocess.TimeoutExpired):
            pass
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


def wait_for(predicate, timeout: float, step: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def tail(path: Path, lines: int, missing: str = "(no log)") -> str:
    """The last ``lines`` lines of a log file, for a failure message (``missing`` if unreadable)."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return missing
