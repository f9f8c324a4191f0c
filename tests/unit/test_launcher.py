"""`gridcase up` refuses clearly when its ports are taken, before starting anything."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from services.runtime.launcher import Supervisor


def test_busy_port_is_refused_with_a_clear_message(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        code = Supervisor(home=tmp_path / "home", port=port, kafka_port=port + 50).run()

    assert code == 2
    assert f"{port}" in caplog.text and "--port" in caplog.text
    assert not (tmp_path / "home" / "pg").exists()  # nothing was started
