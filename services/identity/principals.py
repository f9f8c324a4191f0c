"""Turn an account or token row into the Principal every route and the policy work with."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from schemas.api import CHANNEL_LABELS, Channel
from schemas.identity import ROLE_LABELS, Principal, Role
from services.reference.catalog import Catalog

COMMAND_CENTRE = "区网格化管理指挥中心"


def area_label(catalog: Catalog, area_codes: Sequence[str]) -> str | None:
    if not area_codes:
        return None
    names = [catalog.area_name(code) or code for code in area_codes[:3]]
    return "、".join(names) + ("等" if len(area_codes) > 3 else "")


def unit_of(
    catalog: Catalog,
    *,
    role: Role,
    department_code: str | None,
    area_codes: Sequence[str],
    channel: str | None,
) -> str:
    """The unit people read next to a name on the timeline and in the header."""
    areas = area_label(catalog, area_codes)
    if role is Role.DEPARTMENT:
        department = catalog.departments.get(department_code or "")
        return department.name if department else (department_code or "未知部门")
    if role is Role.OPERATOR:
        centre = catalog.departments["ZHZX"].name if "ZHZX" in catalog.departments else COMMAND_CENTRE
        return f"{centre}（{areas}）" if areas else centre
    if role is Role.FEED:
        try:
            return CHANNEL_LABELS[Channel(channel or "")]
        except ValueError:
            return ROLE_LABELS[role]
    if role in (Role.LEADER, Role.GRID_WORKER):
        top = next((a.name for a in catalog.areas.values() if a.parent_code is None), None)
        return areas or top or ROLE_LABELS[role]
    return ROLE_LABELS[role]


def build_principal(
    catalog: Catalog,
    *,
    subject: str,
    kind: str,
    credential_id: str,
    display_name: str,
    role: str,
    username: str | None = None,
    department_code: str | None = None,
    area_codes: Sequence[str] = (),
    channel: str | None = None,
    expires_at: datetime | None = None,
    csrf_token: str | None = None,
) -> Principal:
    role_ = Role(role)
    codes = tuple(area_codes or ())
    return Principal(
        subject=subject,
        kind=kind,
        credential_id=credential_id,
        display_name=display_name,
        role=role_,
        unit=unit_of(catalog, role=role_, department_code=department_code, area_codes=codes, channel=channel),
        username=username,
        department_code=department_code,
        area_codes=codes,
        # An account limited to unknown areas sees nothing (fails closed), never everything.
        grid_codes=catalog.grids_under(codes) if codes else None,
        area_label=area_label(catalog, codes),
        channel=channel,
        expires_at=expires_at,
        csrf_token=csrf_token,
    )
