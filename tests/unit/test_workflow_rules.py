"""The workflow's rules beside the state machine (pure)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from schemas.states import TRANSITIONS, Action
from schemas.workflow import (
    ANSWERS,
    NOTE_REQUIRED,
    OPENS,
    CaseState,
    Command,
    MissingValue,
    RequestKind,
    WorkflowRefused,
    available,
    check_rules,
    check_values,
)

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def test_every_request_and_answer_is_a_legal_self_loop_or_a_move() -> None:
    for action in (*OPENS, *ANSWERS, Action.REPORT_ASSIST):
        assert any(a is action for (_s, a) in TRANSITIONS), action


@pytest.mark.parametrize("action", sorted(NOTE_REQUIRED))
def test_actions_that_need_a_reason_say_so(action: Action) -> None:
    with pytest.raises(MissingValue) as err:
        check_values(Command(action=action, note="  ", department_code="HB", due_at=NOW))
    assert err.value.field == "note" and err.value.reason


def test_values_each_action_needs() -> None:
    with pytest.raises(MissingValue, match="部门"):
        check_values(Command(action=Action.REDISPATCH, note="原因"))
    with pytest.raises(MissingValue, match="期限"):
        check_values(Command(action=Action.REQUEST_EXTENSION, note="原因"))
    with pytest.raises(MissingValue, match="原案件"):
        check_values(Command(action=Action.MARK_DUPLICATE))
    with pytest.raises(MissingValue, match="不能附照片"):
        check_values(Command(action=Action.SIGN, photo_ids=(uuid.uuid4(),)))
    with pytest.raises(MissingValue, match="9"):
        check_values(Command(action=Action.CLOSE, photo_ids=tuple(uuid.uuid4() for _ in range(10))))
    check_values(Command(action=Action.DISPATCH, category_code="0101"))


def test_a_request_is_answered_once() -> None:
    waiting = CaseState(pending=frozenset({RequestKind.EXTENSION}))
    with pytest.raises(WorkflowRefused, match="已有待审批的延期申请"):
        check_rules(
            Command(Action.REQUEST_EXTENSION, note="x", due_at=NOW + timedelta(days=3)),
            waiting,
            department_code="HB",
            now=NOW,
        )
    check_rules(Command(Action.APPROVE_EXTENSION), waiting, department_code=None, now=NOW)
    with pytest.raises(WorkflowRefused, match="没有待审批的延期申请"):
        check_rules(Command(Action.APPROVE_EXTENSION), CaseState(), department_code=None, now=NOW)
    assert available(Action.APPROVE_EXTENSION, waiting, department_code=None)
    assert not available(Action.REQUEST_EXTENSION, waiting, department_code="HB")


def test_extension_must_move_the_deadline_later() -> None:
    state = CaseState(due_at=NOW + timedelta(days=1))
    with pytest.raises(MissingValue, match="晚于"):
        check_rules(
            Command(Action.REQUEST_EXTENSION, note="x", due_at=NOW + timedelta(hours=2)),
            state,
            department_code="HB",
            now=NOW,
        )


def test_lead_waits_for_assisting_parts_or_says_why() -> None:
    state = CaseState(assists_pending=("SW",), assists_all=("SW",), names={"SW": "区水务局"})
    with pytest.raises(WorkflowRefused, match="区水务局"):
        check_rules(Command(Action.RESOLVE, note="好了"), state, department_code="CG-SZ", now=NOW)
    check_rules(
        Command(Action.RESOLVE, note="好了", missing_assists_reason="水务局确认无需处理"),
        state,
        department_code="CG-SZ",
        now=NOW,
    )
    with pytest.raises(WorkflowRefused, match="不是该案件的协办部门"):
        check_rules(Command(Action.REPORT_ASSIST, note="x"), state, department_code="CG-SZ", now=NOW)
    assert available(Action.REPORT_ASSIST, state, department_code="SW")
    done = CaseState(assists_pending=(), assists_all=("SW",))
    with pytest.raises(WorkflowRefused, match="已提交"):
        check_rules(Command(Action.REPORT_ASSIST, note="x"), done, department_code="SW", now=NOW)
