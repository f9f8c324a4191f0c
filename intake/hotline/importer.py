"""Reading a day's 12345 work orders from a file: CSV (UTF-8 with or without BOM, else GB18030) or XLSX,
streamed row by row, columns found by their Chinese or English header, each row checked by the same
:class:`~intake.hotline.protocol.WorkOrder` as a pushed order.

No database here: the command (commands.py) stores and takes in what this reads.
"""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from types import TracebackType
from typing import IO, Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from intake.hotline.protocol import WorkOrder, order_errors

SHANGHAI = ZoneInfo("Asia/Shanghai")

# Field → its Chinese header (what a refusal names when the column is missing) and its other names.
FIELDS: dict[str, tuple[str, ...]] = {
    "call_id": ("工单编号",),
    "caller_number": ("来电号码",),
    "called_at": ("来电时间",),
    "summary": ("诉求内容",),
    "address": ("地址",),
    "category_code": ("类别编码",),
    "urgency": ("紧急程度",),
    "callback_wanted": ("需要回访",),
}
REQUIRED = ("call_id", "called_at", "summary")
HEADERS: dict[str, str] = {
    **{field: field for field in FIELDS},
    **{name: field for field, names in FIELDS.items() for name in names},
}

URGENCY = {"一般": "normal", "紧急": "urgent", "特急": "emergency"}
YES = {"是", "true", "yes", "y", "1", "需要"}
NO = {"否", "false", "no", "n", "0", "不需要"}
_LOCAL_FORMATS = ("%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y%m%d%H%M%S")


class FileRefused(Exception):
    """The file as a whole can't be read (format, encoding, header): a Chinese message."""


@dataclass(frozen=True, slots=True)
class RowError:
    row: int
    field: str  # the column's header as the file names it
    reason: str


@dataclass(frozen=True, slots=True)
class Row:
    number: int  # as a spreadsheet shows it: the header is row 1
    cells: dict[str, str]  # header → text as read (kept raw before it is parsed)
    call_id: str | None  # as the file has it, even when the row is refused: the report names it
    order: WorkOrder | None
    errors: tuple[RowError, ...]


def normalise_header(value: object) -> str:
    # "工单编号*" and " Call_ID " are the same column; a BOM may cling to the first header.
    return str(value or "").replace("\ufeff", "").strip().rstrip("*＊").strip().lower()


def detect_encoding(path: Path) -> str:
    """UTF-8 (a BOM is dropped) when every byte decodes as UTF-8, else GB18030 (Excel on Chinese
    Windows). Reads the file once in chunks: a large file is never held in memory."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with path.open("rb") as f:
            while chunk := f.read(1 << 16):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return "gb18030"
    return "utf-8-sig"


def parse_called_at(text: str) -> datetime:
    """ISO 8601, or "2026-11-25 09:30:00" (with - or /) read as Beijing time."""
    value: datetime | None = None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        for fmt in _LOCAL_FORMATS:
            try:
                value = datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
    if value is None or len(text) <= 10:  # a bare date is not when someone called
        raise ValueError("应为“2026-11-25 09:30:00”（北京时间）或ISO 8601时间")
    return value if value.tzinfo else value.replace(tzinfo=SHANGHAI)


def cell_text(value: Any) -> str | None:
    """A cell as text; XLSX numbers and dates as people typed them (13800138000, not 1.38e10)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    text = str(value).strip()
    return text or None


def _prepare(field: str, text: str) -> object:
    """A cell's text as the work order's field, or ValueError with a Chinese reason."""
    if field == "called_at":
        return parse_called_at(text)
    if field == "urgency":
        value = URGENCY.get(text, text.lower())
        if value not in URGENCY.values():
            raise ValueError("应为 一般、紧急 或 特急（或 normal、urgent、emergency）")
        return value
    if field == "callback_wanted":
        if text.lower() in YES:
            return True
        if text.lower() in NO:
            return False
        raise ValueError("应为 是 或 否")
    if field == "category_code" and text.isdigit() and len(text) < 4:
        return text.zfill(4)  # Excel drops the leading zero of 0101 in a number cell
    return text


def row_of(number: int, cells: dict[str, str], columns: dict[str, str]) -> Row:
    """Check one row: ``cells`` maps header → text, ``columns`` maps header → field."""
    header_of = {field: header for header, field in columns.items()}
    call_id = cells.get(header_of.get("call_id", ""))
    data: dict[str, object] = {}
    errors: list[RowError] = []
    for header, text in cells.items():
        field = columns.get(header)
        if field is None:
            continue
        try:
            data[field] = _prepare(field, text)
        except ValueError as exc:
            errors.append(RowError(number, header, str(exc)))
    try:
        order = WorkOrder.model_validate(data)
    except ValidationError as exc:
        said = {e.field for e in errors}  # a cell that could not be read was explained already
        for e in order_errors(exc):
            name = e.field.split(".", 1)[0]
            header = header_of.get(name) or FIELDS.get(name, (name,))[0]
            if header not in said:
                said.add(header)
                errors.append(RowError(number, header, e.reason))
        return Row(number, cells, call_id, None, tuple(errors))
    if errors:
        return Row(number, cells, call_id, None, tuple(errors))
    return Row(number, cells, call_id, order, ())


class WorkOrderFile:
    """A file of work orders, read row by row::

        with WorkOrderFile(path) as source:
            for row in source:
                ...

    ``total`` and ``done()`` are in the same unit (bytes of a CSV, rows of an XLSX) for a progress bar;
    ``total`` is None when the file does not say.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.kind = _kind(path)
        self.encoding: str | None = None
        self.columns: dict[str, str] = {}  # header as in the file → field
        self.ignored: list[str] = []  # headers that are no field (kept in the raw row all the same)
        self.total: int | None = None
        self._binary: IO[bytes] | None = None
        self._text: io.TextIOWrapper | None = None  # held: collecting it would close the file under us
        self._workbook: Any = None
        self._rows: Iterator[tuple[Any, ...]] = iter(())
        self._headers: list[str] = []
        self._read = 0

    def __enter__(self) -> WorkOrderFile:
        try:
            if self.kind == "xlsx":
                self._open_xlsx()
            else:
                self._open_csv()
            self._read_header()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._workbook is not None:
            self._workbook.close()  # read-only workbooks keep the file open until closed
            self._workbook = None
        if self._text is not None:
            self._text.close()
            self._text = None
        if self._binary is not None:
            self._binary.close()
            self._binary = None

    def done(self) -> int:
        if self.kind == "csv" and self._binary is not None:
            return self._binary.tell()
        return self._read

    def _open_csv(self) -> None:
        self.encoding = detect_encoding(self.path)
        self.total = self.path.stat().st_size
        self._binary = self.path.open("rb")
        self._text = io.TextIOWrapper(self._binary, encoding=self.encoding, newline="")
        self._rows = (tuple(r) for r in csv.reader(self._text))

    def _open_xlsx(self) -> None:
        from openpyxl import load_workbook

        try:
            # An open file, not the name: openpyxl would refuse a name not ending in .xlsx.
            self._binary = self.path.open("rb")
            # read_only streams the sheet; data_only gives formulas' cached values, not the formulas.
            self._workbook = load_workbook(self._binary, read_only=True, data_only=True)
        except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
            raise FileRefused(f"无法读取XLSX文件：{exc}") from None
        sheet = self._workbook.worksheets[0] if self._workbook.worksheets else None
        if sheet is None:
            raise FileRefused("XLSX文件中没有工作表")
        self.total = max(sheet.max_row - 1, 0) if isinstance(sheet.max_row, int) else None
        self._rows = sheet.iter_rows(values_only=True)

    def _next(self) -> tuple[Any, ...] | None:
        try:
            return next(self._rows)
        except StopIteration:
            return None
        except UnicodeDecodeError:
            raise FileRefused(
                f"第{self._read + 2}行附近的内容既不是UTF-8也不是GB18030编码，请另存为UTF-8的CSV"
            ) from None
        except csv.Error as exc:
            raise FileRefused(f"第{self._read + 2}行附近CSV格式有误：{exc}") from None

    def _read_header(self) -> None:
        first = self._next()
        if first is None or not any(cell_text(v) for v in first):
            raise FileRefused("文件为空或第1行没有表头")
        self._headers = [cell_text(v) or "" for v in first]
        seen: dict[str, str] = {}
        for header in self._headers:
            if not header:
                continue
            field = HEADERS.get(normalise_header(header))
            if field is None:
                self.ignored.append(header)
                continue
            if field in seen:
                raise FileRefused(f"表头“{seen[field]}”与“{header}”是同一列，请只保留一个")
            seen[field] = header
            self.columns[header] = field
        missing = [FIELDS[f][0] for f in REQUIRED if f not in seen]
        if missing:
            raise FileRefused(
                f"缺少必需的列：{'、'.join(missing)}（表头可用中文或英文：工单编号/call_id、"
                "来电时间/called_at、诉求内容/summary）"
            )

    def __iter__(self) -> Iterator[Row]:
        while (values := self._next()) is not None:
            self._read += 1
            number = self._read + 1  # the header is row 1
            cells: dict[str, str] = {}
            for header, value in zip(self._headers, values, strict=False):
                text = cell_text(value)
                if header and text is not None:
                    cells[header] = text
            if not cells:
                continue  # blank lines, and the empty rows a spreadsheet keeps at its end
            yield row_of(number, cells, self.columns)


def _kind(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in {".xlsx", ".xlsm"}:
        return "xlsx"
    if suffix == ".xls":
        raise FileRefused("不支持旧版 .xls 文件，请在Excel中另存为 .xlsx 或 CSV（UTF-8）")
    try:
        with path.open("rb") as f:
            magic = f.read(4)
    except OSError as exc:
        raise FileRefused(f"无法读取文件：{exc.strerror or exc}") from None
    return "xlsx" if magic == b"PK\x03\x04" else "csv"
