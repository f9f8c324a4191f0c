from __future__ import annotations

from datetime import timedelta

import pytest

from services.sla.timelimits import BadTimeLimit, TimeLimit


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", timedelta(minutes=30)),
        ("2h", timedelta(hours=2)),
        ("4wh", timedelta(hours=4)),
        ("1wd", timedelta(days=1)),
        ("2s", timedelta(seconds=2)),
        ("1.5h", timedelta(minutes=90)),
    ],
)
def test_parse_category_limits(text: str, expected: timedelta) -> None:
    assert TimeLimit.parse(text).calendar() == expected


@pytest.mark.parametrize("text", ["", "soon", "0h", "-1h", "3 weeks", "h"])
def test_bad_limits_are_refused(text: str) -> None:
    with pytest.raises(BadTimeLimit):
        TimeLimit.parse(text)


def test_label_is_chinese() -> None:
    assert TimeLimit.parse("1wd").label == "1工作日"
    assert str(TimeLimit.parse("30m")) == "30m"
