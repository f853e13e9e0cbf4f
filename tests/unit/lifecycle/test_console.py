"""The operator console through Flask's test client: login, CSRF, origin and host checks, escaping, retry."""

from __future__ import annotations

import http.client
import re
from decimal import Decimal
from pathlib import Path

import attrs
import pytest

pytest.importorskip("flask", reason="the console needs flask (pip install 'cloudkit[console]')")

from cloudkit import Secret
from cloudkit.errors import ConfigError
from cloudkit.lifecycle import Lifecycle, ModuleCommand, SagaState
from cloudkit.lifecycle.console import ConsoleServer, create_app, serve
from cloudkit.lifecycle.console.app import Overview
from cloudkit.platform import Platform

TOKEN = "operator-token-for-the-tests-0123456789"
ORIGIN = "http://localhost"  # Flask's test client speaks to http://localhost
HTML_ERROR = 'nova said <img src=x onerror="alert(1)"> and <b>bold</b>'
TEMPLATES = Path(__file__).parents[3] / "src" / "cloudkit" / "lifecycle" / "console" / "templates"


class RecordingRunner:
    """Takes the saga the console hands over and finishes it, as a runner would."""

    def __init__(self, finish: SagaState = SagaState.DONE) -> None:
        self.submitted: list[str] = []
        self.finish = finish

    def submit(self, engine, saga_id: str) -> None:
        self.submitted.append(saga_id)
        store = engine.store
        store.claim(saga_id, owner="test-runner", lease=60)
        store.set_state(saga_id, self.finish, owner="test-runner")


@pytest.fixture
def runner():
    return RecordingRunner()


@pytest.fixture
def lifecycle(tmp_path, runner):
    with Lifecycle(Platform(), db_url=f"sqlite:///{tmp_path / 'sagas.db'}", runner=runner) as lc:
        yield lc


def stuck_saga(lifecycle: Lifecycle, item: int, *, error: str, state=SagaState.NEEDS_OPERATOR) -> str:
    """A saga written straight into the store, stopped with ``error``."""
    saga, _ = lifecycle.store.create_or_join(
        item=item,
        operation=ModuleCommand.SUSPEND,
        account=7,
        running_operation=None,
        plan=None,
        reason="nonpayment",
        steps=["server", "billing"],
    )
    lifecycle.store.claim(saga.id, owner="writer", lease=60)
    lifecycle.store.set_state(saga.id, state, owner="writer", error=error)
    return saga.id


@pytest.fixture
def app(lifecycle):
    app = create_app(lifecycle, token=Secret(TOKEN))
    app.testing = True
    return app


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


def log_in(client) -> str:
    """Log in; the session's CSRF token."""
    page = client.get("/login")
    answer = client.post(
        "/login", data={"token": TOKEN, "csrf_token": csrf_of(page.text)}, headers={"Origin": ORIGIN}
    )
    assert answer.status_code == 303, answer.text
    return csrf_of(client.get("/").text)


# ------------------------------------------------------------------------------------- login
def test_the_page_needs_a_login(app):
    client = app.test_client()
    answer = client.get("/")
    assert answer.status_code == 303
    assert answer.headers["Location"].endswith("/login")
    assert "Operator token" in client.get("/login").text


def test_a_wrong_token_is_refused_and_the_right_one_sets_a_strict_httponly_cookie(app):
    client = app.test_client()
    csrf = csrf_of(client.get("/login").text)
    wrong = client.post("/login", data={"token": "nope" * 10, "csrf_token": csrf}, headers={"Origin": ORIGIN})
    assert wrong.status_code == 403
    assert "wrong token" in wrong.text
    assert client.get("/").status_code == 303
    right = client.post("/login", data={"token": TOKEN, "csrf_token": csrf}, headers={"Origin": ORIGIN})
    assert right.status_code == 303
    cookie = right.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert TOKEN not in cookie  # the session says "logged in", it does not carry the token
    assert client.get("/").status_code == 200


def test_login_gives_a_new_csrf_token(app):
    client = app.test_client()
    before = csrf_of(client.get("/login").text)
    client.post("/login", data={"token": TOKEN, "csrf_token": before}, headers={"Origin": ORIGIN})
    assert csrf_of(client.get("/").text) != before


def test_a_login_without_csrf_or_from_another_origin_is_refused(app):
    client = app.test_client()
    csrf = csrf_of(client.get("/login").text)
    assert client.post("/login", data={"token": TOKEN}, headers={"Origin": ORIGIN}).status_code == 403
    evil = client.post(
        "/login", data={"token": TOKEN, "csrf_token": csrf}, headers={"Origin": "http://evil.example"}
    )
    assert evil.status_code == 403
    assert client.get("/").status_code == 303


def test_logout_ends_the_session(app):
    client = app.test_client()
    csrf = log_in(client)
    assert client.post("/logout", data={"csrf_token": csrf}, headers={"Origin": ORIGIN}).status_code == 303
    assert client.get("/").status_code == 303


def test_a_short_token_is_a_config_error(lifecycle):
    with pytest.raises(ConfigError, match="at least 16 characters"):
        create_app(lifecycle, token=Secret("short"))


# ------------------------------------------------------------------------------------- host
@pytest.mark.parametrize("host", ["evil.example", "evil.example:8470", "127.0.0.1.evil.example", "10.0.0.1"])
def test_a_foreign_host_header_is_refused_even_for_the_login_form(app, host):
    client = app.test_client()
    assert client.get("/login", headers={"Host": host}).status_code == 400
    assert client.post("/login", headers={"Host": host, "Origin": f"http://{host}"}).status_code == 400


@pytest.mark.parametrize("host", ["127.0.0.1:8470", "localhost", "LOCALHOST:1", "[::1]:8470"])
def test_loopback_host_headers_are_served(app, host):
    assert app.test_client().get("/login", headers={"Host": host}).status_code == 200


def test_the_real_server_refuses_a_rebound_host_name(lifecycle):
    server = serve(lifecycle, token=Secret(TOKEN))
    try:
        for host, status in (("evil.example", 400), (f"127.0.0.1:{server.port}", 200)):
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
            conn.request("GET", "/login", headers={"Host": host})
            assert conn.getresponse().status == status
            conn.close()
    finally:
        server.stop()


def test_serve_refuses_a_non_loopback_address(lifecycle):
    with pytest.raises(ConfigError, match="not a loopback address"):
        serve(lifecycle, host="0.0.0.0", token=Secret(TOKEN))  # noqa: S104 (refused: the point)


def test_the_server_says_its_url(app):
    with ConsoleServer(app, host="127.0.0.1", port=0) as server:
        assert server.url == f"http://127.0.0.1:{server.port}"
        assert TOKEN not in repr(server)


# ------------------------------------------------------------------------------------- the sagas
def test_sagas_needing_an_operator_are_listed_with_their_error_escaped(app, lifecycle):
    stuck = stuck_saga(lifecycle, 41, error=HTML_ERROR)
    failed = stuck_saga(lifecycle, 42, error="billing: 500", state=SagaState.FAILED)
    client = app.test_client()
    log_in(client)
    page = client.get("/").text
    assert f'id="saga-{stuck}"' in page
    assert f'id="saga-{failed}"' in page
    assert "billing: 500" in page
    assert "<img src=x" not in page
    assert "<b>bold</b>" not in page
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in page
    assert "&lt;b&gt;bold&lt;/b&gt;" in page


def test_a_done_saga_is_not_listed(app, lifecycle, runner):
    saga_id = stuck_saga(lifecycle, 43, error="x")
    lifecycle.retry(saga_id)
    client = app.test_client()
    log_in(client)
    assert saga_id not in client.get("/").text


def test_retry_from_the_page_runs_the_saga(app, lifecycle, runner):
    saga_id = stuck_saga(lifecycle, 44, error="nova: 503")
    client = app.test_client()
    csrf = log_in(client)
    answer = client.post(f"/sagas/{saga_id}/retry", data={"csrf_token": csrf}, headers={"Origin": ORIGIN})
    assert answer.status_code == 303
    assert runner.submitted == [saga_id]
    assert lifecycle.saga(saga_id).state is SagaState.DONE
    page = client.get("/").text
    assert f"Saga {saga_id[:8]} (item 44, suspend) is now done." in page
    assert f'id="saga-{saga_id}"' not in page


def test_a_same_origin_referer_stands_in_for_a_missing_origin(app, lifecycle, runner):
    saga_id = stuck_saga(lifecycle, 45, error="x")
    client = app.test_client()
    csrf = log_in(client)
    answer = client.post(
        f"/sagas/{saga_id}/retry", data={"csrf_token": csrf}, headers={"Referer": f"{ORIGIN}/"}
    )
    assert answer.status_code == 303
    assert runner.submitted == [saga_id]


@pytest.mark.parametrize(
    ("form", "headers"),
    [
        pytest.param({}, {"Origin": ORIGIN}, id="no-csrf-token"),
        pytest.param({"csrf_token": "forged"}, {"Origin": ORIGIN}, id="wrong-csrf-token"),
        pytest.param("csrf", {"Origin": "http://evil.example"}, id="foreign-origin"),
        pytest.param("csrf", {"Origin": "http://localhost:9999"}, id="other-port"),
        pytest.param("csrf", {"Origin": "https://localhost"}, id="other-scheme"),
        pytest.param("csrf", {"Origin": "null"}, id="null-origin"),
        pytest.param("csrf", {"Referer": "http://evil.example/page"}, id="foreign-referer"),
        pytest.param("csrf", {}, id="no-origin-no-referer"),
    ],
)
def test_a_retry_without_the_token_or_from_elsewhere_is_refused(app, lifecycle, runner, form, headers):
    saga_id = stuck_saga(lifecycle, 46, error="x")
    client = app.test_client()
    csrf = log_in(client)
    data = {"csrf_token": csrf} if form == "csrf" else form
    answer = client.post(f"/sagas/{saga_id}/retry", data=data, headers=headers)
    assert answer.status_code == 403
    assert runner.submitted == []
    assert lifecycle.saga(saga_id).state is SagaState.NEEDS_OPERATOR


def test_a_retry_without_a_login_is_refused(app, lifecycle, runner):
    saga_id = stuck_saga(lifecycle, 47, error="x")
    client = app.test_client()
    csrf = csrf_of(client.get("/login").text)  # a session with a CSRF token, but never logged in
    answer = client.post(f"/sagas/{saga_id}/retry", data={"csrf_token": csrf}, headers={"Origin": ORIGIN})
    assert answer.status_code == 403
    assert runner.submitted == []


def test_another_sessions_csrf_token_is_refused(app, lifecycle, runner):
    saga_id = stuck_saga(lifecycle, 48, error="x")
    mine, theirs = app.test_client(), app.test_client()
    log_in(mine)
    their_csrf = log_in(theirs)
    answer = mine.post(f"/sagas/{saga_id}/retry", data={"csrf_token": their_csrf}, headers={"Origin": ORIGIN})
    assert answer.status_code == 403


def test_retrying_a_saga_that_is_not_stuck_says_why(app, lifecycle, runner):
    saga_id = stuck_saga(lifecycle, 49, error="x")
    lifecycle.retry(saga_id)  # DONE now
    client = app.test_client()
    csrf = log_in(client)
    answer = client.post(
        f"/sagas/{saga_id}/retry",
        data={"csrf_token": csrf},
        headers={"Origin": ORIGIN},
        follow_redirects=True,
    )
    assert answer.status_code == 200
    assert "Not retried" in answer.text
    assert "only a failed saga or one that needs an operator can be retried" in answer.text


@pytest.mark.parametrize("saga_id", ["00000000-0000-4000-8000-000000000000", "not-a-uuid", "..%2f..%2fetc"])
def test_retrying_an_unknown_saga_is_404(app, saga_id):
    client = app.test_client()
    csrf = log_in(client)
    answer = client.post(f"/sagas/{saga_id}/retry", data={"csrf_token": csrf}, headers={"Origin": ORIGIN})
    assert answer.status_code == 404


# ------------------------------------------------------------------------------------- decisions, findings
@attrs.frozen
class Decided:
    """What a sweep hands ``OpStore.record_decisions`` (the policy's Decision has these fields)."""

    account: int = 7
    action: str = "suspend"
    code: str = "grace_hours_over"
    reason: str = "credit <script>alert(1)</script> below the limit 50.00 for 26h (grace 24h)"
    balance: Decimal = Decimal("-62.00")
    credit_limit: Decimal = Decimal("50.00")
    credit: Decimal = Decimal("-12.00")
    promised_counted: Decimal = Decimal("0.00")
    hourly_spend: Decimal = Decimal("1.50")
    hours_left: Decimal | None = None
    notice_level: int | None = None


@attrs.frozen
class Found:
    kind: str = "orphan_server"
    subject: str = "server <i>s-1</i>"
    detail: str = "tagged cloudkit-item:9 & billing item 9 is closed"
    saga_id: str | None = None


def record(lifecycle: Lifecycle) -> None:
    """A finished sweep with two decisions and a finished reconciliation run with a finding."""
    from cloudkit.lifecycle._opstore import OpStore

    ops = OpStore(lifecycle.store)
    sweep = ops.start_sweep("default", owner="test", dry_run=False)
    ops.record_decisions(
        sweep.id,
        [
            Decided(),
            Decided(account=8, action="notify", code="low_credit", reason="24h left", notice_level=24),
        ],
        dry_run=False,
    )
    ops.finish_sweep(sweep.id, "done", counts={"accounts": 2, "suspend": 1, "notify": 1})
    run = ops.start_reconcile_run(fix=False)
    ops.add_findings(run.id, [Found()])
    ops.finish_reconcile_run(run.id, "done", counts={"orphan_server": 1})


def test_decisions_sweeps_and_findings_are_shown_escaped(app, lifecycle):
    record(lifecycle)
    client = app.test_client()
    log_in(client)
    page = client.get("/").text
    decisions = page[page.index('id="decisions"') : page.index('id="findings"')]
    assert decisions.count('class="decision ') == 2
    assert "grace_hours_over" in decisions
    assert "-62.00" in decisions
    assert "24h" in decisions
    assert "accounts 2, notify 1, suspend 1" in decisions  # the sweep's counts
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    findings = page[page.index('id="findings"') :]
    assert "server &lt;i&gt;s-1&lt;/i&gt;" in findings
    assert "tagged cloudkit-item:9 &amp; billing item 9 is closed" in findings
    assert "orphan_server 1" in findings


def test_findings_of_a_run_still_going_are_not_shown(app, lifecycle):
    from cloudkit.lifecycle._opstore import OpStore

    record(lifecycle)
    ops = OpStore(lifecycle.store)
    running = ops.start_reconcile_run(fix=True)
    ops.add_findings(running.id, [Found(subject="half-way")])
    client = app.test_client()
    log_in(client)
    page = client.get("/").text
    assert "half-way" not in page
    assert "server &lt;i&gt;s-1&lt;/i&gt;" in page


def test_an_injected_overview_is_what_the_page_shows(lifecycle):
    view = Overview()
    app = create_app(lifecycle, token=Secret(TOKEN), overview=lambda: view)
    stuck_saga(lifecycle, 50, error="not shown: the overview is injected")
    client = app.test_client()
    log_in(client)
    page = client.get("/").text
    assert "No saga needs an operator." in page
    assert "No decision recorded yet" in page


# ------------------------------------------------------------------------------------- headers, templates
def test_every_answer_carries_a_strict_content_security_policy(app):
    answer = app.test_client().get("/login")
    csp = answer.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "script-src" not in csp  # no script at all: default-src 'none' covers it
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert answer.headers["Cache-Control"] == "no-store"


def test_no_template_marks_data_safe():
    for template in TEMPLATES.glob("*.html"):
        text = template.read_text()
        assert "|safe" not in text.replace(" ", ""), template
        assert "autoescape false" not in text, template


# ------------------------------------------------------------------------------------- cloudkit console
def test_the_token_from_the_environment_wins_and_writes_no_file(tmp_path):
    from cloudkit._cli_console import console_token

    token, written = console_token({"CLOUDKIT_CONSOLE_TOKEN": TOKEN}, tmp_path / "token")
    assert (token.get_secret_value(), written) == (TOKEN, None)
    assert not (tmp_path / "token").exists()


def test_a_generated_token_goes_to_a_file_only_its_owner_reads(tmp_path):
    from cloudkit._cli_console import console_token

    path = tmp_path / "state" / "cloudkit" / "console-token"
    path.parent.mkdir(parents=True)
    path.write_text("old\n")
    path.chmod(0o644)
    token, written = console_token({"XDG_STATE_HOME": str(tmp_path / "state")})
    assert written == path
    assert path.read_text() == token.get_secret_value() + "\n"
    assert len(token.get_secret_value()) >= 32
    assert path.stat().st_mode & 0o777 == 0o600
    again, _ = console_token({"XDG_STATE_HOME": str(tmp_path / "state")})
    assert again != token  # a new token per start


def test_a_symlink_in_place_of_the_token_file_is_not_followed(tmp_path):
    from cloudkit._cli_console import console_token

    target = tmp_path / "elsewhere"
    target.write_text("keep me\n")
    (tmp_path / "token").symlink_to(target)
    with pytest.raises(OSError, match=r"symbolic links|Too many levels"):
        console_token({}, tmp_path / "token")
    assert target.read_text() == "keep me\n"


def test_cloudkit_console_serves_and_prints_where_the_token_is_not_the_token(tmp_path):
    import argparse
    import io

    from cloudkit._cli_console import add_console

    parser = argparse.ArgumentParser(prog="cloudkit")
    add_console(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["console", "--port", "0", "--token-file", str(tmp_path / "token")])
    seen: list[int] = []

    def until(server) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        conn.request("GET", "/login", headers={"Host": f"127.0.0.1:{server.port}"})
        seen.append(conn.getresponse().status)
        conn.close()

    out = io.StringIO()
    env = {"CLOUDKIT_LIFECYCLE_DB": f"sqlite:///{tmp_path / 'lc.db'}", "HOME": str(tmp_path)}
    assert args.handler(args, out, environ=env, until=until) == 0
    assert seen == [200]
    token = (tmp_path / "token").read_text().strip()
    assert token not in out.getvalue()
    assert f"operator token: in {tmp_path / 'token'}" in out.getvalue()


def test_cloudkit_imports_without_flask():
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['flask'] = None\n"
        "import cloudkit, cloudkit.lifecycle, cloudkit.cli, cloudkit._cli_console\n"
        "assert 'flask' not in [m for m in sys.modules if sys.modules[m] is not None]\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
