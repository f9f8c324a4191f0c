"""The case state machine: legal paths, refusals with readable reasons."""

from __future__ import annotations

import pytest

from schemas.events import ACTION_EVENTS
from schemas.levels import Level
from schemas.states import (
    STATUS_LABELS,
    TERMINAL,
    TRANSITIONS,
    Action,
    CaseStatus,
    IllegalTransition,
    allowed_actions,
    next_status,
)


def test_main_path_closes_the_loop() -> None:
    status = CaseStatus.REPORTED
    for action in (Action.DISPATCH, Action.SIGN, Action.RESOLVE, Action.CLOSE):
        status = next_status(status, action)
    assert status is CaseStatus.CLOSED


def test_return_and_redispatch_and_rework() -> None:
    s = next_status(CaseStatus.DISPATCHED, Action.RETURN)
    assert s is CaseStatus.RETURNED
    assert next_status(s, Action.REDISPATCH) is CaseStatus.DISPATCHED
    assert next_status(CaseStatus.RESOLVED, Action.REWORK) is CaseStatus.SIGNED
    assert next_status(CaseStatus.CLOSED, Action.REOPEN) is CaseStatus.SIGNED


@pytest.mark.parametrize("terminal", [CaseStatus.REJECTED, CaseStatus.DUPLICATE])
def test_terminal_statuses_allow_nothing(terminal: CaseStatus) -> None:
    assert allowed_actions(terminal) == []
    with pytest.raises(IllegalTransition) as err:
        next_status(terminal, Action.SIGN)
    assert "无（已终结）" in err.value.message


def test_refusal_names_current_status_action_and_alternatives() -> None:
    with pytest.raises(IllegalTransition) as err:
        next_status(CaseStatus.DISPATCHED, Action.CLOSE)
    assert "已派遣" in err.value.message and "结案" in err.value.message and "签收" in err.value.message
    assert Action.SIGN in err.value.allowed


def test_every_status_and_action_is_labelled_and_has_an_event() -> None:
    assert set(STATUS_LABELS) == set(CaseStatus)
    assert set(ACTION_EVENTS) == set(Action)
    reachable = {to for to in TRANSITIONS.values()} | {CaseStatus.REPORTED}
    assert reachable == set(CaseStatus)
    assert set(CaseStatus) >= TERMINAL


def test_levels_climb_to_district_and_stop() -> None:
    assert Level.GRID.above() is Level.COMMUNITY
    assert Level.STREET.above() is Level.DISTRICT
    assert Level.DISTRICT.above() is None
