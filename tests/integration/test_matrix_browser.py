"""The responsibility matrix page (/matrix, 权责清单) in a real browser (headless Chromium via Selenium, set
up as in test_console_browser.py, which skips this module too when Chromium is missing):

the admin sees the check pass and the demo's area rules, adds a rule through the form, is told in Chinese
why a bad time limit is refused, and deletes the rule; the operator reads the page without any editing
controls and asks who handles rubbish in 柳塘社区第一网格 (the grid worker first), also at phone width.

Screenshots go to ``GRIDCASE_SCREENSHOT_DIR`` (default: the temporary directory, e.g.
/tmp/matrix-admin.png and /tmp/matrix-operator.png):

    .venv/bin/python -m pytest -q tests/integration/test_matrix_browser.py
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select

from schemas.identity import Role
from services.identity.bootstrap import DEMO_ACCOUNTS, DEMO_PASSWORD
from tests.integration.test_console_browser import (  # noqa: F401 (browser: the fixture, one for every page)
    browser,
    path_of,
    sign_in,
    text_of,
    wait_until,
)
from tests.support import ADMIN_PASSWORD, System

OPERATOR = next(a for a in DEMO_ACCOUNTS if a.role == Role.OPERATOR)
DESKTOP = (1280, 900)
PHONE = (390, 844)
SHOTS = Path(os.environ.get("GRIDCASE_SCREENSHOT_DIR") or tempfile.gettempdir())

WANGJIANG = "10100133019900200000"  # 望江街道: 0101 路灯 → 街道办事处 (the demo's area rule)
LIUTANG = "10100133019900100100"  # 柳塘社区: 0201 垃圾 → the grid first, department inherited
LIUTANG_1 = "10100133019900100101"  # 柳塘社区第一网格
LIUTANG_2 = "10100133019900100102"  # 柳塘社区第二网格: the rule this test adds and deletes
NEW_CATEGORY = "0304"  # 机动车乱停放 (default: 区公安分局交通警察大队)
CJK = re.compile(r"[\u4e00-\u9fff]")
RESOLVED = (
    "柳塘社区第一网格的“暴露垃圾或垃圾清运不及时”：先由网格先行处置，主办 区城市管理局·环境卫生科，协办 —，"
    "签收 1工作小时，办结 2工作小时（依据：柳塘社区规则）"
)


# ---------------------------------------------------------------------------------------------- helpers


def screen(driver: WebDriver, size: tuple[int, int], *, mobile: bool = False) -> None:
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": size[0], "height": size[1], "deviceScaleFactor": 1, "mobile": mobile},
    )


def open_matrix(driver: WebDriver, base: str, username: str, password: str) -> None:
    driver.get(f"{base}/login?next={quote('/matrix', safe='')}")
    sign_in(driver, username, password)
    wait_until(
        driver, f"/matrix signed in as {username}", lambda d: path_of(d) == "/matrix" and text_of("whoami")(d)
    )
    wait_until(
        driver, "the rules table", visible(f'#mx-table tr[data-category="0101"][data-area="{WANGJIANG}"]')
    )


def full_shot(driver: WebDriver, name: str, size: tuple[int, int], *, mobile: bool = False) -> Path:
    """The whole page at that width (the viewport grown to the page's height), then the screen as it was."""
    height = driver.execute_script("return document.documentElement.scrollHeight")
    screen(driver, (size[0], max(size[1], int(height))), mobile=mobile)
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / name
    driver.save_screenshot(str(path))
    screen(driver, size, mobile=mobile)
    return path


def visible(css: str) -> Callable[[WebDriver], WebElement | None]:
    def probe(d: WebDriver) -> WebElement | None:
        try:
            found = [e for e in d.find_elements(By.CSS_SELECTOR, css) if e.is_displayed()]
        except StaleElementReferenceException:
            return None
        return found[0] if found else None

    return probe


def gone(css: str) -> Callable[[WebDriver], bool]:
    return lambda d: not d.find_elements(By.CSS_SELECTOR, css)


def click(driver: WebDriver, what: str, css: str) -> None:
    """Click the element once it shows (the table re-renders: retry a stale one)."""

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


def fill(form: WebElement, name: str, value: str) -> None:
    field = form.find_element(By.NAME, name)
    if field.tag_name == "select":
        Select(field).select_by_value(value)
    else:
        field.clear()
        field.send_keys(value)


def row_css(category: str, area: str) -> str:
    return f'#mx-table tr[data-category="{category}"][data-area="{area}"]'


def row_text(category: str, area: str) -> Callable[[WebDriver], str]:
    def probe(d: WebDriver) -> str:
        try:
            found = d.find_elements(By.CSS_SELECTOR, row_css(category, area))
            return found[0].text if found else ""
        except StaleElementReferenceException:
            return ""

    return probe


def check_passes(d: WebDriver) -> str:
    box = d.find_elements(By.CSS_SELECTOR, '#mx-check-body[data-ok="true"]')
    return box[0].text if box and not box[0].get_attribute("aria-busy") else ""


async def rules_at(admin: httpx.AsyncClient, category: str, area: str) -> list[dict[str, Any]]:
    r = await admin.get("/api/v1/matrix/rules", params={"category_code": category, "area_code": area})
    assert r.status_code == 200, r.text
    return [row for row in r.json() if row["area_code"] == area]


# ----------------------------------------------------------------------------------------------- tests


@pytest.mark.timeout(300)
async def test_admin_adds_edits_and_deletes_an_area_rule(
    browser: WebDriver,  # noqa: F811
    system: System,
    as_role: dict[str, httpx.AsyncClient],
) -> None:
    admin = as_role["admin"]
    for left in await rules_at(admin, NEW_CATEGORY, LIUTANG_2):  # an earlier run stopped half-way
        assert (await admin.delete(f"/api/v1/matrix/rules/{left['id']}")).status_code == 204

    screen(browser, DESKTOP)
    open_matrix(browser, system.http, "admin", ADMIN_PASSWORD)

    # The check passes; the demo's rules are there, inherited fields shown as the default's, greyed.
    passed = wait_until(browser, "the check to pass", check_passes)
    assert "检查通过：每个类别在每个网格都有责任部门" in passed, passed
    wangjiang = row_text("0101", WANGJIANG)(browser)
    for part in ("望江街道", "街道办事处", "区城市管理局·市政设施科", "街道", "2工作日"):
        assert part in wangjiang, (part, wangjiang)
    liutang = row_text("0201", LIUTANG)(browser)
    assert "（沿用默认：区城市管理局·环境卫生科）" in liutang, liutang
    inherited = browser.find_element(By.CSS_SELECTOR, f"{row_css('0201', LIUTANG)} .mx-col-dept .mx-inherit")
    assert inherited.value_of_css_property("color") != browser.find_element(
        By.CSS_SELECTOR, f"{row_css('0201', LIUTANG)} .mx-col-level"
    ).value_of_css_property("color")  # greyed
    # The default row comes first in its group and can only be edited.
    default = browser.find_element(By.CSS_SELECTOR, row_css("0101", "default"))
    assert "全区（类别默认）" in default.text
    assert default.find_elements(By.CSS_SELECTOR, '[data-action="edit"]')
    assert not default.find_elements(By.CSS_SELECTOR, '[data-action="delete"]')
    assert "初始数据" in wangjiang  # updated_by system:seed, for people
    # Its form has no "沿用默认" (it is what the others inherit) and no area.
    click(browser, "编辑 on 0101's default", f'{row_css("0101", "default")} [data-action="edit"]')
    form = wait_until(browser, "the default's form", visible('form[data-form="rule"]'))
    assert text_of("mx-form-title")(browser) == "编辑类别默认"
    department = Select(form.find_element(By.NAME, "department_code"))
    assert department.first_selected_option.get_attribute("value") == "CG-SZ"
    assert not [o for o in department.options if "沿用默认" in o.text]
    assert not form.find_element(By.NAME, "assist_inherit").is_displayed()
    assert form.find_element(By.NAME, "handle_limit").get_attribute("value") == "1wd"
    browser.find_element(By.ID, "mx-form-cancel").click()
    wait_until(browser, "the form to close", lambda d: not visible("#mx-dialog")(d))

    # A new rule: 0304 at 柳塘社区第二网格, 区城市管理综合执法大队, done in 4 hours.
    click(browser, "新增区域规则", "#mx-add")
    form = wait_until(browser, "the rule form", visible('form[data-form="rule"]'))
    for name, value in (
        ("category_code", NEW_CATEGORY),
        ("area_code", LIUTANG_2),
        ("department_code", "CG-ZF"),
        ("handle_limit", "4h"),
        ("note", "柳塘社区第二网格的乱停放由执法大队处置"),
    ):
        fill(form, name, value)
    form.find_element(By.CSS_SELECTOR, '[data-submit="rule"]').click()
    wait_until(browser, "the form to close", lambda d: not visible("#mx-dialog")(d))
    added = wait_until(browser, "the new rule in the table", row_text(NEW_CATEGORY, LIUTANG_2))
    for part in ("柳塘社区第二网格", "区城市管理综合执法大队", "4小时", "（沿用默认："):
        assert part in added, (part, added)
    saved = await rules_at(admin, NEW_CATEGORY, LIUTANG_2)
    assert len(saved) == 1, saved
    assert (saved[0]["department_code"], saved[0]["handle_limit"], saved[0]["level"]) == ("CG-ZF", "4h", None)
    assert saved[0]["assist"] is None  # 沿用默认 stays inherited
    wait_until(browser, "the check to pass again", check_passes)
    wait_until(browser, "the notice", lambda d: "已保存" in text_of("mx-notice")(d))
    full_shot(browser, "matrix-admin.png", DESKTOP)

    # Edit it with a time limit the server refuses: its Chinese message, next to the form, which stays open.
    click(browser, "编辑 on the new rule", f'{row_css(NEW_CATEGORY, LIUTANG_2)} [data-action="edit"]')
    form = wait_until(browser, "the rule form", visible('form[data-form="rule"]'))
    assert form.find_element(By.NAME, "handle_limit").get_attribute("value") == "4h"
    fill(form, "handle_limit", "abc")
    form.find_element(By.CSS_SELECTOR, '[data-submit="rule"]').click()
    error = wait_until(browser, "the server's refusal", text_of("mx-form-error"))
    assert CJK.search(error) and "办结时限" in error, error
    assert visible('form[data-form="rule"]')(browser), "the form closed on an error"
    assert form.find_element(By.NAME, "handle_limit").get_attribute("aria-invalid") == "true"
    full_shot(browser, "matrix-admin-form.png", DESKTOP)
    browser.find_element(By.ID, "mx-form-cancel").click()
    wait_until(browser, "the form to close", lambda d: not visible("#mx-dialog")(d))
    assert (await rules_at(admin, NEW_CATEGORY, LIUTANG_2))[0]["handle_limit"] == "4h"  # unchanged

    # Delete it, after confirming.
    click(browser, "删除 on the new rule", f'{row_css(NEW_CATEGORY, LIUTANG_2)} [data-action="delete"]')
    assert row_text(NEW_CATEGORY, LIUTANG_2)(browser), "deleted without asking"
    click(browser, "确认删除", f'{row_css(NEW_CATEGORY, LIUTANG_2)} [data-action="confirm-delete"]')
    wait_until(browser, "the rule to leave the table", gone(row_css(NEW_CATEGORY, LIUTANG_2)))
    assert await rules_at(admin, NEW_CATEGORY, LIUTANG_2) == []
    wait_until(browser, "the check to pass after the deletion", check_passes)
    alert = browser.find_element(By.ID, "alert")
    assert not alert.is_displayed(), alert.text


@pytest.mark.timeout(300)
def test_operator_reads_the_matrix_and_asks_who_handles_a_case(
    browser: WebDriver,  # noqa: F811
    system: System,
) -> None:
    screen(browser, DESKTOP)
    open_matrix(browser, system.http, OPERATOR.username, DEMO_PASSWORD)
    wait_until(browser, "the check to pass", check_passes)

    # Read-only: no add, edit or delete, no 操作 column.
    assert not visible("#mx-add")(browser)
    assert not browser.find_elements(By.CSS_SELECTOR, "#mx-table [data-action]")
    assert not visible("#mx-col-ops")(browser)

    # Who handles rubbish in 柳塘社区第一网格: the grid first (柳塘社区's rule).
    Select(browser.find_element(By.ID, "mx-resolve-category")).select_by_value("0201")
    Select(browser.find_element(By.ID, "mx-resolve-grid")).select_by_value(LIUTANG_1)
    answer = wait_until(browser, "the answer", text_of("mx-resolve-text"))
    assert "网格先行处置" in answer, answer
    assert answer == RESOLVED, answer

    # Filters: one category, then the name search.
    Select(browser.find_element(By.ID, "mx-filter-category")).select_by_value("0201")
    wait_until(browser, "only 0201", gone('#mx-table tr[data-category="0101"]'))
    assert row_text("0201", LIUTANG)(browser)
    full_shot(browser, "matrix-operator.png", DESKTOP)
    Select(browser.find_element(By.ID, "mx-filter-category")).select_by_value("")
    browser.find_element(By.ID, "mx-filter-q").send_keys("路灯")
    wait_until(browser, "only 路灯损坏", gone('#mx-table tr[data-category="0201"]'))
    assert row_text("0101", WANGJIANG)(browser)

    # On a phone the page fits the screen; the table scrolls sideways inside its box.
    screen(browser, PHONE, mobile=True)
    browser.refresh()
    wait_until(browser, "the rules table", visible(row_css("0101", WANGJIANG)))
    wait_until(browser, "the check to pass", check_passes)
    width = browser.execute_script("return document.documentElement.scrollWidth")
    assert width <= PHONE[0], f"the page is {width}px wide on a {PHONE[0]}px screen"
    scrolls = browser.execute_script(
        "const w = document.getElementById('mx-table-wrap'); return w.scrollWidth > w.clientWidth"
    )
    assert scrolls, "the table does not scroll sideways on a phone"
    full_shot(browser, "matrix-operator-phone.png", PHONE, mobile=True)
