"""`gridcase routing train` learns from operators' corrections kept in the database (one training run)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from typer.testing import CliRunner

from services.classify.commands import _names, routing_app
from services.classify.model import load_reports
from services.db.pool import connect
from tests.support import System

CORRECTIONS = [
    ("幸福里小区3号楼北侧的路灯坏了一个多星期，晚上一片漆黑", "0101", "0103"),
    ("菜市场门口每天早上都有人摆摊卖菜，人行道走不过去", "0302", "0304"),
    ("楼下那一片一直这样，也没人管", "9999", "0101"),  # 其他: triaged by hand, never trained on
]


async def _insert(url: str) -> tuple[list[int], int, int]:
    """Insert the corrections; the ids, and how many usable / skipped rows the table holds now."""
    conn = await connect(url)
    try:
        ids = [
            int(
                await conn.fetchval(
                    "INSERT INTO classifier_examples (text, category, source, suggested, created_by) "
                    "VALUES ($1, $2, 'operator_correction', $3, 'test:routing-train') RETURNING id",
                    text,
                    category,
                    suggested,
                )
            )
            for text, category, suggested in CORRECTIONS
        ]
        categories = [r["category"] for r in await conn.fetch("SELECT category FROM classifier_examples")]
    finally:
        await conn.close()
    known = set(_names())
    usable = sum(1 for c in categories if c != "9999" and c in known)
    return ids, usable, len(categories) - usable


async def _delete(url: str, ids: list[int]) -> None:
    conn = await connect(url)
    try:
        await conn.execute("DELETE FROM classifier_examples WHERE id = ANY($1::bigint[])", ids)
    finally:
        await conn.close()


def test_train_reads_operators_corrections_from_the_database(system: System, tmp_path: Path) -> None:
    url = system.state()["database_url"]
    ids, usable, skipped = asyncio.run(_insert(url))
    try:
        model = tmp_path / "classifier.joblib"
        result = CliRunner().invoke(
            routing_app,
            ["train", "--model", str(model)],
            env={"GRIDCASE_DATABASE_URL": url},
        )
    finally:
        asyncio.run(_delete(url, ids))
    assert result.exit_code == 0, result.output
    # Other tests may have left corrections too (test_reading): ours are 2 of them, and the 9999 is skipped.
    assert usable >= 2 and skipped >= 1
    assert f"database: {usable} training examples from classifier_examples" in result.output
    assert f"database: skipped {skipped} examples" in result.output
    assert re.search(rf"database operator_correction {usable}\b", result.output)
    assert model.is_file() and model.stat().st_size > 0
    assert model.with_suffix(".json").is_file()
    shipped = sum(1 for r in load_reports() if r.split == "train")
    assert f": {shipped + usable} reports," in result.output
