"""The logic of ``cloudkit doctor``: check a live deployment for the traps cloudkit knows about.

Today it checks the Tungsten Fabric service account (quirk ``tungsten.admin-scope-capture``):

1. the TF and OpenStack settings do not name the same Keystone user (before any I/O);
2. the TF service account can authenticate with Keystone;
3. its token carries the ``admin`` role (TF's cloud-admin mode refuses everything else);
4. it is a different Keystone user than the OpenStack identity, live (catches application credentials
   and aliases that settings cannot tell apart);
5. TF answers the service account's token.

Each finding is printed with the quirk id and the fix; the exit code is 0 when nothing is wrong.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from typing import TextIO

import attrs

from cloudkit._core._retry import RetryPolicy
from cloudkit._keystone import KeystoneIdentity
from cloudkit.errors import AuthenticationError, CloudkitError, PermissionDeniedError, TransportError
from cloudkit.openstack import OpenStackClient, OpenStackSettings
from cloudkit.platform import openstack_identity, settings_from_env
from cloudkit.tungsten import TungstenClient, TungstenSettings
from cloudkit.tungsten import _quirks as tungsten_quirks

__all__ = ["Finding", "run_doctor", "run_doctor_from_env"]

_SCOPE = tungsten_quirks.ADMIN_SCOPE_CAPTURE.id


@attrs.frozen(kw_only=True)
class Finding:
    """One thing ``cloudkit doctor`` found: what is wrong, the quirk it concerns and the fix.

    Example:
        >>> from cloudkit._doctor import Finding
        >>> Finding(problem="p", fix="f", quirk="tungsten.admin-scope-capture").severity
        'problem'
    """

    problem: str
    fix: str
    quirk: str | None = None
    severity: str = "problem"  # or "warning": printed, but does not fail the run


def run_doctor_from_env(out: TextIO = sys.stdout, environ: Mapping[str, str] | None = None) -> int:
    """Read the settings from the environment (``CLOUDKIT_*``) and run :func:`run_doctor`.

    Settings that cannot be read are a finding, not a crash.

    Example:
        >>> import io
        >>> from cloudkit._doctor import run_doctor_from_env
        >>> run_doctor_from_env(io.StringIO(), environ={})
        0
    """
    try:
        settings = settings_from_env(environ)
    except CloudkitError as exc:
        _print(out, [Finding(problem=f"settings: {exc}", fix="set the CLOUDKIT_* variables it names")])
        return 1
    return run_doctor(openstack=settings["openstack"], tungsten=settings["tungsten"], out=out)


def run_doctor(
    *,
    openstack: OpenStackSettings | None = None,
    tungsten: TungstenSettings | None = None,
    out: TextIO = sys.stdout,
    retry: RetryPolicy | None = None,
    tungsten_client: Callable[[TungstenSettings], TungstenClient] | None = None,
    openstack_client: Callable[[OpenStackSettings], OpenStackClient] | None = None,
) -> int:
    """Check a live deployment; print every finding with its quirk id and fix; 0 when clean.

    Args:
        openstack: the OpenStack identity that acts in users' scope (the portal's), if configured.
        tungsten: the TF service account, if configured.
        out: where to print the report.
        retry: retry policy for the live calls (default: no retries, a doctor answers quickly).
        tungsten_client: builds the TF client (tests inject one with a fake clock).
        openstack_client: builds the OpenStack client.

    Returns:
        ``0`` when no problem was found (warnings allowed), ``1`` otherwise.

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
    findings: list[Finding] = []
    notes: list[str] = []
    if tungsten is None:
        notes.append("tungsten: not configured (CLOUDKIT_TUNGSTEN_URL unset); nothing to check")
    else:
        shared = _static_check(openstack, tungsten)
        findings.extend(shared)
        if openstack is not None and not shared:
            notes.append("settings: the TF service account is not the OpenStack identity")
        identity = _check_tungsten(make_tf, tungsten, findings, notes)
        if identity is not None and openstack is not None:
            _check_against_openstack(make_os, openstack, identity, findings, notes)
    _print(out, findings, notes)
    return 1 if any(f.severity == "problem" for f in findings) else 0


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


def _check_against_openstack(
    make: Callable[[OpenStackSettings], OpenStackClient],
    settings: OpenStackSettings,
    tf_identity: KeystoneIdentity,
    findings: list[Finding],
    notes: list[str],
) -> None:
    try:
        with make(settings) as client:
            info = client.token_info()
    except CloudkitError as exc:
        findings.append(
            Finding(
                problem=f"openstack: cannot log in as {settings.username!r} to compare identities "
                f"({exc.message})",
                fix="check CLOUDKIT_OPENSTACK_AUTH_URL, _USERNAME, _PASSWORD and _PROJECT_NAME",
            )
        )
        return
    if info.user_id == tf_identity.user_id:
        findings.append(
            Finding(
                problem=f"TF and OpenStack act as the same Keystone user {info.user_name!r} "
                f"(id {info.user_id}): "
                "TF takes on the scope of whoever acts, so when the portal acts in a customer's scope TF "
                "stops managing routing",
                fix=_FIX_ACCOUNT,
                quirk=_SCOPE,
            )
        )
    else:
        notes.append(
            f"openstack: {info.user_name!r} is a different Keystone user than the TF service account"
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


def _print(out: TextIO, findings: Sequence[Finding], notes: Sequence[str] = ()) -> None:
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
