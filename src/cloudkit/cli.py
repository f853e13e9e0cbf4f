"""The cloudkit command line: the SDK's demo, simulator, recorder, lab and operator tools.

- ``cloudkit demo`` walks the billing, OpenStack, Tungsten Fabric, portal session and lifecycle stories
  against the embedded fakes and prints every step.
- ``cloudkit sim`` serves the billing, OpenStack and TF fakes with the same customers in all three;
  ``--seed FILE`` loads a scenario, ``--env`` prints the variables ``Platform.from_env()`` reads.
- ``cloudkit record [SYSTEM]`` re-records the cassettes of a system's contract tests;
  ``cloudkit record billing|tungsten --against URL`` records them against a live deployment instead.
- ``cloudkit drift A B`` compares two recordings (cassettes or folders) field by field; exit 1 on drift.
- ``cloudkit lab install|up|down|status`` runs a real Keystone, Nova, Cinder, Glance, Neutron on loopback.
- ``cloudkit doctor [--json]`` checks the configured systems for known traps (exit 0, 1 findings, 2 nothing).
- ``cloudkit lifecycle``, ``stoprules``, ``reconcile`` and ``console`` operate the lifecycle store.
- ``cloudkit quirks [--markdown|--json]`` lists the registered quirks (``--markdown`` renders docs/quirks.md).

Exit status (docs/cli.md): 0 ok, 1 findings or an error a system reported, 2 usage or configuration.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

from cloudkit import QUIRKS, errors
from cloudkit._cli_console import add_console
from cloudkit._cli_ops import add_stoprules
from cloudkit._cli_progress import Progress, add_progress_flag, progress_for
from cloudkit._cli_reconcile import add_reconcile
from cloudkit._cli_sim import add_sim
from cloudkit._demos import lifecycle as lifecycle_demo
from cloudkit._demos import tungsten as tungsten_demo
from cloudkit._doctor import JsonReport, run_doctor_from_env
from cloudkit.billing import BillingClient, BillingSettings
from cloudkit.errors import (
    AuthenticationError,
    CloudkitError,
    ScopeError,
    SilentNoOpError,
    SystemVolumeError,
    TokenRevokedError,
)
from cloudkit.lifecycle._models import SagaState

__all__ = ["EXIT_FINDINGS", "EXIT_OK", "EXIT_USAGE", "build_parser", "main", "quirks_json"]

T = TypeVar("T")


class _Story:
    """Numbered, readable steps on a stream; a failed step stops the story with its error."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.number = 0

    def heading(self, text: str) -> None:
        print(f"\n== {text}", file=self.out, flush=True)

    def step(self, text: str, action: Callable[[], T]) -> T:
        self.number += 1
        print(f"[{self.number:2d}] {text} ...", end=" ", file=self.out, flush=True)
        result = action()
        print("ok", file=self.out, flush=True)
        return result

    def expect_error(
        self, text: str, error: type[CloudkitError], action: Callable[[], object]
    ) -> CloudkitError:
        self.number += 1
        print(f"[{self.number:2d}] {text} ...", end=" ", file=self.out, flush=True)
        try:
            action()
        except error as exc:
            print(f"refused as expected: {type(exc).__name__}", file=self.out, flush=True)
            return exc
        msg = f"step {self.number} should have raised {error.__name__}"
        raise AssertionError(msg)

    def note(self, text: str) -> None:
        print(f"     {text}", file=self.out, flush=True)


def run_demo(out: TextIO = sys.stdout) -> None:
    """The billing story against the embedded fake; raises if any step does not behave as told."""
    from cloudkit.testing.fakes import BillingFake, Fault  # noqa: PLC0415 (only the demo needs the fake)

    story = _Story(out)
    with BillingFake() as fake:
        settings = BillingSettings(url=fake.url, username="admin", password="secret")
        story.heading(f"Billing fake on {fake.url} (admin/secret; customers alice and bob)")
        with BillingClient(settings) as billing:
            accounts = story.step("admin logs in and lists accounts", billing.list_accounts)
            for account in accounts:
                story.note(f"account {account.id}: {account.name}, balance {account.balance}")

            story.heading("Quirk billing.su-scope / billing.silent-ok: an unscoped user-level call")
            sent = len(fake.calls)
            err = story.expect_error(
                "admin calls create_promised_payment without as_user",
                ScopeError,
                lambda: billing.create_promised_payment(Decimal(100)),
            )
            story.note(f"{err.message}")
            story.note(f"requests sent for it: {len(fake.calls) - sent} (refused before any request)")
            doc = story.step(
                "the same call raw, as the field team made it (billing.call, no su)",
                lambda: billing.call("payment.add", sok="ok", amount="100", promised="on"),
            )
            story.note(
                f"billing answered {sorted(doc)} and alice's balance is still {fake.balance_of('alice')}"
            )

            story.heading("Scoped to the customer with su (as_user)")
            alice = billing.as_user("alice")
            before = story.step("alice's balance", alice.get_balance)
            story.note(f"balance {before}")
            payment = story.step(
                "promised payment of 100 for alice, verified by reading it back",
                lambda: alice.create_promised_payment(Decimal(100)),
            )
            story.note(f"payment {payment.id}: {payment.amount} {payment.status.name}")
            story.note(f"balance now {story.step('alice balance again', alice.get_balance)}")

            story.heading("Support ticket proxied for the customer")
            ticket = story.step(
                "open a ticket for alice",
                lambda: alice.create_ticket(subject="Disk is slow", message="Since this morning"),
            )
            story.note(f"ticket {ticket.id}: {ticket.subject!r} ({ticket.status.name})")
            story.step("reply on alice's behalf", lambda: alice.reply_to_ticket(ticket.id, "Any news?"))
            messages = story.step("read the conversation", lambda: alice.list_ticket_messages(ticket.id))
            for message in messages:
                story.note(f"{message.author}: {message.text}")

            story.heading("Service lifecycle, each step verified")
            service = alice.list_services()[0]
            suspended = story.step(
                f"suspend service {service.id} ({service.name})", lambda: billing.suspend_service(service.id)
            )
            story.note(f"status {suspended.status.name}")
            resumed = story.step(f"resume service {service.id}", lambda: billing.resume_service(service.id))
            story.note(f"status {resumed.status.name}")

            story.heading("Quirk billing.silent-ok caught: billing says OK but does nothing")
            fake.inject(Fault.swallow_effect(), func="payment.add")
            err = story.expect_error(
                "promised payment while billing swallows the effect",
                SilentNoOpError,
                lambda: alice.create_promised_payment(Decimal(5)),
            )
            story.note(f"{err.message} (quirk {err.quirk})")
    run_openstack_demo(story)
    tungsten_demo.run(story)
    run_session_demo(story)
    lifecycle_demo.run(story)
    print("\nDemo finished: every step behaved as described.", file=out)


def run_session_demo(story: _Story) -> None:
    """The portal session story: login, change password, new token works, old token refused."""
    import os  # noqa: PLC0415

    from cloudkit.session import SessionManager  # noqa: PLC0415
    from cloudkit.testing.fakes import BillingFake, OpenStackFake  # noqa: PLC0415

    with BillingFake() as billing, OpenStackFake() as cloud:
        cloud.add_user("alice", "alice-pass", project="alice")
        story.heading("Portal session: one token wrapping the billing session and the Keystone token")
        manager = SessionManager(billing_url=billing.url, auth_url=cloud.auth_url, key=os.urandom(32))
        try:
            issued = story.step("alice logs in to the portal", lambda: manager.login("alice", "alice-pass"))
            story.note(
                f"token of {len(issued.token)} characters (JWE: the wrapped credentials are encrypted)"
            )
            session = story.step("verify it", lambda: manager.verify(issued.token))
            story.note(
                f"{session.username}, Keystone project {session.project_id}, until {session.expires_at:%H:%M}"
            )

            story.heading(
                "Password change: both systems, then a new token (quirk keystone.same-second-revocation)"
            )
            new = story.step(
                "change alice's password in billing and Keystone",
                lambda: manager.change_password(issued.token, "alice-pass", "alice-pass-2"),
            )
            story.step("the new token works", lambda: manager.verify(new.token))
            story.expect_error(
                "the old token is refused", TokenRevokedError, lambda: manager.verify(issued.token)
            )
            story.expect_error(
                "the old password no longer logs in",
                AuthenticationError,
                lambda: manager.login("alice", "alice-pass"),
            )
            story.step("log out", lambda: manager.logout(new.token))
            story.expect_error(
                "the logged-out token is refused", TokenRevokedError, lambda: manager.verify(new.token)
            )
        finally:
            manager.close()


def run_openstack_demo(story: _Story) -> None:
    """The OpenStack story: server with system volume, attach with fallback, refusals, suspend."""
    from cloudkit.openstack import AttachStrategy, OpenStackClient, OpenStackSettings  # noqa: PLC0415
    from cloudkit.testing.fakes import OpenStackFake  # noqa: PLC0415

    with OpenStackFake() as fake:
        story.heading(
            f"OpenStack fake on {fake.url} (Keystone, Nova, Cinder, Glance, Neutron; portal/portal-pass)"
        )
        settings = OpenStackSettings(
            auth_url=fake.auth_url,
            username="portal",
            password="portal-pass",
            project_name="alice",
            cinder_attach_verify_seconds=2.0,  # the demo need not give Nova the default 10 s
        )
        with OpenStackClient(settings) as cloud:
            image = story.step("list images", cloud.list_images)[0]
            story.note(f"image {image.name} ({image.os_distro} {image.os_version})")
            server = story.step(
                "create server web-1 booting from a new 10 GiB system volume",
                lambda: cloud.create_server("web-1", image=image.id, flavor="2", system_volume_size=10),
            )
            story.note(f"server {server.id} {server.status}, system volume {server.system_volume_id}")
            volume = story.step(
                "create data volume data-1 (20 GiB)", lambda: cloud.create_volume("data-1", size=20)
            )

            sent = len(fake.calls)
            story.heading(
                "Quirk openstack.cinder-attach-no-device: Cinder says attached, the guest sees nothing"
            )
            attachment = story.step(
                "attach with CINDER_THEN_NOVA (Cinder os-attach, verify in Nova, fall back)",
                lambda: cloud.attach_volume(server.id, volume.id, strategy=AttachStrategy.CINDER_THEN_NOVA),
            )
            changes = [_describe_attach_call(r.service, r.path, r.body) for r in fake.calls[sent:]]
            story.note("requests that changed attachments: " + ", ".join(c for c in changes if c))
            story.note(
                "Cinder's os-attach only wrote Cinder's records; cloudkit undid it and attached via Nova"
            )
            story.note(f"Nova lists {attachment.volume_id} at {attachment.device}")

            story.heading("Quirk openstack.system-volume: the system volume goes only with its server")
            sent = len(fake.calls)
            story.expect_error(
                "detach the system volume",
                SystemVolumeError,
                lambda: cloud.detach_volume(server.id, server.system_volume_id or ""),
            )
            story.note(f"requests sent for it: {len(fake.calls) - sent}")

            story.heading("Suspend a customer who ran out of money, then resume")
            suspended = story.step(
                "suspend: stop and lock with a reason",
                lambda: cloud.suspend_server(server.id, reason="balance below zero"),
            )
            story.note(f"{suspended.status}, locked: {suspended.locked_reason!r}")
            resumed = story.step("resume: unlock and start", lambda: cloud.resume_server(server.id))
            story.note(f"{resumed.status}, locked: {resumed.locked}")
            story.step(
                "delete the server; its system volume goes with it", lambda: cloud.delete_server(server.id)
            )


def _describe_attach_call(service: str, path: str, body: str) -> str:
    """``volume os-attach`` / ``compute os-volume_attachments`` for a request that changes attachments."""
    if path.endswith("/action") and body.startswith('{"os-'):
        return f"{service} {body[2:].split(chr(34), 1)[0]}"
    if path.endswith("/os-volume_attachments") and body:
        return f"{service} os-volume_attachments"
    return ""


def run_record(
    system: str,
    extra: Sequence[str],
    *,
    against: str | None = None,
    into: Path | None = None,
    progress: Progress | None = None,
) -> int:
    """Re-record the cassettes of ``tests/contract/<system>`` (OpenStack: from the lab; others: the fakes).

    With ``against`` (billing and Tungsten only), the ``[cassette]`` half of the contract tests runs
    against that live deployment instead of the fake, with credentials from the usual ``CLOUDKIT_*``
    settings, the same scrubbing, and cassettes stamped ``source: live`` written under ``into``
    (default ``cassettes-live/``) so that the checked-in fake recordings stay as they are.
    With an enabled ``progress``, each recorded test is counted on it instead of pytest's dots.
    """
    root = Path.cwd()
    env = os.environ.copy()
    if system == "openstack":
        env["CLOUDKIT_LAB"] = "1"  # OpenStack cassettes come from the lab's real services, never the fake
    if against is not None:
        if system not in {"billing", "tungsten"}:
            print("--against records billing or tungsten only", file=sys.stderr)
            return EXIT_USAGE
        env |= {
            "CLOUDKIT_RECORD_AGAINST": against,
            "CLOUDKIT_CASSETTE_SOURCE": "live",
            "CLOUDKIT_CASSETTE_DIR": str((into or root / "cassettes-live").resolve()),
        }
    tests = root / "tests" / "contract" / system
    if not tests.is_dir():
        print(f"no contract tests at {tests}; run from the repository root", file=sys.stderr)
        return EXIT_USAGE
    # pytest keeps only the last -k: fold the caller's expression into the [cassette] selection.
    selection, rest = "cassette", []
    args = iter(extra)
    for arg in args:
        if arg == "-k":
            selection = f"cassette and ({next(args, '')})"
        elif arg.startswith("-k"):
            selection = f"cassette and ({arg.removeprefix('-k').lstrip('=')})"
        else:
            rest.append(arg)
    command = [
        sys.executable,
        "-m",
        "pytest",
        str(tests),
        "-k",
        selection,
        "--record-mode=rewrite",
        "-q",
        *rest,
    ]
    print("$", " ".join(command), flush=True)
    if progress is None or not progress.enabled:
        return subprocess.call(command, env=env)  # noqa: S603 (our own interpreter and args)
    command[command.index("-q")] = "-v"  # one line per test: what the progress counts
    with subprocess.Popen(  # noqa: S603 (our own interpreter and args)
        command, env=env, stdout=subprocess.PIPE, text=True, bufsize=1
    ) as pytest:
        assert pytest.stdout is not None  # noqa: S101 (stdout=PIPE)
        follow_pytest(pytest.stdout, progress, sys.stdout)
    return pytest.returncode


_COLLECTED = re.compile(r"collected (\d+) items?(?: / (\d+) deselected)?")
_OUTCOME = re.compile(r"^(\S+::\S+) (PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS)\b")


def follow_pytest(lines: Iterable[str], progress: Progress, out: TextIO) -> None:
    r"""Count ``pytest -v``'s per-test lines on ``progress``; every other line goes to ``out``.

    Example:
        >>> import io
        >>> from cloudkit._cli_progress import Progress
        >>> err, out = io.StringIO(), io.StringIO()
        >>> follow_pytest(["collected 5 items / 3 deselected / 2 selected\n",
        ...     "t.py::test_a[cassette] PASSED [ 50%]\n", "t.py::test_b[cassette] FAILED [100%]\n",
        ...     "1 failed, 1 passed\n"], Progress(err, "record", clock=lambda: 0.0), out)
        >>> print(err.getvalue(), end="")
        record: [   0.0s] PASSED t.py::test_a[cassette]
        record: [   0.0s] tests 1/2 [###############               ]
        record: [   0.0s] FAILED t.py::test_b[cassette]
        record: [   0.0s] tests 2/2 [##############################]
        >>> out.getvalue()
        'collected 5 items / 3 deselected / 2 selected\n1 failed, 1 passed\n'
    """
    total: int | None = None
    done = 0
    for line in lines:
        outcome = _OUTCOME.match(line)
        if outcome is None:
            collected = _COLLECTED.search(line)
            if collected is not None:
                total = int(collected[1]) - int(collected[2] or 0)
            out.write(line)
            out.flush()
            continue
        done += 1
        progress.phase(f"{outcome[2]} {outcome[1]}")
        progress.count("tests", done, total)
    progress.close()


def run_drift(a: Path, b: Path, out: TextIO | None = None, *, as_json: bool = False) -> int:
    """``cloudkit drift A B``: print every difference; 0 when there is none, 1 when there is drift.

    ``as_json`` prints ``{"drift": bool, "count": n, "differences": [{cassette, request, kind, field,
    before, after}, ...]}`` instead of lines.
    """
    from cloudkit.testing._drift import compare_recordings, render  # noqa: PLC0415 (test extra)

    out = out or sys.stdout
    try:
        drifts = compare_recordings(a, b)
    except ValueError as exc:
        print(f"cloudkit drift: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if as_json:
        document = {
            "drift": bool(drifts),
            "count": len(drifts),
            "differences": [
                {
                    "cassette": d.cassette,
                    "request": d.request,
                    "kind": d.kind,
                    "field": d.field,
                    "before": d.before,
                    "after": d.after,
                }
                for d in drifts
            ],
        }
        print(json.dumps(document, indent=2), file=out)
    else:
        out.write(render(drifts))
    return EXIT_FINDINGS if drifts else EXIT_OK


def run_lab(
    action: str,
    *,
    home: Path | None,
    fresh: bool,
    rebuild: bool,
    out: TextIO | None = None,
    as_json: bool = False,
    progress: Progress | None = None,
) -> int:
    """``cloudkit lab install|up|down|status``; phases go to ``progress``, results to ``out`` (stdout).

    Exit status 1 when ``status`` finds a lab process down or ``down`` leaves a port answering.
    ``as_json`` (status and up) prints one document: ``{"services": [{name, alive, pid, port,
    listening}], "all_up": bool, "lab": {auth_url, seconds_to_ready, rss_mib, restored} | null}``.
    """
    from cloudkit.lab import Lab  # noqa: PLC0415 (only this command needs it)

    out = out or sys.stdout
    progress = progress or Progress(None, f"lab {action}")
    lab = Lab(home, say=progress.phase)
    try:
        if action == "install":
            lab.install(rebuild=rebuild)
        elif action == "up":
            info = lab.up(fresh=fresh)
            progress.close()
            if as_json:
                print(json.dumps({"lab": _lab_json(info)}, indent=2), file=out)
            else:
                print(info.describe(), file=out)
        elif action == "down":
            left = lab.down()
            if left:
                print(f"still answering: {', '.join(left)}", file=out)
                return EXIT_FINDINGS
        else:
            return _lab_status(lab, out, as_json=as_json)
    finally:
        progress.close()
    return EXIT_OK


def _lab_status(lab: Lab, out: TextIO, *, as_json: bool) -> int:
    states = lab.status()
    running = lab.info()
    all_up = all(state.alive for state in states)
    if as_json:
        services = [
            {"name": s.name, "alive": s.alive, "pid": s.pid, "port": s.port, "listening": s.listening}
            for s in states
        ]
        document = {"services": services, "all_up": all_up, "lab": _lab_json(running)}
        print(json.dumps(document, indent=2), file=out)
    else:
        for state in states:
            pid = "-" if state.pid is None else str(state.pid)
            port = (
                "" if state.port is None else f"port {state.port} {'open' if state.listening else 'closed'}"
            )
            print(f"{state.name:17s} {'up' if state.alive else 'down':5s} pid {pid:>8s}  {port}", file=out)
        if running is not None:
            print(running.describe(), file=out)
    return EXIT_OK if all_up else EXIT_FINDINGS


def _lab_json(info: LabInfo | None) -> dict[str, object] | None:
    """A running lab, without its (fixed, test-only) admin password: ``describe()`` shows that."""
    if info is None:
        return None
    return {
        "auth_url": info.auth_url,
        "admin_username": info.admin_username,
        "admin_project": info.admin_project,
        "seconds_to_ready": info.seconds_to_ready,
        "rss_mib": info.rss_mib,
        "restored": info.restored,
    }


if TYPE_CHECKING:
    from cloudkit.lab import Lab, LabInfo
    from cloudkit.lifecycle import Lifecycle


def run_lifecycle(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """``cloudkit lifecycle list|show|retry|sweep``: the saga store of ``CLOUDKIT_LIFECYCLE_DB``."""
    import json  # noqa: PLC0415

    from cloudkit.lifecycle import Lifecycle  # noqa: PLC0415 (SQLAlchemy loads with it)
    from cloudkit.lifecycle._report import saga_detail, saga_table, saga_to_json  # noqa: PLC0415

    out = out or sys.stdout
    with Lifecycle.from_env() as lifecycle:
        if args.action == "list":
            state = SagaState(args.state) if args.state else None
            sagas = lifecycle.sagas(state=state, item=args.item, limit=args.limit)
            if args.json:
                print(json.dumps([saga_to_json(s) for s in sagas], indent=2), file=out)
            else:
                print(saga_table(sagas), file=out)
            return 0
        if args.action == "sweep":
            handed = lifecycle.run_due(limit=args.limit)
            print(
                json.dumps(handed) if args.json else f"{len(handed)} due saga(s) handed to the runner",
                file=out,
            )
            return 0
        if not args.saga:
            print(
                f"cloudkit lifecycle {args.action}: give a saga id (or its first characters)", file=sys.stderr
            )
            return EXIT_USAGE
        saga_id = _saga_id(lifecycle, args.saga)
        saga = lifecycle.retry(saga_id) if args.action == "retry" else lifecycle.saga(saga_id)
        print(json.dumps(saga_to_json(saga), indent=2) if args.json else saga_detail(saga), file=out)
        return 0


def _saga_id(lifecycle: Lifecycle, given: str) -> str:
    """A full saga id from a full id or a unique prefix of a recent saga's id (as git takes hashes)."""
    matches = [s.id for s in lifecycle.sagas(limit=10_000) if s.id.startswith(given)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        return given  # the store says NotFoundError with the id
    raise errors.InvalidArgumentError(
        f"{given!r} starts {len(matches)} saga ids; give more characters",
        system="lifecycle",
        operation="show",
    )


EXIT_OK = 0
"""The command did what it was asked and found nothing wrong."""
EXIT_FINDINGS = 1
"""Findings (drift, reconcile findings left, a lab process down, a failed sweep) or an error a system
reported (``CloudkitError`` other than the two below); the message is on stderr."""
EXIT_USAGE = 2
"""Usage or configuration: a bad option or argument (argparse), ``ConfigError`` (bad settings, a bad
scenario file) or ``InvalidArgumentError``."""

_EPILOG = """\
exit status:
  0  ok
  1  findings (drift found, reconcile findings left, a lab process down, a failed sweep),
     or an error a system reported; the message is on stderr
  2  usage or configuration: a bad option, bad settings, a bad scenario file

Commands that print a table take --json (one JSON document on stdout). Long work (lab install/up,
record, stoprules run) shows progress on stderr when it is a terminal, or with --progress.
Every command: cloudkit COMMAND --help; all of them: docs/cli.md.
"""


def build_parser() -> argparse.ArgumentParser:
    """The ``cloudkit`` argument parser with every command.

    Example:
        >>> from cloudkit.cli import build_parser
        >>> args = build_parser().parse_args(["quirks", "--json"])
        >>> args.command, args.json, args.markdown
        ('quirks', True, False)
    """
    parser = argparse.ArgumentParser(
        prog="cloudkit",
        description=__doc__.splitlines()[0].strip('"') if __doc__ else None,  # the summary, plain text
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _command(
        commands,
        "demo",
        "walk the billing, OpenStack, Tungsten Fabric, portal session and lifecycle stories "
        "against the embedded fakes, printing every step",
    )
    add_sim(commands)
    record = commands.add_parser(
        "record",
        help="re-record a system's contract-test cassettes (billing, tungsten, session: from the fakes; "
        "openstack: from the lab; --against: from a live deployment)",
        description="Runs the [cassette] half of tests/contract/SYSTEM with --record-mode=rewrite; "
        "arguments it does not know go to pytest (-k is folded into the cassette selection). "
        "Run it from the repository root.",
    )
    record.add_argument(
        "system", nargs="?", default="billing", choices=["billing", "openstack", "tungsten", "session"]
    )
    record.add_argument("--against", metavar="URL", help="billing|tungsten: record a live deployment")
    record.add_argument(
        "--into",
        type=Path,
        default=None,
        metavar="FOLDER",
        help="with --against: cassette folder (default cassettes-live)",
    )
    add_progress_flag(record)
    drift = _command(
        commands, "drift", "compare two recordings (cassettes or folders) field by field; exit 1 on drift"
    )
    drift.add_argument("a", type=Path, help="the first recording: a cassette, or a folder of them")
    drift.add_argument("b", type=Path, help="the second recording, of the same kind as A")
    drift.add_argument("--json", action="store_true", help="the differences as JSON instead of lines")
    doctor = _command(
        commands,
        "doctor",
        "check every configured system (CLOUDKIT_*, cloudkit.toml, clouds.yaml and OS_*) for known traps, "
        "capacity and vRouter kernels included; exit 1 on findings, 2 when nothing is configured",
    )
    doctor.add_argument("--json", action="store_true", help="one JSON document instead of the text report")
    lab = _command(
        commands,
        "lab",
        "install, start, stop or check a real OpenStack control plane on loopback "
        "(Keystone, Nova, Cinder, Glance, Neutron; docs/lab.md)",
    )
    lab.add_argument("action", choices=["install", "up", "down", "status"])
    lab.add_argument("--fresh", action="store_true", help="up: bootstrap even if a snapshot was saved")
    lab.add_argument("--rebuild", action="store_true", help="install: rebuild every venv")
    lab.add_argument("--home", type=Path, default=None, help="lab folder (default ~/.cache/cloudkit-lab)")
    lab.add_argument("--json", action="store_true", help="status|up: JSON instead of text")
    add_progress_flag(lab)
    lifecycle = _command(
        commands,
        "lifecycle",
        "list, show or retry the sagas of the lifecycle store (CLOUDKIT_LIFECYCLE_DB), "
        "or hand the due ones to the runner (sweep)",
    )
    lifecycle.add_argument("action", choices=["list", "show", "retry", "sweep"])
    lifecycle.add_argument("saga", nargs="?", help="show|retry: a saga id or its first characters")
    lifecycle.add_argument("--state", choices=[s.value for s in SagaState], help="list: only this state")
    lifecycle.add_argument("--item", type=int, help="list: only this billing item")
    lifecycle.add_argument("--limit", type=int, default=100, help="list|sweep: at most this many (100)")
    lifecycle.add_argument("--json", action="store_true", help="JSON instead of a table")
    add_stoprules(commands)
    add_reconcile(commands)
    add_console(commands)
    quirks = _command(commands, "quirks", "list the registered quirks (id, evidence, summary)")
    shape = quirks.add_mutually_exclusive_group()
    shape.add_argument("--markdown", action="store_true", help="render docs/quirks.md")
    shape.add_argument("--json", action="store_true", help="every quirk with all its fields, as JSON")
    return parser


def _command(commands: Any, name: str, summary: str) -> argparse.ArgumentParser:
    """A command whose ``--help`` starts with the same summary ``cloudkit --help`` lists for it."""
    parser: argparse.ArgumentParser = commands.add_parser(
        name, help=summary, description=summary[0].upper() + summary[1:] + "."
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``cloudkit`` command; the exit status (0 ok, 1 findings, 2 usage or config).

    Example:
        >>> from cloudkit.cli import main
        >>> main(["drift", "no-such-a", "no-such-b"])
        2
    """
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "record":  # only record passes what it does not know on (to pytest)
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    handler = getattr(args, "handler", None)  # commands added by their own module (add_stoprules, ...)
    try:
        return int(handler(args)) if handler is not None else _dispatch(args, extra)
    except (errors.ConfigError, errors.InvalidArgumentError) as exc:
        print(f"cloudkit: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except CloudkitError as exc:
        print(f"cloudkit: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FINDINGS
    except BrokenPipeError:
        # The reader left (`cloudkit lab status --json | head`): nothing more to say. stdout goes to
        # devnull so that the interpreter's last flush does not raise again (Python's own advice).
        # Only for the process's own stdout: main() called in-process (tests, a notebook) with stdout
        # replaced must not silence the caller's real stdout.
        real_stdout = sys.__stdout__
        if real_stdout is not None and sys.stdout is real_stdout:
            with contextlib.suppress(OSError, ValueError):
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, real_stdout.fileno())
                os.close(devnull)
        return EXIT_FINDINGS


def _dispatch(args: argparse.Namespace, extra: list[str]) -> int:
    """Run the chosen command; its exit status."""
    if args.command == "demo":
        run_demo()
    elif args.command == "record":
        progress = progress_for(args, sys.stderr, f"record {args.system}")
        return run_record(args.system, extra, against=args.against, into=args.into, progress=progress)
    elif args.command == "drift":
        return run_drift(args.a, args.b, as_json=args.json)
    elif args.command == "doctor":
        return run_doctor_from_env(JsonReport(sys.stdout) if args.json else sys.stdout)
    elif args.command == "lifecycle":
        return run_lifecycle(args)
    elif args.command == "lab":
        progress = progress_for(args, sys.stderr, f"lab {args.action}")
        return run_lab(
            args.action,
            home=args.home,
            fresh=args.fresh,
            rebuild=args.rebuild,
            as_json=args.json,
            progress=progress,
        )
    elif args.markdown:
        sys.stdout.write(QUIRKS.markdown())
    elif args.json:
        print(json.dumps(quirks_json(), indent=2))
    else:
        for quirk_id, quirk in QUIRKS.items():
            print(f"{quirk_id:32s} {quirk.evidence:15s} {quirk.summary}")
    return EXIT_OK


def quirks_json() -> list[dict[str, object]]:
    """``cloudkit quirks --json``: every registered quirk, in id order, with all its fields.

    Example:
        >>> from cloudkit.cli import quirks_json
        >>> first = quirks_json()[0]
        >>> sorted(first)
        ['evidence', 'handling', 'id', 'sources', 'summary', 'system']
    """
    return [
        {
            "id": quirk_id,
            "system": str(quirk.system),
            "summary": quirk.summary,
            "handling": quirk.handling,
            "evidence": str(quirk.evidence),
            "sources": list(quirk.sources),
        }
        for quirk_id, quirk in sorted(QUIRKS.items())
    ]


if __name__ == "__main__":
    raise SystemExit(main())
