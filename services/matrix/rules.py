"""The responsibility matrix (权责清单), pure: category × area → lead department, assisting departments,
handling level and time limits.

A category's own row is the district-wide default. An area rule (grid, community, street or the
district) overrides it for the cases inside that area; the most specific rule wins, and a field the
rule leaves empty falls back to the category's. Also here: where a case is worked first
(小事不出网格) and the check that finds holes in the matrix.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from schemas.levels import LEVEL_LABELS, Level
from services.sla.timelimits import BadTimeLimit, TimeLimit

# Levels below a department where the grid worker or the community tries first.
LOCAL_LEVELS = (Level.GRID, Level.COMMUNITY)


@dataclass(frozen=True, slots=True)
class Rule:
    """One row of the matrix. ``area_code`` None is the category's own (district-wide) row."""

    category_code: str
    area_code: str | None
    department_code: str | None = None
    assist: tuple[str, ...] | None = None
    level: str | None = None
    sign_limit: str | None = None
    handle_limit: str | None = None
    note: str | None = None
    id: int | None = None


@dataclass(frozen=True, slots=True)
class Responsibility:
    """What the matrix says for one category at one grid."""

    category_code: str
    department_code: str | None
    assist: tuple[str, ...]
    level: str
    sign_limit: str
    handle_limit: str
    rule_area_code: str | None  # the area whose rule decided; None: the category's default
    rule_id: int | None = None


@dataclass(frozen=True, slots=True)
class AreaNode:
    code: str
    name: str
    level: str
    parent_code: str | None


class CategoryLike(Protocol):
    @property
    def code(self) -> str: ...
    @property
    def department_code(self) -> str | None: ...
    @property
    def assist(self) -> tuple[str, ...]: ...
    @property
    def level(self) -> str: ...
    @property
    def sign_limit(self) -> str: ...
    @property
    def handle_limit(self) -> str: ...


class AreaLike(Protocol):
    @property
    def code(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def level(self) -> str: ...
    @property
    def parent_code(self) -> str | None: ...


@dataclass(frozen=True)
class Matrix:
    defaults: Mapping[str, Rule]  # category code -> its own row (complete)
    rules: Mapping[tuple[str, str], Rule]  # (category code, area code) -> override
    areas: Mapping[str, AreaNode]

    @classmethod
    def of(
        cls, categories: Iterable[CategoryLike], areas: Iterable[AreaLike], rules: Iterable[Rule] = ()
    ) -> Matrix:
        """From the catalog's categories and areas and the stored area rules."""
        return cls(
            defaults={
                c.code: Rule(c.code, None, c.department_code, c.assist, c.level, c.sign_limit, c.handle_limit)
                for c in categories
            },
            rules={(r.category_code, r.area_code): r for r in rules if r.area_code is not None},
            areas={a.code: AreaNode(a.code, a.name, a.level, a.parent_code) for a in areas},
        )

    def path(self, area_code: str) -> list[str]:
        """The area and its ancestors, most specific first; unknown codes give an empty path."""
        out: list[str] = []
        node = self.areas.get(area_code)
        while node is not None and node.code not in out:
            out.append(node.code)
            node = self.areas.get(node.parent_code) if node.parent_code else None
        return out

    def resolve(self, category_code: str, grid_code: str | None) -> Responsibility | None:
        """None for an unknown category. Without a grid only the category's default applies."""
        default = self.defaults.get(category_code)
        if default is None:
            return None
        rule = (
            next(
                (r for a in self.path(grid_code) if (r := self.rules.get((category_code, a))) is not None),
                None,
            )
            if grid_code
            else None
        )
        pick = rule or default
        return Responsibility(
            category_code=category_code,
            department_code=pick.department_code or default.department_code,
            assist=pick.assist if pick.assist is not None else (default.assist or ()),
            level=pick.level or default.level or Level.DISTRICT.value,
            sign_limit=pick.sign_limit or default.sign_limit or "",
            handle_limit=pick.handle_limit or default.handle_limit or "",
            rule_area_code=rule.area_code if rule else None,
            rule_id=rule.id if rule else None,
        )


@dataclass(frozen=True, slots=True)
class Stage:
    """Who works a dispatched case first: the grid or the community (with the area codes whose
    accounts may act), or the lead department (``level`` None)."""

    level: str | None
    area_codes: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return LEVEL_LABELS[Level(self.level)] if self.level else "职能部门"


DEPARTMENT_STAGE = Stage(None)


def first_stage(
    matrix: Matrix, responsibility: Responsibility, grid_code: str, department_level: str | None
) -> Stage:
    """小事不出网格: a category handled at grid or community level below its department's own level goes
    to the grid worker or the community first; the department is brought in when they can't."""
    if responsibility.level not in LOCAL_LEVELS:
        return DEPARTMENT_STAGE
    order = list(Level)
    if department_level in order and order.index(Level(department_level)) <= order.index(
        Level(responsibility.level)
    ):
        return DEPARTMENT_STAGE  # the department sits at that level itself (社区居委会): it handles
    path = matrix.path(grid_code)
    levels = {code: matrix.areas[code].level for code in path}
    start = next((i for i, code in enumerate(path) if levels[code] == responsibility.level), None)
    if start is None:
        return DEPARTMENT_STAGE  # the tree has no such level above this grid
    return Stage(responsibility.level, tuple(path[start:]))


# --- the check ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Problem:
    severity: str  # error | warning
    message: str  # Chinese: admins read it in the console and the CLI
    category_code: str | None = None
    area_code: str | None = None


@dataclass
class CheckReport:
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(p.severity == "error" for p in self.problems)

    def format(self) -> str:
        if not self.problems:
            return "责任矩阵检查通过：每个类别在每个网格都有责任部门。"
        lines = [f"[{'错误' if p.severity == 'error' else '提示'}] {p.message}" for p in self.problems]
        errors = sum(p.severity == "error" for p in self.problems)
        lines.append(f"共 {errors} 个错误，{len(self.problems) - errors} 个提示。")
        return "\n".join(lines)


def check_rule(rule: Rule, *, departments: Iterable[str], areas: Mapping[str, AreaNode]) -> list[str]:
    """What is wrong with one rule on its own (Chinese reasons); empty when it is fine."""
    known = set(departments)
    wrong: list[str] = []
    if rule.area_code is not None and rule.area_code not in areas:
        wrong.append(f"区域“{rule.area_code}”不存在")
    if rule.department_code is not None and rule.department_code not in known:
        wrong.append(f"责任部门“{rule.department_code}”不存在")
    for code in rule.assist or ():
        if code not in known:
            wrong.append(f"协办部门“{code}”不存在")
        elif code == rule.department_code:
            wrong.append(f"协办部门“{code}”与主办部门相同")
    if rule.level is not None and rule.level not in {lv.value for lv in Level}:
        wrong.append(f"处置层级“{rule.level}”无效，应为 grid、community、street 或 district")
    for name, value in (("签收时限", rule.sign_limit), ("办结时限", rule.handle_limit)):
        if value is not None:
            try:
                TimeLimit.parse(value)
            except BadTimeLimit:
                wrong.append(f"{name}“{value}”格式不正确，应如 30m、2h、4wh、1wd")
    return wrong


def check(
    matrix: Matrix, *, departments: Mapping[str, str], category_names: Mapping[str, str]
) -> CheckReport:
    """Every rule is valid, and every category has a lead department at every grid."""
    report = CheckReport()
    areas = matrix.areas
    for rule in [*matrix.defaults.values(), *matrix.rules.values()]:
        for reason in check_rule(rule, departments=departments, areas=areas):
            area = areas.get(rule.area_code) if rule.area_code else None
            where = area.name if area else (rule.area_code or "全区默认")
            report.problems.append(
                Problem(
                    "error",
                    f"类别 {rule.category_code}（{where}）：{reason}",
                    rule.category_code,
                    rule.area_code,
                )
            )
    grids = sorted(code for code, a in areas.items() if a.level == Level.GRID)
    for code, default in sorted(matrix.defaults.items()):
        name = category_names.get(code, code)
        missing = [g for g in grids if not _has_department(matrix, code, g, departments)]
        if not grids and not default.department_code:
            missing = ["*"]
        if missing and (len(missing) == len(grids) or missing == ["*"]):
            report.problems.append(Problem("error", f"类别 {code} {name} 在任何区域都没有责任部门", code))
        elif missing:
            shown = "、".join(areas[g].name for g in missing[:3])
            more = f"等{len(missing)}个网格" if len(missing) > 3 else ""
            report.problems.append(
                Problem("error", f"类别 {code} {name} 在{shown}{more}没有责任部门", code, missing[0])
            )
    for category, area_code in sorted(matrix.rules):
        if category not in matrix.defaults:
            report.problems.append(
                Problem("error", f"规则引用了不存在的类别 {category}", category, area_code)
            )
    return report


def _has_department(matrix: Matrix, category: str, grid: str, departments: Mapping[str, str]) -> bool:
    found = matrix.resolve(category, grid)
    return found is not None and found.department_code is not None and found.department_code in departments


def level_label(level: str | None) -> str:
    return LEVEL_LABELS[Level(level)] if level in {lv.value for lv in Level} else (level or "")
