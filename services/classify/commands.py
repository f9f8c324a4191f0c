"""`gridcase routing …`: evaluate and retrain the report classifier."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

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


@routing_app.command("train")
def train_cmd(
    model: ModelOpt = None,
    extra: Annotated[
        list[Path] | None,
        typer.Option(
            "--extra",
            help="More training reports (JSONL with text and category), e.g. operators' corrections; repeat.",
        ),
    ] = None,
    data: Annotated[Path | None, typer.Option(help="JSONL of reports (default: the shipped set).")] = None,
    c: Annotated[float, typer.Option(help="Regularisation of the linear SVM (higher: fits harder).")] = 1.0,
) -> None:
    """Retrain on the train split (plus --extra files) and write a new versioned model.

    Operators' corrections will come from a database table that does not exist yet; until it does, export
    them as JSONL and pass them with --extra. Rows of extra files are used for training whatever their split.
    """
    from services.classify import model as m
    from services.classify.evaluate import evaluate, print_evaluation

    reports = m.load_reports(data or m.DATA_PATH)
    rows = [r for r in reports if r.split == "train"]
    for path in extra or []:
        more = [r for r in m.load_reports(path) if r.category != "9999"]
        typer.echo(f"{path}: {len(more)} extra training reports")
        rows.extend(m.Report(r.text, r.category, r.style, "train") for r in more)
    unknown = {r.category for r in rows} - set(_names())
    if unknown:
        typer.echo(f"error: unknown category codes {sorted(unknown)}", err=True)
        raise typer.Exit(1)
    started = time.perf_counter()
    artifact = m.train(rows, c=c)
    elapsed = time.perf_counter() - started
    path = m.save(artifact, model or m.model_path())
    typer.echo(
        f"model {artifact.version}: {len(rows)} reports, {len(artifact.categories)} categories, "
        f"default threshold {artifact.threshold:.3f}, trained in {elapsed:.1f} s, "
        f"{path.stat().st_size / 1024:.0f} KB at {path}"
    )
    test = [r for r in reports if r.split == "test"]
    if test:
        print_evaluation(evaluate(test, artifact), _names())
