"""The public names are exactly the documented ones, sorted, and each is documented with an example."""

import importlib
import inspect

import pytest

MODULES = [
    "cloudkit",
    "cloudkit.billing",
    "cloudkit.errors",
    "cloudkit.openstack",
    "cloudkit.session",
    "cloudkit.tungsten",
    "cloudkit.testing",
    "cloudkit.testing.fakes",
]


@pytest.mark.parametrize("name", MODULES)
def test_all_is_unique_and_complete(name):
    module = importlib.import_module(name)
    assert len(set(module.__all__)) == len(module.__all__)  # the order itself is ruff's RUF022
    public = {n for n, obj in vars(module).items() if not n.startswith("_") and not inspect.ismodule(obj)}
    public -= {"annotations", "Any", "Decimal"}
    assert set(module.__all__) >= {
        n for n in public if getattr(vars(module)[n], "__module__", "").startswith("cloudkit")
    }


@pytest.mark.parametrize("name", MODULES)
def test_public_names_have_docstrings(name):
    module = importlib.import_module(name)
    for attr in module.__all__:
        obj = getattr(module, attr)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert inspect.getdoc(obj), f"{name}.{attr} has no docstring"


def test_issue_public_names_import():
    from cloudkit.billing import BillingClient, BillingSettings  # noqa: F401
    from cloudkit.errors import (  # noqa: F401
        ApiError,
        AuthenticationError,
        CloudkitError,
        ResponseDecodeError,
        ScopeError,
        SilentNoOpError,
    )


def test_one_keystone_identity_everywhere():
    """Issue 10: one public KeystoneIdentity (was two, plus TokenInfo and ServiceIdentity)."""
    from cloudkit import openstack, session, tungsten
    from cloudkit._keystone import KeystoneIdentity

    assert (
        openstack.KeystoneIdentity
        is tungsten.KeystoneIdentity
        is session.KeystoneIdentity
        is KeystoneIdentity
    )
    for module in (openstack, tungsten, session):
        assert not {"TokenInfo", "ServiceIdentity"} & set(dir(module))


def test_issue_10_public_names_import():
    from cloudkit.billing import BillingClient
    from cloudkit.errors import BillingApiError, InsufficientFundsError
    from cloudkit.session import SessionSettings

    assert issubclass(InsufficientFundsError, BillingApiError)
    assert callable(BillingClient.keepalive_session)
    assert callable(SessionSettings.from_env)


def test_no_system_imports_another_systems_private_module():
    """DESIGN: no system imports another system's private module (session used billing._wire)."""
    import re
    from pathlib import Path

    root = Path(importlib.import_module("cloudkit").__file__).parent
    systems = ("billing", "openstack", "tungsten", "session")
    offenders = [
        f"{system}/{path.name} -> {other}"
        for system in systems
        for path in (root / system).rglob("*.py")
        for other in systems
        if other != system and re.search(rf"cloudkit\.{other}(\._\w+| import _)", path.read_text())
    ]
    assert offenders == []


def test_no_httpx_import_outside_the_io_modules():
    """Project rule: only _core/_http.py, */_wire.py (pure build/parse) and */_client.py (I/O) see httpx.

    The test harness and the lab (a tool that drives local processes, not a client of a system) are exempt.
    """
    from pathlib import Path

    root = Path(importlib.import_module("cloudkit").__file__).parent
    offenders = [
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if "import httpx" in path.read_text()
        and path.name not in {"_wire.py", "_client.py"}
        and str(path.relative_to(root)) != "_core/_http.py"
        and not str(path.relative_to(root)).startswith(("testing/", "lab/"))
    ]
    assert offenders == []
