"""What the benchmarks share: start our own system (`gridcase up` on free ports with its own home and,
for the channels, its own random secrets), wait until it is healthy, mint the API tokens a run needs,
watch the CPU of its processes, wait for a quiet machine, keep-alive connections, and statistics.

Used by bench/e2e.py, bench/fuzz_intake.py and bench/intake_latency.py (run from the repository root:
``.venv/bin/python bench/<name>.py``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import importlib.metadata
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import types
import urllib.parse
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

GRIDCASE = Path(sys.executable).parent / "gridcase"
SERVICE_NAMES = ("console", "intake", "dispatch", "escalation", "notify", "relay")
CLK_TCK = os.sysconf("SC_CLK_TCK")
# The demo grid worker's grid (demo-gridworker 赵丽): a run's grid worker token is given this one.
GRID_WORKER_GRID = "10100133019900100101"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------------
# Statistics


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default); q in [0, 100]."""
    if not sorted_values:
        return float("nan")
    if len(sorted_values) == 1:
        return sorted_values[0]
    pos = (len(sorted_values) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def summarize(values: Sequence[float]) -> dict[str, float]:
    s = sorted(values)
    if not s:
        return {"n": 0}
    return {
        "n": len(s),
        "mean": sum(s) / len(s),
        "p50": percentile(s, 50),
        "p90": percentile(s, 90),
        "p99": percentile(s, 99),
        "max": s[-1],
        "min": s[0],
    }


# --------------------------------------------------------------------------------------------------
# Machine and process information


def machine_info() -> dict[str, Any]:
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    try:
        gridcase_version = importlib.metadata.version("gridcase")
    except importlib.metadata.PackageNotFoundError:
        gridcase_version = "unknown"
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_count": os.cpu_count(),
        "cpu_model": model,
        "mem_total_gib": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "gridcase": gridcase_version,
        "httpx": httpx.__version__,
    }


def _proc_stat(pid: int) -> tuple[str, int, int] | None:
    """(comm, ppid, utime+stime ticks) of a process, or None if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    lpar, rpar = raw.index("("), raw.rindex(")")
    comm = raw[lpar + 1 : rpar]
    rest = raw[rpar + 2 :].split()
    # rest[0] is field 3 (state); ppid is field 4, utime 14, stime 15.
    return comm, int(rest[1]), int(rest[11]) + int(rest[12])


CPU_FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")


def _system_ticks() -> dict[str, int]:
    """Jiffies of all CPUs since boot, per /proc/stat field."""
    values = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return dict(zip(CPU_FIELDS, values, strict=False))


def _pg_dir(database_url: str) -> Path | None:
    """The socket directory of a local PostgreSQL (pgserver keeps postmaster.pid there too)."""
    host = urllib.parse.parse_qs(urllib.parse.urlsplit(database_url).query).get("host")
    return Path(host[0]) if host and host[0].startswith("/") else None


def _listening_pids(ports: set[int]) -> dict[int, int]:
    """{port: pid} of the processes listening on these TCP ports on this machine."""
    inodes: dict[int, int] = {}  # socket inode -> port
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                f = line.split()
                port = int(f[1].rsplit(":", 1)[1], 16)
                if f[3] == "0A" and port in ports:  # 0A = LISTEN
                    inodes[int(f[9])] = port
    found: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in os.scandir(f"/proc/{entry.name}/fd"):
                link = os.readlink(fd.path)
                if link.startswith("socket:["):
                    listening = inodes.get(int(link[8:-1]))
                    if listening is not None:
                        found.setdefault(listening, int(entry.name))
    return found


@dataclass
class ProcSnapshot:
    at: float
    ticks: dict[int, tuple[str, int]]  # pid -> (group, ticks)
    system: dict[str, int]


@dataclass
class ProcWatcher:
    """Maps the system's processes to groups (services, postgres, broker, client) and samples CPU."""

    service_pids: dict[str, int] = field(default_factory=dict)
    launcher_pid: int | None = None
    pg_dir: Path | None = None

    @classmethod
    def from_state(cls, state: dict[str, Any] | None) -> ProcWatcher:
        if not state:
            return cls()
        return cls(
            service_pids={n: s["pid"] for n, s in state.get("services", {}).items() if s.get("pid")},
            launcher_pid=state.get("launcher_pid"),
            pg_dir=_pg_dir(state.get("database_url") or ""),
        )

    @classmethod
    def from_ports(cls, ports: dict[str, int], database_url: str) -> ProcWatcher:
        """Without a state.json: find the services by the ports they listen on."""
        by_port = _listening_pids(set(ports.values()))
        return cls(
            service_pids={n: by_port[p] for n, p in ports.items() if p in by_port},
            pg_dir=_pg_dir(database_url),
        )

    def _postmaster(self) -> int | None:
        if self.pg_dir is None:
            return None
        try:
            return int((self.pg_dir / "postmaster.pid").read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return None

    def groups(self) -> dict[int, str]:
        out: dict[int, str] = {pid: name for name, pid in self.service_pids.items()}
        out[os.getpid()] = "bench-client"
        postmaster = self._postmaster()
        if postmaster is not None:
            out[postmaster] = "postgres"
        if self.launcher_pid is not None:
            out[self.launcher_pid] = "launcher"
        if postmaster is None and self.launcher_pid is None:
            return out
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            pid = int(entry.name)
            if pid in out:
                continue
            st = _proc_stat(pid)
            if st is None:
                continue
            comm, ppid, _ = st
            if postmaster is not None and ppid == postmaster:
                out[pid] = "postgres"
            elif self.launcher_pid is not None and ppid == self.launcher_pid:
                out[pid] = "broker" if "postgres" not in comm else "postgres"
        return out

    def snapshot(self) -> ProcSnapshot:
        ticks: dict[int, tuple[str, int]] = {}
        for pid, group in self.groups().items():
            st = _proc_stat(pid)
            if st is not None:
                ticks[pid] = (group, st[2])
        return ProcSnapshot(at=time.monotonic(), ticks=ticks, system=_system_ticks())

    @staticmethod
    def cpu(start: ProcSnapshot, end: ProcSnapshot) -> dict[str, Any]:
        """Average CPU per group between two snapshots, in % of one core; and the machine's busy %."""
        wall = max(end.at - start.at, 1e-6)
        per_group: Counter[str] = Counter()
        for pid, (group, t1) in end.ticks.items():
            t0 = start.ticks.get(pid, (group, 0))[1]
            per_group[group] += max(t1 - t0, 0)
        d = {k: end.system.get(k, 0) - start.system.get(k, 0) for k in CPU_FIELDS}
        total = max(sum(d.values()), 1)
        busy = total - d["idle"] - d["iowait"]

        def one_core(ticks: float) -> float:
            return round(100.0 * ticks / CLK_TCK / wall, 1)

        groups = {g: one_core(t) for g, t in per_group.most_common()}
        # Everything else the machine did meanwhile: other users' processes, kernel threads. Interrupt
        # work (loopback networking) and steal are not in any process's time and are shown apart.
        other = one_core(d["user"] + d["nice"] + d["system"]) - sum(groups.values())
        return {
            "wall_s": round(wall, 2),
            "percent_of_one_core": groups,
            "other_processes_percent_of_one_core": round(max(other, 0.0), 1),
            "irq_softirq_percent_of_one_core": one_core(d["irq"] + d["softirq"]),
            "steal_percent_of_one_core": one_core(d["steal"]),
            "machine_busy_percent": round(100.0 * busy / total, 1),
        }


# --------------------------------------------------------------------------------------------------
# Starting our own system


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def find_ports(base: int, kafka: int) -> tuple[int, int]:
    for b in range(base, base + 1000, 10):
        if all(_port_free(b + i) for i in range(6)):
            break
    else:
        raise RuntimeError(f"no 6 free consecutive ports from {base}")
    for k in range(kafka, kafka + 1000):
        if _port_free(k) and not b <= k < b + 6:
            return b, k
    raise RuntimeError(f"no free broker port from {kafka}")


class OwnSystem:
    """`gridcase up` in a subprocess with a temporary home; stopped with SIGTERM (then SIGKILL)."""

    def __init__(
        self, port: int, kafka_port: int, keep_home: bool, env: dict[str, str] | None = None
    ) -> None:
        self.port, self.kafka_port, self.keep_home = port, kafka_port, keep_home
        self.extra_env = dict(env or {})  # e.g. the channels' secrets (ChannelSecrets.env)
        self.home = Path(tempfile.mkdtemp(prefix="gridcase-bench-"))
        self.proc: subprocess.Popen[bytes] | None = None
        self.state: dict[str, Any] | None = None

    @property
    def state_path(self) -> Path:
        return self.home / "run" / "state.json"

    def start(self, timeout_s: float) -> dict[str, Any]:
        log(
            f"starting gridcase up (home {self.home}, ports {self.port}-{self.port + 5}, kafka {self.kafka_port})"
        )
        out = (self.home / "up.log").open("ab")
        env = {**os.environ}
        for var in ("GRIDCASE_DATABASE_URL", "GRIDCASE_KAFKA_BOOTSTRAP"):
            env.pop(var, None)  # always the embedded default: a fresh, isolated system
        env.update(self.extra_env)
        self.proc = subprocess.Popen(
            [
                str(GRIDCASE),
                "up",
                "--home",
                str(self.home),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--kafka-port",
                str(self.kafka_port),
            ],
            cwd=str(self.home),
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # our Ctrl-C does not reach it; we stop it ourselves
        )
        out.close()
        started = time.monotonic()
        deadline = started + timeout_s
        state = wait_for_state(self.state_path, deadline, self.proc)
        wait_healthy(state, deadline, self.proc)
        self.state = json.loads(self.state_path.read_text())
        log(f"system up and healthy after {time.monotonic() - started:.1f}s")
        return self.state

    def alive(self) -> dict[str, Any]:
        """The launcher still running, and each service process it started (with its restarts)."""
        out: dict[str, Any] = {"launcher": self.proc is not None and self.proc.poll() is None}
        try:
            state = json.loads(self.state_path.read_text())
        except (OSError, ValueError):
            out["state"] = "unreadable"
            return out
        for name, svc in state.get("services", {}).items():
            pid = svc.get("pid")
            out[name] = {
                "pid": pid,
                "alive": bool(pid) and _proc_stat(int(pid)) is not None,
                "restarts": svc.get("restarts", 0),
            }
        return out

    def stop(self) -> None:
        if self.proc is None:
            return
        # Finish stopping even if asked again (a second Ctrl-C / SIGTERM would leave things running).
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if self.state_path.exists():
            with contextlib.suppress(OSError, ValueError):
                self.state = json.loads(self.state_path.read_text())
        if self.proc.poll() is None:
            # Known before the launcher goes: its children are re-parented once it is killed.
            pids = ProcWatcher.from_state(self.state).groups()
            log("stopping the system (SIGTERM)")
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(45)
            except subprocess.TimeoutExpired:
                log("launcher did not stop within 45s; killing it and its children")
                self.proc.kill()
                self.proc.wait()
                self._kill_leftovers(pids)
        if not self.keep_home:
            shutil.rmtree(self.home, ignore_errors=True)
        else:
            log(f"kept {self.home}")

    def _kill_leftovers(self, pids: dict[int, str]) -> None:
        postmaster = ProcWatcher(pg_dir=self.home / "pg")._postmaster()
        for pid, group in pids.items():
            if group in ("bench-client", "launcher") or (group == "postgres" and pid != postmaster):
                continue
            # PostgreSQL: SIGINT to the postmaster is its "fast" shutdown; its backends follow.
            sig = signal.SIGINT if pid == postmaster else signal.SIGKILL
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)


def wait_for_state(path: Path, deadline: float, proc: subprocess.Popen[bytes] | None) -> dict[str, Any]:
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"gridcase up exited with {proc.returncode} (see {path.parent.parent}/up.log)")
        with contextlib.suppress(OSError, ValueError):
            state: dict[str, Any] = json.loads(path.read_text())
            services = state.get("services", {})
            if state.get("database_url") and all(services.get(n, {}).get("pid") for n in SERVICE_NAMES):
                return state
        time.sleep(0.2)
    raise TimeoutError(f"{path} did not appear with every service in time")


def wait_healthy(state: dict[str, Any], deadline: float, proc: subprocess.Popen[bytes] | None) -> None:
    host = urllib.parse.urlsplit(state["http"]).hostname or "127.0.0.1"
    pending = {n: s["port"] for n, s in state["services"].items()}
    with httpx.Client(timeout=2.0, trust_env=False) as client:
        while pending and time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"gridcase up exited with {proc.returncode}")
            for name, port in list(pending.items()):
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(f"http://{host}:{port}/health").status_code == 200:
                        del pending[name]
            if pending:
                time.sleep(0.3)
    if pending:
        raise TimeoutError(f"not healthy before the deadline: {', '.join(sorted(pending))}")


# --------------------------------------------------------------------------------------------------
# Credentials of a run


async def issue_tokens(database_url: str, run_id: str) -> tuple[str, str]:
    """A hotline feed token (reports) and an admin token (metrics) for this run, made as `admin` would."""
    from schemas.accounts import TokenIn
    from services.db.pool import connect
    from services.identity.accounts import create_token
    from services.reference.catalog import Catalog

    conn = await connect(database_url)
    try:
        catalog = await Catalog.load(conn)
        tokens = []
        for body in ({"role": "feed", "channel": "hotline"}, {"role": "admin"}):
            async with conn.transaction():
                created = await create_token(
                    conn,
                    catalog,
                    TokenIn.model_validate({"name": f"bench {run_id}", **body}),
                    actor="cli:bench",
                )
            tokens.append(created.token)
        return tokens[0], tokens[1]
    finally:
        await conn.close()


async def create_tokens(database_url: str, name: str, specs: Sequence[dict[str, Any]]) -> list[str]:
    """API tokens made as `admin` would (POST /api/v1/tokens), straight in the database: one per spec,
    e.g. ``{"role": "feed", "channel": "open311"}`` or ``{"role": "grid_worker", "area_codes": [...]}``."""
    from schemas.accounts import TokenIn
    from services.db.pool import connect
    from services.identity.accounts import create_token
    from services.reference.catalog import Catalog

    conn = await connect(database_url)
    try:
        catalog = await Catalog.load(conn)
        out = []
        for spec in specs:
            async with conn.transaction():
                created = await create_token(
                    conn, catalog, TokenIn.model_validate({"name": name, **spec}), actor="cli:bench"
                )
            out.append(created.token)
        return out
    finally:
        await conn.close()


@dataclass(frozen=True)
class ChannelSecrets:
    """The channels' shared secrets of one run, random: the system is started with them (``env``) and
    the benchmark's clients sign (WeChat, the hotline) and encrypt (WeChat's safe mode) with them."""

    wechat_token: str
    wechat_aes_key: str  # 43 characters of base64, as WeChat's console makes
    wechat_appid: str
    hotline_secret: str

    @classmethod
    def random(cls) -> ChannelSecrets:
        return cls(
            wechat_token=secrets.token_hex(16),
            wechat_aes_key=base64.b64encode(secrets.token_bytes(32)).decode().rstrip("="),
            wechat_appid="wx" + secrets.token_hex(8),
            hotline_secret=secrets.token_urlsafe(32),
        )

    def env(self) -> dict[str, str]:
        """As the system reads them (services/settings.py)."""
        return {
            "GRIDCASE_WECHAT_TOKEN": self.wechat_token,
            "GRIDCASE_WECHAT_AES_KEY": self.wechat_aes_key,
            "GRIDCASE_WECHAT_APPID": self.wechat_appid,
            "GRIDCASE_HOTLINE_SECRET": self.hotline_secret,
        }


async def wait_quiet(watcher: ProcWatcher, timeout_s: float, threshold: float) -> float:
    """The machine is shared: wait (up to ``timeout_s``) until processes outside the system under
    test use less than ``threshold`` % of one core over 5 s. Returns the last value seen."""
    deadline = time.monotonic() + timeout_s
    other = float("nan")
    while True:
        a = watcher.snapshot()
        await asyncio.sleep(5.0)
        other = float(ProcWatcher.cpu(a, watcher.snapshot())["other_processes_percent_of_one_core"])
        if other < threshold:
            return other
        if time.monotonic() > deadline:
            log(f"  machine still busy with other work ({other:.0f}% of a core); measuring anyway")
            return other
        log(f"  waiting for a quieter machine: other processes use {other:.0f}% of a core")


async def settle(conn: asyncpg.Connection, timeout_s: float = 60.0) -> None:
    """Wait until the outbox is drained and no new outbox rows appeared for 2 s (follow-up events
    such as SLA clocks done), so one phase's tail does not load the next one."""
    deadline = time.monotonic() + timeout_s
    last: tuple[int, int] | None = None
    stable_since = time.monotonic()
    while time.monotonic() < deadline:
        try:
            row = await conn.fetchrow(
                "SELECT (SELECT count(*) FROM outbox WHERE published_at IS NULL) AS pending, "
                "(SELECT coalesce(max(id), 0) FROM outbox) AS top"
            )
        except asyncpg.PostgresError:
            await asyncio.sleep(2.0)
            return
        assert row is not None
        cur = (int(row["pending"]), int(row["top"]))
        if cur != last:
            last, stable_since = cur, time.monotonic()
        elif cur[0] == 0 and time.monotonic() - stable_since >= 2.0:
            return
        await asyncio.sleep(0.25)
    log("  system did not settle within the timeout; continuing")


async def healthy(state: dict[str, Any]) -> dict[str, int | str]:
    """GET /health of every service: its status code, or the error's type."""
    host = urllib.parse.urlsplit(state["http"]).hostname or "127.0.0.1"
    out: dict[str, int | str] = {}
    async with httpx.AsyncClient(timeout=5.0, trust_env=False) as client:
        for name, svc in state["services"].items():
            try:
                out[name] = (await client.get(f"http://{host}:{svc['port']}/health")).status_code
            except httpx.HTTPError as exc:
                out[name] = type(exc).__name__
    return out


# --------------------------------------------------------------------------------------------------
# Client connections


class Connections:
    """``size`` HTTP/1.1 keep-alive connections, each its own one-connection httpx.AsyncClient.

    Equivalent to one AsyncClient with ``max_connections=size``, but much lighter on the CPU the
    benchmark shares with the system under test: httpcore's pool walks all its connections and
    waiting requests on every request, which cost ~3.5 ms CPU per request with 32 connections
    against ~1 ms with one client per connection on the 2-core test machine.
    """

    def __init__(self, size: int, token: str | None) -> None:
        self._all = [make_client(1, token) for _ in range(size)]
        self._free: asyncio.Queue[httpx.AsyncClient] = asyncio.Queue()
        for c in self._all:
            self._free.put_nowait(c)

    @contextlib.asynccontextmanager
    async def client(self) -> AsyncIterator[httpx.AsyncClient]:
        c = await self._free.get()
        try:
            yield c
        finally:
            self._free.put_nowait(c)

    async def aclose(self) -> None:
        await asyncio.gather(*(c.aclose() for c in self._all))


def make_client(connections: int, token: str | None) -> httpx.AsyncClient:
    """Keep-alive HTTP/1.1 to 127.0.0.1, with a bearer token when given (the channels sign instead)."""
    return httpx.AsyncClient(
        headers={"Authorization": f"Bearer {token}"} if token else {},
        http1=True,
        http2=False,
        timeout=httpx.Timeout(30.0),
        # uvicorn closes idle keep-alive connections after 5 s: drop ours before that, or a request
        # sent on a connection the server is just closing fails with ReadError.
        limits=httpx.Limits(
            max_connections=connections, max_keepalive_connections=connections, keepalive_expiry=4.0
        ),
        trust_env=False,  # never go through a proxy: everything stays on 127.0.0.1
    )


def interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def stub_sniffio() -> None:
    """httpcore imports ``sniffio`` on every request to learn the async library; it is not installed
    here (anyio no longer needs it), and each failed import searches sys.path (~60 µs, several times
    per request). In this process only, answer "asyncio" — which is what it is."""
    try:
        import sniffio  # noqa: F401
    except ImportError:
        stub = types.ModuleType("sniffio")
        stub.current_async_library = lambda: "asyncio"  # type: ignore[attr-defined]
        sys.modules["sniffio"] = stub
