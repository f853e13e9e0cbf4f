"""Capacity and vRouter-kernel checks of ``cloudkit doctor``, their settings, and the doctor's `Finding`.

- ``openstack.capacity``: free vCPU, RAM and disk per host aggregate from Placement against
  ``min_free_percent``, and the "No valid host" builds of the last ``no_valid_host_window`` seconds;
- ``tungsten.vrouter-kernel``: every vRouter agent's kernel (from TF's analytics API) against the
  kernels the TF release supports.

Both need an admin: Placement and an all-projects server list are admin-only in OpenStack's default
policy, and TF's analytics API answers UVEs to an admin. A refusal is a warning saying what to give.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TextIO

import attrs

from cloudkit._core._settings import EnvReader, check_http_url
from cloudkit.errors import AuthenticationError, CloudkitError, ConfigError, PermissionDeniedError
from cloudkit.openstack import OpenStackClient
from cloudkit.openstack import _quirks as openstack_quirks
from cloudkit.tungsten import TungstenClient
from cloudkit.tungsten import _quirks as tungsten_quirks
from cloudkit.tungsten import _wire as tungsten_wire

__all__ = [
    "DoctorSettings",
    "Finding",
    "JsonReport",
    "check_capacity",
    "check_vrouter_kernels",
    "report_json",
]

_CAPACITY = openstack_quirks.CAPACITY.id
_KERNEL = tungsten_quirks.VROUTER_KERNEL.id
_CLASSES = {"VCPU": ("vCPU", ""), "MEMORY_MB": ("RAM", " MiB"), "DISK_GB": ("disk", " GiB")}


@attrs.frozen(kw_only=True)
class Finding:
    """One thing ``cloudkit doctor`` found: what is wrong, the quirk it concerns and the fix.

    ``details`` carries the numbers behind it (node, aggregate, free and capacity) for ``--json``.

    Example:
        >>> from cloudkit._doctor import Finding
        >>> Finding(problem="p", fix="f", quirk="tungsten.admin-scope-capture").severity
        'problem'
    """

    problem: str
    fix: str
    quirk: str | None = None
    severity: str = "problem"  # or "warning": printed, but does not fail the run
    details: Mapping[str, object] = attrs.field(factory=dict, eq=False)


def _as_kernels(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


def _check_kernels(_: object, attribute: attrs.Attribute[tuple[str, ...]], value: tuple[str, ...]) -> None:
    if any(not k.strip() for k in value):
        raise ConfigError(f"DoctorSettings.{attribute.name} holds an empty kernel version", system="doctor")


@attrs.frozen(kw_only=True)
class DoctorSettings:
    """Thresholds and facts of the capacity and vRouter-kernel checks; validated before any I/O.

    Attributes:
        min_free_percent: an aggregate with less free vCPU, RAM or disk than this share of its capacity
            is a finding (0 turns the threshold off; default 10).
        no_valid_host_window: seconds back to look for "No valid host" builds (default one hour).
        no_valid_host_max: that many such builds are tolerated; more are a finding (default 0).
        tf_release: the TF release the vRouters run; its release notes' kernels are the default list.
        tf_supported_kernels: the supported kernels (``uname -r``); empty: the release's documented list.
        tf_kernel_field: the dotted vRouter UVE field that holds the node's kernel (TF has none of its
            own; quirk ``tungsten.vrouter-kernel``).
        tf_analytics_url: contrail-analytics-api (default: the TF config API's host, port 8081).

    Example:
        >>> from cloudkit._doctor_checks import DoctorSettings
        >>> DoctorSettings().supported_kernels[-1]
        '5.4.0-92-generic'
        >>> DoctorSettings(min_free_percent=120)
        Traceback (most recent call last):
        ...
        cloudkit.errors.ConfigError: DoctorSettings.min_free_percent must be within 0 and 100, got 120 [doctor]
    """  # noqa: E501 (a doctest line)

    min_free_percent: float = 10.0
    no_valid_host_window: float = 3600.0
    no_valid_host_max: int = 0
    tf_release: str = "R21.12"
    tf_supported_kernels: tuple[str, ...] = attrs.field(
        default=(), converter=_as_kernels, validator=_check_kernels
    )
    tf_kernel_field: str = tungsten_wire.KERNEL_FIELD
    tf_analytics_url: str | None = None

    def __attrs_post_init__(self) -> None:
        """Validate before any I/O."""
        if not 0 <= self.min_free_percent <= 100:  # noqa: PLR2004
            raise ConfigError(
                f"DoctorSettings.min_free_percent must be within 0 and 100, got {self.min_free_percent:g}",
                system="doctor",
            )
        if not self.no_valid_host_window > 0:
            raise ConfigError("DoctorSettings.no_valid_host_window must be > 0 seconds", system="doctor")
        if self.no_valid_host_max < 0:
            raise ConfigError("DoctorSettings.no_valid_host_max must be >= 0", system="doctor")
        if not self.tf_supported_kernels and self.tf_release not in tungsten_quirks.DOCUMENTED_KERNELS:
            known = ", ".join(sorted(tungsten_quirks.DOCUMENTED_KERNELS))
            raise ConfigError(
                f"no documented kernels for TF release {self.tf_release!r} (known: {known}); "
                "give tf_supported_kernels (CLOUDKIT_DOCTOR_TF_SUPPORTED_KERNELS)",
                system="doctor",
            )
        if not self.tf_kernel_field or not all(self.tf_kernel_field.split(".")):
            raise ConfigError(
                "DoctorSettings.tf_kernel_field must be a dotted UVE field name", system="doctor"
            )
        if self.tf_analytics_url is not None:
            check_http_url(self.tf_analytics_url, system="doctor")

    @property
    def supported_kernels(self) -> tuple[str, ...]:
        """The kernels the vRouters may run: the given list, else the release's documented one."""
        return self.tf_supported_kernels or tungsten_quirks.DOCUMENTED_KERNELS[self.tf_release]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> DoctorSettings:
        """Read ``CLOUDKIT_DOCTOR_MIN_FREE_PERCENT``, ``_NO_VALID_HOST_WINDOW``, ``_NO_VALID_HOST_MAX``,
        ``_TF_RELEASE``, ``_TF_SUPPORTED_KERNELS`` (comma-separated), ``_TF_KERNEL_FIELD`` and
        ``_TF_ANALYTICS_URL``; every one is optional.

        Example:
            >>> from cloudkit._doctor_checks import DoctorSettings
            >>> DoctorSettings.from_env({"CLOUDKIT_DOCTOR_TF_SUPPORTED_KERNELS": "5.4.0-92-generic, 5.15.0-91-generic"}
            ...                         ).supported_kernels
            ('5.4.0-92-generic', '5.15.0-91-generic')
        """  # noqa: D205, E501 (the list of variables is the summary; a doctest line)
        env = EnvReader.of("CLOUDKIT_DOCTOR_", environ, system="doctor")
        listed = env.optional("TF_SUPPORTED_KERNELS") or ""
        kernels: tuple[str, ...] = tuple(k.strip() for k in listed.split(",") if k.strip())
        field = env.optional("TF_KERNEL_FIELD") or tungsten_wire.KERNEL_FIELD
        return cls(
            min_free_percent=env.optional_float("MIN_FREE_PERCENT", 10.0),
            no_valid_host_window=env.optional_float("NO_VALID_HOST_WINDOW", 3600.0),
            no_valid_host_max=env.optional_int("NO_VALID_HOST_MAX", 0),
            tf_release=env.optional("TF_RELEASE", "R21.12") or "R21.12",
            tf_supported_kernels=kernels,
            tf_kernel_field=field,
            tf_analytics_url=env.optional("TF_ANALYTICS_URL") or None,
        )


def _refused(system: str, exc: CloudkitError, who: str, what: str) -> Finding:
    return Finding(
        problem=f"{system}: {what} not checked: {who} may not read it ({exc.message})",
        fix="run cloudkit doctor with an admin identity for this check (Placement, all-projects server "
        "lists and TF analytics are admin-only by default)",
        quirk=_CAPACITY if system == "openstack" else _KERNEL,
        severity="warning",
    )


def check_capacity(
    client: OpenStackClient,
    settings: DoctorSettings,
    findings: list[Finding],
    notes: list[str],
    *,
    now: Callable[[], dt.datetime],
    who: str,
) -> None:
    """Free capacity per aggregate against the threshold, and the recent "No valid host" builds.

    Example:
        >>> from cloudkit._doctor_checks import DoctorSettings, check_capacity
        >>> from cloudkit.openstack import OpenStackClient, OpenStackSettings
        >>> from cloudkit.testing.fakes import OpenStackFake
        >>> import datetime as dt
        >>> findings, notes = [], []
        >>> with OpenStackFake() as fake, OpenStackClient(OpenStackSettings(auth_url=fake.auth_url,
        ...         username="admin", password="secret", project_name="admin")) as client:
        ...     check_capacity(client, DoctorSettings(), findings, notes,
        ...                    now=lambda: dt.datetime.now(dt.UTC), who="admin")
        >>> findings, notes[0]
        ([], "openstack: aggregate '(no aggregate)' has room (256 vCPU, 261632 MiB RAM, 4000 GiB disk free)")
    """
    try:
        aggregates = client.placement_capacity()
    except (PermissionDeniedError, AuthenticationError) as exc:
        findings.append(_refused("openstack", exc, repr(who), "capacity (Placement)"))
        return
    except CloudkitError as exc:
        findings.append(
            Finding(
                problem=f"openstack: Placement does not answer ({exc.message})",
                fix="check that Placement is in the catalog and up",
                quirk=_CAPACITY,
                severity="warning",
            )
        )
        return
    for aggregate in aggregates:
        short = False
        for resource in aggregate.resources:
            label, unit = _CLASSES.get(resource.resource_class, (resource.resource_class, ""))
            if not openstack_quirks.short_of(resource.free_percent, settings.min_free_percent):
                continue
            short = True
            findings.append(
                Finding(
                    problem=f"openstack: aggregate {aggregate.label!r} has {resource.free}{unit} {label} "
                    f"free of {resource.capacity}{unit} ({resource.free_percent:.1f} %, under "
                    f"{settings.min_free_percent:g} %) on {', '.join(aggregate.providers)}: builds that "
                    "do not fit end in 'No valid host was found'",
                    fix="add compute nodes to the aggregate (or raise its allocation ratio) before "
                    "customers' orders fail",
                    quirk=_CAPACITY,
                    details={
                        "aggregate": aggregate.aggregate,
                        "aggregate_name": aggregate.name,
                        "hosts": list(aggregate.providers),
                        "resource_class": resource.resource_class,
                        "free": resource.free,
                        "used": resource.used,
                        "capacity": resource.capacity,
                        "free_percent": round(resource.free_percent, 2),
                        "threshold_percent": settings.min_free_percent,
                    },
                )
            )
        if not short:
            free = ", ".join(
                f"{r.free}{_CLASSES.get(r.resource_class, ('', ''))[1]} "
                f"{_CLASSES.get(r.resource_class, (r.resource_class, ''))[0]}"
                for r in aggregate.resources
            )
            notes.append(f"openstack: aggregate {aggregate.label!r} has room ({free} free)")
    _check_no_valid_host(client, settings, findings, notes, now=now, who=who)


def _check_no_valid_host(
    client: OpenStackClient,
    settings: DoctorSettings,
    findings: list[Finding],
    notes: list[str],
    *,
    now: Callable[[], dt.datetime],
    who: str,
) -> None:
    since = now() - dt.timedelta(seconds=settings.no_valid_host_window)
    try:
        failures = client.build_failures(since=since)
    except (PermissionDeniedError, AuthenticationError) as exc:
        findings.append(_refused("openstack", exc, repr(who), "failed builds (all projects)"))
        return
    except CloudkitError as exc:
        notes.append(f"openstack: failed builds not readable ({exc.message})")
        return
    refused = [f for f in failures if openstack_quirks.no_valid_host(f.message)]
    window = _window(settings.no_valid_host_window)
    if len(refused) <= settings.no_valid_host_max:
        notes.append(f"openstack: {len(refused)} 'No valid host' build(s) in the last {window}")
        return
    names = ", ".join(f"{f.name or f.server_id} ({f.at:%H:%M} UTC)" for f in refused[:5])
    findings.append(
        Finding(
            problem=f"openstack: {len(refused)} build(s) failed with 'No valid host was found' in the last "
            f"{window}: {names}{', ...' if len(refused) > 5 else ''}",  # noqa: PLR2004
            fix="the scheduler found no host with room: add compute nodes, then delete the failed servers "
            "and retry the orders",
            quirk=_CAPACITY,
            details={
                "count": len(refused),
                "window_seconds": settings.no_valid_host_window,
                "servers": [f.server_id for f in refused],
            },
        )
    )


def _window(seconds: float) -> str:
    return "hour" if seconds == 3600 else f"{seconds:g} s"  # noqa: PLR2004


def check_vrouter_kernels(
    client: TungstenClient, settings: DoctorSettings, findings: list[Finding], notes: list[str]
) -> None:
    """Every vRouter agent's kernel against the kernels the TF release supports.

    Example:
        >>> from cloudkit._doctor_checks import DoctorSettings, check_vrouter_kernels
        >>> from cloudkit.testing.fakes import OpenStackFake, TungstenFake
        >>> from cloudkit.tungsten import TungstenClient, TungstenSettings
        >>> findings, notes = [], []
        >>> with OpenStackFake() as keystone, TungstenFake(keystone_url=keystone.auth_url) as fake:
        ...     fake.set_vrouter("cmp-1", kernel="5.4.0-92-generic")
        ...     fake.set_vrouter("cmp-9", kernel="5.15.0-91-generic")
        ...     with TungstenClient(TungstenSettings(url=fake.url, auth_url=keystone.auth_url,
        ...             username="admin", password="secret", project_name="admin")) as tf:
        ...         check_vrouter_kernels(tf, DoctorSettings(tf_analytics_url=fake.url), findings, notes)
        >>> [f.details["node"] for f in findings]
        ['cmp-9']
    """
    supported = settings.supported_kernels
    try:
        agents = client.vrouter_agents(
            analytics_url=settings.tf_analytics_url, kernel_field=settings.tf_kernel_field
        )
    except (PermissionDeniedError, AuthenticationError) as exc:
        findings.append(_refused("tungsten", exc, "the TF service account", "vRouter kernels (analytics)"))
        return
    except CloudkitError as exc:
        findings.append(
            Finding(
                problem=f"tungsten: the analytics API does not answer ({exc.message}); "
                "vRouter kernels not checked",
                fix="set CLOUDKIT_DOCTOR_TF_ANALYTICS_URL to contrail-analytics-api (port 8081)",
                quirk=_KERNEL,
                severity="warning",
            )
        )
        return
    if not agents:
        notes.append("tungsten: the analytics API lists no vRouter agents")
    for agent in agents:
        if agent.kernel is None:
            findings.append(
                Finding(
                    problem=f"tungsten: vRouter node {agent.name!r} reports no kernel at "
                    f"{settings.tf_kernel_field} (TF's own UVEs carry none): its kernel is not checked",
                    fix="publish the node's `uname -r` in its vRouter UVE and name the field "
                    "(CLOUDKIT_DOCTOR_TF_KERNEL_FIELD), or check the node by hand",
                    quirk=_KERNEL,
                    severity="warning",
                    details={"node": agent.name},
                )
            )
        elif tungsten_quirks.kernel_supported(agent.kernel, supported):
            notes.append(f"tungsten: vRouter node {agent.name!r} runs kernel {agent.kernel} (supported)")
        else:
            findings.append(
                Finding(
                    problem=f"tungsten: vRouter node {agent.name!r} runs kernel {agent.kernel}, which TF "
                    f"{settings.tf_release} does not support ({', '.join(supported)}): its vRouter may "
                    "get no routes",
                    fix=f"boot {agent.name} into a supported kernel (or roll it back) before it takes "
                    "customers' servers; or set CLOUDKIT_DOCTOR_TF_SUPPORTED_KERNELS if the release "
                    "was built for it",
                    quirk=_KERNEL,
                    details={"node": agent.name, "kernel": agent.kernel, "supported": list(supported)},
                )
            )


class JsonReport(io.StringIO):
    """Where ``run_doctor`` writes one JSON document instead of text (``cloudkit doctor --json``).

    Pass it as ``out``; the report goes to ``target``.

    Example:
        >>> import io, json
        >>> from cloudkit._doctor import run_doctor_from_env
        >>> from cloudkit._doctor_checks import JsonReport
        >>> target = io.StringIO()
        >>> run_doctor_from_env(JsonReport(target), environ={})
        2
        >>> json.loads(target.getvalue())["problems"]
        1
    """

    def __init__(self, target: TextIO) -> None:
        """Report to ``target``."""
        super().__init__()
        self.target = target

    def write(self, text: str) -> int:
        """Text written directly still reaches the target (nothing in the doctor does this)."""
        return self.target.write(text)

    def flush(self) -> None:
        """Flush the target."""
        self.target.flush()


def report_json(out: JsonReport, findings: Sequence[Finding], notes: Sequence[str]) -> None:
    """Write the report as one JSON document: ``ok``, counts, ``findings`` (with details), ``notes``."""
    problems = sum(f.severity == "problem" for f in findings)
    document = {
        "ok": problems == 0,
        "problems": problems,
        "warnings": len(findings) - problems,
        "findings": [
            {
                "severity": f.severity,
                "quirk": f.quirk,
                "problem": f.problem,
                "fix": f.fix,
                "details": dict(f.details),
            }
            for f in findings
        ],
        "notes": list(notes),
    }
    out.write(json.dumps(document, indent=2) + "\n")
    out.flush()
