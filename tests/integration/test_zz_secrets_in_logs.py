"""Runs last (file name): no password, token or webhook secret reached any log line of the run."""

from __future__ import annotations

from tests.support import SECRETS, System


def test_no_secret_in_any_log(system: System) -> None:
    assert len(SECRETS) >= 5, "the run should have used passwords, tokens and the webhook secret"
    logs = [*system.home.joinpath("logs").glob("*.log"), system.home.parent / f"{system.home.name}-up.log"]
    assert logs
    leaks = []
    for path in logs:
        text = path.read_text(encoding="utf-8", errors="replace")
        leaks += [f"{path.name}: …{secret[:6]}…" for secret in SECRETS if secret in text]
    assert not leaks, f"secrets in logs: {leaks}"
