#!/usr/bin/env python3
"""Throwaway mock backend for previewing the Gridcase command-centre console.

Standard library only. Serves (like the real console, everything but /login and
/static/{login.js,login.css,favicon.svg} needs the `gridcase_session` cookie):
  GET  /login                     -> services/console/static/login.html (public)
  GET  /                          -> index.html, or 303 to /login?next=/ without a session
  GET  /static/<file>             -> services/console/static/<file>
  POST /api/v1/auth/session       -> sign in: any username, password "Demo@2026"; sets the cookie
  GET  /api/v1/auth/me            -> user, permissions, csrf_token, expires_at
  POST /api/v1/auth/logout        -> ends the session, clears the cookie (needs X-CSRF-Token)
  GET  /api/v1/cases?limit=N      -> canned case list with counts (what this account may read)
  GET  /api/v1/cases/<id>         -> canned case detail (masked contact data, viewer, events, notifications)
  POST /api/v1/cases/<id>/reveal  -> contact data in clear, with {"reason"} (needs X-CSRF-Token)
  GET  /api/v1/grids              -> GeoJSON FeatureCollection of district/street/community/grid
  GET  /api/v1/stream             -> SSE; every 2 s one case changes status (event name "case")

Usage:
  python tests/console_ui/mock_server.py --port 8765
  python tests/console_ui/mock_server.py --port 8765 --stream fail   # SSE returns 503 -> polling fallback
  python tests/console_ui/mock_server.py --port 8765 --stream flaky  # SSE drops every ~7 s
  python tests/console_ui/mock_server.py --port 8765 --auto-login demo-operator   # no sign-in (screenshots)

This is a preview helper, not a test of the real backend.
"""

from __future__ import annotations

import argparse
import json
import mimetypes
import queue
import random
import re
import secrets
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta, timezone
from http.cookies import CookieError, SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, urlparse

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

# Timeline actors read like the real server's: "name（unit）".
CENTRE = "区网格化管理指挥中心"
ACTORS = [f"李娜（{CENTRE}）", f"王敏（{CENTRE}）", f"陈晨（{CENTRE}）"]
DEPT_STAFF = {
    "CG-SZ": "李强",
    "ZF-HB": "孙浩",
    "ZF-QB": "吴磊",
    "HW": "郑芳",
    "JT": "冯军",
    "YL": "何静",
    "JS-DL": "许涛",
    "XF": "韩冰",
    "SQ-HB": "罗敏",
}
# Reporters in clear (only POST .../reveal returns these) and as the console API masks them.
CLEAR_REPORTERS = [
    ("张伟", "13812348000", "330102198803154216"),
    ("刘洋", "13957712231", "330106199107221028"),
    ("王建华", "13605717712", "33010219750912301X"),
    ("陈静", "15867100426", "330104198211065544"),
]
GRID_WORKER_REPORTER = ("周磊", "13706525520", "330102199002183317")


def mask_name(name: str) -> str:
    return name[0] + "*" if len(name) <= 2 else name[0] + "*" * (len(name) - 2) + name[-1]


def mask_phone(phone: str) -> str:
    return phone[:3] + "****" + phone[-4:]


def mask_id(id_number: str) -> str:
    return id_number[:4] + "*" * (len(id_number) - 8) + id_number[-4:]


def masked(reporter: dict | None) -> dict | None:
    if reporter is None:
        return None
    return {
        "name": mask_name(reporter["name"]),
        "phone": mask_phone(reporter["phone"]),
        "id_number": mask_id(reporter["id_number"]),
    }


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

    @staticmethod
    def _dept_actor(case: dict) -> str:
        return f"{DEPT_STAFF.get(case['department_code'], '值班员')}（{case['department_name']}）"

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
            # detail-only fields (in clear here; the handler masks them per viewer)
            "address": f"杭州市上城区{cell['community'][:-2]}{rnd.randint(1, 99)}号附近",
            "reporter": (
                None
                if channel == "video"
                else dict(zip(("name", "phone", "id_number"), CLEAR_REPORTERS[idx % 4], strict=True))
            ),
            "triage_reason": None,
            "events": [],
            "notifications": [],
        }
        if channel == "grid_app":
            case["reporter"] = dict(zip(("name", "phone", "id_number"), GRID_WORKER_REPORTER, strict=True))
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
            self._event(case, "case.signed", signed_at, "department", self._dept_actor(case), {})
        if status == "returned":
            self._event(
                case,
                "case.returned",
                dispatched + timedelta(minutes=40),
                "department",
                self._dept_actor(case),
                {"reason": "不属于本单位职责，应由街道绿化养护单位处理"},
            )
        if status == "suspended":
            self._event(
                case,
                "case.suspended",
                dispatched + timedelta(hours=5),
                "department",
                self._dept_actor(case),
                {"reason": "需规划部门认定是否违建，暂挂起待函复"},
            )
        if status in ("resolved", "closed"):
            resolved_at = min(dispatched + timedelta(minutes=limit * 0.5), now - timedelta(minutes=40))
            self._event(
                case,
                "case.resolved",
                resolved_at,
                "department",
                self._dept_actor(case),
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

    def listing(self, limit: int, user: dict) -> dict:
        with self.lock:
            mine = [c for c in self.cases.values() if may_read(user, c)]
            items = sorted(mine, key=lambda c: _parse(c["created_at"]), reverse=True)
            counts = {s: 0 for s in STATUS_LABELS}
            counts["overdue"] = 0
            for c in mine:
                counts[c["status"]] += 1
                if c["overdue"]:
                    counts["overdue"] += 1
            return {
                "items": [shape(c, user, detail=False) for c in items[:limit]],
                "counts": counts,
                "total": len(mine),
                "server_time": _iso(datetime.now(UTC), micro=True),
            }

    def detail(self, case_id: str, user: dict) -> tuple[int, dict]:
        with self.lock:
            c = self.cases.get(case_id)
            if c is None:
                return 404, error("not_found", "案件不存在")
            if not may_read(user, c):
                return 403, error("forbidden", refusal(user, "查看该案件"))
            return 200, shape(json.loads(json.dumps(c)), user, detail=True)

    def reveal(self, case_id: str, user: dict, reason: str) -> tuple[int, dict]:
        with self.lock:
            c = self.cases.get(case_id)
            if c is None:
                return 404, error("not_found", "案件不存在")
            if not may_read(user, c) or not may_reveal(user, c):
                return 403, error("forbidden", refusal(user, "查看居民联系方式"))
            return 200, {
                "reporter": dict(c["reporter"]) if c["reporter"] else None,
                "address": c["address"],
                "description": c["description"],
            }

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



# ---------------------------------------------------------------------------
# Sign-in, sessions and what each role may see (mirrors schemas/access.py)
# ---------------------------------------------------------------------------

DEMO_PASSWORD = "Demo@2026"
COOKIE = "gridcase_session"
SESSION_TTL = timedelta(hours=8)
MAX_FAILURES = 5  # then the account is locked for LOCK_SECONDS
LOCK_SECONDS = 60
ROLE_LABELS = {
    "admin": "系统管理员",
    "operator": "指挥中心操作员",
    "leader": "领导/督办",
    "department": "部门工作人员",
    "grid_worker": "网格员",
    "feed": "接入系统",
}
STAFF = {"admin", "operator", "leader", "department", "grid_worker"}
PERMISSIONS = {
    "admin": ["case.read", "users.manage", "tokens.manage", "audit.read", "dead_letters.manage"],
    "operator": ["case.read", "case.read_details", "case.reveal", "case.report", "case.act"],
    "leader": ["case.read", "audit.read"],
    "department": ["case.read", "case.read_details", "case.reveal", "case.act"],
    "grid_worker": ["case.read", "case.read_details", "case.report", "case.act"],
    "feed": ["case.read", "case.report"],
}
for _role, _perms in PERMISSIONS.items():
    _perms += ["session", "api_docs.read"]
    if _role in STAFF:
        _perms += ["live_feed.read", "reference.read"]

# Known demo accounts (any other username signs in as an operator named after it).
USERS = {
    "demo-operator": {"display_name": "王敏", "role": "operator", "unit": CENTRE},
    "demo-department": {
        "display_name": "李强",
        "role": "department",
        "unit": DEPARTMENTS["CG-SZ"],
        "department_code": "CG-SZ",
    },
    "demo-gridworker": {
        "display_name": "周磊",
        "role": "grid_worker",
        "unit": "东坡路社区网格",
        "area_codes": ["330102001001"],
    },
    "demo-leader": {
        "display_name": "陈静",
        "role": "leader",
        "unit": "湖滨街道办事处",
        "area_codes": ["330102001"],
    },
    "demo-admin": {"display_name": "张工", "role": "admin", "unit": CENTRE},
    "demo-feed": {"display_name": "12345热线接入", "role": "feed", "unit": "12345热线", "channel": "hotline"},
}


def user_for(username: str) -> dict:
    profile = USERS.get(username, {"display_name": username, "role": "operator", "unit": CENTRE})
    return {
        "username": username,
        "display_name": profile["display_name"],
        "role": profile["role"],
        "role_label": ROLE_LABELS[profile["role"]],
        "unit": profile["unit"],
        "department_code": profile.get("department_code"),
        "area_codes": profile.get("area_codes", []),
        "channel": profile.get("channel"),
    }


def error(code: str, message: str, fields: list | None = None, details: dict | None = None) -> dict:
    return {"error": code, "message": message, "fields": fields or [], "details": details or {}}


def refusal(user: dict, what: str) -> str:
    return f"“{user['role_label']}”角色无权{what}"


def in_area(user: dict, grid_code: str | None) -> bool:
    areas = user["area_codes"]
    return not areas or any((grid_code or "").startswith(a) for a in areas)


def may_read(user: dict, case: dict) -> bool:
    role = user["role"]
    if role == "department":
        return case["department_code"] == user["department_code"]
    if role == "feed":
        return False  # a feed reads back only what it submitted: nothing here
    return in_area(user, case["grid_code"])


def may_reveal(user: dict, case: dict) -> bool:
    return user["role"] in ("operator", "department") and may_read(user, case)


def actions_for(user: dict, case: dict) -> list[str]:
    role, status = user["role"], case["status"]
    table = {
        "operator": {
            "reported": ["dispatch", "reject", "mark_duplicate"],
            "triage": ["triage", "reject", "mark_duplicate"],
            "returned": ["redispatch", "reject"],
            "suspended": ["resume"],
            "resolved": ["close", "rework"],
            "closed": ["reopen"],
        },
        "department": {"dispatched": ["sign", "return"], "signed": ["resolve", "suspend"]},
        "grid_worker": {"resolved": ["close", "rework"]},
    }
    return list(table.get(role, {}).get(status, []))


def shape(case: dict, user: dict, *, detail: bool) -> dict:
    """What the console API returns for this viewer: masked contact data, hidden details."""
    out = dict(case) if detail else {k: case[k] for k in Store.SUMMARY_KEYS}
    if "case.read_details" not in PERMISSIONS[user["role"]]:
        out.update(description=None, description_hidden=True, location=None, location_hidden=True)
    if detail:
        out["reporter"] = masked(case["reporter"])
        out["address"] = re.sub(r"\d+", "**", case["address"]) if case["address"] else None
        out["viewer"] = {"can_reveal": may_reveal(user, case), "actions": actions_for(user, case)}
    return out


class Sessions:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by_token: dict[str, dict] = {}
        self.failures: dict[str, int] = {}
        self.locked_until: dict[str, float] = {}

    def sign_in(self, username: str, password: str) -> tuple[int, dict, str | None]:
        """(status, body, token) for POST /api/v1/auth/session."""
        with self.lock:
            if username == "demo-disabled":
                return 403, error("account_disabled", "该账号已停用，请联系系统管理员。"), None
            if username == "demo-throttled":
                return (
                    429,
                    error("login_throttled", "登录尝试过于频繁，请 30 秒后再试。", details={"retry_after_s": 30}),
                    None,
                )
            left = self.locked_until.get(username, 0) - time.monotonic()
            if left > 0:
                secs = int(left) + 1
                return (
                    423,
                    error(
                        "account_locked",
                        f"密码错误次数过多，账号已临时锁定，请 {secs} 秒后再试。",
                        details={"retry_after_s": secs},
                    ),
                    None,
                )
            if password != DEMO_PASSWORD:
                n = self.failures.get(username, 0) + 1
                self.failures[username] = n
                if n >= MAX_FAILURES:
                    self.failures[username] = 0
                    self.locked_until[username] = time.monotonic() + LOCK_SECONDS
                    return (
                        423,
                        error(
                            "account_locked",
                            f"密码错误次数过多，账号已临时锁定，请 {LOCK_SECONDS} 秒后再试。",
                            details={"retry_after_s": LOCK_SECONDS},
                        ),
                        None,
                    )
                return (
                    401,
                    error("invalid_credentials", f"用户名或密码错误，还可尝试 {MAX_FAILURES - n} 次。"),
                    None,
                )
            self.failures.pop(username, None)
            token = secrets.token_urlsafe(24)
            expires = datetime.now(UTC) + SESSION_TTL
            session = {"user": user_for(username), "csrf": secrets.token_urlsafe(24), "expires": expires}
            self.by_token[token] = session
            return 200, self.describe(session), token

    def get(self, token: str | None) -> dict | None:
        with self.lock:
            session = self.by_token.get(token or "")
            if session and session["expires"] <= datetime.now(UTC):
                del self.by_token[token or ""]
                return None
            return session

    def end(self, token: str | None) -> None:
        with self.lock:
            self.by_token.pop(token or "", None)

    @staticmethod
    def describe(session: dict) -> dict:
        return {
            "user": session["user"],
            "expires_at": _iso(session["expires"]),
            "csrf_token": session["csrf"],
        }


SESSIONS = Sessions()
PUBLIC_STATIC = {"login.js", "login.css", "favicon.svg"}

STORE = Store()
HUB = Hub()
OPTIONS = argparse.Namespace(stream="ok", interval=2.0, quiet=False, auto_login=None)


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

    def _send(self, code: int, body: bytes, ctype: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, obj, code: int = 200, headers: dict[str, str] | None = None) -> None:
        self._send(
            code,
            json.dumps(obj, ensure_ascii=False).encode("utf-8"),
            "application/json; charset=utf-8",
            headers,
        )

    def _redirect(self, location: str) -> None:
        self.send_response(303)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()

    # -- session --------------------------------------------------------------
    def _token(self) -> str | None:
        raw = self.headers.get("Cookie")
        if not raw:
            return None
        jar = SimpleCookie()
        try:
            jar.load(raw)
        except CookieError:
            return None
        morsel = jar.get(COOKIE)
        return morsel.value if morsel else None

    def _session(self) -> dict | None:
        session = SESSIONS.get(self._token())
        if session is None and OPTIONS.auto_login:
            # --auto-login: a request without a session acts as this account (screenshots).
            user = user_for(OPTIONS.auto_login)
            return {"user": user, "csrf": None, "expires": datetime.now(UTC) + SESSION_TTL, "auto": True}
        return session

    def _unauthenticated(self) -> None:
        self._json(error("unauthenticated", "登录已失效，请重新登录。"), 401)

    def _cookie(self, token: str, max_age: int | None) -> dict[str, str]:
        parts = [f"{COOKIE}={token}", "Path=/", "HttpOnly", "SameSite=Strict"]
        if max_age is not None:
            parts.append(f"Max-Age={max_age}")
        return {"Set-Cookie": "; ".join(parts)}

    def _body(self) -> dict | None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
            data = json.loads(self.rfile.read(length) or b"null") if length else None
        except (ValueError, UnicodeDecodeError):
            return None
        return data if isinstance(data, dict) else None

    # -- routes -----------------------------------------------------------------
    def do_GET(self) -> None:
        url = urlparse(self.path)
        path = url.path
        if path in ("/login", "/login.html"):
            return self._file(STATIC_DIR / "login.html")
        if path.startswith("/static/") and path[len("/static/") :] in PUBLIC_STATIC:
            return self._file(STATIC_DIR / path[len("/static/") :])
        session = self._session()
        if path in ("/", "/index.html"):
            if session is None:
                return self._redirect("/login?next=" + quote(path + (f"?{url.query}" if url.query else ""), safe=""))
            return self._file(STATIC_DIR / "index.html")
        if path.startswith("/static/"):
            if session is None:
                return self._unauthenticated()
            target = (STATIC_DIR / path[len("/static/") :]).resolve()
            if STATIC_DIR not in target.parents:
                return self._json(error("not_found", "Not Found"), 404)
            return self._file(target)
        if not path.startswith("/api/"):
            return self._json(error("not_found", "Not Found"), 404)
        if session is None:
            return self._unauthenticated()
        user = session["user"]
        perms = PERMISSIONS[user["role"]]
        if path == "/api/v1/auth/me":
            return self._json(
                {
                    "user": user,
                    "permissions": perms,
                    "csrf_token": session["csrf"],
                    "expires_at": _iso(session["expires"]),
                }
            )
        if path == "/api/v1/cases":
            qs = parse_qs(url.query)
            try:
                limit = max(1, min(500, int(qs.get("limit", ["100"])[0])))
            except ValueError:
                return self._json(error("validation_failed", "limit 必须是整数", ["limit"]), 422)
            return self._json(STORE.listing(limit, user))
        if path.startswith("/api/v1/cases/"):
            code, body = STORE.detail(path.rsplit("/", 1)[-1], user)
            return self._json(body, code)
        if path == "/api/v1/grids":
            if "reference.read" not in perms:
                return self._json(error("forbidden", refusal(user, "查看基础数据")), 403)
            return self._json(GRIDS_GEOJSON)
        if path == "/api/v1/stream":
            if "live_feed.read" not in perms:
                return self._json(error("forbidden", refusal(user, "查看实时动态")), 403)
            return self._stream(None if session.get("auto") else self._token())
        return self._json(error("not_found", "Not Found"), 404)

    def do_POST(self) -> None:
        path = urlparse(self.path).path
        if path == "/api/v1/auth/session":
            return self._sign_in()
        token = self._token()
        session = self._session()
        if session is None:
            return self._unauthenticated()
        if not session.get("auto") and self.headers.get("X-CSRF-Token") != session["csrf"]:
            return self._json(error("csrf_failed", "页面已过期，请刷新页面后重试。"), 403)
        if (self.headers.get("Content-Type") or "").split(";")[0].strip() != "application/json":
            return self._json(error("unsupported_media_type", "请求格式须为 JSON"), 415)
        user = session["user"]
        if path == "/api/v1/auth/logout":
            SESSIONS.end(token)
            return self._json({"signed_out": True}, 200, self._cookie("", 0))
        if path.startswith("/api/v1/cases/") and path.endswith("/reveal"):
            case_id = path[len("/api/v1/cases/") : -len("/reveal")]
            body = self._body() or {}
            reason = body.get("reason")
            if not isinstance(reason, str) or not 2 <= len(reason.strip()) <= 200:
                return self._json(error("validation_failed", "请填写查看原因（2–200 字）。", ["reason"]), 422)
            code, out = STORE.reveal(case_id, user, reason.strip())
            if code == 200:
                print(f"[audit] {user['username']} revealed case {case_id}: {reason.strip()}", flush=True)
            return self._json(out, code)
        return self._json(error("not_found", "Not Found"), 404)

    def _sign_in(self) -> None:
        body = self._body()
        username = body.get("username") if body else None
        password = body.get("password") if body else None
        missing = [
            name for name, v in (("username", username), ("password", password)) if not isinstance(v, str) or not v
        ]
        if missing:
            return self._json(error("validation_failed", "请输入用户名和密码。", missing), 422)
        code, out, token = SESSIONS.sign_in(username.strip(), password)
        if token is None:
            return self._json(out, code)
        return self._json(out, code, self._cookie(token, int(SESSION_TTL.total_seconds())))

    def _file(self, p: Path) -> None:
        if not p.is_file():
            return self._json({"detail": "Not Found"}, 404)
        ctype = mimetypes.guess_type(p.name)[0] or "application/octet-stream"
        if ctype.startswith("text/") or ctype in ("application/javascript", "image/svg+xml"):
            ctype += "; charset=utf-8"
        self._send(200, p.read_bytes(), ctype)

    def _stream(self, token: str | None) -> None:
        """SSE; ends when the session behind ``token`` ends (sign-out elsewhere, expiry)."""
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
                if token is not None and SESSIONS.get(token) is None:
                    break
                try:
                    msg = q.get(timeout=5)
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
    ap.add_argument(
        "--auto-login",
        metavar="USERNAME",
        help="treat requests without a session as signed in as USERNAME (for screenshots), e.g. demo-operator",
    )
    args = ap.parse_args()
    OPTIONS.stream, OPTIONS.interval, OPTIONS.quiet = args.stream, args.interval, args.quiet
    OPTIONS.auto_login = args.auto_login
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
