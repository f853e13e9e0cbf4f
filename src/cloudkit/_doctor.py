"""The logic of ``cloudkit doctor``: check a live deployment for the traps cloudkit knows about.

Every configured system is checked:

- **billing**: the configured account logs in, and as an administrator it can read the account list
  (the ``su`` scoping of ``billing.su-scope`` needs an administrator to act for a customer);
- **OpenStack**: the identity logs in with a project-scoped token and Nova answers it;
- **capacity** (quirk ``openstack.capacity``, in `cloudkit._doctor_checks`): free vCPU, RAM and disk
  per host aggregate from Placement against a threshold, and the "No valid host" builds of the last
  hour (both admin-only reads: a refusal is a warning);
- **Tungsten Fabric** (quirk ``tungsten.admin-scope-capture``): the TF and OpenStack settings do not name
  the same Keystone user (before any I/O); the TF service account authenticates and holds ``admin``
  (TF's cloud-admin mode refuses everything else); it is a different Keystone user than the OpenStack
  identity, live (catches application credentials and aliases settings cannot tell apart); TF answers
  its token; every vRouter agent's kernel against the kernels the TF release supports (quirk
  ``tungsten.vrouter-kernel``, from TF's analytics API).

Each finding is printed with the quirk id and the fix. Exit status: 0 when nothing is wrong (warnings
allowed), 1 when something is, 2 when nothing is configured or the settings cannot be read.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import TextIO

from cloudkit._core._config import layered_environ
from cloudkit._core._retry import RetryPolicy
from cloudkit._doctor_checks import (
    DoctorSettings,
    Finding,
    JsonReport,
    check_capacity,
    check_vrouter_kernels,
    report_json,
)
from cloudkit._keystone import KeystoneIdentity
from cloudkit.billing import BillingClient, BillingSettings
from cloudkit.errors import AuthenticationError, CloudkitError, PermissionDeniedError, TransportError
from cloudkit.openstack import OpenStackClient, OpenStackSettings
from cloudkit.platform import openstack_identity, settings_from_env
from cloudkit.tungsten import TungstenClient, TungstenSettings
from cloudkit.tungsten import _quirks as tungsten_quirks

__all__ = ["DoctorSettings", "Finding", "JsonReport", "run_doctor", "run_doctor_from_env"]

_SCOPE = tungsten_quirks.ADMIN_SCOPE_CAPTURE.id
_NOTHING = (
    "nothing is configured: set CLOUDKIT_BILLING_URL, CLOUDKIT_OPENSTACK_AUTH_URL (or OS_CLOUD) and/or "
    "CLOUDKIT_TUNGSTEN_URL, or their keys in cloudkit.toml, for cloudkit doctor to check a deployment"
)
NOT_CONFIGURED = 2
"""The exit status when there is nothing to check, or the settings cannot be read."""


def run_doctor_from_env(out: TextIO = sys.stdout, environ: Mapping[str, str] | None = None) -> int:
    """Read the settings (``CLOUDKIT_*``, ``cloudkit.toml``, clouds.yaml, ``OS_*``); run :func:`run_doctor`.

    The settings are :func:`~cloudkit.platform.settings_from_env`'s (see ``docs/configuration.md``).
    Settings that cannot be read are a finding (exit status 2), not a crash; it names the setting and
    its source.

    Example:
        >>> import io
        >>> from cloudkit._doctor import run_doctor_from_env
        >>> report = io.StringIO()
        >>> run_doctor_from_env(report, environ={})
        2
        >>> "FAIL  nothing is configured" in report.getvalue()
        True
    """
    try:
        layered = layered_environ(environ)  # cloudkit.toml read once, for the systems and the thresholds
        settings = settings_from_env(layered)
        checks = DoctorSettings.from_env(layered)  # thresholds: CLOUDKIT_DOCTOR_* or [doctor]
    except CloudkitError as exc:
        _print(out, [Finding(problem=f"settings: {exc}", fix="fix the setting it names, where it names it")])
        return NOT_CONFIGURED
    return run_doctor(
        billing=settings.get("billing"),
        openstack=settings["openstack"],
        tungsten=settings["tungsten"],
        out=out,
        checks=checks,
    )


def run_doctor(
    *,
    billing: BillingSettings | None = None,
    openstack: OpenStackSettings | None = None,
    tungsten: TungstenSettings | None = None,
    out: TextIO = sys.stdout,
    retry: RetryPolicy | None = None,
    tungsten_client: Callable[[TungstenSettings], TungstenClient] | None = None,
    openstack_client: Callable[[OpenStackSettings], OpenStackClient] | None = None,
    billing_client: Callable[[BillingSettings], BillingClient] | None = None,
    checks: DoctorSettings | None = None,
    now: Callable[[], dt.datetime] | None = None,
    capacity_identity: OpenStackSettings | None = None,
) -> int:
    """Check a live deployment; print every finding with its quirk id and fix; 0 when clean.

    Args:
        billing: the billing account the portal logs in as, if configured.
        openstack: the OpenStack identity that acts in users' scope (the portal's), if configured.
        tungsten: the TF service account, if configured.
        out: where to print the report.
        retry: retry policy for the live calls (default: no retries, a doctor answers quickly).
        tungsten_client: builds the TF client (tests inject one with a fake clock).
        openstack_client: builds the OpenStack client.
        billing_client: builds the billing client.
        checks: thresholds and facts of the capacity and vRouter-kernel checks (default: their defaults).
        now: the current time, aware (tests inject one); the "No valid host" window ends there.
        capacity_identity: an OpenStack admin for the capacity check (Placement and the all-projects
            server list are admin-only); without it the check runs as ``openstack`` when that identity
            holds admin, and is skipped (a note says so) when it does not.

    Returns:
        ``0`` when no problem was found (warnings allowed), ``1`` otherwise, ``2`` when no system is
        configured (nothing was checked).

    Example:
        >>> import io
        >>> from cloudkit._doctor import run_doctor
        >>> from cloudkit.openstack import OpenStackSettings
        >>> from cloudkit.tungsten import TungstenSettings
        >>> same = dict(auth_url="http://127.0.0.1:9/v3", username="admin", password="pw", project_name="admin")
        >>> report = io.StringIO()
        >>> run_doctor(openstack=OpenStackSettings(**same),
        ...            tungsten=TungstenSettings(url="http://127.0.0.1:9", **same), out=report)
        1
        >>> "[tungsten.admin-scope-capture]" in report.getvalue()
        True
    """  # noqa: E501 (a doctest line)
    policy = retry or RetryPolicy.no_retry()
    make_tf = tungsten_client or (lambda s: TungstenClient(s, retry=policy))
    make_os = openstack_client or (lambda s: OpenStackClient(s, retry=policy))
    make_billing = billing_client or (lambda s: BillingClient(s, retry=policy))
    if billing is None and openstack is None and tungsten is None:
        _print(
            out,
            [
                Finding(
                    problem=_NOTHING,
                    fix="see docs/configuration.md: every setting and where it may come from",
                )
            ],
        )
        return NOT_CONFIGURED
    findings: list[Finding] = []
    notes: list[str] = []
    for name, settings, variable in (
        ("billing", billing, "CLOUDKIT_BILLING_URL"),
        ("openstack", openstack, "CLOUDKIT_OPENSTACK_AUTH_URL"),
        ("tungsten", tungsten, "CLOUDKIT_TUNGSTEN_URL"),
    ):
        if settings is None:
            notes.append(f"{name}: not configured ({variable} unset); nothing to check")
    if billing is not None:
        _check_billing(make_billing, billing, findings, notes)
    limits = checks or DoctorSettings()
    clock = now or (lambda: dt.datetime.now(dt.UTC))
    portal: KeystoneIdentity | None = None
    if openstack is not None:
        portal = _check_openstack(make_os, openstack, findings, notes)
        _capacity_check(
            make_os,
            settings=capacity_identity or openstack,
            portal=portal,
            dedicated=capacity_identity is not None,
            limits=limits,
            clock=clock,
            findings=findings,
            notes=notes,
        )
    if tungsten is not None:
        shared = _static_check(openstack, tungsten)
        findings.extend(shared)
        if openstack is not None and not shared:
            notes.append("settings: the TF service account is not the OpenStack identity")
        identity = _check_tungsten(make_tf, tungsten, findings, notes)
        _kernel_check(
            make_tf, settings=tungsten, identity=identity, limits=limits, findings=findings, notes=notes
        )
        if identity is not None and portal is not None:
            _compare_identities(portal, identity, findings, notes)
    _print(out, findings, notes)
    return 1 if any(f.severity == "problem" for f in findings) else 0


def _capacity_check(
    make: Callable[[OpenStackSettings], OpenStackClient],
    *,
    settings: OpenStackSettings,
    portal: KeystoneIdentity | None,
    dedicated: bool,
    limits: DoctorSettings,
    clock: Callable[[], dt.datetime],
    findings: list[Finding],
    notes: list[str],
) -> None:
    """The capacity check as ``settings``: a ``dedicated`` admin identity, else the portal's own identity
    if it logged in and holds admin (a member's token cannot read Placement: skipped, with a note).
    """  # noqa: D205 (two-line summary)
    if not dedicated and portal is None:  # the portal did not log in: that finding is enough
        return
    if not dedicated and portal is not None and not any(role.lower() == "admin" for role in portal.roles):
        notes.append(
            f"openstack: capacity not checked: {portal.user_name!r} is no admin and Placement is admin-only "
            "(give cloudkit doctor an admin identity for it)"
        )
        return
    with make(settings) as client:
        who = settings.principal if dedicated or portal is None else portal.user_name
        check_capacity(client, limits, findings, notes, now=clock, who=who)


def _kernel_check(
    make: Callable[[TungstenSettings], TungstenClient],
    *,
    settings: TungstenSettings,
    identity: KeystoneIdentity | None,
    limits: DoctorSettings,
    findings: list[Finding],
    notes: list[str],
) -> None:
    if identity is None:
        return
    with make(settings) as client:
        check_vrouter_kernels(client, limits, findings, notes)


def _check_billing(
    make: Callable[[BillingSettings], BillingClient],
    settings: BillingSettings,
    findings: list[Finding],
    notes: list[str],
) -> None:
    who = settings.username
    with make(settings) as client:
        try:
            client.login()
        except AuthenticationError:
            findings.append(
                Finding(
                    problem=f"billing: {settings.url} refuses the account {who!r}",
                    fix="check CLOUDKIT_BILLING_USERNAME and CLOUDKIT_BILLING_PASSWORD",
                )
            )
            return
        except CloudkitError as exc:
            findings.append(
                Finding(
                    problem=f"billing: cannot reach {settings.url} ({exc.message})",
                    fix="check CLOUDKIT_BILLING_URL (the API endpoint, .../billmgr) and that billing is up",
                )
            )
            return
        if settings.is_admin is False:
            notes.append(f"billing: {who!r} logs in (a customer-level account, as configured)")
            return
        try:
            first = next(iter(client.iter_accounts()), None)
        except (PermissionDeniedError, AuthenticationError) as exc:
            findings.append(
                Finding(
                    problem=f"billing: {who!r} logs in but cannot read the account list ({exc.message}): "
                    "it is not an administrator, so it cannot act for customers (su)",
                    fix="log the portal in as a billing administrator (a customer's own login, "
                    "BillingSettings(is_admin=False), only acts as itself)",
                    quirk="billing.su-scope",
                )
            )
            return
        except CloudkitError as exc:
            notes.append(f"billing: {who!r} logs in; the account list did not read ({exc.message})")
            return
        seen = "no accounts yet" if first is None else "the account list reads"
        notes.append(f"billing: administrator {who!r} logs in; {seen}")


def _check_openstack(
    make: Callable[[OpenStackSettings], OpenStackClient],
    settings: OpenStackSettings,
    findings: list[Finding],
    notes: list[str],
) -> KeystoneIdentity | None:
    try:
        with make(settings) as client:
            info = client.token_info()
            flavors = len(client.list_flavors())
    except AuthenticationError as exc:
        findings.append(
            Finding(
                problem=f"openstack: Keystone refuses {settings.principal!r} ({exc.message})",
                fix="check CLOUDKIT_OPENSTACK_USERNAME, _PASSWORD, _PROJECT_NAME and the domains",
            )
        )
        return None
    except CloudkitError as exc:
        findings.append(
            Finding(
                problem=f"openstack: cannot log in as {settings.principal!r}, list flavors ({exc.message})",
                fix="check CLOUDKIT_OPENSTACK_AUTH_URL, the catalog's endpoints and that Nova is up",
            )
        )
        return None
    notes.append(
        f"openstack: {info.user_name!r} logs in to project {info.project_name!r}; "
        f"Nova lists {flavors} flavor(s)"
    )
    if any(role.lower() == "admin" for role in info.roles):
        findings.append(
            Finding(
                problem=f"openstack: {info.user_name!r} holds admin on {info.project_name!r}; "
                "a token it gets "
                "in a project where it holds admin is cloud-admin in TF and sees every tenant",
                fix="let the portal's OpenStack account hold member roles in customer projects; TF's own "
                "work runs as the TF service account",
                quirk=_SCOPE,
                severity="warning",
            )
        )
    return info


def _static_check(openstack: OpenStackSettings | None, tungsten: TungstenSettings) -> list[Finding]:
    if openstack is None:
        return []
    tf_identity = tungsten.keystone_identity()
    if tungsten_quirks.shared_identity(tf_identity, openstack_identity(openstack)) is None:
        return []
    assert tf_identity is not None  # noqa: S101 (shared_identity needs both)
    return [
        Finding(
            problem=f"settings: TF and OpenStack log in as the same Keystone user {tf_identity.user_name!r} "
            f"at {tf_identity.host}: TF takes on the scope of whoever acts, so when the portal acts in a "
            "customer's scope TF stops managing routing",
            fix=_FIX_ACCOUNT,
            quirk=_SCOPE,
        )
    ]


_FIX_ACCOUNT = (
    "create a dedicated TF service account with its own project and the admin role there "
    "(openstack user create svc-tf; openstack project create service; "
    "openstack role add --user svc-tf --project service admin) and set CLOUDKIT_TUNGSTEN_USERNAME, "
    "_PASSWORD and _PROJECT_NAME (or an application credential) to it"
)


def _check_tungsten(
    make: Callable[[TungstenSettings], TungstenClient],
    settings: TungstenSettings,
    findings: list[Finding],
    notes: list[str],
) -> KeystoneIdentity | None:
    account = settings.username or settings.application_credential_id
    with make(settings) as client:
        try:
            identity = client.identity()
        except AuthenticationError:
            findings.append(
                Finding(
                    problem=f"tungsten: Keystone refuses the TF service account {account!r}",
                    fix="check CLOUDKIT_TUNGSTEN_USERNAME, _PASSWORD, _PROJECT_NAME and the domains "
                    "(or the application credential)",
                    quirk=_SCOPE,
                )
            )
            return None
        except CloudkitError as exc:
            findings.append(
                Finding(
                    problem=f"tungsten: cannot reach Keystone at {settings.auth_url} ({exc.message})",
                    fix="check CLOUDKIT_TUNGSTEN_AUTH_URL and that Keystone is up",
                )
            )
            return None
        notes.append(
            f"tungsten: service account {identity.user_name!r} authenticates "
            f"(project {identity.project_name!r}, roles {', '.join(identity.roles) or 'none'})"
        )
        if not identity.is_admin:
            findings.append(
                Finding(
                    problem=f"tungsten: the TF service account {identity.user_name!r} has no admin role on "
                    f"{identity.project_name!r}: TF in cloud-admin mode refuses every call it makes",
                    fix=f"openstack role add --user {identity.user_name} "
                    f"--project {identity.project_name} admin",
                    quirk=_SCOPE,
                )
            )
        _check_tf_answers(client, settings, findings, notes)
    return identity


def _check_tf_answers(
    client: TungstenClient, settings: TungstenSettings, findings: list[Finding], notes: list[str]
) -> None:
    try:
        client.fq_name_to_id("project", ("default-domain", "default-project"))
    except PermissionDeniedError as exc:
        findings.append(
            Finding(
                problem=f"tungsten: TF refuses the service account's token ({exc.message})",
                fix="give the TF service account the admin role on its own project",
                quirk=_SCOPE,
            )
        )
        return
    except TransportError as exc:
        findings.append(
            Finding(
                problem=f"tungsten: TF config API at {settings.url} does not answer ({exc.message})",
                fix="check CLOUDKIT_TUNGSTEN_URL and that contrail-api is up",
            )
        )
        return
    except CloudkitError as exc:
        notes.append(f"tungsten: TF answered the service account, but not as expected: {exc.message}")
        return
    try:
        mode = client.aaa_mode()
    except CloudkitError:
        notes.append("tungsten: TF answers the service account's token (aaa mode not readable)")
        return
    notes.append(f"tungsten: TF answers the service account's token (aaa mode {mode})")
    if mode == "no-auth":
        findings.append(
            Finding(
                problem="tungsten: TF runs with aaa_mode no-auth: anyone reaching it can change the network",
                fix="set aaa_mode to cloud-admin or rbac in contrail-api.conf",
                severity="warning",
            )
        )


def _compare_identities(
    portal: KeystoneIdentity, tf_identity: KeystoneIdentity, findings: list[Finding], notes: list[str]
) -> None:
    if portal.user_id == tf_identity.user_id:
        findings.append(
            Finding(
                problem=f"TF and OpenStack act as the same Keystone user {portal.user_name!r} "
                f"(id {portal.user_id}): "
                "TF takes on the scope of whoever acts, so when the portal acts in a customer's scope TF "
                "stops managing routing",
                fix=_FIX_ACCOUNT,
                quirk=_SCOPE,
            )
        )
    else:
        notes.append(
            f"openstack: {portal.user_name!r} is a different Keystone user than the TF service account"
        )


def _print(out: TextIO, findings: Sequence[Finding], notes: Sequence[str] = ()) -> None:
    if isinstance(out, JsonReport):  # cloudkit doctor --json: one JSON document, same findings
        report_json(out, findings, notes)
        return
    lines = ["cloudkit doctor"]
    lines += [f"  ok    {note}" for note in notes]
    for finding in findings:
        tag = f"[{finding.quirk}] " if finding.quirk else ""
        label = "WARN" if finding.severity == "warning" else "FAIL"
        lines += [f"  {label}  {tag}{finding.problem}", f"        fix: {finding.fix}"]
    problems = sum(f.severity == "problem" for f in findings)
    lines.append(f"{problems} problem(s), {len(findings) - problems} warning(s)")
    out.write("\n".join(lines) + "\n")
    out.flush()
