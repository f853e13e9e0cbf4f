r"""The customers, services, balances and servers a demo, a notebook or ``cloudkit sim`` starts with.

A scenario is a TOML (or JSON) file; :func:`load_scenario` reads and checks all of it before anything
is made, so a bad file is a :class:`~cloudkit.errors.ConfigError` naming the file, the table and the
field, and nothing is half-seeded. :func:`seed_scenario` makes it in a running
:class:`~cloudkit.testing.PortalBackend`: each customer in billing (a client user and account with its
balance and credit limit, and its services), Keystone (a user and a project) and TF (that project),
exactly as ``cloudkit sim --customer`` does, then the customer's servers through their own login.

.. code-block:: toml

    [[customers]]
    name = "alice"              # login, Keystone user and project (a-z, 0-9, _ and -, up to 32)
    balance = "150.00"          # default 100.00; may be negative
    credit_limit = "50"         # how far below zero billing lets the balance go; default: none set
    password = "alice-secret"   # default <name>-pass

    [[customers.services]]
    product = "vps-small"       # kept as the service's item param "product"
    status = "active"           # ordered, active, suspended, deleted, in_progress, suspended_by_client
    price = "9.90"              # kept as the item param "price" (the fake charges nothing for it)
    name = "alice-web"          # default <customer>-<product>-<n>

    [[customers.servers]]
    name = "web-1"
    image = "cirros"            # an image name; default: the fake's first image
    flavor = "1"                # default "1"
    system_volume_size = 10     # GiB of the system volume it boots from; default 10

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> from cloudkit.testing.scenario import load_scenario
    >>> path = Path(tempfile.mkdtemp()) / "demo.toml"
    >>> _ = path.write_text('[[customers]]\nname = "dora"\nbalance = "-5"\n'
    ...                     '[[customers.services]]\nproduct = "vps"\nprice = 4.5\n')
    >>> scenario = load_scenario(path)
    >>> dora = scenario.customers[0]
    >>> dora.name, dora.balance, dora.services[0].service_name(dora.name, 1), dora.services[0].price
    ('dora', Decimal('-5.00'), 'dora-vps-1', Decimal('4.50'))
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from cloudkit._core._secret import Secret
from cloudkit.billing import ServiceStatus
from cloudkit.errors import ConfigError

if TYPE_CHECKING:
    from cloudkit.testing.portal import PortalBackend, PortalCustomer

__all__ = [
    "Scenario",
    "ScenarioCustomer",
    "ScenarioServer",
    "ScenarioService",
    "load_scenario",
    "parse_scenario",
    "seed_scenario",
]

NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
"""What a customer login may be (billing login, Keystone user and project, TF project)."""
_CENT = Decimal("0.01")
_STATUSES = {status.name.lower(): status for status in ServiceStatus}


@attrs.frozen(kw_only=True)
class ScenarioService:
    """A billing service of a scenario's customer.

    Example:
        >>> from decimal import Decimal
        >>> from cloudkit.testing.scenario import ScenarioService
        >>> ScenarioService(product="vps", price=Decimal("9.90")).service_name("ann", 2)
        'ann-vps-2'
    """

    product: str
    status: ServiceStatus = ServiceStatus.ACTIVE
    price: Decimal = Decimal("0.00")
    name: str | None = None

    def service_name(self, customer: str, number: int) -> str:
        """The service's name: ``name`` if given, else ``<customer>-<product>-<number>``."""
        return self.name or f"{customer}-{self.product}-{number}"


@attrs.frozen(kw_only=True)
class ScenarioServer:
    """A server a scenario's customer runs (made in their own project, through their own login).

    Example:
        >>> from cloudkit.testing.scenario import ScenarioServer
        >>> ScenarioServer(name="web-1").flavor
        '1'
    """

    name: str
    image: str | None = None
    flavor: str = "1"
    system_volume_size: int = 10


@attrs.frozen(kw_only=True)
class ScenarioCustomer:
    """One customer of a scenario: in billing, Keystone and TF, with services and servers.

    Example:
        >>> from cloudkit.testing.scenario import ScenarioCustomer
        >>> ScenarioCustomer(name="ann", password=Secret("s3cret"))
        ScenarioCustomer(name='ann', balance=Decimal('100.00'), credit_limit=None, password=Secret('***'), services=(), servers=())
    """  # noqa: E501 (a doctest output line)

    name: str
    balance: Decimal = Decimal("100.00")
    credit_limit: Decimal | None = None
    password: Secret | None = None
    services: tuple[ScenarioService, ...] = ()
    servers: tuple[ScenarioServer, ...] = ()


@attrs.frozen(kw_only=True)
class Scenario:
    """Everything a scenario file describes; ``source`` names the file it came from.

    Example:
        >>> from cloudkit.testing.scenario import Scenario, ScenarioCustomer
        >>> Scenario(customers=(ScenarioCustomer(name="ann"),)).names()
        ['ann']
    """

    customers: tuple[ScenarioCustomer, ...] = ()
    source: str = "<scenario>"

    def names(self) -> list[str]:
        """The customers' names, in file order."""
        return [customer.name for customer in self.customers]


def load_scenario(path: str | Path) -> Scenario:
    """Read and check a scenario file: TOML, or JSON when its name ends in ``.json``.

    Raises:
        ConfigError: the file cannot be read or parsed (with its line), or a field is missing, unknown
            or of the wrong kind (named as ``customers[1].services[0].price``).

    Example:
        >>> from cloudkit.testing.scenario import load_scenario
        >>> load_scenario("examples/scenario.toml").names()
        ['alice', 'bob', 'carol']
        >>> load_scenario("no/such.toml")
        Traceback (most recent call last):
        ...
        cloudkit.errors.ConfigError: scenario no/such.toml: cannot read it (No such file or directory) [load_scenario]
    """  # noqa: E501 (a doctest output line)
    where = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise _error(where, f"cannot read it ({reason})") from exc
    try:
        data = json.loads(text, parse_float=Decimal) if where.endswith(".json") else tomllib.loads(text)
    except json.JSONDecodeError as exc:
        raise _error(where, f"not JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise _error(where, f"not TOML: {exc}") from exc
    return parse_scenario(data, source=where)


def parse_scenario(data: object, *, source: str = "<scenario>") -> Scenario:
    """Check a parsed scenario document (a TOML or JSON table) and build the :class:`Scenario`.

    Raises:
        ConfigError: a field is missing, unknown or of the wrong kind; the message names ``source``
            and the field's path.

    Example:
        >>> from cloudkit.testing.scenario import parse_scenario
        >>> parse_scenario({"customers": [{"name": "ann", "balanse": 5}]}, source="s.toml")
        Traceback (most recent call last):
        ...
        cloudkit.errors.ConfigError: scenario s.toml: customers[0]: unknown field 'balanse' (known: balance, credit_limit, name, password, servers, services) [load_scenario]
    """  # noqa: E501 (a doctest output line)
    top = _table(data, source, "the document", {"customers"})
    customers = tuple(
        _customer(entry, source, f"customers[{n}]")
        for n, entry in enumerate(_array(top.get("customers", []), source, "customers"))
    )
    seen: set[str] = set()
    for n, customer in enumerate(customers):
        if customer.name in seen:
            raise _error(source, f"customers[{n}].name: {customer.name!r} is listed twice")
        seen.add(customer.name)
    return Scenario(customers=customers, source=source)


def seed_scenario(backend: PortalBackend, scenario: Scenario) -> list[PortalCustomer]:
    """Make ``scenario`` in a running fake-mode ``backend``; the customers made, in file order.

    Each customer is made as :meth:`PortalBackend.add_customer` makes one, then given its credit
    limit and services in billing and its servers in its own Keystone project.

    Raises:
        ConfigError: the backend is not running fakes, a customer already exists in it, or a server
            names an image the cloud does not have (all checked before anything is made).

    Example:
        >>> from cloudkit.testing import PortalBackend
        >>> from cloudkit.testing.scenario import load_scenario, seed_scenario
        >>> with PortalBackend(billing_options={"seed": False}) as backend:  # no alice and bob of its own
        ...     made = seed_scenario(backend, load_scenario("examples/scenario.toml"))
        ...     fake = backend.billing_fake
        ...     [c.name for c in made], fake.balance_of("bob"), fake.credit_limit_of("bob")
        (['alice', 'bob', 'carol'], Decimal('-12.50'), Decimal('50.00'))
    """
    billing = backend.billing_fake
    if billing is None or backend.openstack_fake is None:
        raise _error(scenario.source, "a scenario seeds fakes only (PortalBackend in fake mode)")
    keystone = backend.openstack_fake
    taken = [
        n for n in scenario.names() if n in backend.customers or billing.has_user(n) or keystone.has_user(n)
    ]
    if taken:
        raise _error(scenario.source, f"customers already there: {', '.join(taken)}")
    images = _images(backend, scenario)
    made = []
    for customer in scenario.customers:
        password = None if customer.password is None else customer.password.get_secret_value()
        portal = backend.add_customer(customer.name, balance=customer.balance, password=password)
        if customer.credit_limit is not None:
            billing.set_credit_limit(customer.name, customer.credit_limit)
        for number, service in enumerate(customer.services, start=1):
            billing.add_service(
                customer.name,
                service.service_name(customer.name, number),
                status=int(service.status),
                params={"product": service.product, "price": f"{service.price:f}"},
            )
        if customer.servers:
            _make_servers(backend, portal, customer.servers, images)
        made.append(portal)
    return made


def _images(backend: PortalBackend, scenario: Scenario) -> dict[str, str]:
    """The cloud's image ids by name, once every server's image and flavor are known to be there.

    Else nothing is made. Empty when the scenario has no server.
    """
    servers = [(c.name, s) for c in scenario.customers for s in c.servers]
    if not servers:
        return {}
    from cloudkit.openstack import OpenStackClient  # noqa: PLC0415 (only scenarios with servers need it)

    with OpenStackClient(backend.openstack_settings()) as admin:
        images = {image.name: image.id for image in admin.list_images()}
        flavors = {name for flavor in admin.list_flavors() for name in (flavor.name, flavor.id)}
    names_seen: set[tuple[str, str]] = set()
    for customer, server in servers:
        where = f"customer {customer}, server {server.name}"
        if (customer, server.name) in names_seen:
            raise _error(scenario.source, f"{where}: that server name is used twice")
        names_seen.add((customer, server.name))
        if server.flavor not in flavors:
            known = ", ".join(sorted(f for f in flavors if not f.isdigit()))
            raise _error(scenario.source, f"{where}: no flavor {server.flavor!r} (there are {known})")
        if server.image is None and not images:
            raise _error(scenario.source, f"{where}: the cloud has no image")
        if server.image is not None and server.image not in images:
            known = ", ".join(sorted(images))
            raise _error(
                scenario.source,
                f"{where}: no image {server.image!r} (there are {known})",
            )
    return images


def _make_servers(
    backend: PortalBackend,
    customer: PortalCustomer,
    servers: tuple[ScenarioServer, ...],
    images: Mapping[str, str],
) -> None:
    from cloudkit.openstack import OpenStackClient  # noqa: PLC0415 (only scenarios with servers need it)

    with OpenStackClient(backend.openstack_settings(customer)) as cloud:
        for server in servers:
            image = images[server.image] if server.image else next(iter(images.values()))
            cloud.create_server(
                server.name, image=image, flavor=server.flavor, system_volume_size=server.system_volume_size
            )


# ------------------------------------------------------------------------------ checking
_CUSTOMER_FIELDS = {"name", "balance", "credit_limit", "password", "services", "servers"}
_SERVICE_FIELDS = {"product", "status", "price", "name"}
_SERVER_FIELDS = {"name", "image", "flavor", "system_volume_size"}


def _customer(entry: object, source: str, where: str) -> ScenarioCustomer:
    table = _table(entry, source, where, _CUSTOMER_FIELDS)
    name = _login(table, source, where)
    balance = _money(table.get("balance", Decimal("100.00")), source, f"{where}.balance")
    limit = table.get("credit_limit")
    credit_limit = None if limit is None else _money(limit, source, f"{where}.credit_limit", low=0)
    password = table.get("password")
    if password is not None and (not isinstance(password, str) or not password):
        raise _error(source, f"{where}.password: a non-empty string, or leave it out for {name}-pass")
    services = tuple(
        _service(item, source, f"{where}.services[{n}]")
        for n, item in enumerate(_array(table.get("services", []), source, f"{where}.services"))
    )
    servers = tuple(
        _server(item, source, f"{where}.servers[{n}]")
        for n, item in enumerate(_array(table.get("servers", []), source, f"{where}.servers"))
    )
    return ScenarioCustomer(
        name=name,
        balance=balance,
        credit_limit=credit_limit,
        password=None if password is None else Secret(password),
        services=services,
        servers=servers,
    )


def _service(entry: object, source: str, where: str) -> ScenarioService:
    table = _table(entry, source, where, _SERVICE_FIELDS)
    product = _text(table, "product", source, where)
    status = table.get("status", "active")
    if not isinstance(status, str) or status.lower() not in _STATUSES:
        known = ", ".join(_STATUSES)
        raise _error(source, f"{where}.status: one of {known}, not {status!r}")
    name = table.get("name")
    if name is not None:
        name = _text(table, "name", source, where)
    price = _money(table.get("price", Decimal(0)), source, f"{where}.price", low=0)
    return ScenarioService(product=product, status=_STATUSES[status.lower()], price=price, name=name)


def _server(entry: object, source: str, where: str) -> ScenarioServer:
    table = _table(entry, source, where, _SERVER_FIELDS)
    name = _text(table, "name", source, where)
    image = _text(table, "image", source, where) if "image" in table else None
    flavor = _text(table, "flavor", source, where) if "flavor" in table else "1"
    size = table.get("system_volume_size", 10)
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= 16384:  # noqa: PLR2004 (GiB)
        raise _error(source, f"{where}.system_volume_size: whole GiB from 1 to 16384, not {size!r}")
    return ScenarioServer(name=name, image=image, flavor=flavor, system_volume_size=size)


def _table(value: object, source: str, where: str, known: set[str]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _error(source, f"{where}: a table, not {_kind(value)}")
    unknown = sorted(str(key) for key in value if key not in known)
    if unknown:
        raise _error(source, f"{where}: unknown field {unknown[0]!r} (known: {', '.join(sorted(known))})")
    return value


def _array(value: object, source: str, where: str) -> list[object]:
    if not isinstance(value, list):
        raise _error(source, f"{where}: an array of tables, not {_kind(value)}")
    return value


def _text(table: Mapping[str, Any], key: str, source: str, where: str) -> str:
    value = table.get(key)
    if not isinstance(value, str) or not value.strip():
        missing = "missing" if value is None else f"a non-empty string, not {_kind(value)}"
        raise _error(source, f"{where}.{key}: {missing}")
    return value


def _login(table: Mapping[str, Any], source: str, where: str) -> str:
    name = _text(table, "name", source, where)
    if not NAME.match(name):
        raise _error(source, f"{where}.name: a lowercase login (a-z, 0-9, _ and -, up to 32), not {name!r}")
    return name


def _money(value: object, source: str, where: str, *, low: int | None = None) -> Decimal:
    """An amount of money from a string, an integer or a float, in whole cents."""
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise _error(source, f'{where}: an amount such as "9.90", not {_kind(value)}')
    try:
        # floats go through their shortest repr, so 9.9 is 9.90 and not 9.9000000000000003552...
        amount = Decimal(repr(value) if isinstance(value, float) else str(value).strip())
    except InvalidOperation as exc:
        raise _error(source, f'{where}: an amount such as "9.90", not {value!r}') from exc
    # the bound keeps quantize() in range; no demo balance comes near a trillion
    if not amount.is_finite() or abs(amount) >= 10**12 or amount != amount.quantize(_CENT):
        raise _error(source, f"{where}: a finite amount in whole cents, not {value!r}")
    if low is not None and amount < low:
        raise _error(source, f"{where}: at least {low}, not {value!r}")
    return amount.quantize(_CENT)


def _kind(value: object) -> str:
    return {dict: "a table", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )


def _error(source: str, text: str) -> ConfigError:
    return ConfigError(f"scenario {source}: {text}", operation="load_scenario")
