"""Urgency from a report's text: a few phrases that mean someone must go now.

``detect_urgency(text)`` returns the highest level found, ``"emergency"`` or ``"urgent"``, with the
reason and the words that matched, or None. Rules are phrases, not single characters: 火车站, 火锅, 油烟,
烟头 and 烟囱 are not fire. A phrase preceded by a hedge (担心, 万一, 差点, 防, 以免 …) or a negation
(没有, 无, 未) is a worry or a denial, not an event, and does not count ("担心起火", "无人受伤").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Level = Literal["emergency", "urgent"]


@dataclass(frozen=True)
class Urgency:
    level: Level
    reason: str  # what it is, in the operators' words (起火, 燃气泄漏 …)
    matched: str  # the words of the report that triggered it


@dataclass(frozen=True)
class _Rule:
    level: Level
    reason: str
    pattern: re.Pattern[str]


def _rule(level: Level, reason: str, *phrases: str) -> _Rule:
    return _Rule(level, reason, re.compile("|".join(phrases)))


# Order matters only for the reason reported when several rules of one level match.
RULES: tuple[_Rule, ...] = (
    _rule(
        "emergency",
        "起火",
        r"着火|着了火|起火|失火|火灾|火情|烧起来|火势|大火|浓烟|冒黑烟.{0,4}(?:楼|屋|房|窗)|"
        r"(?:楼|屋|房|窗|家|车|箱|线|柜).{0,3}冒烟|有人被烧",
    ),
    _rule("emergency", "爆炸", r"爆炸|炸了"),
    _rule(
        "emergency",
        "燃气泄漏",
        r"燃气泄漏|燃气泄露|煤气泄漏|煤气泄露|天然气泄漏|漏气|(?:煤气|燃气|天然气|液化气)(?:的)?(?:味|气味)",
    ),
    _rule("emergency", "坍塌", r"坍塌|倒塌|塌方|塌陷下去|塌了|垮了|房子倒了|楼塌"),
    _rule("emergency", "有人被困", r"被困|困在|出不来了|卡在电梯|关在电梯"),
    _rule(
        "emergency",
        "有人受伤",
        r"流血|血流|昏迷|晕倒|不省人事|没有呼吸|没了呼吸|伤得很重|重伤|骨折|被砸伤|被撞伤|被电到|触电了|溺水|落水|掉进(?:河|水|井)",
    ),
    _rule("emergency", "有人走失", r"走失|失踪|走丢|找不到(?:了|人)|下落不明|离家出走"),
    _rule("emergency", "人身威胁", r"持刀|砍人|打伤|行凶|要跳楼|轻生|自杀"),
    _rule(
        "urgent", "有人受伤或摔倒", r"受伤|摔倒|摔伤|摔了一跤|绊倒|划伤|咬伤|抓伤|砸到(?:人|了人|路人)|砸伤"
    ),
    _rule("urgent", "漏电", r"漏电|打火|冒火花|火星子|电线(?:断|掉|垂)|断落电线"),
    _rule("urgent", "井口敞开", r"井盖(?:没了|缺失|丢失|被偷)|没有(?:井)?盖子|掉进去"),
    _rule("urgent", "水管爆裂", r"爆管|(?:水管|供水管)(?:道)?(?:爆|破裂|裂了)"),
)

# Phrases that contain a rule's words but mean something else.
_NOT = re.compile(
    r"(?:打|点)不?着火|火车站?|火锅|火腿|火龙果|上火|火柴|火爆|火候|打火机|点火器|防火门|消防|灭火器|"
    r"油烟|烟头|香烟|抽烟|吸烟|烟酒|烟花|烟囱|烟感|烟雾缭绕|炭烟|"
    r"燃气灶|燃气表|燃气费|燃气公司(?!.{0,6}泄)|"
    r"走失手环|防走失|失踪人口信息"
)
_HEDGE = re.compile(
    r"(?:担心|担忧|害怕|怕|万一|一旦|如果|若是|要是|差点|差一点|险些|防止|预防|以防|以免|避免|防|容易|可能|会不会|"
    r"随时|经常|常常|老是|总是|有.{0,2}隐患|没有|没|无人|无|未|不会|不是)[^，。！？,.!?；;]{0,6}$"
)


def detect_urgency(text: str) -> Urgency | None:
    """The most urgent thing the text says has happened, or None."""
    masked = _NOT.sub(lambda m: "_" * len(m.group(0)), text)
    found: Urgency | None = None
    for rule in RULES:
        for m in rule.pattern.finditer(masked):
            before = masked[max(0, m.start() - 10) : m.start()]
            if _HEDGE.search(before):
                continue
            hit = Urgency(rule.level, rule.reason, text[m.start() : m.end()])
            if hit.level == "emergency":
                return hit
            found = found or hit
            break
    return found
