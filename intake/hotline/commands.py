"""`gridcase import hotline FILE`: a day's 12345 work orders from CSV or XLSX.

Each row is kept raw first (``raw_inbound``, channel hotline), checked by the same work-order model as
a pushed order, and taken in by the same ``take_in``: importing a file twice, or a file whose orders the
CTI system already pushed, opens no second case.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:  # imported when a command runs: `gridcase --help` stays quick
    import asyncpg

    from intake.hotline.importer import Row, WorkOrderFile

app = typer.Typer(help="Import work orders from files.", no_args_is_help=True)

TAKEN, DUPLICATE, REFUSED, WOULD_TAKE = "已受理", "已受理过", "拒绝", "可受理"


@dataclass(frozen=True, slots=True)
class Result:
    row: int
    call_id: str | None
    outcome: str  # TAKEN | DUPLICATE | REFUSED | WOULD_TAKE
    case_no: str | None = None
    errors: tuple[tuple[str, str], ...] = ()  # (column, reason)

    def line(self) -> str:
        who = f"工单 {self.call_id}" if self.call_id else "工单"
        if self.outcome == REFUSED:
            reasons = "；".join(f"{field}：{reason}" for field, reason in self.errors)
            return f"第{self.row}行 {who}：{REFUSED} — {reasons}"
        if self.outcome == DUPLICATE:
            return f"第{self.row}行 {who}：{DUPLICATE}（工单编号重复），案件编号 {self.case_no or '—'}"
        if self.outcome == WOULD_TAKE:
            return f"第{self.row}行 {who}：{WOULD_TAKE}（试运行，未导入）"
        return f"第{self.row}行 {who}：{TAKEN}，案件编号 {self.case_no}"


class ReportFile:
    """The per-row report as CSV, written as rows are done (UTF-8 with BOM: Excel opens it as such).
    A refused row has one line per problem."""

    HEADER = ("行号", "工单编号", "结果", "案件编号", "字段", "原因")

    def __init__(self, stream: IO[str]) -> None:
        self._writer = csv.writer(stream)
        self._writer.writerow(self.HEADER)

    def write(self, r: Result) -> None:
        for field, reason in r.errors or (("", ""),):
            self._writer.writerow((r.row, r.call_id or "", r.outcome, r.case_no or "", field, reason))


@app.command("hotline")
def import_hotline(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="CSV (UTF-8 or GB18030) or XLSX.")
    ],
    feed: Annotated[str, typer.Option(help="The CTI system the file came from (kept with each case).")] = (
        "default"
    ),
    report: Annotated[
        Path | None, typer.Option("--report", help="Also write the per-row report to this CSV file.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check every row and show what would happen; store nothing.")
    ] = False,
    home: Annotated[Path, typer.Option(help="Where the embedded default keeps its data.")] = Path(
        ".gridcase"
    ),
) -> None:
    """Import a day's 12345 work orders. Columns by Chinese or English header: 工单编号/call_id,
    来电号码/caller_number, 来电时间/called_at, 诉求内容/summary, 地址/address, 类别编码/category_code,
    紧急程度/urgency, 需要回访/callback_wanted. Exits 0 when every row was taken (or had been), 1 when a
    row was refused, 2 when the file can't be read."""
    from intake.hotline.importer import FileRefused, WorkOrderFile
    from intake.hotline.protocol import FEED_NAME
    from services.cli import _cli_actor, _database_url

    if not FEED_NAME.match(feed):
        typer.echo(f"error: --feed “{feed}” 只能由字母、数字、点、下划线和连字符组成", err=True)
        raise typer.Exit(2)
    results: list[Result] = []
    try:
        with contextlib.ExitStack() as stack:
            source = stack.enter_context(WorkOrderFile(file))  # a bad header stops here, before the DB
            if source.ignored:
                typer.echo(f"忽略的列：{'、'.join(source.ignored)}", err=True)
            url = stack.enter_context(_database_url(home))
            stream = (
                stack.enter_context(report.open("w", encoding="utf-8-sig", newline="")) if report else None
            )
            writer = ReportFile(stream) if stream else None
            importer = _Import(source, file=file, feed=feed, who=_cli_actor(), dry_run=dry_run)
            asyncio.run(importer.run(url, writer, results))
    except FileRefused as exc:
        for r in results:
            typer.echo(r.line())
        typer.echo(f"error: {file.name}: {exc}", err=True)
        raise typer.Exit(2) from None

    for r in results:
        typer.echo(r.line())
    counts = {o: sum(r.outcome == o for r in results) for o in (TAKEN, WOULD_TAKE, DUPLICATE, REFUSED)}
    summary = "，".join(f"{o}{n}行" for o, n in counts.items() if n or o in (TAKEN, REFUSED))
    typer.echo(f"共{len(results)}行：{summary}" + ("（试运行，未导入）" if dry_run else ""))
    if report:
        typer.echo(f"报告已写入 {report}")
    if counts[REFUSED]:
        raise typer.Exit(1)


class _Import:
    """Row by row: keep raw, check, take in; a progress bar on stderr while it runs."""

    def __init__(self, source: WorkOrderFile, *, file: Path, feed: str, who: str, dry_run: bool) -> None:
        self.source = source
        self.file = file
        self.feed = feed
        self.who = who
        self.dry_run = dry_run

    async def run(self, url: str, writer: ReportFile | None, results: list[Result]) -> None:
        """Appends to ``results`` as it goes: what was done stays reported if the file breaks off."""
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        from services.db.pool import create_pool

        pool = await create_pool(url, min_size=1, max_size=2)
        try:
            known = {r["code"] for r in await pool.fetch("SELECT code FROM categories")}
            columns = [TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn()]
            if self.source.kind == "xlsx":
                columns.insert(2, MofNCompleteColumn())
            with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
                task = progress.add_task(f"导入 {self.file.name}", total=self.source.total)
                seen: set[str] = set()  # dry run: a call id earlier in the same file
                for row in self.source:
                    result = await self._one(pool, row, known, seen)
                    results.append(result)
                    if writer is not None:
                        writer.write(result)
                    progress.update(
                        task,
                        completed=self.source.done(),
                        description=f"导入 {self.file.name}：第{row.number}行",
                    )
        finally:
            await pool.close()

    async def _one(self, pool: asyncpg.Pool, row: Row, known: set[str], seen: set[str]) -> Result:
        from intake.hotline.protocol import CHANNEL, LABEL, new_case, unknown_category
        from intake.service import Outcome, RawRequest, record_outcome, store_raw, take_in
        from schemas.identity import Actor
        from services.http.errors import ApiError

        errors = [(e.field, e.reason) for e in row.errors]
        order = row.order
        if order is not None and order.category_code and order.category_code not in known:
            header = next((h for h, f in self.source.columns.items() if f == "category_code"), "类别编码")
            errors.append((header, unknown_category(order.category_code)))

        if self.dry_run:
            if errors or order is None:
                return Result(row.number, row.call_id, REFUSED, errors=tuple(errors))
            case_no = await pool.fetchval(
                "SELECT case_no FROM cases WHERE channel = $1 AND external_id = $2", CHANNEL, order.call_id
            )
            if case_no or order.call_id in seen:
                return Result(row.number, order.call_id, DUPLICATE, case_no=case_no)
            seen.add(order.call_id)
            return Result(row.number, order.call_id, WOULD_TAKE)

        # The row as read, kept before anything is decided about it (as a pushed order's body is).
        raw_id = await store_raw(
            pool,
            RawRequest(
                body=json.dumps(row.cells, ensure_ascii=False).encode("utf-8"),
                channel=CHANNEL,
                content_type="application/json",
                submitted_by=self.who,
                headers={"x-import-file": self.file.name[:300], "x-import-row": str(row.number)},
                path="gridcase import hotline",
            ),
        )
        new = None
        if order is not None and not errors:
            try:
                new = new_case(order, feed=self.feed, submitted_by=self.who)
            except ApiError as exc:
                errors.append((exc.fields[0].field if exc.fields else "", exc.message))
        if order is None or new is None:
            await record_outcome(
                pool,
                raw_id,
                Outcome.REJECTED,
                error={
                    "error": "validation_error",
                    "message": "工单内容有误",
                    "fields": [{"field": f, "reason": r} for f, r in errors],
                },
                channel=CHANNEL,
            )
            return Result(row.number, row.call_id, REFUSED, errors=tuple(errors))
        created = await take_in(
            pool, raw_id=raw_id, new=new, actor=Actor(self.who, f"{LABEL}（文件导入）", LABEL)
        )
        return Result(
            row.number, order.call_id, TAKEN if created.created else DUPLICATE, case_no=created.case_no
        )
