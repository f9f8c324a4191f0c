"""Acceptance test in a real browser: sign in, the console, sign out (headless Chromium via Selenium).

Needs Debian's ``chromium`` and ``chromium-driver`` (``deploy/install-test-browser.sh`` installs them
with ``fonts-noto-cjk``). Without them the module is skipped, except on CI (``CI`` set), where a
missing browser is a failure.

- ``GRIDCASE_BROWSER_TEST_URL=http://127.0.0.1:8765`` runs the tests against a console that is
  already running (``tests/console_ui/mock_server.py``, ``gridcase up``) instead of starting the system.
- ``GRIDCASE_UPDATE_SCREENSHOTS=1`` saves the signed-in console to ``docs/console.png``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from selenium import webdriver
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
WINDOW = (1600, 1000)  # the size of the screenshots in docs/

# Demo accounts seeded by `gridcase up` (one per role), all with the same demo password.
DEMO_PASSWORD = "Demo@2026"
OPERATOR = "demo-operator"
LEADER = "demo-leader"

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
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def console_url(request: pytest.FixtureRequest) -> str:
    """The console's base URL: a running one named by GRIDCASE_BROWSER_TEST_URL, else the test system."""
    running = os.environ.get("GRIDCASE_BROWSER_TEST_URL")
    if running:
        return running.rstrip("/")
    url: str = request.getfixturevalue("system").http
    return url


def path_of(driver: WebDriver) -> str:
    return urlsplit(driver.current_url).path


def wait_until(driver: WebDriver, what: str, condition: Callable[[WebDriver], T], timeout: float = 20.0) -> T:
    """Wait for ``condition`` to be truthy; fail saying what we waited for and where the page was."""
    try:
        result: T = WebDriverWait(driver, timeout, poll_frequency=0.1).until(condition)
    except TimeoutException:
        try:
            text = driver.execute_script("return document.body ? document.body.innerText : ''")
        except WebDriverException:
            text = "?"
        raise AssertionError(
            f"timed out after {timeout}s waiting for {what}; page {driver.current_url}:\n{str(text)[:1500]}"
        ) from None
    return result


def text_of(element_id: str) -> Callable[[WebDriver], str]:
    def probe(driver: WebDriver) -> str:
        found = driver.find_elements(By.ID, element_id)
        return found[0].text.strip() if found else ""

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
        wait_until(browser, "the map", lambda d: d.find_elements(By.CSS_SELECTOR, "#map path"))
        assert browser.save_screenshot(str(ROOT / "docs" / "console.png"))

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
