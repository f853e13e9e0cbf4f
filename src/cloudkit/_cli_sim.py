"""``cloudkit sim``: billing, OpenStack and Tungsten Fabric fakes on loopback, with customers in all three.

It runs a :class:`~cloudkit.testing.PortalBackend` in fake mode: the same customers exist in billing (a
client user and account), Keystone (a user with a project of the same name) and TF (that project), so a
portal can log them in with the composite session token. ``--seed FILE`` loads a scenario
(:mod:`cloudkit.testing.scenario`: customers with balances, credit limits, services and servers) instead
of the default customers alice and bob. ``--env`` prints, as ``export`` lines on stdout, every variable
``Platform.from_env()`` and ``SessionSettings.from_env()`` read, passwords of the loopback test accounts
included (they guard nothing: the fakes exist only while the sim runs). ``--json`` prints one JSON
document with the URLs and customers on stdout instead of the description.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import threading
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from cloudkit.errors import ConfigError

if TYPE_CHECKING:
    from cloudkit.testing import PortalBackend, PortalCustomer
    from cloudkit.testing.scenario import Scenario

__all__ = ["DEFAULT_CUSTOMERS", "add_sim", "run_sim", "scenario_path", "sim_json"]

DEFAULT_CUSTOMERS: dict[str, Decimal] = {"alice": Decimal("150.00"), "bob": Decimal("20.00")}
"""The customers every sim starts with, and their balances (password ``<name>-pass``)."""
_SEED_MOVED = "--seed now takes a scenario file; the random seed is --population-seed"


def scenario_path(value: str) -> Path:
    """``--seed``'s value: a scenario file; a bare integer (the old random seed) is a usage error.

    Example:
        >>> from cloudkit._cli_sim import scenario_path
        >>> scenario_path("examples/scenario.toml").name
        'scenario.toml'
        >>> scenario_path("7")
        Traceback (most recent call last):
        ...
        argparse.ArgumentTypeError: --seed now takes a scenario file; the random seed is --population-seed
    """
    path = Path(value)
    if value.strip().lstrip("+-").isdigit() and not path.exists():
        raise argparse.ArgumentTypeError(_SEED_MOVED)
    return path


def add_sim(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``sim`` command to ``cloudkit``'s subparsers (``args.handler`` runs it).

    Example:
        >>> import argparse
        >>> from cloudkit._cli_sim import add_sim
        >>> parser = argparse.ArgumentParser(prog="cloudkit")
        >>> _ = add_sim(parser.add_subparsers(dest="command"))
        >>> args = parser.parse_args(["sim", "--customer", "carol", "--env"])
        >>> args.customers, args.env
        (['carol'], True)
    """
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "sim",
        help="serve the billing, OpenStack and TF fakes on loopback, with customers in all three",
        description="Serve the billing, OpenStack and Tungsten Fabric fakes on loopback until Ctrl-C, with "
        "the same customers in all three: alice and bob, or the customers of a --seed scenario file.",
    )
    parser.add_argument("--port", type=int, default=0, help="billing fake port (default: any free)")
    parser.add_argument(
        "--customer",
        dest="customers",
        action="append",
        default=[],
        metavar="NAME",
        help="one more customer in every system (password NAME-pass); repeatable",
    )
    parser.add_argument(
        "--accounts", type=int, default=0, metavar="N", help="seed N more billing clients (cust-1 .. cust-N)"
    )
    parser.add_argument(
        "--seed",
        type=scenario_path,
        default=None,
        metavar="FILE",
        help="a scenario (TOML, or JSON if FILE ends in .json): its customers instead of alice and bob "
        "(docs/cli.md, examples/scenario.toml)",
    )
    parser.add_argument(
        "--population-seed",
        type=int,
        default=0,
        metavar="N",
        help="with --accounts: the random seed (0); was --seed before --seed took a scenario",
    )
    printed = parser.add_mutually_exclusive_group()  # both would print on stdout
    printed.add_argument(
        "--env",
        action="store_true",
        help="print export lines for Platform.from_env() on stdout (the rest goes to stderr)",
    )
    printed.add_argument(
        "--json",
        action="store_true",
        help="print the URLs and customers as one JSON document on stdout (the rest goes to stderr)",
    )
    parser.set_defaults(handler=_run)
    return parser


def _run(args: argparse.Namespace) -> int:
    from cloudkit.testing.scenario import load_scenario  # noqa: PLC0415 (the harness loads only here)

    run_sim(
        args.port,
        accounts=args.accounts,
        population_seed=args.population_seed,
        customers=args.customers,
        env=args.env,
        as_json=args.json,
        scenario=None if args.seed is None else load_scenario(args.seed),
    )
    return 0


def run_sim(
    port: int = 0,
    out: TextIO = sys.stdout,
    *,
    stop: threading.Event | None = None,
    accounts: int = 0,
    population_seed: int = 0,
    customers: Sequence[str] = (),
    scenario: Scenario | None = None,
    env: bool = False,
    as_json: bool = False,
    err: TextIO | None = None,
) -> None:
    """Serve the fakes with the default customers (and ``customers``) until interrupted or ``stop`` is set.

    A ``scenario`` replaces the default customers alice and bob with its own (balances, credit
    limits, services and servers; see :mod:`cloudkit.testing.scenario`); ``customers`` are added to
    either. ``accounts`` more billing clients are seeded too (``BillingFake.seed_population``: logins
    ``cust-<n>``, passwords ``cust-<n>-pass``, two services each, balances, credit limits, a few days
    of expenses and some promised payments, drawn from ``population_seed``): a population for the
    stop-rule sweep. With ``env`` the variables go to ``out`` as ``export`` lines, with ``as_json`` one
    JSON document (:func:`sim_json`) does; the description then goes to ``err``.

    Raises:
        ConfigError: a negative ``accounts`` or a customer name that is not a short lowercase login.
    """
    from cloudkit.testing import PortalBackend  # noqa: PLC0415 (the fakes load only for the sim)
    from cloudkit.testing.scenario import seed_scenario  # noqa: PLC0415

    _check(accounts, customers)
    info = (err or sys.stderr) if env or as_json else out
    options: dict[str, Any] = {"seed": False, "port": port, "client_suspend": True}
    with PortalBackend(billing_options=options) as backend:
        if scenario is not None:
            made = seed_scenario(backend, scenario)
        else:
            made = [backend.add_customer(name, balance=b) for name, b in DEFAULT_CUSTOMERS.items()]
        balance = Decimal("100.00")
        made += [
            backend.add_customer(name, balance=balance)
            for name in dict.fromkeys(customers)
            if name not in backend.customers
        ]
        _describe(backend, made, info, scenario)
        logins: list[str] = []
        if accounts:
            assert backend.billing_fake is not None  # noqa: S101 (fake mode)
            logins = backend.billing_fake.seed_population(accounts, seed=population_seed)
            print(
                f"           + {len(logins)} seeded billing clients {logins[0]} .. {logins[-1]}"
                f" (password <login>-pass), 2 services each, seed {population_seed}",
                file=info,
            )
        if env:
            for key, value in sorted(backend.environ().items()):
                print(f"export {key}={shlex.quote(value)}", file=out)
            out.flush()
        elif as_json:
            print(
                json.dumps(sim_json(backend, made, logins, population_seed), indent=2), file=out, flush=True
            )
        else:
            print("`cloudkit sim --env` prints these as the variables Platform.from_env() reads.", file=info)
        print("Press Ctrl-C to stop.", file=info, flush=True)
        waiter = stop or threading.Event()
        try:
            while not waiter.wait(0.5):
                pass
        except KeyboardInterrupt:
            print("stopped", file=info)


def _check(accounts: int, customers: Sequence[str]) -> None:
    """Refuse bad options before any fake starts."""
    if accounts < 0:
        raise ConfigError(f"--accounts must be >= 0, not {accounts}", system="billing", operation="sim")
    from cloudkit.testing.scenario import NAME  # noqa: PLC0415 (the one login rule; imports billing)

    for name in customers:
        if not NAME.match(name):
            raise ConfigError(
                f"customer names are lowercase logins (a-z, 0-9, _ and -, up to 32), not {name!r}",
                system="billing",
                operation="sim",
            )


def _describe(
    backend: PortalBackend, made: list[PortalCustomer], info: TextIO, scenario: Scenario | None
) -> None:
    print(f"billing    {backend.billing_url}   (admin / secret)", file=info)
    print(
        f"openstack  {backend.auth_url}   (Keystone; Nova, Cinder, Glance, Neutron in its catalog)",
        file=info,
    )
    print(f"tungsten   {backend.tungsten_url}   (TF service account svc-tf / svc-tf-pass)", file=info)
    if scenario is not None:
        print(f"scenario   {scenario.source}: {len(scenario.customers)} customers", file=info)
    own = {c.name for c in scenario.customers if c.password is not None} if scenario else set()
    for customer in made:
        # a password the scenario chose is the scenario's to show; the sim prints only its default ones
        password = "(password from the scenario)" if customer.name in own else f"/ {customer.name}-pass"
        print(
            f"customer   {customer.name} {password}: billing account {customer.account_id}, "
            f"Keystone project {customer.project_name}, TF project {customer.tf_project_uuid}",
            file=info,
        )


def sim_json(
    backend: PortalBackend, made: Sequence[PortalCustomer], population: Sequence[str], seed: int
) -> dict[str, object]:
    """``cloudkit sim --json``: where the fakes listen and who their customers are (no passwords).

    Keys: ``billing_url``, ``auth_url``, ``tungsten_url``, ``customers`` (``name``, ``balance`` as a
    string, ``billing_account``, ``project_name``, ``project_id``, ``tf_project_uuid``) and
    ``population`` (``logins``, ``seed``; ``null`` without ``--accounts``).

    Example:
        >>> from cloudkit.testing import PortalBackend
        >>> from cloudkit._cli_sim import sim_json
        >>> with PortalBackend() as backend:
        ...     doc = sim_json(backend, [backend.add_customer("dora")], [], 0)
        >>> sorted(doc), doc["customers"][0]["name"], doc["population"]
        (['auth_url', 'billing_url', 'customers', 'population', 'tungsten_url'], 'dora', None)
    """
    return {
        "billing_url": backend.billing_url,
        "auth_url": backend.auth_url,
        "tungsten_url": backend.tungsten_url,
        "customers": [
            {
                "name": c.name,
                "balance": f"{c.balance:f}",
                "billing_account": c.account_id,
                "project_name": c.project_name,
                "project_id": c.project_id,
                "tf_project_uuid": c.tf_project_uuid,
            }
            for c in made
        ],
        "population": {"logins": list(population), "seed": seed} if population else None,
    }
