"""The grid worker's phone page (/check) in a real browser: 小事不出网格.

A rubbish case in 柳塘社区第一网格 goes to the grid worker first (the responsibility matrix). On a phone
390 px wide, demo-gridworker finds it under 待我先行处置, opens it (description, the masked address,
who works it now, the deadline), signs it, tries to hand it over to the department without a reason (the
page refuses, in Chinese), then hands it over with one: the case goes to the department (环境卫生科) and
leaves the list.

Then a grid worker's day (今日上报), on the same phone: 零上报 (nothing to report today) and a report from the
street (上报问题) with the phone's position (DevTools stands in for the GPS) and a photo; the operator's API
shows the case from the app, with the point, its accuracy and the photo (上报照片).

Headless Chromium via Selenium, driven as in test_workbench_browser.py. Pictures of the list and of the
case with the refusal are saved to ``/tmp/ui-check-local-list.png`` and ``/tmp/ui-check-local.png``, of
the report form and the day after it to ``/tmp/ui-check-report.png`` and ``/tmp/ui-check-today.png``
(``GRIDCASE_UI_SHOTS=/some/dir`` puts them elsewhere).
"""

from __future__ import annotations

import os
import re
import tempfile
import uuid
from pathlib import Path

import httpx
import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from services.identity.bootstrap import DEMO_PASSWORD
from tests.integration.conftest import case_in_status, post_report
from tests.integration.test_console_browser import in_page, text_of, wait_until
from tests.integration.test_workbench_browser import (  # noqa: F401 (browser: the fixture)
    GRID,
    GRID_WORKER,
    Pages,
    browser,
    fill,
    png,
    visible,
)
from tests.support import SAMPLE_POINTS, SECRETS, System

PHONE_390 = (390, 844)
DESCRIPTION = "小区门口垃圾堆了好几天没人清"
HAND_OVER_NOTE = "垃圾量大且含建筑垃圾，需环卫车辆清运，网格无法就地处理"


def shot(driver: WebDriver, name: str) -> Path:
    folder = Path(os.environ.get("GRIDCASE_UI_SHOTS") or tempfile.gettempdir())
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    assert driver.save_screenshot(str(path)), path
    return path


def fits_the_phone(driver: WebDriver) -> None:
    width = driver.execute_script("return document.documentElement.scrollWidth")
    assert width <= PHONE_390[0], f"the check page is {width}px wide on a {PHONE_390[0]}px screen"


@pytest.mark.timeout(300)
async def test_grid_worker_signs_and_hands_over_a_grid_first_case(
    browser: WebDriver,  # noqa: F811
    system: System,
    as_role: dict[str, httpx.AsyncClient],
) -> None:
    api = as_role["operator"]
    accepted = await post_report(
        api, channel="operator", category_code="0201", grid_code=GRID, description=DESCRIPTION
    )
    case_id, case_no = accepted["case_id"], accepted["case_no"]
    case = await case_in_status(api, case_id, "dispatched")
    assert (case["handler_level"], case["department_code"]) == ("grid", "CG-HW"), case
    handler = case["handler_label"]

    pages = Pages(browser, system.http)
    pages.sign_in_as(GRID_WORKER.username, DEMO_PASSWORD, "/check", phone=True, size=PHONE_390)

    # 待我先行处置 lists it (waiting to be signed); 待核查 doesn't.
    card = f'#ck-local-list .ck-card[data-id="{case_id}"]'
    found = wait_until(
        browser, "the case under 待我先行处置", in_page(card)
    )  # read in the page: lists re-render
    assert "待签收" in found and "网格先行" in found and DESCRIPTION in found, found
    assert not browser.find_elements(By.CSS_SELECTOR, f'#ck-list .ck-card[data-id="{case_id}"]')
    assert "待我先行处置" in text_of("ck-local-title")(browser)
    fits_the_phone(browser)
    shot(browser, "ui-check-local-list.png")

    # The case: what, where, who works it now, by when; the actions the server allows.
    pages.click("the case", card)
    wait_until(browser, "the case page", visible(f'#ck-actions[data-case-id="{case_id}"]'))
    assert text_of("ck-title")(browser) == "先行处置"
    assert text_of("ck-desc")(browser) == DESCRIPTION
    assert text_of("ck-handler-now")(browser) == handler
    assert text_of("ck-case-no")(browser) == case_no
    fits_the_phone(browser)

    pages.act("sign")
    await case_in_status(api, case_id, "signed")
    wait_until(browser, "转职能部门 after signing", visible('[data-action="hand_over"]'))
    assert in_page('[data-action="hand_over"]')(browser) == "转职能部门"
    assert browser.find_elements(By.CSS_SELECTOR, '[data-action="resolve"]')  # or resolve it on the spot

    # Handing over without a reason: refused in the page, in Chinese; nothing sent.
    pages.click("转职能部门", '[data-action="hand_over"]')
    form = wait_until(browser, "the hand-over form", visible('form[data-form="hand_over"]'))
    form.find_element(By.CSS_SELECTOR, '[data-submit="hand_over"]').click()
    refusal = wait_until(browser, "the refusal", text_of("ck-form-error"))
    assert "须说明为何无法就地解决" in refusal, refusal
    assert re.search(r"[\u4e00-\u9fff]", refusal), refusal
    assert form.find_element(By.NAME, "note").get_attribute("aria-invalid") == "true"
    fits_the_phone(browser)
    shot(browser, "ui-check-local.png")
    case = await case_in_status(api, case_id, "signed")
    assert case["handler_level"] == "grid", case

    # With the reason: handed over, back on the list with a notice, the case gone from it.
    fill(browser, form, "note", HAND_OVER_NOTE)
    form.find_element(By.CSS_SELECTOR, '[data-submit="hand_over"]').click()

    def back_on_the_list(d: WebDriver) -> str | None:
        try:
            if not visible("#ck-list-view")(d) or d.find_elements(By.CSS_SELECTOR, card):
                return None
            return text_of("ck-toast")(d) or None
        except StaleElementReferenceException:
            return None

    toast = wait_until(browser, "the list again, without the case", back_on_the_list)
    assert case_no in toast and "转交职能部门" in toast, toast

    case = await case_in_status(api, case_id, "dispatched")
    assert (case["handler_level"], case["department_code"]) == (None, "CG-HW"), case
    handed = [e for e in case["events"] if e["type"] == "case.handed_over"]
    assert len(handed) == 1 and handed[0]["payload"]["note"] == HAND_OVER_NOTE, handed


# 零上报 and 上报问题 are tried by a grid worker of their own (an account the admin makes for a grid no other
# test reports from or checks in), so that the day starts 未报告 whatever ran before.
QUIET_GRID, QUIET_GRID_NAME = "10100133019900100302", "杏林社区第二网格"
WORKER_NAME, WORKER_PASSWORD = "孙浩", "Grid-Pass-2026"
REPORT = "杏林路菜场门口垃圾桶满溢，周边有明显异味"
ACCURACY_M = 8.5


@pytest.mark.timeout(300)
async def test_grid_worker_sends_a_zero_report_and_a_report_with_a_photo(
    browser: WebDriver,  # noqa: F811
    system: System,
    as_role: dict[str, httpx.AsyncClient],
    tmp_path: Path,
) -> None:
    username = f"gw-{uuid.uuid4().hex[:8]}"
    SECRETS.add(WORKER_PASSWORD)
    r = await as_role["admin"].post(
        "/api/v1/users",
        json={
            "username": username,
            "password": WORKER_PASSWORD,
            "display_name": WORKER_NAME,
            "role": "grid_worker",
            "area_codes": [QUIET_GRID],
        },
    )
    assert r.status_code == 201, r.text
    photo = tmp_path / "现场.png"
    photo.write_bytes(png(48, 32, (200, 120, 30)))

    # The phone's position: granted and placed inside the grid (DevTools), 8.5 m accurate.
    lon, lat = SAMPLE_POINTS[QUIET_GRID]
    browser.execute_cdp_cmd(
        "Browser.grantPermissions", {"origin": system.http, "permissions": ["geolocation"]}
    )
    browser.execute_cdp_cmd(
        "Emulation.setGeolocationOverride", {"latitude": lat, "longitude": lon, "accuracy": ACCURACY_M}
    )
    pages = Pages(browser, system.http)
    pages.sign_in_as(username, WORKER_PASSWORD, "/check", phone=True, size=PHONE_390)

    # 今日上报: nothing yet today.
    wait_until(browser, "今日尚未上报", lambda d: "今日尚未上报" in text_of("ck-today-state")(d))
    assert text_of("ck-today-grid")(browser) == QUIET_GRID_NAME
    fits_the_phone(browser)

    # 零上报: asked to confirm, with an optional note; then "今日已零上报（杏林社区第二网格）".
    pages.click("零上报", "#ck-zero-open")
    wait_until(browser, "the 零上报 form", visible("#ck-zero-form"))
    browser.find_element(By.ID, "ck-zero-note").send_keys("已巡查，无异常")
    pages.click("确认零上报", "#ck-zero-submit")
    done = f"今日已零上报（{QUIET_GRID_NAME}）"
    wait_until(browser, "零上报 recorded", lambda d: text_of("ck-today-state")(d) == done)
    assert text_of("ck-toast")(browser) == done
    button = browser.find_element(By.ID, "ck-zero-open")
    assert button.text == "今日已零上报" and not button.is_enabled()
    board = (await as_role["operator"].get("/api/v1/app/activity")).json()
    row = next(g for g in board["grids"] if g["grid_code"] == QUIET_GRID)
    assert (row["checkins"], row["silent"]) == (1, False), row

    # 上报问题: the description, the phone's position, one photo; the page checks before sending.
    pages.click("上报问题", "#ck-report-open")
    form = wait_until(browser, "the report form", visible("#ck-report-form"))
    assert text_of("ck-title")(browser) == "上报问题"
    assert Select(form.find_element(By.NAME, "grid_code")).first_selected_option.text == QUIET_GRID_NAME
    fill(browser, form, "description", "桶")
    pages.click("提交上报", "#ck-report-submit")
    refusal = wait_until(browser, "the page's refusal", text_of("ck-report-error"))
    assert "请检查" in refusal and "问题描述须为 2–4000 个字" in in_page('[data-field="description"]')(
        browser
    )
    fill(browser, form, "description", REPORT)
    fill(browser, form, "category_code", "0201")
    pages.click("获取当前位置", "#ck-locate")
    located = wait_until(browser, "the position", lambda d: "已定位" in text_of("ck-loc-text")(d) or None)
    assert "精度约 9 米" in text_of("ck-loc-text")(browser), located
    photos = form.find_element(By.NAME, "photos")
    assert photos.get_attribute("capture") == "environment" and photos.get_attribute("multiple") is not None
    assert photos.get_attribute("accept") == "image/jpeg,image/png,image/webp"
    photos.send_keys(str(photo))
    wait_until(browser, "the photo's preview", lambda d: "已选 1／9 张" in in_page("#ck-report-previews")(d))
    fits_the_phone(browser)
    browser.execute_script("document.getElementById('ck-report-previews').scrollIntoView({block: 'center'})")
    shot(browser, "ui-check-report.png")

    pages.click("提交上报", "#ck-report-submit")
    toast = wait_until(
        browser, "已上报", lambda d: text_of("ck-toast")(d) if "已上报" in text_of("ck-toast")(d) else None
    )
    found = re.search(r"已上报：案件编号 (\d{14})（照片 1 张）", toast)
    assert found, toast
    assert visible("#ck-list-view")(browser) and not visible("#ck-report-view")(browser)
    wait_until(browser, "today: 1 report", lambda d: "今日已上报 1 件问题" in text_of("ck-today-state")(d))
    fits_the_phone(browser)
    shot(browser, "ui-check-today.png")

    # The case as the operator sees it: from the app, in the grid, the point and its accuracy, the photo.
    api = as_role["operator"]
    items = (await api.get("/api/v1/cases", params={"q": found[1]})).json()["items"]
    assert len(items) == 1, items
    case = (await api.get(f"/api/v1/cases/{items[0]['case_id']}")).json()
    assert (case["channel"], case["grid_code"], case["description"]) == ("app", QUIET_GRID, REPORT), case
    assert case["intake_details"]["gps_accuracy_m"] == ACCURACY_M, case["intake_details"]
    assert abs(case["location"]["lon"] - lon) < 1e-5 and abs(case["location"]["lat"] - lat) < 1e-5, case
    assert [p["kind"] for p in case["photos"]] == ["report"], case["photos"]
    assert case["photos"][0]["kind_label"] == "上报照片"
