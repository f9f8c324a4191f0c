"""The matrix as a file (YAML): read rules for import, write them for export."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from schemas.matrix import RuleIn

# File keys -> API fields (the file is written by people: short names).
_KEYS = {
    "category": "category_code",
    "area": "area_code",
    "department": "department_code",
    "assist": "assist",
    "level": "level",
    "sign": "sign_limit",
    "handle": "handle_limit",
    "note": "note",
}


class BadRulesFile(ValueError):
    pass


def parse(data: Any) -> list[RuleIn]:
    """``{rules: [{category, area, department, assist, level, sign, handle, note}, …]}``; every problem
    of every rule is reported at once, numbered as in the file."""
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
        raise BadRulesFile("the file must be a mapping with a `rules` list")
    rules: list[RuleIn] = []
    problems: list[str] = []
    for n, item in enumerate(data["rules"], start=1):
        if not isinstance(item, dict):
            problems.append(f"rule {n}: not a mapping")
            continue
        unknown = set(item) - set(_KEYS)
        if unknown:
            problems.append(f"rule {n}: unknown keys {sorted(unknown)} (known: {', '.join(_KEYS)})")
            continue
        fields = {
            _KEYS[k]: (str(v) if k in ("category", "area", "sign", "handle") else v) for k, v in item.items()
        }
        try:
            rules.append(RuleIn.model_validate(fields))
        except ValidationError as exc:
            reasons = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            problems.append(f"rule {n} ({item.get('category')}@{item.get('area')}): {reasons}")
    if problems:
        raise BadRulesFile("\n".join(problems))
    return rules


def read(path: Path) -> list[RuleIn]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise BadRulesFile(f"cannot read {path}: {exc}") from None
    return parse(data)


def dump(rows: list[dict[str, Any]]) -> str:
    """Area rules (not the category defaults, which live in the category table) as a rules file."""
    back = {v: k for k, v in _KEYS.items()}
    out = []
    for row in rows:
        if row["area_code"] is None:
            continue
        item = {back[f]: row[f] for f in _KEYS.values() if row.get(f) is not None}
        if "assist" in item:
            item["assist"] = list(item["assist"])
        out.append(item)
    return yaml.safe_dump({"rules": out}, allow_unicode=True, sort_keys=False, width=120)
