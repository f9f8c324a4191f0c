"""HTTP API of the responsibility matrix: everyone on the staff reads it; admins change it (audited)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from schemas.access import Permission
from schemas.identity import Principal
from schemas.matrix import CheckOut, ProblemOut, ResolvedOut, RuleIn, RuleOut
from services.http.errors import Invalid
from services.identity.dependencies import require
from services.matrix import repository, service
from services.matrix.rules import first_stage, level_label

router = APIRouter(prefix="/api/v1/matrix", tags=["matrix"])


def _out(row: dict[str, Any], department_names: dict[str, str]) -> RuleOut:
    assist = list(row["assist"]) if row["assist"] is not None else None
    return RuleOut(
        **{k: row[k] for k in RuleOut.model_fields if k in row and k not in ("assist", "assist_names")},
        assist=assist,
        assist_names=[department_names.get(c, c) for c in assist or ()],
        level_label=level_label(row["level"]) if row["level"] else None,
    )


async def _department_names(request: Request) -> dict[str, str]:
    catalog = await request.app.state.catalogs.get()
    return {code: d.name for code, d in catalog.departments.items()}


@router.get("/rules", summary="责任矩阵（权责清单）：类别默认与区域规则")
async def list_rules(
    request: Request,
    _: Annotated[Principal, require(Permission.REFERENCE_READ)],
    category_code: Annotated[str | None, Query(max_length=16)] = None,
    area_code: Annotated[str | None, Query(max_length=20)] = None,
) -> list[RuleOut]:
    async with request.app.state.pool.acquire() as conn:
        found = await repository.rows(conn, category_code=category_code, area_code=area_code)
    names = await _department_names(request)
    return [_out(r, names) for r in found]


@router.put("/rules", summary="新增或修改一条规则（不填区域即修改类别默认；记入审计日志）")
async def put_rule(
    request: Request, body: RuleIn, principal: Annotated[Principal, require(Permission.REFERENCE_WRITE)]
) -> RuleOut:
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        row = await service.put_rule(conn, principal, body, client_ip=_client_ip(request))
    request.app.state.catalogs.invalidate()
    return _out(row, await _department_names(request))


@router.delete("/rules/{rule_id}", status_code=204, summary="删除一条区域规则（记入审计日志）")
async def delete_rule(
    request: Request, rule_id: int, principal: Annotated[Principal, require(Permission.REFERENCE_WRITE)]
) -> Response:
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        await service.delete_rule(conn, principal, rule_id, client_ip=_client_ip(request))
    request.app.state.catalogs.invalidate()
    return Response(status_code=204)


@router.get("/resolve", summary="查询某类别在某网格的责任部门、处置层级与时限")
async def resolve(
    request: Request,
    _: Annotated[Principal, require(Permission.REFERENCE_READ)],
    category_code: Annotated[str, Query(max_length=16)],
    grid_code: Annotated[str | None, Query(max_length=20)] = None,
) -> ResolvedOut:
    catalog = await request.app.state.catalogs.get()
    if grid_code is not None and (grid_code not in catalog.areas or catalog.areas[grid_code].level != "grid"):
        raise Invalid("grid_code", f"网格“{grid_code}”不存在")
    found = catalog.matrix.resolve(category_code, grid_code)
    if found is None:
        raise Invalid("category_code", f"案件类别“{category_code}”不存在")
    lead = catalog.departments.get(found.department_code or "")
    stage = first_stage(catalog.matrix, found, grid_code, lead.level if lead else None) if grid_code else None
    return ResolvedOut(
        category_code=category_code,
        grid_code=grid_code,
        department_code=found.department_code,
        department_name=lead.name if lead else None,
        assist=list(found.assist),
        level=found.level,
        level_label=level_label(found.level),
        sign_limit=found.sign_limit,
        handle_limit=found.handle_limit,
        first_handler=stage.level if stage else None,
        first_handler_label=stage.label if stage else "职能部门",
        rule_area_code=found.rule_area_code,
        rule_area_name=catalog.area_name(found.rule_area_code) or "类别默认",
    )


@router.get("/check", summary="检查责任矩阵（无责任部门的类别、无效规则）")
async def check(request: Request, _: Annotated[Principal, require(Permission.REFERENCE_READ)]) -> CheckOut:
    async with request.app.state.pool.acquire() as conn:
        report = await service.check_stored(conn)
    return CheckOut(
        ok=report.ok,
        problems=[
            ProblemOut(
                severity=p.severity, message=p.message, category_code=p.category_code, area_code=p.area_code
            )
            for p in report.problems
        ],
    )


def _client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None
