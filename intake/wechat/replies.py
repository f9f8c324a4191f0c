"""What the official account says back to residents: short Chinese texts, in one place."""

from __future__ import annotations

from dataclasses import dataclass

# "success" (or an empty body) tells WeChat there is no passive reply.
NO_REPLY = "success"

HOW_TO = "直接发送文字或语音描述问题，再发送位置（点“+”→“位置”）和现场照片"


def minutes(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def welcome(session_minutes: float) -> str:
    return (
        "感谢关注！您可以在这里反映身边的城市管理问题（道路破损、垃圾堆放、占道经营、噪声扰民等）：\n"
        f"{HOW_TO}，{minutes(session_minutes)}分钟内连续发送的内容会并入同一案件。\n"
        "发送“查询”可查看您反映问题的办理进度。"
    )


def accepted(case_no: str, session_minutes: float) -> str:
    return (
        f"已受理，案件编号：{case_no}。如需补充位置或照片，请在{minutes(session_minutes)}分钟内继续发送，"
        "我们会并入同一案件。发送“查询”可查看办理进度。"
    )


# What a later message added, as the reply names it.
ADDED_LOCATION = "位置"
ADDED_PHOTO = "照片"
ADDED_TEXT = "说明"
ADDED_VOICE = "语音"


def supplemented(case_no: str, what: str) -> str:
    return f"已将您补充的{what}并入案件{case_no}。"


TOO_FREQUENT = "操作过于频繁，请稍后再发送。"
EMPTY_TEXT = "请用文字描述您要反映的问题，例如：某某路口井盖缺失。"
UNSUPPORTED = f"暂不支持此类消息。反映问题请{HOW_TO}；发送“查询”可查看办理进度。"
NOT_FOUND = "未找到您的该案件，请核对案件编号。发送“查询”可查看您最近的案件。"
NO_CASES = f"您还没有通过本公众号反映的问题。{HOW_TO}即可。"


@dataclass(frozen=True, slots=True)
class CaseLine:
    """One of the resident's own cases, as the status query shows it."""

    case_no: str
    status_label: str
    category_name: str | None
    merged_into: str | None  # the original case's number when this one was merged (并案)


def case_line(case: CaseLine) -> str:
    if case.merged_into:
        return f"{case.case_no}：已并入案件{case.merged_into}办理"
    category = f"（{case.category_name}）" if case.category_name else ""
    return f"{case.case_no}：{case.status_label}{category}"


def case_list(cases: list[CaseLine]) -> str:
    if not cases:
        return NO_CASES
    lines = [f"{i}. {case_line(c)}" for i, c in enumerate(cases, start=1)]
    return "您最近反映的问题：\n" + "\n".join(lines) + "\n发送“查询 案件编号”可查看单个案件。"


def one_case(case: CaseLine) -> str:
    return "案件" + case_line(case)
