"""What a notification says (Simplified Chinese: people read it)."""

from __future__ import annotations

from typing import Any

from schemas.events import EventEnvelope, EventType


def message_for(event: EventEnvelope) -> str:
    p: dict[str, Any] = event.payload
    match event.type:
        case EventType.DISPATCHED:
            return (
                f"【案件派遣】案件{event.case_no}（{p.get('category_name', '')}，{p.get('grid_name') or ''}）"
                f"已派往{p.get('department_name', '')}，请及时签收处置。"
            )
        case EventType.ESCALATED:
            return (
                f"【超时升级】案件{event.case_no}未在时限内处置，已由{p.get('from_level_label', '')}"
                f"升级至{p.get('to_level_label', '')}督办。"
            )
        case EventType.OVERDUE:
            return f"【超期督办】案件{event.case_no}已超期，请{p.get('level_label', '')}级负责人督办。"
        case EventType.TRIAGED:
            return f"【待分拣】案件{event.case_no}无法自动派遣：{p.get('reason_label', '')}"
        case _:
            return f"案件{event.case_no}有新的进展。"
