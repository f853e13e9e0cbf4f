"""The portal's pages against cloudkit's fakes, live and replayed from the cassettes."""

from cloudkit import RetryPolicy
from cloudkit.billing import BillingClient
from cloudkit.openstack import OpenStackClient
from cloudkit.testing import Fault, PortalBackend, PortalCustomer
from flask.testing import FlaskClient


def log_in(portal: FlaskClient, customer: PortalCustomer) -> None:
    reply = portal.post(
        "/login", data={"username": customer.name, "password": customer.password.get_secret_value()}
    )
    assert reply.status_code == 302, reply.text


def _order(portal: FlaskClient, name: str) -> str:
    home = portal.get("/")
    assert home.status_code == 200, home.text
    reply = portal.post(
        "/order", data={"name": name, "image": _first_option(home.text, "image"),
                        "flavor": _first_option(home.text, "flavor"), "system_gb": "10", "data_gb": "20"},
    )  # fmt: skip
    return reply.text if reply.status_code == 200 else f"{reply.status_code}: {reply.text}"


def _first_option(html: str, select: str) -> str:
    after = html.split(f'<select name="{select}">', 1)[1]
    return after.split('<option value="', 1)[1].split('"', 1)[0]


def test_login_shows_balance_and_sets_a_strict_cookie(portal: FlaskClient, dora: PortalCustomer) -> None:
    assert portal.get("/").headers["Location"] == "/login"  # no cookie: log in first
    refused = portal.post("/login", data={"username": "dora", "password": "wrong"})
    assert refused.status_code == 401
    assert "Wrong username or password." in refused.text

    reply = portal.post("/login", data={"username": "dora", "password": dora.password.get_secret_value()})
    cookie = reply.headers["Set-Cookie"]
    assert cookie.startswith("portal_token=")
    assert {"HttpOnly", "Secure", "SameSite=Strict"} <= {part.strip() for part in cookie.split(";")}
    home = portal.get("/")
    assert home.status_code == 200
    assert "Balance: 50.00" in home.text
    assert "<h1>Hello dora</h1>" in home.text


def test_order_a_server_with_a_data_volume(portal: FlaskClient, portal_backend: PortalBackend,
                                           dora: PortalCustomer) -> None:  # fmt: skip
    log_in(portal, dora)
    done = _order(portal, "web-1")
    assert "Server ordered" in done, done
    assert "data volume attached" in done
    home = portal.get("/").text
    assert "web-1: ACTIVE" in home
    assert "web-1: ACTIVE" in home.split("<h2>Servers</h2>")[1]  # the server, not only the service
    clock = portal_backend.clock
    retry = RetryPolicy(attempts=1, sleep=clock.sleep, clock=clock)
    with OpenStackClient(portal_backend.openstack_settings(dora), retry=retry) as cloud:  # as dora
        volumes = {v.name: v.status for v in cloud.list_volumes()}
        (server,) = cloud.list_servers()
    assert volumes["web-1-data"] == "in-use"
    assert len(server.tags) == 1 and server.tags[0].startswith("service-")


def test_suspend_and_resume_as_the_client(portal: FlaskClient, portal_backend: PortalBackend,
                                          dora: PortalCustomer) -> None:  # fmt: skip
    with BillingClient(portal_backend.billing_settings()) as admin:  # set-up: dora has one service
        service = admin.as_user("dora").order_service(1, name="db-1").service_id
    log_in(portal, dora)
    assert portal.post(f"/services/{service}/suspend").status_code == 302
    assert f"#{service} db-1: SUSPENDED_BY_CLIENT" in portal.get("/").text
    assert portal.post(f"/services/{service}/resume").status_code == 302
    assert f"#{service} db-1: ACTIVE" in portal.get("/").text


def test_a_product_without_client_suspend_is_a_clear_refusal(
    portal: FlaskClient, portal_backend: PortalBackend, dora: PortalCustomer
) -> None:
    if portal_backend.billing_fake is not None:
        portal_backend.billing_fake.client_suspend = False
    with BillingClient(portal_backend.billing_settings()) as admin:
        service = admin.as_user("dora").order_service(1, name="db-1").service_id
    log_in(portal, dora)
    refused = portal.post(f"/services/{service}/suspend")
    assert refused.status_code == 403
    assert "Not allowed" in refused.text
    assert "suspend" in refused.text.split('role="alert"')[1]


def test_open_a_ticket_escapes_what_the_customer_typed(portal: FlaskClient, dora: PortalCustomer) -> None:
    log_in(portal, dora)
    reply = portal.post("/tickets", data={"subject": "<b>disk</b> full", "message": "help"})
    assert reply.status_code == 200
    assert "&lt;b&gt;disk&lt;/b&gt; full" in reply.text
    assert "<b>disk</b>" not in reply.text


def test_logout_revokes_the_token(portal: FlaskClient, dora: PortalCustomer) -> None:
    log_in(portal, dora)
    token = portal.get_cookie("portal_token")
    assert token is not None
    reply = portal.post("/logout")
    assert reply.headers["Location"] == "/login"
    assert portal.get_cookie("portal_token") is None
    portal.set_cookie("portal_token", token.value)  # the old token, replayed by hand: revoked
    assert portal.get("/").headers["Location"] == "/login"


def test_nova_down_during_the_order_says_exactly_what_was_left(
    portal: FlaskClient, portal_backend: PortalBackend, dora: PortalCustomer
) -> None:
    log_in(portal, dora)
    home = portal.get("/")
    # Every create answered by a Galera node not ready yet (more than the portal's 3 attempts).
    portal_backend.inject(Fault.wsrep(), system="openstack", method="POST", path="/servers", times=5)
    reply = portal.post(
        "/order", data={"name": "web-2", "image": _first_option(home.text, "image"),
                        "flavor": _first_option(home.text, "flavor"), "system_gb": "10", "data_gb": "20"},
    )  # fmt: skip
    assert reply.status_code == 503, reply.text
    assert "The order stopped while creating the server" in reply.text
    left = reply.text.split("What exists now:")[1]
    assert "billing service #" in left and "(web-2): ordered" in left
    assert "server" not in left.replace("billing service", "")  # no server, no volume
    after = portal.get("/").text
    assert "web-2: ACTIVE" in after.split("<h2>Servers</h2>")[0]  # billing keeps the service
    assert "web-2" not in after.split("<h2>Servers</h2>")[1].split("<h2>")[0]  # and there is no server
