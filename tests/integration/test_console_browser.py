"""Acceptance test in a real browser: sign in, the console, sign out (headless Chromium via Selenium).

Needs Debian's ``chromium`` and ``chromium-driver`` (``deploy/install-test-browser.sh`` installs them
with ``fonts-noto-cjk``). Without them the module is skipped, except on CI (``CI`` set), where a
missing browser is a failure.

``GRIDCASE_UPDATE_SCREENSHOTS=1`` also saves the signed-in console to ``docs/console.png``, after
submitting a few demo reports so that the picture isn't empty:

    GRIDCASE_UPDATE_SCREENSHOTS=1 .venv/bin/python -m pytest -q tests/integration/test_console_browser.py
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException, WebDriverException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from schemas.identity import Role
from services.identity.bootstrap import DEMO_ACCOUNTS, DEMO_PASSWORD
from tests.integration.conftest import case_in_status, post_report, report, reporter_headers, role_headers
from tests.support import GRIDS, SAMPLE_POINTS, System

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
WINDOW = (1600, 1000)  # the size of the screenshots in docs/

# The demo accounts `gridcase up` seeds (one per role, all with DEMO_PASSWORD).
DEMO_USERS = {account.role: account.username for account in DEMO_ACCOUNTS}
OPERATOR = DEMO_USERS[Role.OPERATOR]
LEADER = DEMO_USERS[Role.LEADER]

COOKIE = "gridcase_session"
LOGIN_TITLE = "Gridcase 网格化管理指挥中心 · 登录"

MISSING = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
if MISSING and not os.environ.get("CI"):
    pytest.skip(
        f"{' and '.join(MISSING)} not installed: run deploy/install-test-browser.sh "
        "(on CI, where CI is set, this module fails instead of skipping)",
        allow_module_level=True,
    )

T = TypeVar("T")

# fetch() from inside the page (its cookies, its origin): {status, body} or {error}.
FETCH = """
const [url, done] = [arguments[0], arguments[arguments.length - 1]];
fetch(url, {credentials: 'same-origin', cache: 'no-store', headers: {Accept: 'application/json'}})
  .then((r) => r.text().then((body) => done({status: r.status, body: body})))
  .catch((e) => done({error: String(e)}));
"""

# Record what the server answers to the sign-in request, before the page handles it.
RECORD_SIGN_IN = """
const original = window.fetch;
window.fetch = async (...args) => {
  const res = await original(...args);
  if (String(args[0]).includes('/api/v1/auth/session')) {
    let body = null;
    try { body = await res.clone().json(); } catch (e) { body = null; }
    window.__signInAnswer = {status: res.status, body: body};
  }
  return res;
};
"""


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    if MISSING:  # only reached on CI: the module skips elsewhere
        pytest.fail(f"{' and '.join(MISSING)} missing on CI: run deploy/install-test-browser.sh first")
    options = Options()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
        "--lang=zh-CN",
        "--no-first-run",
        "--disable-extensions",
    ):
        options.add_argument(arg)
    options.add_experimental_option(
        "prefs",
        {
            "credentials_enable_service": False,
            "profile.password_manager_enabled": False,
            "intl.accept_languages": "zh-CN,zh",
        },
    )
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        driver.set_page_load_timeout(30)
        driver.set_script_timeout(15)
        # --window-size is the window's outer size: grow it so that the page gets exactly WINDOW.
        inner = driver.execute_script("return [window.innerWidth, window.innerHeight]")
        driver.set_window_size(2 * WINDOW[0] - inner[0], 2 * WINDOW[1] - inner[1])
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def console_url(system: System) -> str:
    return system.http


def path_of(driver: WebDriver) -> str:
    return urlsplit(driver.current_url).path


def wait_until(
    driver: WebDriver, what: str, condition: Callable[[WebDriver], T | None], timeout: float = 20.0
) -> T:
    """Wait for ``condition`` to be truthy; fail saying what we waited for and where the page was."""
    try:
        # A live refresh may replace an element between finding it and reading it: look again.
        result = WebDriverWait(
            driver, timeout, poll_frequency=0.1, ignored_exceptions=(StaleElementReferenceException,)
        ).until(condition)
    except TimeoutException:
        try:
            text = driver.execute_script("return document.body ? document.body.innerText : ''")
        except WebDriverException:
            text = "?"
        raise AssertionError(
            f"timed out after {timeout}s waiting for {what}; page {driver.current_url}:\n{str(text)[:1500]}"
        ) from None
    assert result is not None  # until() returns only a truthy value
    return result


def text_of(element_id: str) -> Callable[[WebDriver], str]:
    def probe(driver: WebDriver) -> str:
        found = driver.find_elements(By.ID, element_id)
        return found[0].text.strip() if found else ""

    return probe


def displayed(element_id: str) -> Callable[[WebDriver], WebElement | None]:
    """The element, once it is on the page and visible (the case panel slides in)."""

    def probe(driver: WebDriver) -> WebElement | None:
        found = driver.find_elements(By.ID, element_id)
        return found[0] if found and found[0].is_displayed() else None

    return probe


def page_fetch(driver: WebDriver, url: str) -> dict[str, Any]:
    answer: dict[str, Any] = driver.execute_async_script(FETCH, url)
    assert "error" not in answer, f"fetch {url} from the page failed: {answer['error']}"
    return answer


def sign_in(driver: WebDriver, username: str, password: str) -> None:
    wait_until(
        driver, "an enabled sign-in button", lambda d: d.find_element(By.ID, "login-submit").is_enabled()
    )
    for field, value in (("username", username), ("password", password)):
        box = driver.find_element(By.ID, field)
        box.clear()
        box.send_keys(value)
    driver.find_element(By.ID, "login-submit").click()


def test_sign_in_see_the_console_and_sign_out(browser: WebDriver, console_url: str) -> None:
    # Not signed in: the console sends us to the sign-in page, which will bring us back to "/".
    browser.get(f"{console_url}/")
    wait_until(browser, "the sign-in page", lambda d: path_of(d) == "/login")
    assert parse_qs(urlsplit(browser.current_url).query).get("next") == ["/"]
    assert browser.title == LOGIN_TITLE
    # The sign-in page uses only the public static files (anything else would have been refused).
    loaded = browser.execute_script(
        "return performance.getEntriesByType('resource').map((e) => [e.name, e.responseStatus || 0])"
    )
    refused = [(url, status) for url, status in loaded if status and status != 200]
    assert not refused, f"the sign-in page loaded files it may not: {refused}"

    sign_in(browser, OPERATOR, DEMO_PASSWORD)
    wait_until(browser, "the console", lambda d: path_of(d) == "/" and d.find_elements(By.ID, "cases"))
    whoami = wait_until(browser, "who is signed in (#whoami)", text_of("whoami"))
    assert not browser.find_elements(By.ID, "login-form")
    assert not browser.find_elements(By.ID, "password")
    assert browser.find_element(By.ID, "cases").is_displayed()
    assert browser.find_element(By.ID, "logout").is_displayed()
    wait_until(browser, "the case list to load", lambda d: "系统共" in text_of("table-count")(d))
    wait_until(browser, "the live stream (实时)", lambda d: text_of("conn-text")(d) == "实时")

    me = page_fetch(browser, "/api/v1/auth/me")
    assert me["status"] == 200, me
    display_name = json.loads(me["body"])["user"]["display_name"]
    assert whoami.startswith(display_name), (whoami, display_name)

    # The session cookie: HttpOnly (scripts can't read it) and SameSite=Strict.
    cookie = browser.get_cookie(COOKIE)
    assert cookie is not None, browser.get_cookies()
    assert cookie["httpOnly"] is True
    assert cookie.get("sameSite") == "Strict", cookie
    assert COOKIE not in browser.execute_script("return document.cookie")

    alert = browser.find_element(By.ID, "alert")
    assert not alert.is_displayed(), f"the console shows an error: {alert.text}"

    if os.environ.get("GRIDCASE_UPDATE_SCREENSHOTS") == "1":
        save_console_screenshot(browser, console_url)

    # Sign out: back on the sign-in page, the cookie gone and the session over on the server.
    browser.find_element(By.ID, "logout").click()
    wait_until(browser, "the sign-in page after signing out", lambda d: path_of(d) == "/login")
    assert browser.get_cookie(COOKIE) is None, browser.get_cookies()
    old = httpx.get(f"{console_url}/api/v1/auth/me", cookies={COOKIE: cookie["value"]}, timeout=10.0)
    assert old.status_code == 401, f"the signed-out session still works: {old.status_code} {old.text}"

    # The console is gone: "/" shows the sign-in page and the API refuses the page.
    browser.get(f"{console_url}/")
    wait_until(browser, "the sign-in page instead of the console", lambda d: path_of(d) == "/login")
    assert not browser.find_elements(By.ID, "cases")
    assert browser.find_elements(By.ID, "login-form")
    assert page_fetch(browser, "/api/v1/cases")["status"] == 401


def test_wrong_password_shows_the_servers_message(browser: WebDriver, console_url: str) -> None:
    browser.get(f"{console_url}/login")
    wait_until(browser, "the sign-in page", lambda d: d.find_elements(By.ID, "login-form"))
    browser.execute_script(RECORD_SIGN_IN)

    sign_in(browser, LEADER, "not-the-password")
    shown = wait_until(browser, "the error message (#login-error)", text_of("login-error"))
    answer = browser.execute_script("return window.__signInAnswer")
    assert answer is not None and answer["status"] == 401, answer
    assert answer["body"]["error"] == "invalid_credentials", answer
    assert shown == answer["body"]["message"], (shown, answer)  # verbatim
    assert re.search(r"[\u4e00-\u9fff]", shown), shown  # Chinese, for the person at the screen
    box = browser.find_element(By.ID, "login-error")
    assert box.get_attribute("role") == "alert"
    assert path_of(browser) == "/login"
    assert browser.get_cookie(COOKIE) is None
    assert browser.find_element(By.ID, "password").get_attribute("value") == ""


def test_sign_in_never_leaves_the_site(browser: WebDriver, console_url: str) -> None:
    # `next` pointing to another site ("//host" is protocol-relative) is ignored: we land on "/".
    browser.get(f"{console_url}/login?next=%2F%2Fexample.com%2Fphish")
    sign_in(browser, OPERATOR, DEMO_PASSWORD)
    wait_until(browser, "the console", lambda d: d.find_elements(By.ID, "cases"))
    here, home = urlsplit(browser.current_url), urlsplit(console_url)
    assert (here.netloc, here.path) == (home.netloc, "/"), browser.current_url


def test_operator_reveals_a_residents_phone_and_it_is_audited(browser: WebDriver, console_url: str) -> None:
    phone, reason = "13800138000", "回访核实处置情况"
    body = report(channel="wechat", reporter={"name": "张三", "phone": phone})
    r = httpx.post(
        f"{console_url}/api/v1/reports", json=body, headers=reporter_headers("wechat"), timeout=10.0
    )
    assert r.status_code == 202, r.text
    case_id = r.json()["case_id"]

    # A link to the case: signing in first, then straight to its panel (the fragment survives).
    browser.get(f"{console_url}/#case={case_id}")
    wait_until(browser, "the sign-in page", lambda d: path_of(d) == "/login")
    sign_in(browser, OPERATOR, DEMO_PASSWORD)
    button = wait_until(browser, "查看联系方式 (#reveal-button)", displayed("reveal-button"))
    panel = browser.find_element(By.ID, "panel-body").text
    assert "138****8000" in panel, panel  # masked until asked for
    assert phone not in panel, panel

    button.click()
    wait_until(browser, "the reason form", displayed("reveal-reason")).send_keys(reason)
    browser.find_element(By.ID, "reveal-submit").click()  # a POST: needs the CSRF header
    assert wait_until(browser, "the phone in clear (#revealed-phone)", text_of("revealed-phone")) == phone
    assert "本次查看已记入审计日志" in browser.find_element(By.ID, "panel-body").text

    audit = httpx.get(
        f"{console_url}/api/v1/audit",
        params={"case_id": case_id, "action": "case.reveal"},
        headers=role_headers("admin"),
        timeout=10.0,
    )
    assert audit.status_code == 200, audit.text
    entries = [e for e in audit.json() if e["reason"] == reason]
    assert entries and entries[0]["actor"] == f"user:{OPERATOR}", audit.json()


def listed_rows(driver: WebDriver) -> list[dict[str, str]]:
    """The table's rows as the DOM has them: case id, case number and status."""
    rows: list[dict[str, str]] = driver.execute_script(
        "return [...document.querySelectorAll('#case-rows tr[data-id]')]"
        ".map((r) => ({id: r.dataset.id, no: r.dataset.caseNo, status: r.dataset.status}))"
    )
    return rows


def type_search(driver: WebDriver, text: str) -> None:
    box = driver.find_element(By.ID, "search")
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(Keys.BACKSPACE)
    if text:
        box.send_keys(text)


async def test_operator_filters_and_searches_through_the_server(
    browser: WebDriver, console_url: str, as_role: dict[str, httpx.AsyncClient]
) -> None:
    api = as_role["operator"]
    # One case for the triage queue (no category) and two that dispatch sends on.
    triage = await post_report(
        api, channel="hotline", category_code=None, description="东门外那一片一直这样，也没人管，请尽快处理"
    )
    others = [await post_report(api, description=f"小区东门路灯不亮 {i}") for i in range(2)]
    await case_in_status(api, triage["case_id"], "triage")
    for accepted in others:
        await case_in_status(api, accepted["case_id"], "dispatched")

    # Two cases a page (?page_size=2): there are at least three, so "加载更多" is offered.
    browser.get(f"{console_url}/?page_size=2")
    sign_in(browser, OPERATOR, DEMO_PASSWORD)
    wait_until(browser, "the case list to load", lambda d: "系统共" in text_of("table-count")(d))
    assert len(listed_rows(browser)) == 2, listed_rows(browser)
    wait_until(browser, "加载更多", displayed("more")).click()
    wait_until(browser, "the second page, appended", lambda d: len(listed_rows(d)) > 2)
    assert len({r["id"] for r in listed_rows(browser)}) == len(listed_rows(browser))  # no row twice

    # A case number in the search box: exactly that case (the server searches, not the page).
    type_search(browser, triage["case_no"])
    wait_until(
        browser,
        "only the searched case",
        lambda d: [r["id"] for r in listed_rows(d)] == [triage["case_id"]] and not visible_more(d),
    )

    # One character of text is refused by the server: its message under the box, nothing listed.
    type_search(browser, "油")
    refusal = wait_until(browser, "the search refusal (#search-error)", text_of("search-error"))
    assert "至少" in refusal, refusal
    assert listed_rows(browser) == []
    assert not browser.find_element(By.ID, "alert").is_displayed()

    # No search, then the 待分拣 chip: triage cases only, ours first (the latest change).
    type_search(browser, "")
    wait_until(browser, "the list without search", lambda d: len(listed_rows(d)) == 2)
    assert not browser.find_element(By.ID, "search-error").is_displayed()
    browser.find_element(By.CSS_SELECTOR, '#chips [data-chip="triage"]').click()

    def triage_only(d: WebDriver) -> list[dict[str, str]] | None:
        rows = listed_rows(d)
        pressed = d.find_element(By.CSS_SELECTOR, '#chips [data-chip="triage"]').get_attribute("aria-pressed")
        return rows if pressed == "true" and rows and all(r["status"] == "triage" for r in rows) else None

    rows = wait_until(browser, "only 待分拣 cases", triage_only)
    assert rows[0]["id"] == triage["case_id"], rows
    assert not {a["case_id"] for a in others} & {r["id"] for r in rows}, rows
    assert "筛选出" in text_of("table-count")(browser)


def visible_more(driver: WebDriver) -> bool:
    found = driver.find_elements(By.ID, "more")
    return bool(found and found[0].is_displayed())


# A morning's reports in the demo district, for the README's picture of the console.
SCREENSHOT_REPORTS = [
    ("wechat", "0101", "小区东门路灯不亮，已经三天了，晚上老人出门很不方便"),
    ("hotline", "0102", "人行道上井盖缺失，已有行人险些踩空，请尽快处理"),
    ("wechat", "0103", "菜场门口路面坑洼，雨后积水严重，电动车经过溅水"),
    ("operator", "0201", "垃圾收集点满溢，周边有明显异味"),
    ("hotline", "0304", "学校门口接送时段机动车乱停放，堵塞交通"),
    ("wechat", "0303", "单元楼下消防通道被电动车和杂物堵塞"),
    ("operator", "0302", "早市流动摊贩占道经营，人行道无法通行"),
    ("hotline", "0501", "夜间工地施工噪音很大，影响居民休息"),
    ("wechat", "0204", "大风过后行道树倒伏，压住了部分人行道"),
    ("operator", "0601", "楼上漏水引发邻里纠纷，需要社区调解"),
    ("hotline", "0202", "来电人未说清具体位置，只说在江边附近，道路上有大片油污"),  # no place: 待分拣
]


def save_console_screenshot(driver: WebDriver, console_url: str) -> None:
    """Submit the demo reports, let the live console show them, and save docs/console.png."""
    for i, (channel, category, description) in enumerate(SCREENSHOT_REPORTS):
        lon, lat = SAMPLE_POINTS[GRIDS[i % len(GRIDS)]]
        located = i < len(SCREENSHOT_REPORTS) - 1
        body = report(
            channel=channel,
            category_code=category,
            description=description,
            grid_code=None,
            location={"lat": lat, "lon": lon, "crs": "wgs84"} if located else None,
            reporter={"name": "张三", "phone": "13800138000"} if channel != "operator" else None,
            external_id=f"screenshot-{uuid.uuid4()}",
        )
        r = httpx.post(
            f"{console_url}/api/v1/reports", json=body, headers=reporter_headers(channel), timeout=10.0
        )
        assert r.status_code == 202, r.text
    wait_until(
        driver,
        "the reports in the table",
        lambda d: len(d.find_elements(By.CSS_SELECTOR, "#case-rows tr")) >= len(SCREENSHOT_REPORTS),
    )
    wait_until(driver, "the map", lambda d: d.find_elements(By.CSS_SELECTOR, "#map circle"))
    time.sleep(3)  # routing and dispatch settle; the live stream updates the page
    assert driver.save_screenshot(str(ROOT / "docs" / "console.png"))


def shot(driver: WebDriver, name: str) -> Path:
    """A picture to look at: in /tmp (or GRIDCASE_UI_SHOTS)."""
    folder = Path(os.environ.get("GRIDCASE_UI_SHOTS") or tempfile.gettempdir())
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    assert driver.save_screenshot(str(path)), path
    return path


async def test_operator_sees_a_bounced_case_flagged(
    browser: WebDriver, console_url: str, as_role: dict[str, httpx.AsyncClient]
) -> None:
    """踢皮球: a case sent on to a third department is flagged; the console shows the 推诿 badge, counts and
    filters the flagged cases (推诿预警 N), and the case's banner says who coordinates and who supervises."""
    api = as_role["operator"]
    accepted = await post_report(api, channel="operator", category_code="0101", grid_code=GRIDS[0])
    case_id = accepted["case_id"]
    await case_in_status(api, case_id, "dispatched")  # 路灯损坏 → 市政设施科
    for code in ("ZJ", "ZJ-WY"):
        r = await api.post(
            f"/api/v1/cases/{case_id}/actions",
            json={"action": "redispatch", "department_code": code, "note": "经核实不属原部门职责，改派"},
        )
        assert r.status_code == 200, r.text
    case = (await api.get(f"/api/v1/cases/{case_id}")).json()
    assert case["bounced"], case
    other = await post_report(api, channel="operator", category_code="0101", grid_code=GRIDS[0])
    await case_in_status(api, other["case_id"], "dispatched")

    browser.get(console_url)
    sign_in(browser, OPERATOR, DEMO_PASSWORD)
    wait_until(browser, "the case list to load", lambda d: "系统共" in text_of("table-count")(d))
    link = wait_until(browser, "the 责任矩阵 link", displayed("nav-matrix"))
    assert link.text.strip() == "责任矩阵" and urlsplit(link.get_attribute("href") or "").path == "/matrix"

    # The red 推诿 badge on the flagged row only (read in the page: the table re-renders on live updates).
    assert (
        wait_until(browser, "推诿 on the flagged row", in_page(f'tr[data-id="{case_id}"] .tag-bounce'))
        == "推诿"
    )
    assert not in_page(f'tr[data-id="{other["case_id"]}"] .tag-bounce')(browser)

    # 推诿预警 N: the server's count; pressed, only flagged cases are listed; pressed again, all are.
    chip = '#chips [data-chip="bounced"]'
    counts = (await api.get("/api/v1/cases", params={"limit": 1})).json()["counts"]
    assert counts["bounced"] >= 1, counts
    assert "推诿预警" in in_page(chip)(browser)
    wait_until(
        browser, "the 推诿预警 count", lambda d: in_page(f"{chip} .chip-count")(d) == str(counts["bounced"])
    )
    click(browser, "推诿预警", chip)

    def flagged_only(d: WebDriver) -> list[dict[str, str]] | None:
        rows = listed_rows(d)
        pressed = d.execute_script(f"return document.querySelector('{chip}').getAttribute('aria-pressed')")
        flagged = d.execute_script(
            "return document.querySelectorAll('#case-rows tr[data-id] .tag-bounce').length"
        )
        return rows if pressed == "true" and rows and flagged == len(rows) else None

    rows = wait_until(browser, "only flagged cases", flagged_only)
    assert case_id in {r["id"] for r in rows} and other["case_id"] not in {r["id"] for r in rows}, rows
    assert "筛选出" in text_of("table-count")(browser)

    # The case: the banner says why, who coordinates (the first department) and who supervises now.
    click(browser, "the flagged case", f'#case-rows tr[data-id="{case_id}"]')
    parts = (
        case["bounce_label"],
        f"首接部门：{case['coordinator_department_name']} 负责协调",
        f"已提级至{case['level_label']}督办",
    )
    wait_until(
        browser, "the 推诿预警 banner", lambda d: all(part in in_page("#bounce-banner")(d) for part in parts)
    )
    wait_until(
        browser,
        "推诿预警 in the timeline",
        in_page('#panel-rest .tl-item[data-event-type="case.bounce_flagged"]'),
    )
    shot(browser, "ui-console-bounce.png")

    click(browser, "关闭详情", "#panel-close")
    click(browser, "推诿预警 again", chip)
    wait_until(
        browser,
        "all cases again",
        lambda d: (
            other["case_id"] in {r["id"] for r in listed_rows(d)}
            and d.execute_script(f"return document.querySelector('{chip}').getAttribute('aria-pressed')")
            == "false"
        ),
    )


def in_page(css: str) -> Callable[[WebDriver], str]:
    """The text of the first element matching ``css``, read in the page ('' if none)."""

    def probe(driver: WebDriver) -> str:
        text: str = driver.execute_script(
            "const e = document.querySelector(arguments[0]); return e ? e.textContent.trim() : '';", css
        )
        return text

    return probe


def click(driver: WebDriver, what: str, css: str) -> None:
    """Click the element once it shows; the page re-renders, so a stale one is looked up again."""

    def probe(d: WebDriver) -> bool:
        try:
            found = [e for e in d.find_elements(By.CSS_SELECTOR, css) if e.is_displayed() and e.is_enabled()]
            if not found:
                return False
            found[0].click()
            return True
        except (StaleElementReferenceException, WebDriverException):
            return False

    wait_until(driver, what, probe)
