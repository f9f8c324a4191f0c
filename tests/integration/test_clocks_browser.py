"""办理时限 and 督办 in a real browser (headless Chromium via Selenium, driven as in test_workbench_browser.py).

- A freshly dispatched 路灯 case (0101 at 柳塘社区第一网格 → 市政设施科, CG-SZ) shows its clocks on the
  console's case panel: 签收 and 处置 running, green, with their due times (Beijing time), the time used
  of the limit and their history; the calendar's warning (a year whose holiday schedule isn't imported)
  shows as a yellow banner until dismissed for the session.
- An operator issues a supervision order (督办单) through the panel's form; the department (demo-department,
  CG-SZ) finds the case under 待回复督办 on its workbench and replies through the form there; an order
  answered meanwhile is refused with the server's message.
- An order left unanswered past its reply deadline shows under 督办超期 on the console (case number, who
  issued it, why, the department), and opens its case.

Pictures: ``/tmp/ui-clocks.png`` (the panel's clocks and the banner) and ``/tmp/ui-supervision.png`` (the
workbench's reply form, the queue under 待回复督办); ``GRIDCASE_UI_SHOTS=/some/dir`` puts them elsewhere.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By

from services.identity.bootstrap import DEMO_PASSWORD
from tests.integration.conftest import case_in_status, department_headers, post_report
from tests.integration.test_console_browser import in_page, text_of, wait_until
from tests.integration.test_workbench_browser import (  # noqa: F401 (browser: the fixture)
    DEPARTMENT,
    GRID,
    OPERATOR,
    Pages,
    browser,
    fill,
    visible,
)
from tests.support import System, wait_for

CATEGORY = "0101"  # 路灯损坏 → CG-SZ (demo-department's), a district-level case: nobody works it first
SHANGHAI = timezone(timedelta(hours=8))
ORDER_REASON = "群众多次反映该路段路灯不亮，请加快处置并回复办理进展"
ORDER_REPLY = "已安排维修班组今晚更换灯具，预计明日上午完成"


def shot(driver: WebDriver, name: str) -> Path:
    folder = Path(os.environ.get("GRIDCASE_UI_SHOTS") or tempfile.gettempdir())
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    assert driver.save_screenshot(str(path)), path
    return path


def beijing(ts: str) -> str:
    """Beijing time as the pages show a time: "MM-DD HH:mm"."""
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).astimezone(SHANGHAI).strftime("%m-%d %H:%M")


async def detail(api: httpx.AsyncClient, case_id: str) -> dict[str, Any]:
    r = await api.get(f"/api/v1/cases/{case_id}")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def dispatched_streetlight_case(api: httpx.AsyncClient, description: str) -> dict[str, Any]:
    """A 路灯 case dispatched to CG-SZ, once both its clocks run."""
    accepted = await post_report(api, category_code=CATEGORY, grid_code=GRID, description=description)
    case_id = accepted["case_id"]
    await case_in_status(api, case_id, "dispatched")

    async def clocks_running() -> dict[str, Any] | None:
        case = await detail(api, case_id)
        phases = {c["phase"]: c["state"] for c in case["clocks"]}
        return case if phases == {"sign": "running", "handle": "running"} and case["due_at"] else None

    case = await wait_for(clocks_running, what=f"the clocks of {case_id}")
    assert case["department_code"] == "CG-SZ" and not case.get("handler_level"), case
    return case


# Hold the page's reads of cases (its live refreshes) until released: what it shows stays as it was.
HOLD_READS = """
const original = window.fetch;
window.__held = [];
window.__holding = true;
window.fetch = (url, opts) => {
  const read = !opts || !opts.method || opts.method === 'GET';
  if (window.__holding && read && String(url).startsWith('/api/v1/cases')) {
    return new Promise((resolve) => window.__held.push(() => resolve(original(url, opts))));
  }
  return original(url, opts);
};
"""
RELEASE_READS = "window.__holding = false; window.__held.splice(0).forEach((go) => go());"


# The first element shown that matches a selector, read at once in the page ({text, data}): the pages
# re-render these parts on every refresh, so an element found a moment ago may be gone.
SHOWN = """
const e = [...document.querySelectorAll(arguments[0])].find((x) => x.getClientRects().length > 0);
return e ? {text: e.innerText, data: Object.assign({}, e.dataset)} : null;
"""


def shown(css: str) -> Callable[[WebDriver], dict[str, Any] | None]:
    def probe(driver: WebDriver) -> dict[str, Any] | None:
        found: dict[str, Any] | None = driver.execute_script(SHOWN, css)
        return found

    return probe


def scroll_to(driver: WebDriver, css: str) -> None:
    driver.execute_script("const e = document.querySelector(arguments[0]); if (e) e.scrollIntoView();", css)


# ------------------------------------------------------------------------------------------------ tests


@pytest.mark.timeout(300)
async def test_the_case_panel_shows_its_clocks_and_the_calendar_warning(
    browser: WebDriver,  # noqa: F811
    system: System,
    as_role: dict[str, httpx.AsyncClient],
) -> None:
    api = as_role["operator"]
    case = await dispatched_streetlight_case(api, "柳塘社区东门外路灯不亮，晚上很黑")
    case_id = case["case_id"]
    clocks = {c["phase"]: c for c in case["clocks"]}
    calendar = (await api.get("/api/v1/calendar/status")).json()

    pages = Pages(browser, system.http)
    pages.sign_in_as(OPERATOR.username, DEMO_PASSWORD, f"/#case={case_id}")
    for phase, label in (("sign", "签收"), ("handle", "处置")):
        row = wait_until(browser, f"the {label} clock", shown(f'#clocks [data-phase="{phase}"]'))
        assert (row["data"]["state"], row["data"]["light"]) == ("running", "green"), row
        text = row["text"]
        assert text.startswith(label), text
        for part in (
            "计时中",
            "正常",
            f"时限 {beijing(clocks[phase]['due_at'])}",
            "工作小时",
            "按工作时间计",
        ):
            assert part in text, (part, text)
        assert "已用 0" in text and "/共 " in text, text
        used = browser.execute_script(
            "return document.querySelector(arguments[0]).getAttribute('aria-valuenow')",
            f'#clocks [data-phase="{phase}"] [role=progressbar]',
        )
        assert int(used) in range(0, 5), used
    # 处置 within one working day: 7.5 working hours, said as such.
    assert "共 7.5 工作小时（1个工作日）" in in_page('#clocks [data-phase="handle"]')(browser)
    # Its history unfolds: it started with the category's limit.
    pages.click("计时记录 of 处置", '#clocks [data-phase="handle"] summary')
    started = wait_until(
        browser, "the history of 处置", in_page('#clocks [data-phase="handle"] [data-what="started"]')
    )
    assert "开始计时（时限1个工作日）" in started, started
    # The case's deadline field agrees with the 处置 clock.
    assert beijing(case["due_at"]) == beijing(clocks["handle"]["due_at"])

    # 暂估, pauses and an extension as the page writes them, on a clock made up from this one (no
    # category's deadline reaches 2027 today, and pausing takes a suspension).
    made = clocks["handle"] | {
        "provisional": True,
        "pauses": 1,
        "extensions": 1,
        "extended_minutes": 450,
        "history": [
            {"at": "2026-12-28T01:00:00+00:00", "what": "started", "limit": "1wd"},
            {"at": "2026-12-28T02:00:00+00:00", "what": "paused", "used_minutes": 90},
            {"at": "2026-12-29T01:00:00+00:00", "what": "resumed", "left_minutes": 360},
            {
                "at": "2026-12-29T02:00:00+00:00",
                "what": "extended",
                "to": "2027-01-05T09:30:00+00:00",
                "minutes": 450,
            },
            {"at": "2027-01-06T01:00:00+00:00", "what": "exhausted"},
        ],
    }
    drawn = browser.execute_script(
        """
        const node = Gridcase.clockSection({case_id: 'made-up', clocks: [arguments[0]]}, {id: 'made-up'});
        const tag = node.querySelector('.tag-provisional');
        return {
          tag: tag ? [tag.textContent, tag.title] : null,
          summary: node.querySelector('summary').textContent,
          used: node.querySelector('.clock-used').textContent,
          events: [...node.querySelectorAll('.clock-event-text')].map((e) => e.textContent),
        };
        """,
        made,
    )
    assert drawn["tag"] == ["暂估", "涉及未确认节假日安排的年份，时限按周末与固定节日暂估"], drawn
    assert drawn["summary"] == "计时记录（1次暂停、1次延期）", drawn
    assert drawn["used"].endswith("/共 15 工作小时（2个工作日）"), drawn
    assert drawn["events"] == [
        "开始计时（时限1个工作日）",
        "暂停（已用1.5工作小时）",
        "恢复（剩余6工作小时）",
        "延期至 01-05 17:30（延长1个工作日，7.5工作小时）",
        "阶梯已到顶",
    ], drawn

    # The calendar: 2027's holidays are not imported (the system's date is in late 2026), so the page
    # warns in yellow; dismissed, it stays away for the session (a reload doesn't bring it back).
    if calendar["warning"]:
        banner = wait_until(browser, "the calendar banner", text_of("calendar-banner"))
        assert calendar["warning"] in banner, banner
        assert "尚未导入" in banner, banner
    else:
        assert not browser.find_elements(By.ID, "calendar-banner")
    scroll_to(browser, "#clocks")
    shot(browser, "ui-clocks.png")
    if calendar["warning"]:
        pages.click("知道了 on the banner", "#calendar-banner-close")
        wait_until(browser, "the banner gone", lambda d: not d.find_elements(By.ID, "calendar-banner"))
        browser.refresh()
        wait_until(browser, "the clocks after a reload", shown('#clocks [data-phase="handle"]'))
        wait_until(browser, "the list", lambda d: "系统共" in text_of("table-count")(d))
        assert not browser.find_elements(By.ID, "calendar-banner")


@pytest.mark.timeout(400)
async def test_an_operator_supervises_a_case_and_the_department_replies(
    browser: WebDriver,  # noqa: F811
    system: System,
    as_role: dict[str, httpx.AsyncClient],
) -> None:
    api = as_role["operator"]
    case = await dispatched_streetlight_case(api, "柳塘社区北门外两盏路灯不亮")
    case_id, case_no = case["case_id"], case["case_no"]
    pages = Pages(browser, system.http)

    # 1. The operator opens the case: nobody supervises it yet; 下发督办单 without a reason is refused in
    #    the page, then issued with one and a reply due in 4 working hours.
    pages.sign_in_as(OPERATOR.username, DEMO_PASSWORD, f"/#case={case_id}")
    wait_until(browser, "the 督办 section", visible("#sup-supervision"))
    assert "暂无督办单" in text_of("sup-supervision")(browser)
    pages.click("下发督办单", '[data-sup="issue"]')
    form = wait_until(browser, "the order form", visible('form[data-form="supervise"]'))
    form.find_element(By.CSS_SELECTOR, '[data-submit="supervise"]').click()
    assert (
        wait_until(browser, "the missing reason", text_of("sup-supervise-reason-error")) == "请填写督办事由"
    )
    fill(browser, form, "reason", ORDER_REASON)
    fill(browser, form, "reply_within", "4wh")
    form.find_element(By.CSS_SELECTOR, '[data-submit="supervise"]').click()
    item = wait_until(browser, "the order on the panel", shown('#sup-orders [data-status="open"]'))
    assert ORDER_REASON in item["text"] and "待回复" in item["text"], item

    case = await detail(api, case_id)
    (order,) = case["supervision_orders"]
    assert (order["status"], order["reason"]) == ("open", ORDER_REASON), order
    due = in_page(f'#sup-orders [data-order-id="{order["id"]}"] .due')(browser)
    assert due == f"回复时限 {beijing(order['reply_due_at'])}", due
    assert case["supervisor_label"] and case["supervisor_label"] in text_of("sup-supervisor")(browser)
    wait_until(
        browser,
        "下发督办单 in the timeline",
        shown('#panel-rest .tl-item[data-event-type="case.supervision_ordered"]'),
    )

    # 2. The department: 待回复督办 on its workbench lists the case; it replies through the form.
    pages.sign_in_as(DEPARTMENT.username, DEMO_PASSWORD, "/workbench")
    wait_until(
        browser,
        "待回复督办 on the case in the queue",
        shown(f'#wb-rows tr[data-id="{case_id}"] [data-supervision="open"]'),
    )
    assert int(text_of("wb-supervision-count")(browser) or "0") >= 1
    pages.click("the 待回复督办 chip", "#wb-supervision")
    wait_until(
        browser,
        "only cases with open orders",
        lambda d: (
            d.find_element(By.ID, "wb-supervision").get_attribute("aria-pressed") == "true"
            and d.find_elements(By.CSS_SELECTOR, f'#wb-rows tr[data-id="{case_id}"]')
            and all(
                r.find_elements(By.CSS_SELECTOR, "[data-supervision]")
                for r in d.find_elements(By.CSS_SELECTOR, "#wb-rows tr[data-id]")
            )
        ),
    )
    assert case_no in text_of("wb-rows")(browser)
    pages.click("the case in the queue", f'#wb-rows tr[data-id="{case_id}"]')
    pages.click("回复督办", f'[data-reply-order="{order["id"]}"]')
    form = wait_until(browser, "the reply form", visible('form[data-form="reply_supervision"]'))
    assert ORDER_REASON in form.text  # which order it answers
    fill(browser, form, "reply", ORDER_REPLY)
    scroll_to(browser, "#wb-sup-supervision")
    shot(browser, "ui-supervision.png")
    form.find_element(By.CSS_SELECTOR, '[data-submit="reply_supervision"]').click()
    done = wait_until(browser, "the answered order", shown('#wb-sup-orders [data-status="replied"]'))
    assert ORDER_REPLY in done["text"] and "已回复" in done["text"], done
    assert not browser.find_elements(By.CSS_SELECTOR, 'form[data-form="reply_supervision"]')
    (order,) = (await detail(api, case_id))["supervision_orders"]
    assert (order["status"], order["reply"]) == ("replied", ORDER_REPLY), order

    # 3. An order answered elsewhere while the form is open (the page not told yet): the server refuses
    #    (409) and the page says so in the server's words; once the page has the case again, the form
    #    closes and the message stays.
    r = await api.post(f"/api/v1/cases/{case_id}/supervision-orders", json={"reason": "请说明配件到货时间"})
    assert r.status_code == 201, r.text
    second = r.json()["order_id"]
    pages.click("回复督办 on the new order", f'[data-reply-order="{second}"]')
    form = wait_until(browser, "the reply form", visible('form[data-form="reply_supervision"]'))
    fill(browser, form, "reply", "配件明日到货")
    browser.execute_script(HOLD_READS)
    cg_sz = department_headers("CG-SZ")
    r = await api.post(
        f"/api/v1/supervision-orders/{second}/reply", json={"reply": "配件已到货"}, headers=cg_sz
    )
    assert r.status_code == 200, r.text
    again = await api.post(
        f"/api/v1/supervision-orders/{second}/reply", json={"reply": "再答一次"}, headers=cg_sz
    )
    assert again.status_code == 409, again.text
    message = again.json()["message"]
    form.find_element(By.CSS_SELECTOR, '[data-submit="reply_supervision"]').click()
    said = wait_until(browser, "the server's refusal", text_of("wb-sup-reply_supervision-error"))
    assert said == message, (said, message)
    browser.execute_script(RELEASE_READS)
    wait_until(
        browser,
        "the form closed, the refusal kept",
        lambda d: (
            not d.find_elements(By.CSS_SELECTOR, 'form[data-form="reply_supervision"]')
            and in_page("#wb-sup-supervision .acts-notice")(d) == message
        ),
    )
    assert shown(f'#wb-sup-orders [data-order-id="{second}"][data-status="replied"]')(browser)


@pytest.mark.timeout(300)
async def test_late_supervision_orders_on_the_console(
    browser: WebDriver,  # noqa: F811
    system: System,
    as_role: dict[str, httpx.AsyncClient],
) -> None:
    api = as_role["operator"]
    case = await dispatched_streetlight_case(api, "柳塘社区南门路灯一直闪烁")
    case_id, case_no = case["case_id"], case["case_no"]
    reason = "路灯闪烁已一周，请立即回复处置安排"
    # A reply due within 3 seconds: late by the time the page looks.
    r = await api.post(
        f"/api/v1/cases/{case_id}/supervision-orders", json={"reason": reason, "reply_within": "0.05m"}
    )
    assert r.status_code == 201, r.text
    order_id = r.json()["order_id"]

    async def late() -> list[dict[str, Any]] | None:
        found = (await api.get("/api/v1/supervision-orders", params={"status": "overdue"})).json()
        return found if any(o["id"] == order_id for o in found) else None

    await wait_for(late, what=f"order {order_id} late")
    departments = {d["code"]: d["name"] for d in (await api.get("/api/v1/departments")).json()}

    pages = Pages(browser, system.http)
    pages.sign_in_as(OPERATOR.username, DEMO_PASSWORD, "/")
    badge = wait_until(browser, "the 督办超期 count", text_of("orders-badge"))
    assert int(badge) >= 1, badge
    pages.click("the 督办超期 tab", "#tab-orders")
    row = wait_until(browser, "the late order", shown(f'#orders-rows tr[data-order-id="{order_id}"]'))
    for part in (case_no, "区网格化管理指挥中心", reason, departments["CG-SZ"]):
        assert part in row["text"], (part, row)
    assert not browser.find_element(By.ID, "orders-empty").is_displayed()

    # Its case number opens the case: the order is marked late there too, and the timeline says so.
    pages.click("the case number", f'#orders-rows tr[data-order-id="{order_id}"] a.case-link')
    wait_until(browser, "the case panel", lambda d: text_of("panel-title")(d) == case_no)
    item = wait_until(
        browser, "the late order on the panel", shown(f'#sup-orders [data-order-id="{order_id}"]')
    )
    assert item["data"]["overdue"] == "true" and "超期未回复" in item["text"], item
    wait_until(
        browser,
        "督办回复超期 in the timeline",
        shown('#panel-rest .tl-item[data-event-type="case.supervision_overdue"]'),
        timeout=30,
    )
