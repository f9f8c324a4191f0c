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


TRIAGE_LABELS: dict[TriageReason, str] = {
    TriageReason.UNKNOWN_GRID: "网格编码不存在，需人工核实位置",
    TriageReason.OUTSIDE_GRIDS: "上报位置不在本区任何网格内，需人工核实",
    TriageReason.NO_LOCATION: "未提供网格编码或位置，需人工定位",
    TriageReason.NO_CATEGORY: "未指定案件类别，需人工分类",
    TriageReason.UNKNOWN_CATEGORY: "案件类别编码不存在，需人工分类",
    TriageReason.NEEDS_OPERATOR: "“其他”类案件由指挥中心人工分拣",
    TriageReason.UNKNOWN_DEPARTMENT: "责任矩阵中的责任部门不存在，需人工派遣",
    TriageReason.LOW_CONFIDENCE: "未指定类别，系统识别把握不足，请参考推荐类别人工分类",
}
