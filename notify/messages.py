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
                f"已派往{p.get('handler_label') or p.get('department_name', '')}，请及时签收处置。"
            )
        case EventType.HANDED_OVER:
            return (
                f"【转交部门】案件{event.case_no}无法在网格/社区就地解决（{p.get('note') or ''}），"
                f"已转交{p.get('department_name', '')}，请及时签收处置。"
            )
        case EventType.BOUNCE_FLAGGED:
            return (
                f"【推诿预警】案件{event.case_no}{str(p.get('reason_label', '')).removeprefix('推诿预警：')}，"
                f"已提级至{p.get('to_level_label', '')}督办，由首接部门{p.get('coordinator_department_name', '')}"
                "负责协调。"
            )
        case EventType.ESCALATED:
            return (
                f"【超时升级】案件{event.case_no}未在时限内处置，已由{p.get('from_level_label', '')}"
                f"升级至{p.get('to_level_label', '')}督办。"
            )
        case EventType.DEADLINE_WARNING:
            return (
                f"【临期预警】案件{event.case_no}的{p.get('phase_label', '')}时限即将到期"
                f"（已用{round(float(p.get('elapsed_ratio', 0)) * 100)}%），请抓紧办理。"
            )
        case EventType.SUPERVISION_ORDERED:
            return (
                f"【督办单】{p.get('issuer_label', '')}对案件{event.case_no}下发督办单：{p.get('reason', '')}，"
                "请按时回复办理情况。"
            )
        case EventType.SUPERVISION_OVERDUE:
            return f"【督办超期】案件{event.case_no}的督办单（{p.get('issuer_label', '')}）逾期未回复。"
        case EventType.OVERDUE:
            return f"【超期督办】案件{event.case_no}已超期，请{p.get('level_label', '')}级负责人督办。"
        case EventType.TRIAGED:
            return f"【待分拣】案件{event.case_no}无法自动派遣：{p.get('reason_label', '')}"
        case EventType.REDISPATCHED:
            return f"【案件改派】案件{event.case_no}已改派至{p.get('department_name', '')}，请及时签收处置。"
        case EventType.RETURNED:
            return f"【部门退回】案件{event.case_no}被退回指挥中心：{p.get('note') or ''}，请重新派遣。"
        case EventType.EXTENSION_REQUESTED:
            return f"【延期申请】案件{event.case_no}申请延期：{p.get('note') or ''}，请审批。"
        case EventType.SUSPENSION_REQUESTED:
            return f"【挂起申请】案件{event.case_no}申请挂起：{p.get('note') or ''}，请审批。"
        case EventType.EXTENSION_APPROVED:
            return f"【延期批准】案件{event.case_no}的延期申请已批准，{p.get('extended_by_label') or ''}。"
        case EventType.EXTENSION_REFUSED | EventType.SUSPENSION_REFUSED:
            return f"【申请驳回】案件{event.case_no}的申请被驳回：{p.get('note') or ''}"
        case EventType.SUSPENSION_APPROVED:
            return f"【挂起批准】案件{event.case_no}已挂起，计时暂停。"
        case EventType.RESOLVED:
            return f"【待核查】案件{event.case_no}已办结，请网格员现场核查。"
        case EventType.REWORKED:
            return f"【核查不通过】案件{event.case_no}需返工：{p.get('note') or ''}"
        case EventType.CLOSED:
            return f"【已结案】案件{event.case_no}经核查已结案。"
        case EventType.ORIGINAL_CLOSED:
            return f"【已结案】您反映的问题已并入案件{p.get('original_case_no', '')}处理，该案件已结案。"
        case _:
            return f"案件{event.case_no}有新的进展。"
