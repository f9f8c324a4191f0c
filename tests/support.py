"""Test support: run the real system (`gridcase up`) and a webhook receiver, and wait on conditions."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import httpx

T = TypeVar("T")

# Credentials the tests use; test_zz_secrets_in_logs checks none of them reached a log line.
ADMIN_PASSWORD = "Admin-Test-2026!"
WEBHOOK_SECRET = "hook-secret-4f9a1c"
# The channels' shared secrets in the test system (issue 8): clients sign with these.
WECHAT_TOKEN = "gridcase-wechat-test-token"
WECHAT_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # 43 characters, as WeChat's console makes
WECHAT_APPID = "wx1234567890abcdef"
HOTLINE_SECRET = "hotline-secret-7d2e9b"
HOTLINE_SECRETS = {"cti-east": "east-secret-31c8", "cti-west": "west-secret-92aa"}
SECRETS: set[str] = set()
# Reference data changed in one process reaches the others' catalogs within a second (CatalogCache).
REFERENCE_REACHES_S = 1.5
TOKENS: dict[str, str] = {}  # role -> bearer token, filled by the `tokens` fixture

ROOT = Path(__file__).resolve().parent.parent
DEMO = json.loads((ROOT / "services/reference/data/demo_district.geojson").read_text(encoding="utf-8"))
SAMPLE_POINTS: dict[str, list[float]] = DEMO["gridcase_sample_points"]
GRIDS = sorted(SAMPLE_POINTS)


async def wait_for(
    probe: Callable[[], Awaitable[T | None]],
    *,
    timeout: float = 20.0,
    interval: float = 0.1,
    what: str = "condition",
) -> T:
    """Poll ``probe`` until it returns something truthy; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def free_port_block(size: int, start: int = 21000, end: int = 40000) -> int:
    """A base port with ``size`` consecutive free ports (pid-salted to avoid parallel runs)."""
    base = start + (os.getpid() * 37) % (end - start - 100)
    for candidate in range(base, end, size + 1):
        if all(_free(candidate + i) for i in range(size)):
            return candidate
    raise RuntimeError("no free port block")


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@dataclass
class Webhook:
    """A webhook receiver that records every delivery (and can be told to fail)."""

    received: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    # Fail this many deliveries whose body's data.category_code matches (a category one test owns).
    fail_category: str | None = None
    fail_times: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    @property
    def url_with_secrets(self) -> str:
        """The same receiver, with credentials in the URL as real webhook targets carry them."""
        assert self.server is not None
        port = self.server.server_address[1]
        return f"http://hook:{WEBHOOK_SECRET}@127.0.0.1:{port}/hook?access_token={WEBHOOK_SECRET}"

    def start(self) -> None:
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                payload = json.loads(body)
                with hook.lock:
                    category = (payload.get("data") or {}).get("category_code")
                    if hook.fail_times > 0 and category == hook.fail_category:
                        hook.fail_times -= 1
                        self.send_response(503)
                        self.end_headers()
                        return
                    hook.received.append(payload)
                    hook.headers.append(dict(self.headers))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def for_case(self, case_id: str, event: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            return [
                b for b in self.received if b["case_id"] == case_id and (event is None or b["event"] == event)
            ]

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()


@dataclass
class System:
    """The whole Gridcase system on the embedded default, as `gridcase up` starts it."""

    home: Path
    env: dict[str, str]
    port: int = 0
    kafka_port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def state(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads((self.home / "run" / "state.json").read_text())
        return loaded

    def start(self, timeout: float = 120.0) -> None:
        if not self.port:
            self.port = free_port_block(6)
            self.kafka_port = free_port_block(1, start=self.port + 10)
        state_file = self.home / "run" / "state.json"
        self.log = (self.home.parent / f"{self.home.name}-up.log").open("ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "services.cli",
                "up",
                "--home",
                str(self.home),
                "--port",
                str(self.port),
                "--kafka-port",
                str(self.kafka_port),
            ],
            env={**os.environ, **self.env},
            stdout=self.log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gridcase up exited with {self.proc.returncode}; see {self.log.name}")
            if state_file.exists() and self._state_is_ours() and self.all_healthy():
                return
            time.sleep(0.2)
        raise RuntimeError(f"system not healthy within {timeout}s; see {self.home / 'logs'}")

    def _state_is_ours(self) -> bool:
        """The state file is rewritten by the new launcher (an old one may be left from a killed one)."""
        try:
            return bool(self.proc and self.state()["launcher_pid"] == self.proc.pid)
        except (OSError, ValueError, KeyError):
            return False

    def all_healthy(self) -> bool:
        try:
            services = self.state()["services"]
        except (OSError, ValueError, KeyError):
            return False
        for svc in services.values():
            try:
                if httpx.get(f"http://127.0.0.1:{svc['port']}/health", timeout=1.0).status_code >= 300:
                    return False
            except httpx.HTTPError:
                return False
        return True

    def stop(self, timeout: float = 40.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def pid(self, service: str) -> int:
        pid: int = self.state()["services"][service]["pid"]
        return pid
