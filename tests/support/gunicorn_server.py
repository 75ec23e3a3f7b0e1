"""Real processes for the deployment tests: a scratch PostgreSQL database, the ``flask`` release
commands and gunicorn started with ``-c gunicorn.conf.py``, as docs/operations.md describes.

Everything started here is stopped here: gunicorn runs in a session (process group) of its own
and ``GunicornServer.stop`` ends that group; a scratch database is dropped on the way out.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
BIN = Path(sys.executable).parent
#: variables of the caller's environment that would change what the processes do
_DROPPED = ("DATABASE_URL", "LOG_", "GUNICORN_", "WEB_CONCURRENCY", "REGISTRY_", "SECRET_KEY", "FLASK_", "MAIL_", "RATELIMIT_", "BEHIND_PROXY")


def is_postgresql(url: str | None) -> bool:
    return bool(url) and url.split(":", 1)[0] in ("postgresql", "postgresql+psycopg", "postgres")


def libpq_url(url: str) -> str:
    """The SQLAlchemy URL as pg_dump, pg_restore and psycopg take it (no ``+psycopg``)."""
    scheme, rest = url.split("://", 1)
    return "postgresql://" + rest if scheme.startswith("postgres") else url


def with_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


@contextlib.contextmanager
def scratch_database(admin_url: str, prefix: str = "registry_deploy") -> Iterator[str]:
    """A new, empty PostgreSQL database with a unique name (SQLAlchemy URL), dropped at the end.
    ``admin_url`` names the database the CREATE and DROP statements are sent from."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(libpq_url(admin_url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield with_database(admin_url, name)
    finally:
        with psycopg.connect(libpq_url(admin_url), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def production_env(database_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment an operator sets (docs/operations.md), on top of a clean copy of ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_DROPPED)}
    env.update({
        "FLASK_APP": "registry:create_app",
        "DATABASE_URL": database_url,
        "REGISTRY_ENV": "production",
        "SECRET_KEY": secrets.token_hex(32),
        "LOG_FORMAT": "json",
        "MAIL_BACKEND": "file",
        "MAIL_FILE_DIR": str(tmp_path / "mail"),
        "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
    })
    env.update(extra)
    return env


def flask(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """``flask ARGS`` from the checkout, as documented; fails the test on a non-zero exit."""
    result = subprocess.run([str(BIN / "flask"), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        raise AssertionError(f"flask {' '.join(args)} exited with {result.returncode}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


class GunicornServer:
    """``gunicorn -c gunicorn.conf.py`` on a free loopback port, stderr and stdout to files."""

    def __init__(self, env: dict[str, str], logdir: Path, workers: int = 2) -> None:
        self.port = free_port()
        self.workers = workers
        self.stderr_path = logdir / "gunicorn.stderr"
        self.stdout_path = logdir / "gunicorn.stdout"
        env = {**env, "GUNICORN_BIND": f"127.0.0.1:{self.port}", "WEB_CONCURRENCY": str(workers)}
        with open(self.stderr_path, "wb") as err, open(self.stdout_path, "wb") as out:
            # a session of its own: stop() signals this group, and nothing else
            self.process = subprocess.Popen(
                [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py"], cwd=ROOT, env=env,
                stdin=subprocess.DEVNULL, stdout=out, stderr=err, start_new_session=True,
            )

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None, timeout: float = 10):
        """(status, headers, body) over a fresh connection."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return response.status, response.headers, response.read()
        finally:
            conn.close()

    def wait_for(self, path: str, status: int, timeout: float = 30) -> None:
        """Until ``path`` answers ``status`` (the server may still be booting)."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"gunicorn exited with {self.process.returncode}:\n{self.stderr()[-3000:]}")
            try:
                last = self.request("GET", path, timeout=5)
                if last[0] == status:
                    return
            except OSError as error:
                last = error
            time.sleep(0.2)
        raise AssertionError(f"{path} did not answer {status} within {timeout:.0f} s (last: {last!r}):\n{self.stderr()[-3000:]}")

    def wait_until(self, condition, what: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"no {what} within {timeout:.0f} s:\n{self.stderr()[-3000:]}")
            if self.process.poll() is not None:
                raise AssertionError(f"gunicorn exited with {self.process.returncode}:\n{self.stderr()[-3000:]}")
            time.sleep(0.2)

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    def stop(self, timeout: float = 20) -> None:
        """SIGTERM to the master (it stops its workers gracefully), SIGKILL to the group we
        started if it hangs."""
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
