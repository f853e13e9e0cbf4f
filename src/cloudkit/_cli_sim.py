"""``cloudkit sim``: billing, OpenStack and Tungsten Fabric fakes on loopback, with customers in all three.

It runs a :class:`~cloudkit.testing.PortalBackend` in fake mode: the same customers exist in billing (a
client user and account), Keystone (a user with a project of the same name) and TF (that project), so a
portal can log them in with the composite session token. ``--env`` prints, as ``export`` lines on
stdout, every variable ``Platform.from_env()`` and ``SessionSettings.from_env()`` read, passwords of
the loopback test accounts included (they guard nothing: the fakes exist only while the sim runs).
"""

from __future__ import annotations

import argparse
import re
import shlex
import sys
import threading
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, TextIO

from cloudkit.errors import ConfigError

__all__ = ["DEFAULT_CUSTOMERS", "add_sim", "run_sim"]

DEFAULT_CUSTOMERS: dict[str, Decimal] = {"alice": Decimal("150.00"), "bob": Decimal("20.00")}
"""The customers every sim starts with, and their balances (password ``<name>-pass``)."""
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


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
        description=__doc__.splitlines()[0] if __doc__ else None,
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
    parser.add_argument("--seed", type=int, default=0, help="with --accounts: the random seed (0)")
    parser.add_argument(
        "--env",
        action="store_true",
        help="print export lines for Platform.from_env() on stdout (the rest goes to stderr)",
    )
    parser.set_defaults(handler=_run)
    return parser


def _run(args: argparse.Namespace) -> int:
    run_sim(
        args.port,
        accounts=args.accounts,
        seed=args.seed,
        customers=args.customers,
        env=args.env,
    )
    return 0


def run_sim(
    port: int = 0,
    out: TextIO = sys.stdout,
    *,
    stop: threading.Event | None = None,
    accounts: int = 0,
    seed: int = 0,
    customers: Sequence[str] = (),
    env: bool = False,
    err: TextIO | None = None,
) -> None:
    """Serve the fakes with the default customers (and ``customers``) until interrupted or ``stop`` is set.

    ``accounts`` more billing clients are seeded too (``BillingFake.seed_population``: logins
    ``cust-<n>``, passwords ``cust-<n>-pass``, two services each, balances, credit limits, a few days
    of expenses and some promised payments, drawn from ``seed``): a population for the stop-rule sweep.
    With ``env`` the variables go to ``out`` as ``export`` lines and the description to ``err``.

    Raises:
        ConfigError: a negative ``accounts`` or a customer name that is not a short lowercase login.
    """
    from cloudkit.testing import PortalBackend  # noqa: PLC0415 (the fakes load only for the sim)

    if accounts < 0:
        raise ConfigError(f"--accounts must be >= 0, not {accounts}", system="billing", operation="sim")
    names = dict.fromkeys([*DEFAULT_CUSTOMERS, *customers])
    for name in names:
        if not _NAME.match(name):
            raise ConfigError(
                f"customer names are lowercase logins (a-z, 0-9, _ and -, up to 32), not {name!r}",
                system="billing",
                operation="sim",
            )
    info = (err or sys.stderr) if env else out
    options: dict[str, Any] = {"seed": False, "port": port, "client_suspend": True}
    with PortalBackend(billing_options=options) as backend:
        balance = DEFAULT_CUSTOMERS.get
        made = [backend.add_customer(name, balance=balance(name, Decimal("100.00"))) for name in names]
        print(f"billing    {backend.billing_url}   (admin / secret)", file=info)
        print(
            f"openstack  {backend.auth_url}   (Keystone; Nova, Cinder, Glance, Neutron in its catalog)",
            file=info,
        )
        print(f"tungsten   {backend.tungsten_url}   (TF service account svc-tf / svc-tf-pass)", file=info)
        for customer in made:
            print(
                f"customer   {customer.name} / {customer.name}-pass: billing account {customer.account_id}, "
                f"Keystone project {customer.project_name}, TF project {customer.tf_project_uuid}",
                file=info,
            )
        if accounts:
            assert backend.billing_fake is not None  # noqa: S101 (fake mode)
            logins = backend.billing_fake.seed_population(accounts, seed=seed)
            print(
                f"           + {len(logins)} seeded billing clients {logins[0]} .. {logins[-1]}"
                f" (password <login>-pass), 2 services each, seed {seed}",
                file=info,
            )
        if env:
            for key, value in sorted(backend.environ().items()):
                print(f"export {key}={shlex.quote(value)}", file=out)
            out.flush()
        else:
            print("`cloudkit sim --env` prints these as the variables Platform.from_env() reads.", file=info)
        print("Press Ctrl-C to stop.", file=info, flush=True)
        waiter = stop or threading.Event()
        try:
            while not waiter.wait(0.5):
                pass
        except KeyboardInterrupt:
            print("stopped", file=info)
