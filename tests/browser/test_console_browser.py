"""The operator console in a real headless browser: Debian's chromium and chromedriver, driven by Selenium 4.

Sagas are made on the lifecycle fakes (``LifecycleWorld``) by injecting a fault into the OpenStack fake,
so they stop for an operator the way a real outage stops them. Screenshots go to ``docs/img/console-*.png``
when ``CLOUDKIT_UPDATE_SCREENSHOTS=1`` (else into the test's tmp folder).

When the browser, its driver or Selenium is missing the tests are skipped with the reason, unless ``CI``
or ``CLOUDKIT_REQUIRE_SERVICES=1`` is set: then they fail (``.ci/run`` installs the Debian packages).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import attrs
import pytest

from cloudkit import Secret
from cloudkit.lifecycle import Lifecycle, LifecycleSettings, SagaState, ServerPlan
from cloudkit.testing.fakes import Fault
from cloudkit.testing.lifecycle import LifecycleWorld

CHROMIUM = Path(os.environ.get("CLOUDKIT_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("CLOUDKIT_CHROMEDRIVER", "/usr/bin/chromedriver"))
TOKEN = "browser-test-operator-token-0123456789"
HTML_ERROR = "<img src=x onerror=\"document.title='pwned'\"> <b>bold</b>"
SHOTS = Path(__file__).parents[2] / "docs" / "img"
WINDOW = (1400, 900)
WAIT_SECONDS = 15


def _required() -> bool:
    ci = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")
    return ci or os.environ.get("CLOUDKIT_REQUIRE_SERVICES") == "1"


def _unavailable(reason: str) -> None:
    if _required():
        pytest.fail(
            f"{reason} (CI or CLOUDKIT_REQUIRE_SERVICES=1: the browser is required here)", pytrace=False
        )
    pytest.skip(reason)


@pytest.fixture(scope="module")
def driver() -> Iterator[object]:
    """Headless Debian chromium through Debian's chromedriver (Selenium downloads nothing)."""
    for program, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not program.exists():
            _unavailable(f"no {program}: apt-get install {package}")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ModuleNotFoundError:
        _unavailable("selenium is not installed (pip install 'cloudkit[test]')")
    profile = tempfile.mkdtemp(prefix="cloudkit-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless=new",
        "--no-sandbox",  # required as root
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
    ):
        options.add_argument(flag)
    browser = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    # A click that submits a form returns before the next page is there: finding an element of the next
    # page waits for it inside chromedriver (no sleep here); absent() turns the wait off for a "not there".
    browser.implicitly_wait(WAIT_SECONDS)
    try:
        yield browser
    finally:
        browser.quit()
        shutil.rmtree(profile, ignore_errors=True)


class Console:
    """The world, a lifecycle on it and the console serving that lifecycle."""

    def __init__(self, world: LifecycleWorld, lifecycle: Lifecycle, url: str) -> None:
        self.world = world
        self.lifecycle = lifecycle
        self.url = url
        self.plan = ServerPlan(image=world.image, flavor="1", system_volume_gb=1)

    def stuck_saga(self, login: str, message: str = "nova is down") -> str:
        """An ``open`` saga stopped for an operator: Nova answers each create: 503 ``message``."""
        self.world.cloud.inject(
            Fault.server_error(503, message=message), method="POST", path="/servers", times=100
        )
        try:
            item, account = self.world.order(login)
            saga = self.lifecycle.provision(item, account, self.plan)
        finally:
            self.world.cloud._faults.clear()
        assert saga.state is SagaState.NEEDS_OPERATOR, saga
        return saga.id


@attrs.frozen
class Decided:
    """A decision as a sweep hands it to ``OpStore.record_decisions`` (the policy's ``Decision`` fields)."""

    account: int
    action: str
    code: str
    reason: str
    balance: Decimal
    credit_limit: Decimal
    credit: Decimal
    hourly_spend: Decimal
    hours_left: Decimal | None = None
    notice_level: int | None = None
    promised_counted: Decimal = Decimal("0.00")


@attrs.frozen
class Found:
    kind: str
    subject: str
    detail: str
    saga_id: str | None = None


DECISIONS = (  # a sweep's worth, oldest first: what the page shows newest first
    Decided(account=3, action="notify", code="low_credit",
            reason="credit 70.00 lasts 70h at 1.00/h (notice 72h)", balance=Decimal("20.00"),
            credit_limit=Decimal("50.00"), credit=Decimal("70.00"),
            hourly_spend=Decimal("1.00"), hours_left=Decimal("70.0"), notice_level=72),
    Decided(account=4, action="notify", code="limit_reached",
            reason="credit -3.20 below the limit 50.00: grace 24h starts", balance=Decimal("-53.20"),
            credit_limit=Decimal("50.00"), credit=Decimal("-3.20"), hourly_spend=Decimal("0.80"),
            notice_level=0),
    Decided(account=5, action="suspend", code="grace_hours_over",
            reason="credit -12.00 below the limit 50.00 for 26h (grace 24h)", balance=Decimal("-62.00"),
            credit_limit=Decimal("50.00"), credit=Decimal("-12.00"), hourly_spend=Decimal("0.50")),
    Decided(account=6, action="resume", code="paid", reason="credit 15.00 >= resume margin 10.00",
            balance=Decimal("-35.00"), credit_limit=Decimal("50.00"), credit=Decimal("15.00"),
            hourly_spend=Decimal("0.50"), hours_left=Decimal("30.0"), promised_counted=Decimal("40.00")),
)  # fmt: skip
FINDINGS = (
    Found(kind="orphan_server", subject="server 6f1c2a9e (cloudkit-item:311)",
          detail="billing item 311 is closed and no saga is live"),
    Found(kind="orphan_volume", subject="volume 0b7d44f3 in customer-7",
          detail="available, unattached, created by the failed open saga 1d9e..."),
    Found(kind="service_without_server", subject="billing service 318",
          detail="ACTIVE in billing; its server 2c4b... is ERROR"),
)  # fmt: skip


def record_operations(lifecycle: Lifecycle) -> None:
    """A finished sweep with decisions and a finished reconciliation run with findings, in the store."""
    from cloudkit.lifecycle._opstore import OpStore

    ops = OpStore(lifecycle.store)
    sweep = ops.start_sweep("default", owner="browser-test", dry_run=False)
    ops.record_decisions(sweep.id, DECISIONS, dry_run=False)
    ops.finish_sweep(sweep.id, "done", counts={"accounts": 1200, "notify": 2, "suspend": 1, "resume": 1})
    run = ops.start_reconcile_run(fix=False)
    ops.add_findings(run.id, FINDINGS)
    ops.finish_reconcile_run(run.id, "done", counts={f.kind: 1 for f in FINDINGS})


@pytest.fixture(scope="module")
def console(tmp_path_factory) -> Iterator[Console]:
    try:
        from cloudkit.lifecycle.console import serve
    except ModuleNotFoundError as exc:
        _unavailable(f"the console needs Flask ({exc}): pip install 'cloudkit[console]'")

    url = f"sqlite:///{tmp_path_factory.mktemp('console') / 'lifecycle.db'}"
    with LifecycleWorld() as world:
        settings = LifecycleSettings(db_url=url, max_attempts=1)
        with Lifecycle(world.platform, settings=settings, sleep=lambda _s: None) as lifecycle:
            record_operations(lifecycle)
            server = serve(lifecycle, token=Secret(TOKEN))
            try:
                yield Console(world, lifecycle, server.url)
            finally:
                server.stop()


@pytest.fixture
def shots(tmp_path) -> Path:
    if os.environ.get("CLOUDKIT_UPDATE_SCREENSHOTS") == "1":
        SHOTS.mkdir(parents=True, exist_ok=True)
        return SHOTS
    return tmp_path


def logged_in(driver, console: Console) -> None:
    """Log in through the form (a no-op when the session is already logged in)."""
    from selenium.webdriver.common.by import By

    driver.get(console.url + "/")
    if not absent(driver, driver, "#login"):
        driver.find_element(By.ID, "token").send_keys(TOKEN)
        driver.find_element(By.CSS_SELECTOR, "#login button[type=submit]").click()
    driver.find_element(By.ID, "sagas")


def absent(driver, context, css: str) -> bool:
    """True when nothing matches ``css`` in ``context`` now (no implicit wait)."""
    from selenium.webdriver.common.by import By

    driver.implicitly_wait(0)
    try:
        return context.find_elements(By.CSS_SELECTOR, css) == []
    finally:
        driver.implicitly_wait(WAIT_SECONDS)


def refused(driver) -> str:
    """The text of the console's refusal page (waits for it)."""
    from selenium.webdriver.common.by import By

    return driver.find_element(By.ID, "problem").text


def row(driver, saga_id: str):
    from selenium.webdriver.common.by import By

    return driver.find_element(By.ID, f"saga-{saga_id}")


# ------------------------------------------------------------------------------------------ tests
def test_the_login_form_refuses_a_wrong_token(driver, console, shots):
    from selenium.webdriver.common.by import By

    driver.delete_all_cookies()
    driver.get(console.url + "/")
    assert driver.current_url == console.url + "/login"
    driver.save_screenshot(str(shots / "console-login.png"))
    driver.find_element(By.ID, "token").send_keys("not-the-operator-token")
    driver.find_element(By.CSS_SELECTOR, "#login button[type=submit]").click()
    assert "wrong token" in driver.find_element(By.CSS_SELECTOR, ".flash-error").text
    assert absent(driver, driver, "#sagas")


def test_the_page_lists_a_failed_saga_with_its_error_shown_as_text(driver, console, shots):
    from selenium.webdriver.common.by import By

    saga_id = console.stuck_saga("erin", message=HTML_ERROR)
    other = console.stuck_saga("fred", message="WSREP has not yet prepared node for application use")
    logged_in(driver, console)
    mine = row(driver, saga_id)
    assert "needs_operator" in mine.text
    error = mine.find_element(By.CSS_SELECTOR, "pre.error").text
    assert HTML_ERROR in error  # the markup is text on the page ...
    assert absent(driver, mine, "img")  # ... not an element
    assert absent(driver, mine, "b")
    assert driver.title != "pwned"
    assert row(driver, other).find_element(By.CSS_SELECTOR, "button[name=retry]").is_displayed()
    driver.save_screenshot(str(shots / "console-sagas.png"))


def test_a_retry_clicked_in_the_page_runs_the_saga_to_done(driver, console, shots):
    from selenium.webdriver.common.by import By

    saga_id = console.stuck_saga("gina")
    assert console.world.server_of(console.lifecycle.saga(saga_id).item) is None
    logged_in(driver, console)
    row(driver, saga_id).find_element(By.CSS_SELECTOR, "button[name=retry]").click()
    flash = driver.find_element(By.CSS_SELECTOR, ".flash").text
    assert f"Saga {saga_id[:8]}" in flash
    assert "is now done" in flash
    assert absent(driver, driver, f"#saga-{saga_id}")
    saga = console.lifecycle.saga(saga_id)
    assert saga.state is SagaState.DONE, saga.last_error
    assert console.world.server_of(saga.item) is not None
    assert console.world.billing_status(saga.item) == "ACTIVE"
    driver.save_screenshot(str(shots / "console-retried.png"))


def test_a_post_without_the_csrf_token_is_refused(driver, console):
    from selenium.webdriver.common.by import By

    saga_id = console.stuck_saga("hank")
    logged_in(driver, console)
    # WebDriver's script runs outside the page's CSP: it strips the hidden field a forged form would lack.
    driver.execute_script(
        "document.querySelector(arguments[0]).remove()", f"#saga-{saga_id} input[name=csrf_token]"
    )
    row(driver, saga_id).find_element(By.CSS_SELECTOR, "button[name=retry]").click()
    assert "missing or wrong CSRF token" in refused(driver)
    assert "403" in driver.title
    assert console.lifecycle.saga(saga_id).state is SagaState.NEEDS_OPERATOR


def test_a_post_from_another_origin_is_refused_even_with_a_valid_csrf_token(driver, console, shots):
    from selenium.webdriver.common.by import By
    from werkzeug.serving import make_server

    saga_id = console.stuck_saga("ivan")
    logged_in(driver, console)
    csrf = row(driver, saga_id).find_element(By.CSS_SELECTOR, "input[name=csrf_token]").get_attribute("value")
    # Another origin on the same machine (another port: the same site, so the SameSite=Strict cookie still
    # goes along): only the Origin check stands between this page and the retry.
    page = (
        "<!doctype html><title>elsewhere</title>"
        f'<form method="post" action="{console.url}/sagas/{saga_id}/retry">'
        f'<input type="hidden" name="csrf_token" value="{csrf}">'
        '<button type="submit" id="go">Win a prize</button></form>'
    ).encode()

    def evil(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
        return [page]

    server = make_server("127.0.0.1", 0, evil)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        driver.get(f"http://127.0.0.1:{server.server_port}/")
        driver.find_element(By.ID, "go").click()
        assert "cross-origin request refused" in refused(driver)
        assert "403" in driver.title
        driver.save_screenshot(str(shots / "console-refused.png"))
    finally:
        server.shutdown()
        thread.join()
        server.server_close()
    assert console.lifecycle.saga(saga_id).state is SagaState.NEEDS_OPERATOR


def test_the_page_shows_decisions_with_amounts_and_the_latest_findings(driver, console, shots):
    from selenium.webdriver.common.by import By

    logged_in(driver, console)
    decisions = driver.find_elements(By.CSS_SELECTOR, "#decisions tr.decision")
    assert [d.find_element(By.CSS_SELECTOR, ".action").text for d in decisions] == [
        "resume",
        "suspend",
        "notify",
        "notify",
    ]
    suspend = decisions[1].text
    assert "credit -12.00 below the limit 50.00 for 26h (grace 24h)" in suspend
    assert "-62.00" in suspend
    findings = driver.find_elements(By.CSS_SELECTOR, "#findings tr.finding")
    assert [f.find_element(By.TAG_NAME, "code").text for f in findings] == [f.kind for f in FINDINGS]
    driver.set_window_size(WINDOW[0], 1500)  # the whole page in one picture
    try:
        driver.save_screenshot(str(shots / "console-overview.png"))
    finally:
        driver.set_window_size(*WINDOW)
