"""Safe recording whatever ``vcr_config`` is in force: cloudkit's part of pytest-recording's configure hook.

pytest-recording builds one ``vcr.VCR`` per test and calls ``pytest_recording_configure(config, vcr)``
before the cassette is used. cloudkit's plugin answers it with :func:`enforce`, which wraps that VCR's
``get_merged_config`` so that, after whatever the test's ``vcr_config`` and ``vcr`` marks asked for:

- cloudkit's scrubbers run on every recorded request and response (after the user's own
  ``before_record_*`` hooks, never instead of them): the system's scrubbing for cloudkit's contract
  tests, :func:`~cloudkit.testing.safe_request_scrubber` / ``safe_response_scrubber`` for any other test;
- the persister is a :class:`~cloudkit.testing.GuardedPersister` around the one in force: it refuses to
  write a known secret and stamps the cassette's ``source`` (``fake``, ``lab`` or ``live``).

- the volatile values of a new recording (ports, uuid4 ids, timestamps, ``Date``) are normalized by a
  :class:`~cloudkit.testing._normalize.CassetteNormalizer`, so recording a scenario twice writes the same
  bytes; cassettes written before normalization existed (no ``normalized: true`` line) replay untouched.

For the contract tests (those using a cloudkit ``*_backend`` fixture) the hook also supplies cloudkit's
defaults where the test's own configuration is pytest-recording's default: the matcher, the cassette
folder ``<rootdir>/cassettes/<system>/`` (or ``$CLOUDKIT_CASSETTE_DIR/<system>/``) and the name
``<operation>__<scenario>``. Tests using ``portal_backend`` get the cross-system matcher and scrubbing
(billing's for billing, OpenStack's for Keystone, Nova, Cinder, Glance and TF) and keep
pytest-recording's layout. No ``conftest.py`` import is needed any more.

OpenStack cassettes (``openstack_backend``, ``keystone_backend``) are recorded against the fake, or
against the lab when the run asked for it (``--cloudkit-lab`` / ``CLOUDKIT_LAB=1``); a replay follows
what the cassette's own ``source`` line says.

Environment: ``CLOUDKIT_CASSETTE_SOURCE`` (``fake``/``lab``/``live``) overrides the source a cassette is
stamped with; ``CLOUDKIT_RECORDED_AGAINST`` the description in its header; every ``CLOUDKIT_*`` setting
whose name ends in ``PASSWORD``, ``SECRET``, ``TOKEN`` or ``KEY`` is a secret the recorder refuses to write.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NoReturn, TypeVar, cast

import attrs
import pytest

from cloudkit.testing._cassettes import (
    CASSETTE_SOURCES,
    CassetteSource,
    GuardedPersister,
    SecretRegistry,
    cassette_source,
    safe_request_scrubber,
    safe_response_scrubber,
)
from cloudkit.testing._normalize import NORMALIZED_LINE, CassetteNormalizer

__all__ = [
    "AGAINST_ENV",
    "CASSETTE_DIR_ENV",
    "FAKE_SECRETS",
    "SOURCE_ENV",
    "RecordingPlan",
    "enforce",
    "env_secrets",
    "plan_for",
    "registry_for",
]

SOURCE_ENV = "CLOUDKIT_CASSETTE_SOURCE"
AGAINST_ENV = "CLOUDKIT_RECORD_AGAINST"
"""The URL of a live deployment that ``billing_backend`` / ``tungsten_backend`` record against."""
CASSETTE_DIR_ENV = "CLOUDKIT_CASSETTE_DIR"
DESCRIPTION_ENV = "CLOUDKIT_RECORDED_AGAINST"

FAKE_SECRETS = (
    "secret",
    "alice-pass",
    "alice-pass-2",
    "bob-pass",
    "admin:secret",
    "portal-pass",
    "svc-tf-pass",
)
"""The passwords of cloudkit's fakes and lab users: never written to a cassette."""

_SECRET_SUFFIXES = ("PASSWORD", "SECRET", "TOKEN", "KEY")
_BACKENDS = (
    "portal_backend",
    "session_backend",
    "keystone_backend",
    "openstack_backend",
    "tungsten_backend",
    "billing_backend",
)
LAB_RECORDED = (
    "cloudkit lab: real Keystone 30.0.0, Placement 16.0.0, Nova 34.0.0 (fake virt driver), Cinder 29.0.0 "
    "(fake volume driver), Glance 33.0.0; Nova and Cinder reached through FaultProxy"
)
_KEYSTONE_LAB = "cloudkit lab: real Keystone 30.0.0 and Glance 33.0.0"
_FAKES = {
    "billing": "BillingFake (embedded fake)",
    "tungsten": "TungstenFake + OpenStackFake Keystone (embedded fakes)",
    "session": "BillingFake and OpenStackFake (embedded fakes)",
    "portal": "BillingFake, OpenStackFake and TungstenFake (cloudkit.testing.PortalBackend)",
    "openstack": "OpenStackFake (embedded fake)",
}
_TF_FAKE_AGENT = "cloudkit-tungsten-fake/"  # the TF fake's own Keystone calls: not the client's traffic
T = TypeVar("T")
_REGISTRY = pytest.StashKey[SecretRegistry]()
_ITEM = pytest.StashKey[pytest.Item]()


def env_secrets(environ: Mapping[str, str] | None = None) -> list[str]:
    """Values of ``CLOUDKIT_*`` settings that are secrets by name (``..._PASSWORD``, ``_SECRET``, ...).

    Example:
        >>> from cloudkit.testing._recording import env_secrets
        >>> env_secrets({"CLOUDKIT_BILLING_PASSWORD": "pw-1234", "CLOUDKIT_BILLING_URL": "http://b"})
        ['pw-1234']
    """
    environ = os.environ if environ is None else environ
    return [
        value
        for name, value in environ.items()
        if name.startswith("CLOUDKIT_") and name.endswith(_SECRET_SUFFIXES) and value
    ]


def registry_for(item: pytest.Item) -> SecretRegistry:
    """The one secret registry of a test: the fakes' passwords, secret ``CLOUDKIT_*`` settings, and what
    the test adds through the ``secret_registry`` fixture.
    """  # noqa: D205 (two-line summary)
    registry = item.stash.get(_REGISTRY, None)
    if registry is None:
        registry = SecretRegistry([*FAKE_SECRETS, *env_secrets()])
        item.stash[_REGISTRY] = registry
    return registry


def live_url(record_mode: str) -> str | None:
    """The live deployment to record against (``CLOUDKIT_RECORD_AGAINST``), only while recording."""
    url = os.environ.get(AGAINST_ENV)
    return url if url and record_mode != "none" else None


def live_credentials(prefix: str, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """``username`` / ``password`` / ``project_name`` from ``<prefix>USERNAME`` etc., where set.

    Example:
        >>> from cloudkit.testing._recording import live_credentials
        >>> live_credentials("CLOUDKIT_BILLING_", {"CLOUDKIT_BILLING_USERNAME": "ops"})
        {'username': 'ops'}
    """
    environ = os.environ if environ is None else environ
    names = {"username": "USERNAME", "password": "PASSWORD", "project_name": "PROJECT_NAME"}
    return {key: environ[prefix + name] for key, name in names.items() if environ.get(prefix + name)}


class _NeedsFake:
    """Stands in for a fake while recording a live deployment: using it skips the test."""

    def __init__(self, kind: type) -> None:
        self._kind = kind.__name__

    def _skip(self) -> NoReturn:
        pytest.skip(f"needs the {self._kind} (a fault or a switch): not recorded against a live deployment")

    def __bool__(self) -> bool:  # noqa: PLE0304 (never returns: using the stand-in skips the test)
        self._skip()

    def __getattr__(self, name: str) -> Any:
        self._skip()


def needs_fake(kind: type[T]) -> T:
    """A stand-in for a fake of type ``kind`` whose first use skips the test (live recording)."""
    return cast("T", _NeedsFake(kind))


def remember_item(item: pytest.Item) -> None:
    """Note the test being set up: pytest-recording's hook is not told which test it configures."""
    item.config.stash[_ITEM] = item


@attrs.frozen
class RecordingPlan:
    """How one test's cassette is scrubbed, stamped, matched, named and placed.

    ``system`` is ``None`` for a test that is not one of cloudkit's contract tests: it gets the safe
    scrubbers and the guard, and keeps pytest-recording's layout and matching.
    """

    system: str | None
    registry: SecretRegistry
    source: CassetteSource | None
    recorded_against: str
    defaults: dict[str, Any] = attrs.field(factory=dict)
    scrub_request: Callable[[Any], Any] | None = None
    scrub_response: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    cassette_dir: str | None = None
    cassette_name: str | None = None
    keeps_ports: bool = False


def _source(default: CassetteSource | None) -> CassetteSource | None:
    wanted = os.environ.get(SOURCE_ENV, "")
    for source in CASSETTE_SOURCES:
        if wanted == source:
            return source
    if os.environ.get(AGAINST_ENV):
        return "live"
    return default


def _describe(what: str) -> str:
    from cloudkit import __version__  # noqa: PLC0415 (the package's own version, read when recording)

    if os.environ.get(DESCRIPTION_ENV):
        return os.environ[DESCRIPTION_ENV]
    if os.environ.get(AGAINST_ENV):
        return f"cloudkit {__version__} against a live deployment (cloudkit record --against)"
    return f"cloudkit {__version__} against {what}"


def _recording(item: pytest.Item) -> bool:
    return str(item.config.getoption("--record-mode", None) or "none") != "none"


def _cassette_path(item: pytest.Item, system: str) -> Path:
    root = os.environ.get(CASSETTE_DIR_ENV) or str(Path(str(item.config.rootpath)) / "cassettes")
    name = str(getattr(item, "originalname", item.name)).removeprefix("test_")
    return Path(root) / system / f"{name}.yaml"


def openstack_recorded_from_lab(item: pytest.Item) -> bool:
    """Whether the OpenStack cassette of ``item`` is (or is about to be) a lab recording.

    Recording, it is when the run asked for the lab (``--cloudkit-lab`` / ``CLOUDKIT_LAB=1``); else the
    fake is recorded. Replaying, the cassette's own ``source`` line says (a missing cassette: the fake).
    """
    from cloudkit.testing._lab_fixtures import lab_requested  # noqa: PLC0415 (no cycle at import)

    if _recording(item):
        return lab_requested(item.config)
    path = _cassette_path(item, Path(str(item.path)).parent.name)
    try:
        return cassette_source(path.read_text(encoding="utf-8")) == "lab"
    except (OSError, ValueError):
        return False


def _portal_config(registry: SecretRegistry, against: str, source: CassetteSource | None) -> dict[str, Any]:
    """The session configuration (billing's scrubbing and matching for billing, OpenStack's for the rest),
    without the TF fake's own Keystone calls.
    """  # noqa: D205 (two-line summary)
    from cloudkit.testing import _cassettes  # noqa: PLC0415 (only a recording portal test needs it)

    config = _cassettes.session_vcr_config(registry, recorded_against=against, source=source)
    scrub = config["before_record_request"]

    def client_only(request: Any) -> Any:
        agent = str(request.headers.get("User-Agent") or request.headers.get("user-agent") or "")
        return None if agent.startswith(_TF_FAKE_AGENT) else scrub(request)

    config["before_record_request"] = client_only
    return config


def plan_for(item: pytest.Item | None) -> RecordingPlan:
    """The recording plan of ``item`` (see the module docs); ``None`` gives the safe default plan."""
    if item is None:
        return RecordingPlan(
            None, SecretRegistry([*FAKE_SECRETS, *env_secrets()]), _source(None), _describe("?")
        )
    registry = registry_for(item)
    names = set(getattr(item, "fixturenames", ()))
    backend = next((name for name in _BACKENDS if name in names), None)
    if backend is None:
        return RecordingPlan(None, registry, _source(None), _describe("an unnamed service"))
    # Imported here: only a contract test that records or replays needs the system's configuration.
    from cloudkit.testing import _cassettes  # noqa: PLC0415

    system = backend.removesuffix("_backend")
    keeps_ports = False
    if system == "portal":
        source, against = _source("fake"), _describe(_FAKES["portal"])
        config = _portal_config(registry, against, source)
    elif system == "session":
        source, against = _source("fake"), _describe(_FAKES["session"])
        config = _cassettes.session_vcr_config(registry, recorded_against=against, source=source)
    elif system in {"keystone", "openstack"}:
        lab = openstack_recorded_from_lab(item)
        what = (_KEYSTONE_LAB if system == "keystone" else LAB_RECORDED) if lab else _FAKES["openstack"]
        source, against = _source("lab" if lab else "fake"), _describe(what)
        keeps_ports = lab and system == "openstack"  # the lab's services differ by port only
        config = _cassettes.openstack_vcr_config(
            registry, recorded_against=against, lab=keeps_ports, source=source
        )
        system = "openstack"
    elif system == "tungsten":
        from cloudkit.testing._tungsten_fixtures import tungsten_vcr_config  # noqa: PLC0415

        source, against = _source("fake"), _describe(_FAKES["tungsten"])
        config = tungsten_vcr_config(registry, recorded_against=against, source=source)
    else:
        source, against = _source("fake"), _describe(_FAKES["billing"])
        config = _cassettes.billing_vcr_config(registry, recorded_against=against, source=source)
    defaults = {
        key: config[key] for key in ("match_on", "allow_playback_repeats", "decode_compressed_response")
    }
    layout: dict[str, str | None] = {"cassette_dir": None, "cassette_name": None}
    if system != "portal":  # a portal's own tests keep pytest-recording's layout
        path = _cassette_path(item, Path(str(item.path)).parent.name)
        layout = {"cassette_dir": str(path.parent), "cassette_name": path.stem}
    return RecordingPlan(
        system,
        registry,
        source,
        against,
        defaults=defaults,
        scrub_request=config["before_record_request"],
        scrub_response=config["before_record_response"],
        keeps_ports=keeps_ports,
        **layout,
    )


def _then(first: Callable[[Any], Any], second: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def both(value: Any) -> Any:
        value = first(value)
        return None if value is None else second(value)

    return both


def _pytest_recording_dir(item: pytest.Item) -> str:
    """pytest-recording's default ``vcr_cassette_dir`` for ``item``."""
    path = Path(str(item.path))
    return str(path.parent / "cassettes" / path.stem)


def _pytest_recording_name(item: pytest.Item) -> str:
    """pytest-recording's default ``default_cassette_name`` for ``item`` (no ``default_cassette`` mark)."""
    from pytest_recording.plugin import get_default_cassette_name  # noqa: PLC0415 (only when recording)

    if item.get_closest_marker("default_cassette") is not None:
        return ""
    return get_default_cassette_name(getattr(item, "cls", None), item.name)


def enforce(config: pytest.Config, vcr: Any) -> None:
    """Make the VCR pytest-recording built for the current test scrub, guard and stamp (module docs)."""
    item = config.stash.get(_ITEM, None)
    plan = plan_for(item)
    scrub_request = plan.scrub_request or safe_request_scrubber(plan.registry)
    scrub_response = plan.scrub_response or safe_response_scrubber(plan.registry)
    own_layout = (
        plan.cassette_dir is not None
        and item is not None
        and os.fspath(vcr.cassette_library_dir or "") == _pytest_recording_dir(item)
    )
    if own_layout:
        vcr.cassette_library_dir = plan.cassette_dir
    default_name = _pytest_recording_name(item) if own_layout and item is not None else ""
    original = vcr.get_merged_config

    def merged(**kwargs: Any) -> dict[str, Any]:
        if own_layout and plan.cassette_name and kwargs.get("path") == default_name:
            kwargs["path"] = plan.cassette_name
        merged_config: dict[str, Any] = original(**{**plan.defaults, **kwargs})
        target = Path(merged_config["path_transformer"](merged_config["path"]))
        record_mode = str(config.getoption("--record-mode", None) or "none")
        if own_layout and record_mode == "rewrite":
            # pytest-recording removed the file at its own default path; remove ours.
            target.unlink(missing_ok=True)
        normalize = _normalizes(target, record_mode)
        scrub_in, scrub_out = scrub_request, scrub_response
        if normalize:
            normalizer = CassetteNormalizer(ports=not plan.keeps_ports)
            scrub_in, scrub_out = (
                _then(scrub_request, normalizer.request),
                _then(scrub_response, normalizer.response),
            )
        merged_config["before_record_request"] = _then(merged_config["before_record_request"], scrub_in)
        merged_config["before_record_response"] = _then(merged_config["before_record_response"], scrub_out)
        merged_config["persister"] = GuardedPersister(
            plan.registry,
            recorded_against=plan.recorded_against,
            source=plan.source,
            inner=merged_config["persister"],
            normalized=normalize,
        )
        return merged_config

    vcr.get_merged_config = merged


def _normalizes(target: Path, record_mode: str) -> bool:
    """Normalize a new recording, or a cassette that was written normalized; never an older one.

    Replaying, the same request filter runs on each request sent, so a cassette is read with the
    normalization it was written with.
    """
    if record_mode in {"all", "rewrite"} or not target.exists():
        return True
    try:
        with target.open(encoding="utf-8") as cassette:
            head = [cassette.readline() for _ in range(4)]
    except OSError:
        return False
    return any(line.strip() in {NORMALIZED_LINE, '"normalized": true,'} for line in head)
