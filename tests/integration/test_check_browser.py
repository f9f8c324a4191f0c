"""The grid worker's phone page (/check) in a real browser: 小事不出网格.

A rubbish case in 柳塘社区第一网格 goes to the grid worker first (the responsibility matrix). On a phone
390 px wide, demo-gridworker finds it under 待我先行处置, opens it (description, the masked address,
who works it now, the deadline), signs it, tries to hand it over to the department without a reason (the
page refuses, in Chinese), then hands it over with one: the case goes to the department (环境卫生科) and
leaves the list.

Headless Chromium via Selenium, driven as in test_workbench_browser.py. Pictures of the list and of the
case with the refusal are saved to ``/tmp/ui-check-local-list.png`` and ``/tmp/ui-check-local.png``
(``GRIDCASE_UI_SHOTS=/some/dir`` puts them elsewhere).
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import httpx
import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By

from services.identity.bootstrap import DEMO_PASSWORD
from tests.integration.conftest import case_in_status, post_report
from tests.integration.test_console_browser import in_page, text_of, wait_until
from tests.integration.test_workbench_browser import (  # noqa: F401 (browser: the fixture)
    GRID,
    GRID_WORKER,
    Pages,
    browser,
    fill,
    visible,
)
from tests.support import System

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
