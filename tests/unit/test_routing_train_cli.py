"""`gridcase routing train` says clearly when it cannot read operators' corrections (no training here)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from services.classify.commands import routing_app


def test_unreachable_database_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        routing_app,
        ["train", "--model", str(tmp_path / "m.joblib")],
        env={"GRIDCASE_DATABASE_URL": "postgresql://nobody:secret@127.0.0.1:1/gridcase"},
    )
    assert result.exit_code == 1
    assert "cannot read operators' corrections from the database" in result.output
    assert "--no-db" in result.output
    assert isinstance(result.exception, SystemExit)  # a message and exit 1, not a traceback
    assert not (tmp_path / "m.joblib").exists()


def test_no_database_configured_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        routing_app,
        ["train", "--model", str(tmp_path / "m.joblib"), "--home", str(tmp_path / "home")],
        env={"GRIDCASE_DATABASE_URL": None},
    )
    assert result.exit_code == 1
    assert "no database configured" in result.output
    assert not (tmp_path / "home").exists()  # no embedded database was created as a side effect
