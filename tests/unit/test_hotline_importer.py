"""Reading work orders from files: headers in Chinese or English, UTF-8 (BOM or not), GB18030, XLSX."""

from __future__ import annotations

import csv
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from openpyxl import Workbook

from intake.hotline.importer import FileRefused, Row, WorkOrderFile, detect_encoding, parse_called_at

SHANGHAI = timezone(timedelta(hours=8))
CN_HEADER = ["工单编号", "来电号码", "来电时间", "诉求内容", "地址", "类别编码", "紧急程度", "需要回访"]
EN_HEADER = [
    "call_id",
    "caller_number",
    "called_at",
    "summary",
    "address",
    "category_code",
    "urgency",
    "callback_wanted",
]
GOOD = [
    "HL-001",
    "13800138000",
    "2026-11-25 09:30:00",
    "梅园新村路灯不亮",
    "梅园新村五号楼",
    "0101",
    "紧急",
    "是",
]


def write_csv(path: Path, rows: list[list[str]], encoding: str = "utf-8") -> Path:
    with path.open("w", encoding=encoding, newline="") as f:
        csv.writer(f).writerows(rows)
    return path


def read(path: Path) -> tuple[WorkOrderFile, list[Row]]:
    with WorkOrderFile(path) as source:
        return source, list(source)


def assert_good(row: Row) -> None:
    assert row.errors == () and row.order is not None
    o = row.order
    assert (o.call_id, o.caller_number, o.summary, o.address) == (
        "HL-001",
        "13800138000",
        "梅园新村路灯不亮",
        "梅园新村五号楼",
    )
    assert o.called_at == datetime(2026, 11, 25, 9, 30, tzinfo=SHANGHAI)
    assert (o.category_code, o.urgency, o.callback_wanted) == ("0101", "urgent", True)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_chinese_headers_in_every_encoding(tmp_path: Path, encoding: str) -> None:
    path = write_csv(tmp_path / "orders.csv", [CN_HEADER, GOOD], encoding)
    source, rows = read(path)
    assert source.encoding == ("gb18030" if encoding == "gb18030" else "utf-8-sig")
    assert source.columns["工单编号"] == "call_id" and source.ignored == []
    assert [r.number for r in rows] == [2]
    assert_good(rows[0])
    assert rows[0].cells["诉求内容"] == "梅园新村路灯不亮"  # the row as read, for the raw record


def test_english_headers_any_case_and_extra_columns(tmp_path: Path) -> None:
    header = [h.upper() for h in EN_HEADER] + ["坐席工号"]
    values = ["HL-001", "13800138000", "2026-11-25T09:30:00+08:00", *GOOD[3:6], "urgent", "true", "A07"]
    source, rows = read(write_csv(tmp_path / "orders.csv", [header, values]))
    assert source.ignored == ["坐席工号"]
    assert_good(rows[0])
    assert rows[0].cells["坐席工号"] == "A07"


def test_bom_on_an_english_header(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "orders.csv", [EN_HEADER, GOOD], "utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    assert_good(read(path)[1][0])


def test_detect_encoding(tmp_path: Path) -> None:
    assert detect_encoding(write_csv(tmp_path / "a.csv", [CN_HEADER], "gb18030")) == "gb18030"
    assert detect_encoding(write_csv(tmp_path / "b.csv", [CN_HEADER], "utf-8")) == "utf-8-sig"


def test_bad_rows_name_row_column_and_reason(tmp_path: Path) -> None:
    rows = [
        CN_HEADER,
        GOOD,
        ["", "", "", "", "", "", "", ""],  # blank line: skipped, not refused
        ["HL-002", "not-a-phone", "昨天上午", "x", "", "99999", "很急", "也许"],
        ["HL-003", "", "2026-11-25 09:30:00", "井盖缺失", "", "101", "特急", ""],
    ]
    _, read_rows = read(write_csv(tmp_path / "orders.csv", rows))
    assert [r.number for r in read_rows] == [2, 4, 5]
    bad = read_rows[1]
    assert bad.order is None
    reasons = {e.field: e.reason for e in bad.errors}
    assert all(e.row == 4 for e in bad.errors)
    assert set(reasons) == {"来电号码", "来电时间", "诉求内容", "类别编码", "紧急程度", "需要回访"}
    assert "北京时间" in reasons["来电时间"]
    assert reasons["诉求内容"] == "至少2个字"
    assert reasons["紧急程度"].startswith("应为 一般、紧急 或 特急")
    assert reasons["需要回访"] == "应为 是 或 否"
    last = read_rows[2].order
    assert last is not None
    assert (last.category_code, last.urgency, last.callback_wanted) == ("0101", "emergency", False)


def test_missing_required_column_refuses_the_file(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "orders.csv", [["工单编号", "地址"], ["HL-1", "x"]])
    with pytest.raises(FileRefused, match="来电时间、诉求内容"):
        read(path)


def test_same_column_twice_refuses_the_file(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "orders.csv", [["工单编号", "call_id", "来电时间", "诉求内容"]])
    with pytest.raises(FileRefused, match="同一列"):
        read(path)


def test_empty_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(FileRefused):
        read(path)


def test_xls_is_refused_with_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "orders.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(FileRefused, match="xlsx"):
        read(path)


def test_xlsx_with_typed_cells(tmp_path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append([*CN_HEADER, "备注"])
    # What Excel makes of typed-in values: numbers and a date cell.
    ws.append(
        ["HL-001", 13800138000, datetime(2026, 11, 25, 9, 30), GOOD[3], GOOD[4], 101, "紧急", "是", None]
    )
    ws.append([None] * 9)
    ws.append(["HL-002", None, "2026-11-25T10:00:00+08:00", "垃圾未清运", None, None, None, None, "x"])
    path = tmp_path / "orders.xlsx"
    wb.save(path)
    with WorkOrderFile(path) as source:
        rows = list(source)
        assert source.kind == "xlsx" and source.total == 3 and source.done() == 3
    assert [r.number for r in rows] == [2, 4]
    assert_good(rows[0])
    assert rows[1].order is not None and rows[1].order.urgency is None
    assert source.ignored == ["备注"]


def test_xlsx_detected_by_content_whatever_the_name(tmp_path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(EN_HEADER)
    ws.append(GOOD)
    path = tmp_path / "export.dat"
    wb.save(path)
    source, rows = read(path)
    assert source.kind == "xlsx"
    assert_good(rows[0])


def test_csv_progress_counts_bytes(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "orders.csv", [CN_HEADER] + [GOOD] * 50)
    with WorkOrderFile(path) as source:
        assert source.total == path.stat().st_size
        n = sum(1 for _ in source)
        assert n == 50 and source.done() == source.total


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-25 09:30:00", datetime(2026, 11, 25, 9, 30, tzinfo=SHANGHAI)),
        ("2026-11-25 09:30", datetime(2026, 11, 25, 9, 30, tzinfo=SHANGHAI)),
        ("2026/11/25 09:30:00", datetime(2026, 11, 25, 9, 30, tzinfo=SHANGHAI)),
        ("2026-11-25T01:30:00Z", datetime(2026, 11, 25, 9, 30, tzinfo=SHANGHAI)),
        ("2026-11-25T09:30:00+08:00", datetime(2026, 11, 25, 9, 30, tzinfo=SHANGHAI)),
    ],
)
def test_called_at_formats(text: str, expected: datetime) -> None:
    assert parse_called_at(text) == expected


@pytest.mark.parametrize("text", ["2026-11-25", "25.11.2026 09:30", "昨天"])
def test_called_at_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_called_at(text)
