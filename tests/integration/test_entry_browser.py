"""The console's new parts in a real browser (headless Chromium via Selenium, set up as in
test_console_browser.py): the operator's entry form (录入案件), the 疑似重复 notice of a case found close
to another at routing, and the 网格上报情况 board (零上报).

- The operator enters a task handed down from above (上级交办) with the form: a description too short is
  refused in the page, a 交办单位 too short by the server (its Chinese reason beside the field); the point is
  picked on the console's map; the case is made, opens in the panel and shows the 上级交办 box.
- A report close to an open one of the same kind waits in triage: the panel says "疑似重复：与案件 … 相近",
  links to it, and the 并案 form comes filled in with it (派遣 stays offered, to keep them apart).
- 网格上报情况 lists the 14 grids, marks those neither reported nor 零上报 (未报告, red) and colours them on
  the map; a leader sees the grids of 梅溪街道 only.

Pictures: ``/tmp/ui-entry.png`` (the form with the server's refusal), ``/tmp/ui-entry-case.png`` (the
new case), ``/tmp/ui-duplicate.png`` and ``/tmp/ui-activity.png`` (``GRIDCASE_UI_SHOTS=/some/dir``
puts them elsewhere).
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from services.identity.bootstrap import DEMO_PASSWORD
from tests.integration.conftest import case_in_status, post_report, role_headers
from tests.integration.test_console_browser import (  # noqa: F401 (browser: the fixture)
    LEADER,
    OPERATOR,
    browser,
    click,
    displayed,
    in_page,
    shot,
    sign_in,
    text_of,
    wait_until,
)
from tests.integration.test_workbench_browser import visible
from tests.support import SAMPLE_POINTS, System

SHANGHAI = ZoneInfo("Asia/Shanghai")
PICKED_GRID = "10100133019900100102"  # 柳塘社区第二网格: the point is picked inside it on the map
FROM_UNIT = "市12345热线办"
DOCUMENT_NO = "青12345〔2026〕118号"
REQUIREMENTS = "三日内办结并书面回复办理结果"
DESCRIPTION = "市民反映柳塘社区北门外三盏路灯连续三晚不亮，夜间出行不便"
CJK = re.compile(r"[\u4e00-\u9fff]")


def field_error(driver: WebDriver, name: str) -> str:
    """The error line under a field of a page-built form ('' if none)."""
    text: str = driver.execute_script(
        'const f = document.querySelector(`[data-field="${arguments[0]}"] .act-field-error`);'
        "return f && !f.hidden ? f.textContent.trim() : '';",
        name,
    )
    return text


def set_field(driver: WebDriver, css: str, value: str) -> None:
    field = driver.find_element(By.CSS_SELECTOR, css)
    field.clear()
    field.send_keys(value)


async def detail(api: httpx.AsyncClient, case_id: str) -> dict[str, Any]:
    r = await api.get(f"/api/v1/cases/{case_id}")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


@pytest.mark.timeout(300)
async def test_operator_enters_a_task_handed_down_from_above(
    browser: WebDriver,  # noqa: F811
    system: System,
    as_role: dict[str, httpx.AsyncClient],
) -> None:
    api = as_role["operator"]
    browser.get(f"{system.http}/")
    sign_in(browser, OPERATOR, DEMO_PASSWORD)
    wait_until(browser, "the case list to load", lambda d: "系统共" in text_of("table-count")(d))
    wait_until(browser, "the map's grids", lambda d: d.find_elements(By.CSS_SELECTOR, "#map path[data-code]"))

    # 录入案件 (the operator may report): the form in the side panel, a fresh one with its defaults.
    click(browser, "录入案件", "#entry-open")
    form = wait_until(browser, "the entry form", displayed("entry-form"))
    channel = Select(form.find_element(By.NAME, "channel"))
    assert channel.first_selected_option.get_attribute("value") == "operator"
    assert [o.text for o in channel.options] == [
        "指挥中心录入",
        "上级交办",
        "12345热线（人工录入）",
        "微信（人工录入）",
    ]
    assert not browser.find_element(By.ID, "entry-handed").is_displayed()  # 上级交办 only for superior
    channel.select_by_value("superior")
    wait_until(browser, "the 上级交办 block", displayed("entry-handed"))
    wait_until(
        browser,
        "the categories",
        lambda d: d.find_elements(
            By.CSS_SELECTOR, '#entry-form select[name="category_code"] option[value="0101"]'
        ),
    )

    # A description of one character: refused in the page, in Chinese, nothing sent.
    set_field(browser, '#entry-form [name="description"]', "灯")
    set_field(browser, '#entry-form [name="handed_down.from_unit"]', "区")  # too short: the server says so
    click(browser, "提交录入", "#entry-submit")
    refusal = wait_until(browser, "the page's refusal", lambda d: field_error(d, "description"))
    assert "问题描述须为 2–4000 个字" in refusal, refusal
    assert "请检查" in text_of("entry-error")(browser)
    assert form.find_element(By.NAME, "description").get_attribute("aria-invalid") == "true"

    # A good description, the 交办单位 still one character: the server's Chinese reason beside the field.
    set_field(browser, '#entry-form [name="description"]', DESCRIPTION)
    set_field(browser, '#entry-form [name="handed_down.document_no"]', DOCUMENT_NO)
    deadline = (datetime.now(SHANGHAI) + timedelta(days=3)).replace(
        hour=17, minute=30, second=0, microsecond=0
    )
    browser.execute_script(
        "arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('input', {bubbles: true}));",
        form.find_element(By.NAME, "handed_down.deadline"),
        deadline.strftime("%Y-%m-%dT%H:%M"),
    )
    set_field(browser, '#entry-form [name="handed_down.requirements"]', REQUIREMENTS)
    Select(form.find_element(By.NAME, "category_code")).select_by_value("0101")
    Select(form.find_element(By.NAME, "urgency")).select_by_value("urgent")
    click(browser, "提交录入", "#entry-submit")
    reason = wait_until(
        browser, "the server's refusal of 交办单位", lambda d: field_error(d, "handed_down.from_unit")
    )
    assert ("至少2个字" in reason or "至少 2 个字" in reason) and CJK.search(reason), reason
    message = text_of("entry-error")(browser)
    assert "上报内容有误" in message and not re.search(r"[A-Za-z]{3,}", message), message
    assert not field_error(browser, "description")
    shot(browser, "ui-entry.png")

    # The place: picked on the console's map, inside 柳塘社区第二网格 (the grid list follows).
    set_field(browser, '#entry-form [name="handed_down.from_unit"]', FROM_UNIT)
    click(browser, "在地图上选点", "#entry-pick")
    wait_until(
        browser,
        "the map waiting for a click",
        lambda d: d.find_elements(By.CSS_SELECTOR, ".map-card.picking"),
    )
    grid_shape = browser.find_element(By.CSS_SELECTOR, f'#map path[data-code="{PICKED_GRID}"]')
    ActionChains(browser).move_to_element(grid_shape).click().perform()
    picked = wait_until(browser, "the picked point", text_of("entry-point"))
    assert "已选点" in picked and "柳塘社区第二网格" in picked, picked
    assert (
        Select(form.find_element(By.NAME, "grid_code")).first_selected_option.get_attribute("value")
        == PICKED_GRID
    )
    assert browser.find_elements(By.CSS_SELECTOR, '#map [data-picked="true"]')

    # Sent: the form closes, "已受理：案件编号 …", and the case opens in the panel with its 上级交办 box.
    click(browser, "提交录入", "#entry-submit")
    toast = wait_until(
        browser, "已受理", lambda d: text_of("toast")(d) if "已受理" in text_of("toast")(d) else None
    )
    case_no = re.search(r"案件编号 (\d{14})", toast)
    assert case_no, toast
    wait_until(
        browser,
        "the entry form closed",
        lambda d: "open" not in (d.find_element(By.ID, "entry-panel").get_attribute("class") or "").split(),
    )
    wait_until(browser, "the new case in the panel", lambda d: text_of("panel-title")(d) == case_no[1])
    box = wait_until(browser, "the 上级交办 box", lambda d: in_page("#handed-down")(d) or None)
    for part in ("上级交办", FROM_UNIT, DOCUMENT_NO, deadline.strftime("%Y-%m-%d %H:%M"), REQUIREMENTS):
        assert part in box, (part, box)
    assert "上级交办" in in_page("#panel-top")(browser)  # 来源
    wait_until(
        browser,
        "the case in the list",
        lambda d: d.find_elements(By.CSS_SELECTOR, f'tr[data-case-no="{case_no[1]}"]'),
    )
    shot(browser, "ui-entry-case.png")

    # What the server keeps: the channel, the task from above, the point, the grid it lies in.
    found = (await api.get("/api/v1/cases", params={"q": case_no[1]})).json()["items"]
    assert len(found) == 1, found
    case = await detail(api, found[0]["case_id"])
    assert case["channel"] == "superior" and case["urgency"] == "urgent", case
    handed = case["intake_details"]["handed_down"]
    assert (handed["from_unit"], handed["document_no"], handed["requirements"]) == (
        FROM_UNIT,
        DOCUMENT_NO,
        REQUIREMENTS,
    )
    assert datetime.fromisoformat(handed["deadline"]) == deadline, handed
    assert case["grid_code"] == PICKED_GRID and case["location"], case
    assert case["description"] == DESCRIPTION

    # Opened again: a fresh form (empty, the default channel).
    click(browser, "录入案件", "#entry-open")
    wait_until(browser, "the entry form again", displayed("entry-form"))
    assert (
        browser.find_element(By.CSS_SELECTOR, '#entry-form [name="description"]').get_attribute("value") == ""
    )
    assert (
        Select(browser.find_element(By.NAME, "channel")).first_selected_option.get_attribute("value")
        == "operator"
    )


@pytest.mark.timeout(300)
async def test_a_likely_duplicate_is_flagged_and_the_merge_form_filled_in(
    browser: WebDriver,  # noqa: F811
    system: System,
    as_role: dict[str, httpx.AsyncClient],
) -> None:
    api = as_role["operator"]
    lon, lat = SAMPLE_POINTS["10100133019900100302"]
    place = {"lat": lat + 0.0002, "lon": lon - 0.0002, "crs": "wgs84"}
    tag = uuid.uuid4().hex[:6]
    first = await post_report(
        api,
        channel="operator",
        category_code="0104",
        grid_code=None,
        location=place,
        description=f"杏林路下水道堵塞，污水外溢 {tag}",
    )
    await case_in_status(api, first["case_id"], "dispatched", "triage")
    second = await post_report(
        api,
        channel="operator",
        category_code="0104",
        grid_code=None,
        location=place,
        description=f"杏林路口窨井冒水，污水漫到路面 {tag}",
    )
    case = await case_in_status(api, second["case_id"], "triage")
    assert case["triage_reason"] == "likely_duplicate" and case["likely_duplicate_of"], case
    original = case["likely_duplicate_of"]  # the nearest open one (ours, unless another test's is nearer)

    browser.get(f"{system.http}/#case={second['case_id']}")
    sign_in(browser, OPERATOR, DEMO_PASSWORD)
    notice = wait_until(browser, "the 疑似重复 notice", lambda d: in_page("#likely-duplicate")(d) or None)
    assert f"疑似重复：与案件 {original['case_no']} 相近" in notice, notice
    # Both ways stay open: 并案 with it, or 派遣 on its own.
    wait_until(browser, "派遣 and 并案", visible('[data-action="mark_duplicate"]'))
    assert browser.find_element(By.CSS_SELECTOR, '[data-action="dispatch"]').is_displayed()

    click(browser, "并案到该案件…", "#likely-duplicate-merge")
    merge = wait_until(browser, "the 并案 form", visible('form[data-form="mark_duplicate"]'))
    assert merge.find_element(By.NAME, "original_case_id").get_attribute("value") == original["case_no"]
    shot(browser, "ui-duplicate.png")

    # The link opens the other case.
    click(browser, "the link to the other case", "#likely-duplicate-link")
    wait_until(browser, "the other case", lambda d: text_of("panel-title")(d) == original["case_no"])


@pytest.mark.timeout(300)
async def test_the_board_of_grids_that_sent_nothing_today(
    browser: WebDriver,  # noqa: F811
    system: System,
    as_role: dict[str, httpx.AsyncClient],
) -> None:
    api = as_role["operator"]
    # demo-gridworker's grid has nothing to report today (零上报): not 未报告 any more.
    r = await api.post(
        "/api/v1/app/checkins", json={"note": "今日巡查无异常"}, headers=role_headers("grid_worker")
    )
    assert r.status_code == 201, r.text
    checked = r.json()["grid_code"]
    board = (await api.get("/api/v1/app/activity")).json()
    silent = {g["grid_code"] for g in board["grids"] if g["silent"]}
    assert len(board["grids"]) == 14 and checked not in silent, board

    browser.get(f"{system.http}/")
    sign_in(browser, OPERATOR, DEMO_PASSWORD)
    wait_until(browser, "the case list to load", lambda d: "系统共" in text_of("table-count")(d))
    badge = wait_until(browser, "the count on the tab", lambda d: in_page("#activity-badge")(d) or None)
    assert badge == str(len(silent)), (badge, silent)
    click(browser, "网格上报情况", "#tab-activity")

    def rows(d: WebDriver) -> list[dict[str, str]] | None:
        found: list[dict[str, str]] = d.execute_script(
            "return [...document.querySelectorAll('#activity-rows tr[data-grid]')]"
            ".map((r) => ({grid: r.dataset.grid, state: r.dataset.state, text: r.innerText}))"
        )
        return found if len(found) == 14 else None

    listed = wait_until(browser, "the 14 grids", rows)
    states = {r["grid"]: r for r in listed}
    assert {g for g, r in states.items() if r["state"] == "silent"} == silent
    for grid, row in states.items():
        assert ("未报告" in row["text"]) == (grid in silent), row
    assert states[checked]["state"] in {"zero", "reported"} and "未报告" not in states[checked]["text"]
    summary = in_page("#activity-summary")(browser)
    assert f"未报告 {len(silent)} 个" in summary and "共 14 个网格" in summary, summary
    assert in_page("#activity-rows tr.activity-row-silent .a-state")(browser) == "未报告"
    # The map: the grids not heard from in red.
    wait_until(
        browser,
        "未报告 grids coloured on the map",
        lambda d: len(d.find_elements(By.CSS_SELECTOR, "#map path.activity-silent")) == len(silent),
    )
    assert "未报告网格" in text_of("map-hint")(browser)
    shot(browser, "ui-activity.png")

    # 只看未报告: the others go.
    click(browser, "只看未报告", "#activity-silent-only")
    wait_until(
        browser,
        "only the silent grids",
        lambda d: len(d.find_elements(By.CSS_SELECTOR, "#activity-rows tr[data-grid]")) == len(silent),
    )

    # Yesterday: the day picker asks the server for that day.
    yesterday = (datetime.now(SHANGHAI) - timedelta(days=1)).strftime("%Y-%m-%d")
    browser.execute_script(
        "const i = document.getElementById('activity-day'); i.value = arguments[0];"
        "i.dispatchEvent(new Event('change', {bubbles: true}));",
        yesterday,
    )
    wait_until(browser, "yesterday's board", lambda d: yesterday in text_of("activity-foot")(d))
    assert in_page("#activity-reports-head")(browser) == "当日上报"

    # A leader (梅溪街道) sees that street's grids only.
    try:
        browser.find_element(By.ID, "logout").click()
    except StaleElementReferenceException:
        click(browser, "退出登录", "#logout")
    wait_until(browser, "the sign-in page", lambda d: d.find_elements(By.ID, "login-form"))
    sign_in(browser, LEADER, DEMO_PASSWORD)
    wait_until(browser, "the console as the leader", lambda d: d.find_elements(By.ID, "tab-activity"))
    assert not browser.find_element(By.ID, "entry-open").is_displayed()  # leaders don't enter reports
    click(browser, "网格上报情况", "#tab-activity")
    streets = wait_until(
        browser,
        "the leader's grids",
        lambda d: d.execute_script(
            "const r = [...document.querySelectorAll('#activity-rows tr[data-grid]')];"
            "return r.length ? r.map((x) => x.dataset.grid.slice(0, 15)) : null;"
        ),
    )
    assert set(streets) == {"101001330199001"} and len(streets) == 9, streets
