"""A small customer portal on cloudkit: log in, see balance, services and servers, order a server,
suspend and resume a service, open a ticket, log out.

Every call on the customer's behalf goes through the customer's own session (``session.billing()``
and ``manager.openstack(session)``): the portal holds no admin credentials for them. Configuration
is ``Platform.from_env()`` (``cloudkit sim --env`` prints it for the fakes).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from cloudkit.errors import (
    ApiError,
    AuthenticationError,
    CloudkitError,
    InsufficientFundsError,
    NotFoundError,
    PermissionDeniedError,
    PolicyError,
    ServerError,
    SessionError,
    TransportError,
)
from cloudkit.platform import Platform
from cloudkit.session import Session, SessionManager
from flask import Flask, redirect, render_template, request, url_for
from jinja2 import DictLoader
from werkzeug.wrappers import Response

COOKIE = "portal_token"

_BASE = """<!doctype html><html><head><meta charset="utf-8"><title>{% block title %}Portal{% endblock %}</title>
</head><body>{% if user %}<form method="post" action="/logout">{{ user }} <button>Log out</button></form>{% endif %}
{% block body %}{% endblock %}</body></html>"""
_LOGIN = """{% extends "base.html" %}{% block body %}<h1>Log in</h1>{% if error %}<p role="alert">{{ error }}</p>{% endif %}
<form method="post" action="/login"><input name="username" required><input name="password" type="password" required>
<button>Log in</button></form>{% endblock %}"""
_HOME = """{% extends "base.html" %}{% block body %}<h1>Hello {{ user }}</h1>
<p id="balance">Balance: {{ balance }}</p>
<h2>Services</h2><ul>{% for s in services %}<li id="service-{{ s.id }}">#{{ s.id }} {{ s.name }}: {{ s.status.name }}
{% if s.status.name == "ACTIVE" %}<form method="post" action="/services/{{ s.id }}/suspend"><button>Suspend</button></form>
{% elif s.status.name == "SUSPENDED_BY_CLIENT" %}<form method="post" action="/services/{{ s.id }}/resume">
<button>Resume</button></form>{% endif %}</li>{% endfor %}</ul>
<h2>Servers</h2><ul>{% for s in servers %}<li id="server-{{ s.id }}">{{ s.name }}: {{ s.status }}</li>{% endfor %}</ul>
<h2>Order a server</h2><form method="post" action="/order"><input name="name" required>
<select name="image">{% for i in images %}<option value="{{ i.id }}">{{ i.name }}</option>{% endfor %}</select>
<select name="flavor">{% for f in flavors %}<option value="{{ f.id }}">{{ f.name }}</option>{% endfor %}</select>
<input name="system_gb" value="10"><input name="data_gb" value="20"><button>Order</button></form>
<h2>Support</h2><form method="post" action="/tickets"><input name="subject" required>
<textarea name="message" required></textarea><button>Open a ticket</button></form>{% endblock %}"""
_ERROR = """{% extends "base.html" %}{% block title %}{{ title }}{% endblock %}{% block body %}<h1>{{ title }}</h1>
<p role="alert">{{ message }}</p>{% if left %}<p>What exists now:</p><ul>{% for line in left %}<li>{{ line }}</li>
{% endfor %}</ul>{% endif %}<p><a href="/">Back</a></p>{% endblock %}"""
_DONE = """{% extends "base.html" %}{% block body %}<h1>{{ title }}</h1><p>{{ message }}</p>
<p><a href="/">Back</a></p>{% endblock %}"""


class OrderIncompleteError(Exception):
    """An order stopped part-way: ``left`` says exactly what exists (billing keeps an ordered service)."""

    def __init__(self, cause: CloudkitError, step: str, left: list[str]) -> None:
        super().__init__(f"{step}: {cause}")
        self.cause, self.step, self.left = cause, step, left


def create_app(
    platform: Platform | None = None,
    *,
    tariff: int = 1,
    manager_options: Mapping[str, Any] | None = None,
    client_options: Mapping[str, Any] | None = None,
    secure_cookie: bool = True,
) -> Flask:
    """The portal for ``platform`` (default ``Platform.from_env()``).

    ``manager_options`` go to ``platform.session_manager()`` (``store=``, ``clock=``, ``retry=``...),
    ``client_options`` to each customer's OpenStack client (``retry=``, ``clock=``, ``sleep=``): tests
    put a fake clock there. ``tariff`` is the billing tariff a server is ordered on.
    """
    platform = platform or Platform.from_env()
    manager = platform.session_manager(**dict(manager_options or {}))
    os_options = dict(client_options or {})
    app = Flask(__name__)
    app.jinja_loader = DictLoader(
        {
            "base.html": _BASE,
            "login.html": _LOGIN,
            "home.html": _HOME,
            "error.html": _ERROR,
            "done.html": _DONE,
        }
    )
    app.extensions["cloudkit.session_manager"] = manager  # whoever made the app closes it

    def session() -> Session:
        return manager.verify(request.cookies.get(COOKIE, ""))

    def page(template: str, status: int = 200, **context: Any) -> tuple[str, int]:
        user = request.cookies.get(COOKIE) and _username(manager)
        return render_template(template, user=user, **context), status

    @app.get("/")
    def home() -> tuple[str, int]:
        s = session()
        with manager.billing(s) as own:
            balance, services = own.get_balance(), own.list_services()
        with manager.openstack(s, **os_options) as nova:
            servers, images, flavors = nova.list_servers(), nova.list_images(), nova.list_flavors()
        return page(
            "home.html", balance=balance, services=services, servers=servers, images=images, flavors=flavors
        )

    @app.get("/login")
    def login_form() -> tuple[str, int]:
        return page("login.html")

    @app.post("/login")
    def login() -> Response | tuple[str, int]:
        try:
            issued = manager.login(request.form.get("username", ""), request.form.get("password", ""))
        except (AuthenticationError, PolicyError):
            return page("login.html", 401, error="Wrong username or password.")
        response = redirect(url_for("home"))
        response.set_cookie(
            COOKIE,
            issued.token,
            expires=issued.expires_at,
            httponly=True,
            secure=secure_cookie,
            samesite="Strict",
        )
        return response

    @app.post("/logout")
    def logout() -> Response:
        token = request.cookies.get(COOKIE)
        if token:
            try:
                manager.logout(token)
            except SessionError:
                pass  # already expired or revoked: logging out is done either way
        response = redirect(url_for("login_form"))
        response.delete_cookie(COOKIE, httponly=True, secure=secure_cookie, samesite="Strict")
        return response

    @app.post("/order")
    def order() -> tuple[str, int]:
        s, form = session(), request.form
        name, image, flavor = form.get("name", ""), form.get("image", ""), form.get("flavor", "")
        system_gb, data_gb = _gigabytes(form.get("system_gb")), _gigabytes(form.get("data_gb"))
        params = {"image": image, "flavor": flavor, "system_volume_gb": str(system_gb)}
        with manager.billing(s) as own:  # nothing exists yet if this fails: the error page says so
            ordered = own.order_service(tariff, name=name, params=params)
        left = [f"billing service #{ordered.service_id} ({ordered.name}): ordered, {ordered.status.name}"]
        step = "creating the server"  # the step under way when something fails, named on the error page
        try:
            with manager.openstack(s, **os_options) as nova:
                server = nova.create_server(
                    name,
                    image=image,
                    flavor=flavor,
                    system_volume_size=system_gb,
                    tags=[f"service-{ordered.service_id}"],
                )
                left.append(f"server {server.name} ({server.id}) with a {system_gb} GB system volume")
                step = "creating the data volume"
                volume = nova.create_volume(f"{name}-data", size=data_gb)
                left.append(f"data volume {volume.name} ({volume.id}, {data_gb} GB), not attached")
                step = "attaching the data volume"
                nova.attach_volume(server.id, volume.id)
        except CloudkitError as exc:
            raise OrderIncompleteError(exc, step, left) from exc
        return page(
            "done.html",
            title="Server ordered",
            message=f"{name}: service #{ordered.service_id}, server {server.id}, data volume attached.",
        )

    @app.post("/services/<int:service_id>/<any(suspend, resume):action>")
    def service_action(service_id: int, action: str) -> Response:
        with manager.billing(session()) as own:
            if action == "suspend":
                own.suspend_service(service_id)
            else:
                own.resume_service(service_id)
        return redirect(url_for("home"))

    @app.post("/tickets")
    def ticket() -> tuple[str, int]:
        with manager.billing(session()) as own:
            opened = own.create_ticket(subject=request.form["subject"], message=request.form["message"])
        return page("done.html", title="Ticket opened", message=f"Ticket #{opened.id}: {opened.subject}")

    @app.errorhandler(SessionError)
    def session_error(_exc: SessionError) -> Response:
        response = redirect(url_for("login_form"))
        response.delete_cookie(COOKIE, httponly=True, secure=secure_cookie, samesite="Strict")
        return response

    @app.errorhandler(OrderIncompleteError)
    def order_incomplete(exc: OrderIncompleteError) -> tuple[str, int]:
        status, title, message = _describe(exc.cause)
        return page(
            "error.html",
            status,
            title=f"The order stopped while {exc.step}",
            message=f"{title}: {message}",
            left=exc.left,
        )

    @app.errorhandler(CloudkitError)
    def cloudkit_error(exc: CloudkitError) -> tuple[str, int]:
        status, title, message = _describe(exc)
        return page("error.html", status, title=title, message=message)

    return app


def _username(manager: SessionManager) -> str | None:
    try:
        return manager.verify(request.cookies.get(COOKIE, "")).username
    except SessionError:
        return None


def _gigabytes(value: str | None) -> int:
    if value is None or not value.isdigit():
        raise _BadInput("sizes are whole gigabytes")
    return int(value)


class _BadInput(PolicyError):
    """A form value the portal refuses before calling anything."""

    def __init__(self, message: str) -> None:
        super().__init__(message, system="portal", operation="form")


_PAGES: list[tuple[type[CloudkitError], int, str, Callable[[CloudkitError], str]]] = [
    (InsufficientFundsError, 402, "Not enough money", lambda e: "Top up your balance and order again."),
    (PermissionDeniedError, 403, "Not allowed", lambda e: f"{e.system} refused: {e}"),
    (NotFoundError, 404, "Not found", lambda e: f"{e.system} has no such thing: {e}"),
    (PolicyError, 400, "Cannot do that", str),
    (
        ServerError,
        503,
        "Try again soon",
        lambda e: f"{e.system} failed ({e.operation}); nothing more was done.",
    ),
    (TransportError, 503, "A system is not answering", lambda e: f"{e.system} did not answer; try again."),
    (ApiError, 502, "A system refused", lambda e: f"{e.system} answered with an error: {e}"),
]


def _describe(exc: CloudkitError) -> tuple[int, str, str]:
    """Status, title and message of the error page: what the customer does next, never a secret."""
    for kind, status, title, message in _PAGES:
        if isinstance(exc, kind):
            return status, title, message(exc)
    return 502, "Something went wrong", f"{exc.system or 'a system'} failed: {exc}"
