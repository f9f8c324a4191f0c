"""`gridcase routing …`: evaluate and retrain the report classifier."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from services.classify.model import Report

routing_app = typer.Typer(help="Category classification of free-text reports.", no_args_is_help=True)

ModelOpt = Annotated[
    Path | None,
    typer.Option("--model", help="Model file (default: GRIDCASE_CLASSIFY_MODEL or the one shipped)."),
]


def _names() -> dict[str, str]:
    from services.reference.seed import load_yaml

    return {str(c["code"]): str(c["name"]) for c in load_yaml("categories.yaml")["categories"]}


@routing_app.command("evaluate")
def evaluate_cmd(
    model: ModelOpt = None,
    threshold: Annotated[
        float | None,
        typer.Option(help="Threshold to evaluate (default: GRIDCASE_CLASSIFY_THRESHOLD or the model's)."),
    ] = None,
    data: Annotated[Path | None, typer.Option(help="JSONL of reports (default: the shipped set).")] = None,
) -> None:
    """Score the model on the held-out test split; exit 1 when the acceptance is not met."""
    from services.classify import model as m
    from services.classify.evaluate import evaluate, print_evaluation

    artifact = m.load(model)
    rows = [r for r in m.load_reports(data or m.DATA_PATH) if r.split == "test"]
    ev = evaluate(rows, artifact, threshold)
    print_evaluation(ev, _names())
    if not ev.accepted:
        raise typer.Exit(1)


HomeOpt = Annotated[
    Path,
    typer.Option(help="Home of the embedded default database (when GRIDCASE_DATABASE_URL is not set)."),
]

# How long to wait for the database before telling the operator it cannot be reached.
DB_CONNECT_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class DbExamples:
    """Rows of ``classifier_examples`` fit for training, and how many were left out."""

    reports: list[Report]
    by_source: dict[str, int]
    skipped_other: int  # category 9999 (其他): triaged by hand, never predicted
    skipped_unknown: dict[str, int]  # category code -> rows; codes the catalogue does not know


class DatabaseUnavailable(Exception):
    """The corrections could not be read; the message says why, for the operator."""


def _fetch_examples(home: Path) -> list[tuple[str, str, str]]:
    """(text, category, source) of every row of ``classifier_examples``, oldest first."""
    import asyncio
    import os

    import asyncpg

    from services.cli import _database_url
    from services.db.pool import connect

    if not os.environ.get("GRIDCASE_DATABASE_URL") and not (home / "pg").is_dir():
        raise DatabaseUnavailable(
            f"no database configured: GRIDCASE_DATABASE_URL is not set and there is no embedded "
            f"database under {home / 'pg'} (pass --home of the system, or --no-db to train without "
            "operators' corrections)"
        )

    async def go(url: str) -> list[tuple[str, str, str]]:
        conn = await asyncio.wait_for(connect(url), DB_CONNECT_TIMEOUT_S)
        try:
            rows = await conn.fetch("SELECT text, category, source FROM classifier_examples ORDER BY id")
        finally:
            await conn.close()
        return [(str(r["text"]), str(r["category"]), str(r["source"])) for r in rows]

    try:
        with _database_url(home) as url:
            return asyncio.run(go(url))
    except asyncpg.UndefinedTableError:
        raise DatabaseUnavailable(
            "the database has no table classifier_examples: run `gridcase migrate` first "
            "(or pass --no-db to train without operators' corrections)"
        ) from None
    except TimeoutError:
        raise DatabaseUnavailable(
            f"the database did not answer within {DB_CONNECT_TIMEOUT_S:.0f} s "
            "(pass --no-db to train without operators' corrections)"
        ) from None
    except Exception as exc:  # connection refused, bad credentials, embedded server failing to start
        raise DatabaseUnavailable(
            f"cannot read operators' corrections from the database: {type(exc).__name__}: {exc} "
            "(pass --no-db to train without them)"
        ) from None


def _db_examples(home: Path, known: set[str]) -> DbExamples:
    from services.classify import model as m

    reports: list[Report] = []
    by_source: Counter[str] = Counter()
    other = 0
    unknown: Counter[str] = Counter()
    for text, category, source in _fetch_examples(home):
        if category == "9999":
            other += 1
        elif category not in known:
            unknown[category] += 1
        else:
            reports.append(m.Report(text, category, "operator", "train"))
            by_source[source] += 1
    return DbExamples(reports, dict(by_source), other, dict(unknown))


@routing_app.command("train")
def train_cmd(
    model: ModelOpt = None,
    extra: Annotated[
        list[Path] | None,
        typer.Option(
            "--extra",
            help="More training reports (JSONL with text and category); repeat.",
        ),
    ] = None,
    data: Annotated[Path | None, typer.Option(help="JSONL of reports (default: the shipped set).")] = None,
    c: Annotated[float, typer.Option(help="Regularisation of the linear SVM (higher: fits harder).")] = 1.0,
    no_db: Annotated[
        bool,
        typer.Option("--no-db", help="Do not read operators' corrections from the database (train offline)."),
    ] = False,
    home: HomeOpt = Path(".gridcase"),
) -> None:
    """Retrain on the train split, operators' corrections and --extra files; write a new versioned model.

    Operators' corrections are the rows of the database table classifier_examples (GRIDCASE_DATABASE_URL,
    or the embedded database under --home); rows of category 9999 or of a category the catalogue does
    not know are skipped. Rows of extra files are used for training whatever their split.
    """
    from services.classify import model as m
    from services.classify.evaluate import evaluate, print_evaluation

    names = _names()
    reports = m.load_reports(data or m.DATA_PATH)
    rows = [r for r in reports if r.split == "train"]
    sources: dict[str, int] = {"shipped (train split)": len(rows)}
    for path in extra or []:
        more = [r for r in m.load_reports(path) if r.category != "9999"]
        typer.echo(f"{path}: {len(more)} extra training reports")
        rows.extend(m.Report(r.text, r.category, r.style, "train") for r in more)
        sources[f"extra {path.name}"] = sources.get(f"extra {path.name}", 0) + len(more)
    unknown = {r.category for r in rows} - set(names)
    if unknown:
        typer.echo(f"error: unknown category codes {sorted(unknown)}", err=True)
        raise typer.Exit(1)
    if no_db:
        typer.echo("database: not read (--no-db)")
    else:
        try:
            found = _db_examples(home, set(names))
        except DatabaseUnavailable as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
        detail = ", ".join(f"{n} {s}" for s, n in sorted(found.by_source.items()))
        typer.echo(
            f"database: {len(found.reports)} training examples from classifier_examples"
            + (f" ({detail})" if detail else "")
        )
        skipped = found.skipped_other + sum(found.skipped_unknown.values())
        parts = [f"{found.skipped_other} of category 9999"] if found.skipped_other else []
        parts += [f"{n} of unknown category {code}" for code, n in sorted(found.skipped_unknown.items())]
        typer.echo(f"database: skipped {skipped} examples" + (f" ({', '.join(parts)})" if parts else ""))
        rows.extend(found.reports)
        for source, n in sorted(found.by_source.items()):
            sources[f"database {source}"] = n
    started = time.perf_counter()
    artifact = m.train(rows, c=c)
    elapsed = time.perf_counter() - started
    artifact.extra["sources"] = sources
    path = m.save(artifact, model or m.model_path())
    typer.echo(
        f"model {artifact.version}: {len(rows)} reports, {len(artifact.categories)} categories, "
        f"default threshold {artifact.threshold:.3f}, trained in {elapsed:.1f} s, "
        f"{path.stat().st_size / 1024:.0f} KB at {path}"
    )
    typer.echo("training examples by source: " + ", ".join(f"{s} {n}" for s, n in sources.items()))
    test = [r for r in reports if r.split == "test"]
    if test:
        print_evaluation(evaluate(test, artifact), names)
