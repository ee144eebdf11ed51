"""The staff console in a real browser: Selenium driving headless Chromium.

A real server (``manage.py runserver --insecure``: ``DEBUG`` off, the admin's static
files served) runs on its own database seeded with the demo data, with
``ADMIN_REQUIRE_MFA`` on. The seeded staff member enrolls TOTP through the API (the
secret comes back from ``POST /api/v1/me/mfa/totp/``), then, in the browser:

* signs in through ``/admin/login/``: a wrong authentication code is refused on the
  page, then email, password and the current code (computed with pyotp from that
  secret) let them in;
* filters the audit log by organization (the sidebar's organization filter,
  ``?org=globex``): only globex's events are listed, and no suspension yet;
* suspends ``globex`` through the organization list's action dropdown, giving the
  reason the intermediate page asks for;
* finds the suspension (``org.suspended``, actor the staff member) in globex's audit log,
  and the elevation it ran in (``system.elevated``, reason ``admin POST ...``);
* follows globex's support links (its members), checks the member count under a
  search, reads a user's MFA state and links, and ends their sessions with a reason.

Screenshots of the pages go to ``tests/browser/screens/`` (gitignored) for review.
Chromium and its driver are Debian's packages (``make test-system`` installs them).
"""

from __future__ import annotations

import base64
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pyotp
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from accounts.seeding import DEMO_PASSWORD, STAFF_EMAIL
from organizations import roles
from tests.system.support import DATA, REPO, LiveServer, manage, sign_in

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SCREENS = REPO / "tests" / "browser" / "screens"
DATABASE = "saas_system_browser"
SERVER_ENV = {"DB_NAME": DATABASE, "ADMIN_REQUIRE_MFA": "true"}
TOTP_STEP = 30


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    with roles.admin_connect() as conn:
        roles.drop_database(conn, DATABASE)
    manage("db_setup", env=SERVER_ENV)
    manage("seed", env=SERVER_ENV)
    live = LiveServer(SERVER_ENV, DATA / "system-browser-server.log", runserver_args=["--insecure"])
    yield live
    live.stop()
    with roles.admin_connect() as conn:
        roles.drop_database(conn, DATABASE)


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    if missing:
        pytest.fail(
            f"{', '.join(missing)} missing: `make test-system` installs them "
            "(apt-get install -y chromium chromium-driver)"
        )
    profile = tempfile.mkdtemp(prefix="saas-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",  # root in a container: Chromium's sandbox needs user namespaces
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1400,900",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.implicitly_wait(0)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def enroll_totp(base_url: str) -> tuple[pyotp.TOTP, int]:
    """Turn MFA on for the staff member through the API; answer the TOTP and the step
    whose code confirmed it (a code of that step is spent)."""
    token = sign_in(base_url, STAFF_EMAIL, DEMO_PASSWORD)
    http = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    started = http.post("/api/v1/me/mfa/totp/")
    assert started.status_code == 201, started.text
    totp = pyotp.TOTP(started.json()["secret"], digits=6, interval=TOTP_STEP)
    step = int(time.time()) // TOTP_STEP
    confirmed = http.post(
        "/api/v1/me/mfa/totp/confirm/",
        json={"code": totp.at(step * TOTP_STEP), "password": DEMO_PASSWORD},
    )
    assert confirmed.status_code == 200, confirmed.text
    assert len(confirmed.json()["recovery_codes"]) == 10
    return totp, step


def wrong_code(totp: pyotp.TOTP) -> str:
    """Six digits that are no code the server accepts now (any step within one of now)."""
    now = time.time()
    valid = {totp.at(now + offset * TOTP_STEP) for offset in (-2, -1, 0, 1, 2)}
    return next(f"{n:06d}" for n in range(123456, 1_000_000, 7919) if f"{n:06d}" not in valid)


def screenshot(driver: WebDriver, name: str) -> None:
    """The whole page, below the fold too (Chromium's DevTools ``captureBeyondViewport``)."""
    SCREENS.mkdir(parents=True, exist_ok=True)
    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {
                "x": 0,
                "y": 0,
                "width": size["width"],
                "height": min(size["height"], 5000),
                "scale": 1,
            },
        },
    )
    (SCREENS / f"{name}.png").write_bytes(base64.b64decode(shot["data"]))


def wait_for(driver: WebDriver, css: str, timeout: float = 20) -> WebElement:
    return WebDriverWait(driver, timeout).until(
        ec.presence_of_element_located((By.CSS_SELECTOR, css)),
        message=f"no {css} on {driver.current_url} after {timeout} s",
    )


def assert_styled(driver: WebDriver) -> None:
    """The admin's stylesheet is applied (a page without it still 'works' but is broken)."""
    header = driver.find_element(By.ID, "header")
    assert header.value_of_css_property("background-color") not in (
        "rgba(0, 0, 0, 0)",
        "transparent",
    ), "the admin's CSS did not load"


def cells(driver: WebDriver, field: str) -> list[str]:
    return [
        cell.text.strip()
        for cell in driver.find_elements(By.CSS_SELECTOR, f"#result_list tbody .field-{field}")
    ]


def rows(driver: WebDriver) -> list[dict[str, str]]:
    found = []
    for row in driver.find_elements(By.CSS_SELECTOR, "#result_list tbody tr"):
        entry = {}
        for cell in row.find_elements(By.CSS_SELECTOR, "td, th"):
            names = [
                c for c in (cell.get_attribute("class") or "").split() if c.startswith("field-")
            ]
            if names:
                entry[names[0].removeprefix("field-")] = cell.text.strip()
        found.append(entry)
    return found


def sign_in_form(driver: WebDriver, email: str, password: str, code: str) -> None:
    wait_for(driver, "#login-form")
    for name, value in (("username", email), ("password", password), ("otp_code", code)):
        field = driver.find_element(By.NAME, name)
        field.clear()
        field.send_keys(value)
    driver.find_element(By.CSS_SELECTOR, "#login-form input[type=submit]").click()


def test_staff_sign_in_with_totp_filter_the_audit_log_and_suspend_an_organization(
    server: LiveServer, browser: WebDriver
) -> None:
    totp, confirmed_step = enroll_totp(server.url)
    admin = f"{server.url}/admin/"

    # --- sign in: the form has the code field; a wrong code is refused on the page ---
    browser.get(admin)
    wait_for(browser, "#login-form")
    assert "/admin/login/" in browser.current_url
    assert_styled(browser)
    labels = [label.text for label in browser.find_elements(By.CSS_SELECTOR, "#login-form label")]
    assert any("Authentication code" in label for label in labels), labels
    screenshot(browser, "01-login")

    sign_in_form(browser, STAFF_EMAIL, DEMO_PASSWORD, wrong_code(totp))
    error = wait_for(browser, ".errornote")
    assert "authentication code is wrong" in error.text, error.text
    assert "/admin/login/" in browser.current_url
    screenshot(browser, "02-login-wrong-code")

    # The code that confirmed the enrollment is spent: wait for the next step's code.
    while int(time.time()) // TOTP_STEP <= confirmed_step:
        time.sleep(0.5)
    sign_in_form(browser, STAFF_EMAIL, DEMO_PASSWORD, totp.now())
    wait_for(browser, "#user-tools")
    assert browser.current_url == admin, browser.current_url
    assert not browser.find_elements(By.CSS_SELECTOR, ".errornote")
    assert_styled(browser)
    assert "SaaS platform" in browser.find_element(By.ID, "site-name").text
    screenshot(browser, "03-index")

    # --- the audit log, filtered by organization through the sidebar's filter ---
    browser.find_element(By.CSS_SELECTOR, "a[href$='/admin/audit/auditevent/']").click()
    wait_for(browser, "#changelist-filter")
    browser.find_element(By.CSS_SELECTOR, "#changelist-filter a[href*='org=globex']").click()
    wait_for(browser, "#result_list")
    assert "org=globex" in browser.current_url
    before = rows(browser)
    assert before, "the seed wrote globex's events (org.created, member.added...)"
    assert {row["organization"] for row in before} == {"globex"}, before
    assert "org.suspended" not in {row["action"] for row in before}
    screenshot(browser, "04-audit-filtered-by-org")

    # --- suspend globex through the organization list's action dropdown ---
    browser.get(f"{admin}organizations/organization/")
    wait_for(browser, "#result_list")
    row = browser.find_element(
        By.XPATH, "//table[@id='result_list']//tr[td[contains(@class,'field-slug')][.='globex']]"
    )
    assert "-" in row.find_element(By.CSS_SELECTOR, ".field-suspended_at").text  # not suspended
    screenshot(browser, "05-organizations")
    row.find_element(By.CSS_SELECTOR, "input.action-select").click()
    Select(browser.find_element(By.NAME, "action")).select_by_value("suspend")
    browser.find_element(By.CSS_SELECTOR, "button[name=index]").click()
    # A support action asks why first (an intermediate page); the reason is audited.
    wait_for(browser, "#action-reason-form")
    assert_styled(browser)
    assert "globex" in browser.find_element(By.ID, "action-targets").text.lower()
    browser.find_element(By.NAME, "reason").send_keys("browser test: chargeback")
    screenshot(browser, "05b-suspend-reason")
    browser.find_element(By.CSS_SELECTOR, "#action-reason-form input[name=apply]").click()
    message = wait_for(browser, ".messagelist .success")
    assert message.text.strip() == "Suspended: 1", message.text
    row = browser.find_element(
        By.XPATH, "//table[@id='result_list']//tr[td[contains(@class,'field-slug')][.='globex']]"
    )
    assert row.find_element(By.CSS_SELECTOR, ".field-suspended_at").text.strip() not in ("", "-")
    screenshot(browser, "06-organizations-after-suspend")

    # --- the suspension in globex's audit log, by the staff member ---
    browser.get(f"{admin}audit/auditevent/?org=globex")
    wait_for(browser, "#result_list")
    suspended = [row for row in rows(browser) if row["action"] == "org.suspended"]
    assert len(suspended) == 1, rows(browser)
    assert suspended[0]["actor_label"] == STAFF_EMAIL, suspended
    assert suspended[0]["actor_type"] == "Staff", suspended
    assert rows(browser)[0]["action"] == "org.suspended"  # newest first
    screenshot(browser, "07-audit-org-suspended")

    # --- and the elevation that admin POST ran in ---
    browser.get(f"{admin}audit/auditevent/?action=system.elevated")
    wait_for(browser, "#result_list")
    assert {row["action"] for row in rows(browser)} == {"system.elevated"}, rows(browser)
    by_staff = browser.find_elements(
        By.XPATH,
        "//table[@id='result_list']/tbody/tr"
        f"[td[contains(@class,'field-actor_label')][.='{STAFF_EMAIL}']]/th/a",
    )
    assert by_staff, rows(browser)
    by_staff[0].click()  # the newest: the suspension's POST
    wait_for(browser, "#content-main")
    page = browser.find_element(By.ID, "content-main").text
    assert "system.elevated" in page and "admin POST /admin/organizations/organization/" in page
    screenshot(browser, "08-audit-event")

    # --- a change page: the suspended organization ---
    browser.get(f"{admin}organizations/organization/?q=globex")
    wait_for(browser, "#result_list")
    browser.find_element(By.CSS_SELECTOR, "#result_list tbody tr th a").click()
    wait_for(browser, "#organization_form")
    assert_styled(browser)
    assert browser.find_element(By.NAME, "name").get_attribute("value") == "Globex Corporation"
    suspended_at = browser.find_element(By.CSS_SELECTOR, ".field-suspended_at .readonly").text
    assert suspended_at.strip() not in ("", "-"), suspended_at
    screenshot(browser, "09-organization-change")

    # --- from the organization: its members, projects, sites, subscription, audit log ---
    links = browser.find_element(By.CSS_SELECTOR, ".field-support_links .readonly")
    assert [a.text for a in links.find_elements(By.TAG_NAME, "a")] == [
        "Members",
        "Invitations",
        "Projects",
        "Sites",
        "Subscription",
        "Audit log",
    ]
    links.find_element(By.LINK_TEXT, "Members").click()
    wait_for(browser, "#result_list")
    assert "org=globex" in browser.current_url
    member_rows = browser.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")
    screenshot(browser, "10-organization-members")

    # --- the member count is the number of members, also under a search ---
    browser.get(f"{admin}organizations/organization/?q=globex")
    wait_for(browser, "#result_list")
    count = browser.find_element(By.CSS_SELECTOR, "#result_list tbody tr .field-member_count")
    assert count.text.strip() == str(len(member_rows)), (count.text, len(member_rows))

    # --- from a user: organizations, sessions, MFA state; end their sessions ---
    browser.get(f"{admin}accounts/user/?q=member%40acme.test")
    wait_for(browser, "#result_list")
    browser.find_element(By.CSS_SELECTOR, "#result_list tbody tr th a").click()
    wait_for(browser, "#user_form")
    assert browser.find_element(By.CSS_SELECTOR, ".field-mfa_state .readonly").text == "Off"
    assert "Organizations (" in browser.find_element(By.CSS_SELECTOR, ".field-support_links").text
    screenshot(browser, "11-user-support")
    browser.get(f"{admin}accounts/user/?q=member%40acme.test")
    wait_for(browser, "#result_list")
    browser.find_element(By.CSS_SELECTOR, "#result_list tbody tr input.action-select").click()
    Select(browser.find_element(By.NAME, "action")).select_by_value("end_sessions")
    browser.find_element(By.CSS_SELECTOR, "button[name=index]").click()
    wait_for(browser, "#action-reason-form")
    browser.find_element(By.NAME, "reason").send_keys("browser test: stolen laptop")
    browser.find_element(By.CSS_SELECTOR, "#action-reason-form input[name=apply]").click()
    message = wait_for(browser, ".messagelist .success")
    assert message.text.strip() == "Sessions ended: 1", message.text
    browser.get(f"{admin}audit/auditevent/?action=user.sessions_ended")
    wait_for(browser, "#result_list")
    assert [row["action"] for row in rows(browser)] == ["user.sessions_ended"], rows(browser)
    screenshot(browser, "12-sessions-ended")

    # Nothing on the server side went wrong on the way.
    assert " 500 " not in server.log(), server.log()
