#!/usr/bin/env python3
"""Throwaway mock backend for previewing the Gridcase command-centre console.

Standard library only. Serves:
  /                          -> services/console/static/index.html
  /static/<file>             -> services/console/static/<file>
  GET /api/v1/cases?limit=N  -> canned case list with counts
  GET /api/v1/cases/<id>     -> canned case detail (events, notifications)
  GET /api/v1/grids          -> GeoJSON FeatureCollection of district/street/community/grid
  GET /api/v1/stream         -> SSE; every 2 s one case changes status (event name "case")

Usage:
  python tests/console_ui/mock_server.py --port 8765
  python tests/console_ui/mock_server.py --port 8765 --stream fail   # SSE returns 503 -> polling fallback
  python tests/console_ui/mock_server.py --port 8765 --stream flaky  # SSE drops every ~7 s

This is a preview helper, not a test of the real backend.
"""

from __future__ import annotations

import argparse
import json
import mimetypes
import queue
import random
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

STATIC_DIR = Path(__file__).resolve().parents[2] / "services" / "console" / "static"

UTC = UTC
CST = timezone(timedelta(hours=8))

STATUS_LABELS = {
    "reported": "待派遣",
    "triage": "待分拣",
    "dispatched": "已派遣",
    "signed": "已签收",
    "returned": "已退回",
    "suspended": "已挂起",
    "resolved": "已办结待核查",
    "closed": "已结案",
    "rejected": "不予受理",
    "duplicate": "重复件",
}
CHANNELS = {
    "wechat": "微信公众号",
    "hotline": "12345热线",
    "grid_app": "网格员APP",
    "video": "视频智能发现",
    "miniapp": "随手拍小程序",
}
LEVELS = {"grid": "网格", "community": "社区", "street": "街道", "district": "区级"}
URGENCY = {"normal": "一般", "urgent": "紧急", "critical": "特急"}
CATEGORIES = {
    "0101": "路灯损坏",
    "0102": "井盖缺失",
    "0201": "占道经营",
    "0202": "乱堆物料",
    "0301": "违章停车",
    "0401": "垃圾满溢",
    "0402": "绿化带破坏",
    "0501": "噪音扰民",
    "0601": "违法建筑",
    "0701": "道路破损",
    "0801": "小广告张贴",
    "0901": "消防通道堵塞",
}
DEPARTMENTS = {
    "CG-SZ": "区城管局市政设施管理所",
    "ZF-HB": "湖滨街道综合行政执法队",
    "ZF-QB": "清波街道综合行政执法队",
    "HW": "区环卫保洁中心",
    "JT": "公安分局交警大队上城中队",
    "YL": "区园林绿化管理中心",
    "JS-DL": "区建设局道路养护中心",
    "XF": "区消防救援大队",
    "SQ-HB": "湖滨街道社区管理办公室",
}
EVENT_LABELS = {
    "case.reported": "案件上报",
    "case.triaged": "转人工分拣",
    "case.dispatched": "案件派遣",
    "notification.delivered": "通知送达",
    "notification.failed": "通知失败",
    "case.signed": "部门签收",
    "case.escalated": "案件升级",
    "case.returned": "案件退回",
    "case.suspended": "案件挂起",
    "case.resolved": "处置完成",
    "case.closed": "核查结案",
    "case.rejected": "不予受理",
    "case.duplicate": "判定重复",
}

# ---------------------------------------------------------------------------
# Grid geometry: a 4x4 lattice of grid cells around Hangzhou's lakeside,
# 2x2 blocks form communities, left/right halves form streets.
# ---------------------------------------------------------------------------

LON0, LON1 = 120.160, 120.186
LAT0, LAT1 = 30.238, 30.262
COLS = ROWS = 4
DISTRICT = ("330102", "上城区")
STREETS = [("330102001", "湖滨街道"), ("330102002", "清波街道")]
COMMUNITIES = [
    # (code, name, street index, col block, row block)
    ("330102001001", "东坡路社区", 0, 0, 1),
    ("330102001002", "岳王路社区", 0, 0, 0),
    ("330102002001", "柳翠井巷社区", 1, 1, 1),
    ("330102002002", "劳动路社区", 1, 1, 0),
]


def _lattice() -> list[list[tuple[float, float]]]:
    rnd = random.Random(7)
    pts = []
    for i in range(COLS + 1):
        col = []
        for j in range(ROWS + 1):
            lon = LON0 + (LON1 - LON0) * i / COLS
            lat = LAT0 + (LAT1 - LAT0) * j / ROWS
            jx = 0.0012 if 0 < i < COLS else 0.0005
            jy = 0.0012 if 0 < j < ROWS else 0.0005
            col.append((round(lon + rnd.uniform(-jx, jx), 6), round(lat + rnd.uniform(-jy, jy), 6)))
        pts.append(col)
    return pts


LATTICE = _lattice()


def _ring(c0: int, c1: int, r0: int, r1: int) -> list[list[float]]:
    """Boundary ring (counter-clockwise) of the lattice block [c0,c1) x [r0,r1)."""
    ring = []
    for i in range(c0, c1 + 1):
        ring.append(LATTICE[i][r0])
    for j in range(r0 + 1, r1 + 1):
        ring.append(LATTICE[c1][j])
    for i in range(c1 - 1, c0 - 1, -1):
        ring.append(LATTICE[i][r1])
    for j in range(r1 - 1, r0, -1):
        ring.append(LATTICE[c0][j])
    ring.append(ring[0])
    return [list(p) for p in ring]


def _feature(code: str, name: str, level: str, parent: str | None, ring) -> dict:
    return {
        "type": "Feature",
        "id": code,
        "properties": {"code": code, "name": name, "level": level, "parent_code": parent},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }


def build_grids() -> tuple[dict, dict[str, dict]]:
    features = [_feature(DISTRICT[0], DISTRICT[1], "district", None, _ring(0, COLS, 0, ROWS))]
    for si, (code, name) in enumerate(STREETS):
        features.append(_feature(code, name, "street", DISTRICT[0], _ring(si * 2, si * 2 + 2, 0, ROWS)))
    grid_cells: dict[str, dict] = {}
    for code, name, si, cb, rb in COMMUNITIES:
        c0, r0 = cb * 2, rb * 2
        features.append(_feature(code, name, "community", STREETS[si][0], _ring(c0, c0 + 2, r0, r0 + 2)))
        n = 0
        for dj in (1, 0):
            for di in (0, 1):
                n += 1
                gcode = f"{code}{n:02d}"
                gname = f"{name}第{n}网格"
                i, j = c0 + di, r0 + dj
                ring = _ring(i, i + 1, j, j + 1)
                features.append(_feature(gcode, gname, "grid", code, ring))
                cx = sum(p[0] for p in ring[:-1]) / 4
                cy = sum(p[1] for p in ring[:-1]) / 4
                grid_cells[gcode] = {"name": gname, "center": (cx, cy), "community": name}
    return {"type": "FeatureCollection", "features": features}, grid_cells


GRIDS_GEOJSON, GRID_CELLS = build_grids()
GRID_CODES = sorted(GRID_CELLS)

# ---------------------------------------------------------------------------
# Canned cases
# ---------------------------------------------------------------------------

# (status, channel, category, dept, level, urgency, created_min_ago,
#  dispatch_after_min (None = not dispatched), limit_min (None = no deadline), description)
CASE_SPECS = [
    (
        "dispatched",
        "wechat",
        "0101",
        "CG-SZ",
        "grid",
        "normal",
        35,
        5,
        240,
        "东坡路与平海路交叉口西北角路灯不亮，已持续三天，夜间行人通行存在安全隐患，请尽快维修。",
    ),
    (
        "reported",
        "hotline",
        "0401",
        None,
        "grid",
        "normal",
        6,
        None,
        None,
        "岳王路12号小区门口垃圾桶满溢，周边有异味，早上清运车没来。",
    ),
    (
        "triage",
        "miniapp",
        "0202",
        None,
        "grid",
        "normal",
        9,
        None,
        None,
        "河坊街后巷有人堆放大量装修垃圾和旧家具，占用消防通道一半以上，拍照附后。",
    ),
    (
        "dispatched",
        "grid_app",
        "0201",
        "ZF-HB",
        "grid",
        "urgent",
        130,
        10,
        120,
        "邮电路菜场门口流动摊贩占道经营，早高峰时段造成人行道堵塞，网格员劝离无效。",
    ),
    (
        "signed",
        "video",
        "0301",
        "JT",
        "community",
        "normal",
        210,
        15,
        240,
        "视频监控发现解放路与中河路口非机动车道长时间违停两辆小型货车。",
    ),
    (
        "dispatched",
        "wechat",
        "0102",
        "CG-SZ",
        "grid",
        "critical",
        95,
        5,
        60,
        "学士路人行道井盖缺失，已有老人险些踩空，现场已临时放置锥桶，需紧急补装。",
    ),
    (
        "resolved",
        "hotline",
        "0501",
        "ZF-QB",
        "community",
        "normal",
        600,
        20,
        1440,
        "清波街某餐饮店后厨排风机深夜噪音很大，影响楼上居民休息，多次沟通未果。",
    ),
    (
        "closed",
        "grid_app",
        "0801",
        "SQ-HB",
        "grid",
        "normal",
        1500,
        10,
        1440,
        "东坡路社区宣传栏及周边电线杆被张贴大量“办证”“贷款”小广告。",
    ),
    (
        "returned",
        "wechat",
        "0402",
        "YL",
        "grid",
        "normal",
        300,
        30,
        480,
        "劳动路沿街绿化带被人为踩踏出一条小路，部分灌木被拔除。",
    ),
    (
        "dispatched",
        "video",
        "0901",
        "XF",
        "street",
        "urgent",
        75,
        8,
        90,
        "智能识别：柳翠井巷8幢单元楼下消防通道被电动自行车及杂物堵塞。",
    ),
    (
        "suspended",
        "hotline",
        "0601",
        "ZF-QB",
        "street",
        "normal",
        2880,
        60,
        4320,
        "清波街道某居民楼顶疑似新搭建彩钢板房，面积约二十平方米，邻居反映影响采光。",
    ),
    (
        "dispatched",
        "grid_app",
        "0701",
        "JS-DL",
        "grid",
        "normal",
        400,
        20,
        480,
        "定安路近吴山广场段机动车道出现一处约半米见方的坑洼，雨后积水，车辆经过溅水。",
    ),
    (
        "signed",
        "miniapp",
        "0401",
        "HW",
        "grid",
        "normal",
        55,
        5,
        180,
        "延安路公厕旁边的分类垃圾桶桶身破损，盖子缺失，垃圾外溢。",
    ),
    (
        "reported",
        "wechat",
        "0301",
        None,
        "grid",
        "normal",
        3,
        None,
        None,
        "小区门口消防车道上每天晚上都停满私家车，物业管不了，希望执法部门来处理。",
    ),
    (
        "rejected",
        "hotline",
        "0501",
        None,
        "grid",
        "normal",
        800,
        None,
        None,
        "反映楼上邻居家小孩白天跑跳声音大（属民事纠纷，建议通过社区调解处理）。",
    ),
    ("duplicate", "miniapp", "0101", None, "grid", "normal", 30, None, None, "平海路口路灯坏了，晚上很黑。"),
    (
        "dispatched",
        "hotline",
        "0202",
        "ZF-HB",
        "community",
        "normal",
        260,
        15,
        300,
        "岳王路社区某小区地下车库入口堆放废旧建材，已有两周，无人清理。",
    ),
    (
        "closed",
        "video",
        "0201",
        "ZF-QB",
        "grid",
        "normal",
        2000,
        10,
        240,
        "智能识别：南山路沿线店外经营，桌椅摆放至人行道。",
    ),
    (
        "triage",
        "wechat",
        "0701",
        None,
        "grid",
        "urgent",
        14,
        None,
        None,
        "用户留言：<img src=x onerror=alert(1)> 路面塌陷 & “很危险”，位置在劳动路公交站附近。",
    ),
    (
        "signed",
        "grid_app",
        "0102",
        "CG-SZ",
        "grid",
        "urgent",
        180,
        12,
        180,
        "东坡路社区第3网格雨水井盖破裂，边缘翘起，已设置警示标志。",
    ),
    (
        "resolved",
        "wechat",
        "0402",
        "YL",
        "grid",
        "normal",
        900,
        30,
        1440,
        "湖滨路行道树枝条下垂遮挡交通信号灯，需修剪。",
    ),
    (
        "dispatched",
        "video",
        "0301",
        "JT",
        "grid",
        "normal",
        50,
        3,
        120,
        "智能识别：惠民路学校门口接送时段机动车违停占用公交站台。",
    ),
    (
        "closed",
        "hotline",
        "0401",
        "HW",
        "grid",
        "normal",
        3000,
        20,
        720,
        "劳动路农贸市场东侧垃圾收集点清运不及时，夏季蚊蝇较多。",
    ),
    (
        "reported",
        "grid_app",
        "0801",
        None,
        "grid",
        "normal",
        12,
        None,
        None,
        "柳翠井巷社区公告栏被张贴疏通管道小广告，网格员已拍照上报。",
    ),
]

# Cases that "arrive" while the mock runs (one every 5 ticks).
NEW_CASES = [
    ("wechat", "0401", "惠民路34号门口垃圾清运不及时，路过居民反映有明显异味。"),
    ("hotline", "0301", "吴山广场东侧非机动车道有共享单车大量堆放，行人无法通行。"),
    ("grid_app", "0801", "岳王路社区沿街店铺卷帘门被喷涂小广告，网格员已拍照上报。"),
]

ACTORS = ["指挥中心 李**", "指挥中心 王**", "指挥中心 陈**"]
REPORTERS = [("张*", "138****8000"), ("刘*", "139****2231"), ("王*华", "136****7712"), ("陈*", "158****0426")]


def _iso(dt: datetime, micro: bool = False, cst: bool = False) -> str:
    if cst:
        dt = dt.astimezone(CST)
    if not micro:
        dt = dt.replace(microsecond=0)
    return dt.isoformat()


class Store:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.cases: dict[str, dict] = {}
        self.seq = 0
        self.daily: dict[str, int] = {}
        now = datetime.now(UTC)
        rnd = random.Random(42)
        for idx, spec in enumerate(CASE_SPECS):
            self._make_case(idx, spec, now, rnd)
        # Case numbers are sequential in order of creation (Shanghai date + serial).
        self.daily = {}
        for case in sorted(self.cases.values(), key=lambda c: _parse(c["created_at"])):
            case["case_no"] = self._next_no(_parse(case["created_at"]))

    # -- construction -----------------------------------------------------
    def _next_no(self, created: datetime) -> str:
        day = created.astimezone(CST).strftime("%Y%m%d")
        self.daily[day] = self.daily.get(day, 0) + 1
        return f"{day}{self.daily[day]:06d}"

    def _event(
        self, case: dict, etype: str, at: datetime, actor: str, actor_label: str, payload: dict
    ) -> None:
        self.seq += 1
        case["events"].append(
            {
                "event_id": str(uuid.uuid4()),
                "seq": self.seq,
                "type": etype,
                "type_label": EVENT_LABELS.get(etype, etype),
                "occurred_at": _iso(at, micro=True),
                "actor": actor,
                "actor_label": actor_label,
                "payload": payload,
            }
        )

    def _notify(self, case: dict, at: datetime, ok: bool = True) -> None:
        dept = case["department_name"]
        channel, label = random.Random(case["case_no"]).choice([("zzd", "浙政钉"), ("sms", "短信")])
        target = f"{dept}值班账号" if channel == "zzd" else f"{dept}值班手机"
        nid = str(uuid.uuid4())
        if ok:
            case["notifications"].append(
                {
                    "notification_id": nid,
                    "channel": channel,
                    "channel_label": label,
                    "target": target,
                    "status": "delivered",
                    "status_label": "已送达",
                    "attempts": 1,
                    "delivered_at": _iso(at + timedelta(seconds=4)),
                    "last_error": None,
                }
            )
            self._event(
                case,
                "notification.delivered",
                at + timedelta(seconds=4),
                "system",
                "系统",
                {"target": target, "channel": channel, "notification_id": nid},
            )
        else:
            case["notifications"].append(
                {
                    "notification_id": nid,
                    "channel": "sms",
                    "channel_label": "短信",
                    "target": f"{dept}值班手机",
                    "status": "failed",
                    "status_label": "发送失败",
                    "attempts": 3,
                    "delivered_at": None,
                    "last_error": "运营商网关超时",
                }
            )
            self._event(
                case,
                "notification.failed",
                at + timedelta(seconds=30),
                "system",
                "系统",
                {"target": f"{dept}值班手机", "error": "运营商网关超时", "attempts": 3},
            )

    def _make_case(self, idx: int, spec, now: datetime, rnd: random.Random) -> dict:
        (status, channel, cat, dept, level, urgency, ago, disp_after, limit, desc) = spec
        grid_code = GRID_CODES[(idx * 5) % len(GRID_CODES)]
        cell = GRID_CELLS[grid_code]
        created = now - timedelta(minutes=ago, seconds=rnd.randint(0, 50))
        dispatched = created + timedelta(minutes=disp_after) if disp_after is not None else None
        due = dispatched + timedelta(minutes=limit) if (dispatched and limit) else None
        cx, cy = cell["center"]
        has_loc = idx % 7 != 3  # a few cases without coordinates
        case = {
            "case_id": str(uuid.UUID(int=rnd.getrandbits(128), version=4)),
            "case_no": self._next_no(created),
            "status": status,
            "status_label": STATUS_LABELS[status],
            "channel": channel,
            "channel_label": CHANNELS[channel],
            "description": desc,
            "category_code": cat,
            "category_name": CATEGORIES[cat],
            "grid_code": grid_code,
            "grid_name": cell["name"],
            "department_code": dept,
            "department_name": DEPARTMENTS.get(dept) if dept else None,
            "level": level,
            "level_label": LEVELS[level],
            "urgency": urgency,
            "urgency_label": URGENCY[urgency],
            "created_at": _iso(created, micro=idx % 3 == 0, cst=idx % 4 == 1),
            "dispatched_at": _iso(dispatched) if dispatched else None,
            "due_at": _iso(due, cst=idx % 5 == 2) if due else None,
            "overdue": bool(due and due < now and status in ("dispatched", "signed", "returned")),
            "location": (
                {
                    "lat": round(cy + rnd.uniform(-0.0018, 0.0018), 6),
                    "lon": round(cx + rnd.uniform(-0.0018, 0.0018), 6),
                }
                if has_loc
                else None
            ),
            # detail-only fields
            "address": f"杭州市上城区{cell['community'][:-2]}{rnd.randint(1, 99)}号附近",
            "reporter": (
                None
                if channel == "video"
                else {"name": REPORTERS[idx % 4][0], "phone": REPORTERS[idx % 4][1]}
            ),
            "triage_reason": None,
            "events": [],
            "notifications": [],
        }
        if channel == "grid_app":
            case["reporter"] = {"name": "网格员 周*", "phone": "137****5520"}
        actor_label = "市民（" + CHANNELS[channel] + "）" if channel != "video" else "视频智能分析"
        self._event(case, "case.reported", created, "reporter", actor_label, {"channel": channel})
        if status == "triage" or (idx % 6 == 2 and dispatched):
            reason = "类别识别置信度低于阈值" if idx % 2 else "无法自动匹配责任网格"
            case["triage_reason"] = f"{reason}，需人工确认"
            self._event(
                case,
                "case.triaged",
                created + timedelta(seconds=3),
                "system",
                "智能分拣引擎",
                {"reason": "low_confidence" if idx % 2 else "no_grid_match", "reason_label": reason},
            )
        if status == "rejected":
            self._event(
                case,
                "case.rejected",
                created + timedelta(minutes=15),
                "operator",
                ACTORS[0],
                {"reason": "属民事纠纷，不属于城市管理受理范围"},
            )
        if status == "duplicate":
            self._event(
                case,
                "case.duplicate",
                created + timedelta(minutes=4),
                "system",
                "智能分拣引擎",
                {"duplicate_of": "（同址路灯案件）", "reason": "与同一路灯的在办案件重复"},
            )
        if dispatched:
            self._event(
                case,
                "case.dispatched",
                dispatched,
                "operator",
                ACTORS[idx % 3],
                {
                    "department_code": dept,
                    "department_name": case["department_name"],
                    "due_at": case["due_at"],
                },
            )
            self._notify(case, dispatched, ok=idx % 9 != 5)
            if level != "grid":
                self._event(
                    case,
                    "case.escalated",
                    dispatched - timedelta(minutes=1),
                    "system",
                    "系统",
                    {
                        "from_level": "grid",
                        "from_level_label": "网格",
                        "to_level": level,
                        "to_level_label": LEVELS[level],
                        "reason": "超出网格处置能力",
                    },
                )
                case["events"].sort(key=lambda e: e["occurred_at"])
        if status in ("signed", "resolved", "closed", "returned", "suspended"):
            signed_at = dispatched + timedelta(minutes=6)
            self._event(case, "case.signed", signed_at, "department", case["department_name"], {})
        if status == "returned":
            self._event(
                case,
                "case.returned",
                dispatched + timedelta(minutes=40),
                "department",
                case["department_name"],
                {"reason": "不属于本单位职责，应由街道绿化养护单位处理"},
            )
        if status == "suspended":
            self._event(
                case,
                "case.suspended",
                dispatched + timedelta(hours=5),
                "department",
                case["department_name"],
                {"reason": "需规划部门认定是否违建，暂挂起待函复"},
            )
        if status in ("resolved", "closed"):
            resolved_at = min(dispatched + timedelta(minutes=limit * 0.5), now - timedelta(minutes=40))
            self._event(
                case,
                "case.resolved",
                resolved_at,
                "department",
                case["department_name"],
                {"result": "已现场处置完毕，附处置后照片"},
            )
        if status == "closed":
            self._event(
                case,
                "case.closed",
                resolved_at + timedelta(minutes=25),
                "operator",
                ACTORS[1],
                {"result": "网格员现场核查通过"},
            )
        self.cases[case["case_id"]] = case
        return case

    # -- queries ----------------------------------------------------------
    SUMMARY_KEYS = (
        "case_id",
        "case_no",
        "status",
        "status_label",
        "channel",
        "channel_label",
        "description",
        "category_code",
        "category_name",
        "grid_code",
        "grid_name",
        "department_code",
        "department_name",
        "level",
        "level_label",
        "urgency",
        "urgency_label",
        "created_at",
        "dispatched_at",
        "due_at",
        "overdue",
        "location",
    )

    def listing(self, limit: int) -> dict:
        with self.lock:
            items = sorted(self.cases.values(), key=lambda c: _parse(c["created_at"]), reverse=True)
            counts = {s: 0 for s in STATUS_LABELS}
            counts["overdue"] = 0
            for c in self.cases.values():
                counts[c["status"]] += 1
                if c["overdue"]:
                    counts["overdue"] += 1
            return {
                "items": [{k: c[k] for k in self.SUMMARY_KEYS} for c in items[:limit]],
                "counts": counts,
                "total": len(self.cases),
            }

    def detail(self, case_id: str) -> dict | None:
        with self.lock:
            c = self.cases.get(case_id)
            return json.loads(json.dumps(c)) if c else None

    # -- live mutation ------------------------------------------------------
    CYCLE = ["reported", "dispatched", "signed", "resolved", "closed"]

    def tick(self, n: int) -> dict:
        """Advance the demo: the first case cycles through statuses; every 5th tick a new case arrives."""
        with self.lock:
            now = datetime.now(UTC)
            extra = len(self.cases) - len(CASE_SPECS)
            if n % 5 == 4 and extra < len(NEW_CASES):
                channel, cat, desc = NEW_CASES[extra]
                spec = ("reported", channel, cat, None, "grid", "normal", 0, None, None, desc)
                case = self._make_case(len(self.cases), spec, now, random.Random(n))
                case["case_no"] = self._next_no(now)
                return {"case_id": case["case_id"], "type": "case.reported", "status": "reported"}
            case = next(iter(self.cases.values()))
            nxt = (
                self.CYCLE[(self.CYCLE.index(case["status"]) + 1) % len(self.CYCLE)]
                if case["status"] in self.CYCLE
                else "dispatched"
            )
            case["status"] = nxt
            case["status_label"] = STATUS_LABELS[nxt]
            etype = {
                "reported": "case.reported",
                "dispatched": "case.dispatched",
                "signed": "case.signed",
                "resolved": "case.resolved",
                "closed": "case.closed",
            }[nxt]
            payload: dict = {}
            if nxt == "dispatched":
                case["dispatched_at"] = _iso(now)
                case["due_at"] = _iso(now + timedelta(hours=4))
                case["department_code"] = "CG-SZ"
                case["department_name"] = DEPARTMENTS["CG-SZ"]
                payload = {"department_code": "CG-SZ", "department_name": DEPARTMENTS["CG-SZ"]}
            elif nxt == "reported":
                case["dispatched_at"] = case["due_at"] = None
                case["department_code"] = case["department_name"] = None
            elif nxt in ("resolved", "closed"):
                payload = {"result": "已现场处置完毕" if nxt == "resolved" else "核查通过"}
            case["overdue"] = False
            self._event(case, etype, now, "system", "系统", payload)
            if nxt == "dispatched":
                self._notify(case, now)
            return {"case_id": case["case_id"], "type": etype, "status": nxt}


def _parse(s: str) -> datetime:
    return datetime.fromisoformat(s)


# ---------------------------------------------------------------------------
# Broadcast of SSE events
# ---------------------------------------------------------------------------


class Hub:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.subscribers: list[queue.Queue] = []

    def subscribe(self) -> queue.Queue:
        q: queue.Queue = queue.Queue()
        with self.lock:
            self.subscribers.append(q)
        return q

    def unsubscribe(self, q: queue.Queue) -> None:
        with self.lock:
            if q in self.subscribers:
                self.subscribers.remove(q)

    def publish(self, msg: dict) -> None:
        with self.lock:
            for q in self.subscribers:
                q.put(msg)


STORE = Store()
HUB = Hub()
OPTIONS = argparse.Namespace(stream="ok", interval=2.0, quiet=False)


def ticker() -> None:
    n = 0
    while True:
        time.sleep(OPTIONS.interval)
        HUB.publish(STORE.tick(n))
        n += 1


class Handler(BaseHTTPRequestHandler):
    server_version = "GridcaseMock/0.1"

    def log_message(self, fmt: str, *args) -> None:  # quieter log
        if not OPTIONS.quiet:
            super().log_message(fmt, *args)

    def _send(self, code: int, body: bytes, ctype: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, obj, code: int = 200) -> None:
        self._send(
            code, json.dumps(obj, ensure_ascii=False).encode("utf-8"), "application/json; charset=utf-8"
        )

    def do_GET(self) -> None:
        url = urlparse(self.path)
        path = url.path
        if path in ("/", "/index.html"):
            return self._file(STATIC_DIR / "index.html")
        if path.startswith("/static/"):
            target = (STATIC_DIR / path[len("/static/") :]).resolve()
            if STATIC_DIR not in target.parents:
                return self._json({"detail": "Not Found"}, 404)
            return self._file(target)
        if path == "/api/v1/cases":
            qs = parse_qs(url.query)
            try:
                limit = max(1, min(500, int(qs.get("limit", ["100"])[0])))
            except ValueError:
                return self._json({"detail": "limit must be an integer"}, 422)
            return self._json(STORE.listing(limit))
        if path.startswith("/api/v1/cases/"):
            case = STORE.detail(path.rsplit("/", 1)[-1])
            return self._json(case, 200) if case else self._json({"detail": "案件不存在"}, 404)
        if path == "/api/v1/grids":
            return self._json(GRIDS_GEOJSON)
        if path == "/api/v1/stream":
            return self._stream()
        return self._json({"detail": "Not Found"}, 404)

    def _file(self, p: Path) -> None:
        if not p.is_file():
            return self._json({"detail": "Not Found"}, 404)
        ctype = mimetypes.guess_type(p.name)[0] or "application/octet-stream"
        if ctype.startswith("text/") or ctype in ("application/javascript", "image/svg+xml"):
            ctype += "; charset=utf-8"
        self._send(200, p.read_bytes(), ctype)

    def _stream(self) -> None:
        if OPTIONS.stream == "fail":
            return self._send(503, b"stream unavailable", "text/plain")
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "keep-alive")
        self.end_headers()
        q = HUB.subscribe()
        started = time.monotonic()
        try:
            self.wfile.write(b"retry: 3000\n: connected\n\n")
            self.wfile.flush()
            while True:
                if OPTIONS.stream == "flaky" and time.monotonic() - started > 7:
                    break
                try:
                    msg = q.get(timeout=15)
                except queue.Empty:
                    self.wfile.write(b": ping\n\n")
                else:
                    data = json.dumps(msg, ensure_ascii=False)
                    self.wfile.write(f"event: case\ndata: {data}\n\n".encode())
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            HUB.unsubscribe(q)
            self.close_connection = True


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument(
        "--stream",
        choices=["ok", "fail", "flaky"],
        default="ok",
        help="ok: normal SSE; fail: /api/v1/stream returns 503; flaky: SSE drops every ~7 s",
    )
    ap.add_argument("--interval", type=float, default=2.0, help="seconds between live case changes")
    ap.add_argument("--quiet", action="store_true", help="do not log requests")
    args = ap.parse_args()
    OPTIONS.stream, OPTIONS.interval, OPTIONS.quiet = args.stream, args.interval, args.quiet
    threading.Thread(target=ticker, daemon=True).start()
    httpd = ThreadingHTTPServer((args.host, args.port), Handler)
    httpd.daemon_threads = True
    print(f"Gridcase console mock on http://{args.host}:{args.port}/  (static: {STATIC_DIR})", flush=True)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
