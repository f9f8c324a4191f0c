"""Static checks of docker-compose.yml, deploy/Dockerfile and .dockerignore.

No Docker engine and no network: the files are parsed and the properties the
deployment relies on are asserted (one image for all services, the right
`gridcase run NAME --port P` per service, migrations before services, KRaft Kafka,
no `embedded` extra in the image).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"

# Long-running processes and the port each one serves (/health, /metrics, API).
SERVICE_PORTS = {
    "console": 8000,
    "intake": 8001,
    "dispatch": 8002,
    "escalation": 8003,
    "notify": 8004,
    "relay": 8005,
}
GRIDCASE_IMAGE_SERVICES = [*SERVICE_PORTS, "migrate"]
PUBLISHED = {"console": 8000, "intake": 8001}

_DEFAULT_RE = re.compile(r"^\$\{(?P<var>[A-Z0-9_]+)(?::?-(?P<default>[^}]*))?\}$")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    # SafeLoader resolves YAML merge keys (`<<: *gridcase`), as Compose does.
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return shlex.split(value)
    return [str(v) for v in value]


def _env(service: dict[str, Any]) -> dict[str, str | None]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        out: dict[str, str | None] = {}
        for item in env:
            key, sep, val = str(item).partition("=")
            out[key] = val if sep else None
        return out
    return {k: (None if v is None else str(v)) for k, v in env.items()}


def _default(value: str | None) -> str | None:
    """`${VAR:-default}` -> default; a literal stays as it is."""
    if value is None:
        return None
    m = _DEFAULT_RE.match(value)
    if m:
        return m.group("default")
    return value


def _depends_on(service: dict[str, Any]) -> dict[str, str]:
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):  # short form means service_started
        return {d: "service_started" for d in deps}
    return {name: (spec or {}).get("condition", "service_started") for name, spec in deps.items()}


def _published_ports(service: dict[str, Any]) -> set[int]:
    out: set[int] = set()
    for p in service.get("ports") or []:
        if isinstance(p, dict):
            if p.get("published") is not None:
                out.add(int(p["published"]))
        else:
            parts = str(p).split("/")[0].split(":")
            if len(parts) >= 2:
                out.add(int(parts[-2]))
    return out


# --------------------------------------------------------------------------- compose


def test_compose_has_expected_services(services: dict[str, Any]) -> None:
    expected = {"postgres", "kafka", *GRIDCASE_IMAGE_SERVICES}
    assert expected <= set(services), f"missing: {expected - set(services)}"
    # The webhook sink is only a commented example; ZooKeeper must not exist at all.
    assert "webhook-sink" not in services
    assert not any("zookeeper" in name for name in services)


def test_no_obsolete_version_key(compose: dict[str, Any]) -> None:
    # Compose Specification: `version` is obsolete and only produces a warning.
    assert "version" not in compose


@pytest.mark.parametrize("name", GRIDCASE_IMAGE_SERVICES)
def test_every_gridcase_service_uses_the_same_build(services: dict[str, Any], name: str) -> None:
    svc = services[name]
    build = svc.get("build")
    assert isinstance(build, dict), f"{name}: build must be a mapping"
    assert build.get("context") in (".", "./"), f"{name}: build context must be the repo root"
    assert build.get("dockerfile") == "deploy/Dockerfile"
    assert (ROOT / build["context"] / build["dockerfile"]).is_file()
    reference = services["intake"]
    assert svc.get("image") == reference.get("image"), f"{name}: must share the intake image tag"
    assert svc.get("build") == reference.get("build")


@pytest.mark.parametrize(("name", "port"), sorted(SERVICE_PORTS.items()))
def test_long_running_service_command(services: dict[str, Any], name: str, port: int) -> None:
    svc = services[name]
    assert "entrypoint" not in svc, f"{name}: must use the image ENTRYPOINT (gridcase)"
    cmd = _as_list(svc.get("command"))
    assert cmd[:2] == ["run", name], f"{name}: command {cmd}"
    assert "--port" in cmd and cmd[cmd.index("--port") + 1] == str(port)
    assert "--host" in cmd and cmd[cmd.index("--host") + 1] == "0.0.0.0"
    assert svc.get("restart") == "unless-stopped"


@pytest.mark.parametrize(("name", "port"), sorted(SERVICE_PORTS.items()))
def test_healthcheck_probes_own_port(services: dict[str, Any], name: str, port: int) -> None:
    hc = services[name].get("healthcheck")
    assert hc and not hc.get("disable"), f"{name}: needs a healthcheck"
    test = " ".join(_as_list(hc["test"])) if not isinstance(hc["test"], str) else hc["test"]
    assert f":{port}/health" in test, f"{name}: healthcheck must probe port {port}: {test}"
    # The runtime image has Python but no curl/wget.
    assert "curl" not in test and "wget" not in test
    assert "urllib" in test


@pytest.mark.parametrize("name", list(SERVICE_PORTS))
def test_services_depend_on_migrate_and_infrastructure(services: dict[str, Any], name: str) -> None:
    deps = _depends_on(services[name])
    assert deps.get("migrate") == "service_completed_successfully", name
    assert deps.get("postgres") == "service_healthy", name
    assert deps.get("kafka") == "service_healthy", name


def test_migrate_runs_migrations_then_seed(services: dict[str, Any]) -> None:
    mig = services["migrate"]
    entrypoint = _as_list(mig.get("entrypoint"))
    cmd = _as_list(mig.get("command"))
    # ENTRYPOINT is `gridcase`, so chaining two commands needs a shell entrypoint.
    assert entrypoint == ["sh", "-c"]
    assert len(cmd) == 1, "sh -c takes the whole script as one argument"
    script = cmd[0]
    assert re.search(r"gridcase migrate\s*&&\s*gridcase seed\s*$", script), script  # never demo accounts
    assert _depends_on(mig).get("postgres") == "service_healthy"
    assert str(mig.get("restart", "no")) == "no"
    assert "healthcheck" not in mig or mig["healthcheck"].get("disable")


@pytest.mark.parametrize("name", GRIDCASE_IMAGE_SERVICES)
def test_environment(services: dict[str, Any], name: str) -> None:
    env = _env(services[name])
    for key in ("GRIDCASE_DATABASE_URL", "GRIDCASE_KAFKA_BOOTSTRAP"):
        assert env.get(key), f"{name}: {key} missing"
    assert _default(env["GRIDCASE_KAFKA_BOOTSTRAP"]) == "kafka:9092"
    if name != "migrate":
        assert _default(env.get("GRIDCASE_KAFKA_IDEMPOTENT")) == "true"
        # An empty string would not read as "unset" in the settings loader.
        assert env.get("GRIDCASE_NOTIFY_WEBHOOK_URL", None) is None
    # Passed through from .env only: a default would be a known admin password.
    assert "GRIDCASE_ADMIN_PASSWORD" in env and env["GRIDCASE_ADMIN_PASSWORD"] is None


def test_database_url_matches_postgres_service(services: dict[str, Any]) -> None:
    pg_env = _env(services["postgres"])
    url = _default(_env(services["intake"])["GRIDCASE_DATABASE_URL"])
    expected = (
        f"postgresql://{pg_env['POSTGRES_USER']}:{pg_env['POSTGRES_PASSWORD']}"
        f"@postgres:5432/{pg_env['POSTGRES_DB']}"
    )
    assert url == expected


def test_console_forwards_to_intake(services: dict[str, Any]) -> None:
    env = _env(services["console"])
    assert _default(env.get("GRIDCASE_INTAKE_URL")) == f"http://intake:{SERVICE_PORTS['intake']}"
    # The console environment is the shared one plus GRIDCASE_INTAKE_URL.
    shared = _env(services["dispatch"])
    assert {k: v for k, v in env.items() if k != "GRIDCASE_INTAKE_URL"} == shared


def test_only_console_and_intake_publish_ports(services: dict[str, Any]) -> None:
    for name in GRIDCASE_IMAGE_SERVICES:
        published = _published_ports(services[name])
        if name in PUBLISHED:
            assert published == {PUBLISHED[name]}, name
        else:
            # Published host ports would break `--scale NAME=N`.
            assert not published, f"{name} must not publish ports"


def test_postgres(services: dict[str, Any], compose: dict[str, Any]) -> None:
    pg = services["postgres"]
    assert str(pg["image"]).startswith("postgres:16")
    assert "pg_isready" in " ".join(_as_list(pg["healthcheck"]["test"]))
    vols = [str(v) for v in pg.get("volumes", [])]
    assert any(v.endswith(":/var/lib/postgresql/data") for v in vols)
    named = vols[0].split(":")[0]
    assert named in (compose.get("volumes") or {})


def test_kafka_is_single_node_kraft(services: dict[str, Any]) -> None:
    kafka = services["kafka"]
    assert kafka["image"] == "apache/kafka:3.9.0"
    env = {k: str(v) for k, v in _env(kafka).items()}
    assert not any("ZOOKEEPER" in k for k in env), "KRaft: no ZooKeeper settings"
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    node_id = env["KAFKA_NODE_ID"]
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{node_id}@kafka:9093"
    assert set(env["KAFKA_LISTENERS"].split(",")) == {"PLAINTEXT://:9092", "CONTROLLER://:9093"}
    assert env["KAFKA_ADVERTISED_LISTENERS"] == "PLAINTEXT://kafka:9092"
    assert env["KAFKA_CONTROLLER_LISTENER_NAMES"] == "CONTROLLER"
    protocol_map = dict(item.split(":") for item in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    assert protocol_map.get("CONTROLLER") and protocol_map.get("PLAINTEXT")
    assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "1"
    assert env["KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"] == "1"
    assert env["KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"] == "1"
    hc = " ".join(_as_list(kafka["healthcheck"]["test"]))
    assert "/opt/kafka/bin/kafka-broker-api-versions.sh" in hc


# --------------------------------------------------------------------------- Dockerfile


def _dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with comments dropped and continuations joined."""
    logical: list[str] = []
    buf = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not buf and (not line or line.startswith("#")):
            continue
        if buf and line.startswith("#"):
            continue
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        logical.append(buf + line)
        buf = ""
    if buf:
        logical.append(buf)
    out = []
    for item in logical:
        instr, _, args = item.partition(" ")
        out.append((instr.upper(), args.strip()))
    return out


def _runtime_stage() -> list[tuple[str, str]]:
    instrs = _dockerfile_instructions()
    last_from = max(i for i, (instr, _) in enumerate(instrs) if instr == "FROM")
    return instrs[last_from:]


def test_dockerfile_exists() -> None:
    assert DOCKERFILE.is_file()


def test_dockerfile_does_not_install_embedded_extra() -> None:
    for instr, args in _dockerfile_instructions():
        if instr == "RUN":
            assert "embedded" not in args, f"RUN must not install the embedded extra: {args}"
            assert not re.search(r"\.whl\[|\.\[|gridcase\[", args), f"no extras in installs: {args}"
            assert "pgserver" not in args and "calfkit" not in args


def test_dockerfile_stages_and_base_images() -> None:
    instrs = _dockerfile_instructions()
    args = {a.split("=", 1)[0]: a.split("=", 1)[1] for i, a in instrs if i == "ARG" and "=" in a}
    froms = [a.split()[0] for i, a in instrs if i == "FROM"]
    assert len(froms) >= 2, "multi-stage build expected"
    resolved = [args.get(f.strip("${}"), f) if f.startswith("$") else f for f in froms]
    assert all(img == "python:3.11-slim" for img in resolved), resolved


def test_dockerfile_runtime_stage() -> None:
    runtime = _runtime_stage()
    text = "\n".join(f"{i} {a}" for i, a in runtime)
    # Non-root user `gridcase`, switched to before the entrypoint.
    assert re.search(r"useradd .*\bgridcase\b", text)
    users = [a for i, a in runtime if i == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    # Installs the built wheel only, without keeping a pip cache; no compilers.
    pip_runs = [a for i, a in runtime if i == "RUN" and "pip install" in a]
    assert pip_runs and all("--no-cache-dir" in a for a in pip_runs)
    assert all(".whl" in a for a in pip_runs)
    for tool in ("build-essential", "gcc", "g++", "apt-get install"):
        assert tool not in text, f"runtime stage must not install {tool}"
    # The source tree stays in the builder stage.
    assert not any(i in ("COPY", "ADD") and not a.startswith("--from") for i, a in runtime)
    assert ("ENTRYPOINT", '["gridcase"]') in runtime
    assert ("CMD", '["--help"]') in runtime
    assert ("EXPOSE", "8000-8005") in runtime
    assert not any(i == "HEALTHCHECK" for i, _ in runtime)


def test_dockerignore() -> None:
    entries = {
        line.strip().rstrip("/")
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    for required in (".venv", ".gridcase", ".git", ".pytest_cache", ".mypy_cache", ".ruff_cache"):
        assert required in entries, required
    assert any("__pycache__" in e for e in entries)
    assert any(e.startswith("bench/results") for e in entries)
    # The wheel build needs these.
    for needed in ("README.md", "pyproject.toml", "*.md", "*.toml"):
        assert needed not in entries
