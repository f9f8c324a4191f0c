"""Why a case went to the command centre's triage queue (待分拣) instead of a department: the reason
dispatch records, and what the operator reads."""

from __future__ import annotations

from enum import StrEnum


class TriageReason(StrEnum):
    UNKNOWN_GRID = "unknown_grid"
    OUTSIDE_GRIDS = "outside_grids"
    NO_LOCATION = "no_location"
    NO_CATEGORY = "no_category"
    UNKNOWN_CATEGORY = "unknown_category"
    NEEDS_OPERATOR = "needs_operator"
    UNKNOWN_DEPARTMENT = "unknown_department"
    LOW_CONFIDENCE = "low_confidence"
    LIKELY_DUPLICATE = "likely_duplicate"


TRIAGE_LABELS: dict[TriageReason, str] = {
    TriageReason.UNKNOWN_GRID: "网格编码不存在，需人工核实位置",
    TriageReason.OUTSIDE_GRIDS: "上报位置不在本区任何网格内，需人工核实",
    TriageReason.NO_LOCATION: "未提供网格编码或位置，需人工定位",
    TriageReason.NO_CATEGORY: "未指定案件类别，需人工分类",
    TriageReason.UNKNOWN_CATEGORY: "案件类别编码不存在，需人工分类",
    TriageReason.NEEDS_OPERATOR: "“其他”类案件由指挥中心人工分拣",
    TriageReason.UNKNOWN_DEPARTMENT: "责任矩阵中的责任部门不存在，需人工派遣",
    TriageReason.LOW_CONFIDENCE: "未指定类别，系统识别把握不足，请参考推荐类别人工分类",
    TriageReason.LIKELY_DUPLICATE: "疑似重复件：附近近期已有同类案件在办，请确认并案或分开办理",
}

# Reasons a resident's later message can lift: with a place or a clearer text dispatch tries again.
REROUTABLE: frozenset[TriageReason] = frozenset(
    {
        TriageReason.NO_LOCATION,
        TriageReason.OUTSIDE_GRIDS,
        TriageReason.UNKNOWN_GRID,
        TriageReason.NO_CATEGORY,
        TriageReason.LOW_CONFIDENCE,
    }
)
