"""``cloudkit-pm``: a BILLmanager processing module that runs lifecycle sagas.

BILLmanager runs a processing module as a program with long options (reference/lifecycle.md §1):
``--command features`` once, then ``--command open|suspend|resume|close --item N --runningoperation M``
for each lifecycle action. This module answers ``features`` with item type ``cloudserver``, runs the
matching saga for each command (inline, or on the Celery workers when ``CLOUDKIT_CELERY_BROKER`` is set,
then waits for it), and prints ``<doc><ok/></doc>`` on success or billing's error document on failure,
exiting non-zero.

Who tells billing what: the saga's last step is the completion callback (``service.postopen`` and the
others), sent exactly once; a failed attempt of a saga records its error on the running operation, and
a saga that stops for an operator sets the operation manual and opens a staff task (the engine does it,
in one place). This program reports to billing itself only what happened before any saga existed: an
unreadable plan, an unreachable database. Then, like ISPsystem's own modules (``Module::Run``), it
records the error and, once billing's ``trycount`` reaches the limit, sets the operation manual and opens
a staff task.

Assumptions (not in the public docs, each configurable):

- the plan of an ``open`` comes from the item's params ``image``, ``flavor``, ``system_volume_gb`` and
  optionally ``network_cidr``, read from the item type's ``.edit`` form (:func:`read_plan`);
- billing's suspend command carries no reason: a suspension ordered by billing is recorded as
  :attr:`SuspendReason.STAFF <cloudkit.lifecycle.SuspendReason.STAFF>` unless ``--param reason``
  names another;
- the try limit of billing's own retries is 3 unless ``CLOUDKIT_PM_MAX_TRIES`` says otherwise.

Example:
    >>> from cloudkit.lifecycle.pm import main
    >>> main(["--command", "features"])  # doctest: +ELLIPSIS
    <?xml version="1.0" encoding="UTF-8"?>
    <doc><itemtypes><itemtype name="cloudserver"/></itemtypes>...<feature name="open"/>...</doc>
    0
    >>> main(["--command", "reboot", "--item", "7"])
    <?xml version="1.0" encoding="UTF-8"?>
    <doc><error type="unknown_command" object="command"><msg>cloudkit-pm has no command 'reboot'; ...</msg></error></doc>
    2
"""  # noqa: E501 (doctest output lines)

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import IO, TYPE_CHECKING, NoReturn

from cloudkit._core._settings import EnvReader
from cloudkit.billing import ModuleCommand, ModuleError, ServiceStatus, module_error_xml
from cloudkit.errors import CloudkitError, ConfigError, InvalidArgumentError, PlanError
from cloudkit.lifecycle._models import SagaState, ServerPlan, SuspendReason

if TYPE_CHECKING:
    from cloudkit.billing import BillingClient
    from cloudkit.lifecycle._lifecycle import Lifecycle

__all__ = ["FEATURES", "ITEM_TYPE", "PLAN_PARAMS", "features_xml", "main", "read_plan"]

log = logging.getLogger(__name__)

ITEM_TYPE = "cloudserver"
"""The item type this module serves (``<itemtype name="cloudserver"/>``)."""

FEATURES = ("check_connection", "open", "suspend", "resume", "close", "sync_item")
"""The features announced to billing; billing never calls a command that is not listed."""

PLAN_PARAMS = ("image", "flavor", "system_volume_gb", "network_cidr")
"""The item params an ``open`` reads its :class:`~cloudkit.lifecycle.ServerPlan` from (assumption)."""

_XML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>'
_OK = f"{_XML_HEAD}\n<doc><ok/></doc>"
_EXIT_OK, _EXIT_FAILED, _EXIT_USAGE = 0, 1, 2
_DEFAULT_MAX_TRIES = 3
_DEFAULT_WAIT_SECONDS = 3600.0


def features_xml() -> str:
    """The ``--command features`` document: item type, the plan params, the features.

    Example:
        >>> from cloudkit.lifecycle.pm import features_xml
        >>> print(features_xml())  # doctest: +ELLIPSIS
        <?xml version="1.0" encoding="UTF-8"?>
        <doc><itemtypes><itemtype name="cloudserver"/></itemtypes><params><param name="image"/>...</doc>
    """
    params = "".join(f'<param name="{name}"/>' for name in PLAN_PARAMS)
    features = "".join(f'<feature name="{name}"/>' for name in FEATURES)
    return (
        f'{_XML_HEAD}\n<doc><itemtypes><itemtype name="{ITEM_TYPE}"/></itemtypes>'
        f"<params>{params}</params><features>{features}</features></doc>"
    )


def read_plan(params: Mapping[str, str], *, item: int) -> ServerPlan:
    """The :class:`~cloudkit.lifecycle.ServerPlan` an item's params describe.

    Raises:
        PlanError: a param is missing or malformed (nothing was created).

    Example:
        >>> from cloudkit.lifecycle.pm import read_plan
        >>> read_plan({"image": "img-1", "flavor": "m1.small", "system_volume_gb": "10"}, item=7)
        ServerPlan(image='img-1', flavor='m1.small', system_volume_gb=10, network_cidr='10.0.0.0/24')
        >>> read_plan({"image": "img-1"}, item=7)
        Traceback (most recent call last):
        ...
        cloudkit.errors.PlanError: item 7 has no flavor, system_volume_gb param [lifecycle read_plan]
    """
    missing = [name for name in ("image", "flavor", "system_volume_gb") if not params.get(name, "").strip()]
    if missing:
        raise PlanError(
            f"item {item} has no {', '.join(missing)} param", system="lifecycle", operation="read_plan"
        )
    size = params["system_volume_gb"].strip()
    if not size.isdigit():
        raise PlanError(
            f"item {item}: system_volume_gb is {size!r}, not a whole number of GiB",
            system="lifecycle",
            operation="read_plan",
        )
    extra = {"network_cidr": params["network_cidr"].strip()} if params.get("network_cidr", "").strip() else {}
    try:
        return ServerPlan(
            image=params["image"].strip(),
            flavor=params["flavor"].strip(),
            system_volume_gb=int(size),
            **extra,
        )
    except InvalidArgumentError as exc:
        raise PlanError(f"item {item}: {exc.args[0]}", system="lifecycle", operation="read_plan") from exc


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so a bad call still prints an error document."""

    def error(self, message: str) -> NoReturn:
        raise InvalidArgumentError(message, system="lifecycle", operation="cloudkit-pm")


def _parser() -> _Parser:
    parser = _Parser(prog="cloudkit-pm", add_help=False, allow_abbrev=False)
    parser.add_argument("--command", "-c", required=True)
    parser.add_argument("--item", "-i", type=int)
    parser.add_argument("--runningoperation", type=int)
    # Accepted because BILLmanager passes them (ModuleArgs); this module needs none of them.
    for name in (
        "--module",
        "--subcommand",
        "--param",
        "--value",
        "--addon",
        "--itemtype",
        "--intname",
        "--lang",
        "--level",
    ):
        parser.add_argument(name, action="append")
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    out: IO[str] | None = None,
    lifecycle_factory: Callable[[Mapping[str, str]], Lifecycle] | None = None,
) -> int:
    """Run one processing-module command; returns the exit status (``cloudkit-pm`` console script).

    Args:
        argv: the arguments (default ``sys.argv[1:]``).
        environ: the settings (default ``os.environ``): ``CLOUDKIT_*`` as for
            :meth:`Lifecycle.from_env <cloudkit.lifecycle.Lifecycle.from_env>`, ``CLOUDKIT_CONFIG`` for a
            TOML file, ``CLOUDKIT_CELERY_BROKER`` to hand sagas to Celery workers,
            ``CLOUDKIT_PM_WAIT_SECONDS`` (default 3600) and ``CLOUDKIT_PM_MAX_TRIES`` (default 3).
        out: where the XML document goes (default stdout).
        lifecycle_factory: builds the :class:`~cloudkit.lifecycle.Lifecycle` (tests); default
            ``Lifecycle.from_env``.
    """
    stream = out if out is not None else sys.stdout
    env = os.environ if environ is None else environ
    try:
        args = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    except InvalidArgumentError as exc:
        _print(stream, module_error_xml(ModuleError(type="usage", object="argv", message=str(exc.args[0]))))
        return _EXIT_USAGE
    if args.command == "features":
        _print(stream, features_xml())
        return _EXIT_OK
    if args.command not in FEATURES:
        message = f"cloudkit-pm has no command {args.command!r}; it knows {', '.join(FEATURES)}"
        _print(
            stream, module_error_xml(ModuleError(type="unknown_command", object="command", message=message))
        )
        return _EXIT_USAGE
    if args.command != "check_connection" and args.item is None:
        message = f"--command {args.command} needs --item"
        _print(stream, module_error_xml(ModuleError(type="usage", object="item", message=message)))
        return _EXIT_USAGE
    return _run(args, env, stream, lifecycle_factory)


def _run(
    args: argparse.Namespace,
    env: Mapping[str, str],
    stream: IO[str],
    lifecycle_factory: Callable[[Mapping[str, str]], Lifecycle] | None,
) -> int:
    from cloudkit.lifecycle._lifecycle import Lifecycle  # noqa: PLC0415 - features must not load the stack

    factory = lifecycle_factory or Lifecycle.from_env
    ro: int | None = args.runningoperation
    lifecycle: Lifecycle | None = None
    try:
        lifecycle = factory(env)
        with lifecycle:
            if args.command == "check_connection":
                _check_connection(lifecycle)
                _print(stream, _OK)
                return _EXIT_OK
            if args.command == "sync_item":
                _sync_item(lifecycle, args.item)
                _print(stream, _OK)
                return _EXIT_OK
            saga = _start(lifecycle, args, env)
            saga = lifecycle.wait(saga.id, _wait_seconds(env))
            if saga.state is SagaState.DONE:
                _print(stream, _OK)
                return _EXIT_OK
            # The engine has told billing already (error on the operation; manual and task if final).
            error = ModuleError(
                type="saga_" + saga.state.value, object=f"saga {saga.id}", message=saga.last_error or ""
            )
            _print(stream, module_error_xml(error))
            return _EXIT_FAILED
    except CloudkitError as exc:
        error = ModuleError(type=type(exc).__name__, object=exc.operation, message=str(exc.args[0]))
    except Exception as exc:  # whatever broke, billing gets an error document, not a traceback
        log.exception("cloudkit-pm --command %s failed", args.command)
        # Only the type: an unforeseen error's text may carry anything, a secret included.
        error = ModuleError(type="internal", object=args.command, message=f"unexpected {type(exc).__name__}")
    _print(stream, module_error_xml(error))
    if ro is not None:
        _report_outside_saga(lifecycle, args, ro, error, env)
    return _EXIT_FAILED


def _start(lifecycle: Lifecycle, args: argparse.Namespace, env: Mapping[str, str]) -> Saga:  # noqa: ARG001
    item: int = args.item
    ro: int | None = args.runningoperation
    command = ModuleCommand(args.command)
    if command is ModuleCommand.OPEN:
        form = _billing(lifecycle).get_service_form(item)
        plan = read_plan(form.params, item=item)
        return lifecycle.provision(item, int(form.account_id), plan, running_operation=ro)
    if command is ModuleCommand.SUSPEND:
        return lifecycle.suspend(item, _reason(args.param, args.value), running_operation=ro)
    if command is ModuleCommand.RESUME:
        return lifecycle.resume(item, running_operation=ro)
    return lifecycle.close(item, running_operation=ro)


def _billing(lifecycle: Lifecycle) -> BillingClient:
    billing = lifecycle.systems.billing()
    if billing is None:
        raise ConfigError(
            "cloudkit-pm needs billing settings (CLOUDKIT_BILLING_URL, ...) to read items and call back",
            system="lifecycle",
            operation="cloudkit-pm",
        )
    return billing


def _check_connection(lifecycle: Lifecycle) -> None:
    """Every configured system answers with the configured accounts, and the saga store is readable."""
    problem = lifecycle.platform.identity_problem()
    if problem is not None:
        raise problem
    _billing(lifecycle).list_running_operations()
    lifecycle.systems.admin().find_project("cloudkit-check-connection")
    lifecycle.systems.tungsten().aaa_mode()
    lifecycle.sagas(limit=1)


_STATUS_AFTER = {
    ModuleCommand.OPEN: ServiceStatus.ACTIVE,
    ModuleCommand.RESUME: ServiceStatus.ACTIVE,
    ModuleCommand.SUSPEND: ServiceStatus.SUSPENDED,
    ModuleCommand.CLOSE: ServiceStatus.DELETED,
}


def _sync_item(lifecycle: Lifecycle, item: int) -> None:
    """Set billing's status of ``item`` to what its last finished saga made it (``service.setstatus``).

    The saga store is the truth: a saga is DONE only after the cloud confirmed its effect. An item
    with no finished saga is left as billing has it.
    """
    done = lifecycle.sagas(state=SagaState.DONE, item=item, limit=1)
    if done:
        _billing(lifecycle).set_service_status(item, _STATUS_AFTER[done[0].operation])


def _reason(names: list[str] | None, values: list[str] | None) -> SuspendReason:
    given = dict(zip(names or [], values or [], strict=False)).get("reason")
    try:
        return SuspendReason(given) if given else SuspendReason.STAFF
    except ValueError as exc:
        raise InvalidArgumentError(
            f"unknown suspend reason {given!r}; one of {', '.join(r.value for r in SuspendReason)}",
            system="lifecycle",
            operation="suspend",
        ) from exc


def _reported_by_a_saga(lifecycle: Lifecycle | None, item: int, ro: int) -> bool:
    """Whether a saga of this running operation ran an attempt (its engine told billing itself).

    A saga that exists but never ran (the broker refused the publish, the wait timed out before a
    worker took it) reported nothing; an unreadable store counts as no saga.
    """
    if lifecycle is None:
        return False
    try:
        sagas = lifecycle.sagas(item=item)
    except CloudkitError:
        return False
    return any(s.running_operation == ro and (s.last_error is not None or s.state.final) for s in sagas)


def _standalone_billing(env: Mapping[str, str]) -> BillingClient:
    """Billing from the settings alone, for when the lifecycle (its store) could not be opened."""
    from cloudkit.lifecycle._settings import config_environ  # noqa: PLC0415
    from cloudkit.platform import Platform  # noqa: PLC0415

    return Platform.from_env(config_environ(env)).billing_client()


def _report_outside_saga(
    lifecycle: Lifecycle | None, args: argparse.Namespace, ro: int, error: ModuleError, env: Mapping[str, str]
) -> None:
    """What ISPsystem's ``Module::Run`` does on an exception, for errors no saga has reported."""
    if _reported_by_a_saga(lifecycle, args.item, ro):
        return
    own = lifecycle is None
    try:
        billing = _standalone_billing(env) if own or lifecycle is None else _billing(lifecycle)
    except CloudkitError as exc:
        log.warning("could not report the error of running operation %s: no billing (%s)", ro, exc)
        return
    try:
        operation = billing.record_operation_error(ro, error)
        if operation.attempts >= _max_tries(env):
            billing.set_operation_manual(ro)
            billing.open_staff_task(args.item, ro, args.command)
    except CloudkitError as exc:  # billing itself is down: the printed document is all we can leave
        log.warning("could not report the error of running operation %s to billing: %s", ro, exc)
    finally:
        if own:
            billing.close()


def _pm_env(env: Mapping[str, str]) -> EnvReader:
    return EnvReader.of("CLOUDKIT_PM_", env, system="lifecycle")


def _wait_seconds(env: Mapping[str, str]) -> float:
    reader = _pm_env(env)
    value = reader.optional_float("WAIT_SECONDS", _DEFAULT_WAIT_SECONDS)
    if value <= 0:
        raise ConfigError(f"{reader.name('WAIT_SECONDS')} must be above 0", system="lifecycle")
    return value


def _max_tries(env: Mapping[str, str]) -> int:
    reader = _pm_env(env)
    value = reader.optional_int("MAX_TRIES", _DEFAULT_MAX_TRIES)
    if value < 1:
        raise ConfigError(f"{reader.name('MAX_TRIES')} must be at least 1", system="lifecycle")
    return value


def _print(stream: IO[str], document: str) -> None:
    text = document if document.startswith("<?xml") else f"{_XML_HEAD}\n{document}"
    stream.write(text + "\n")
    stream.flush()


if TYPE_CHECKING:
    from cloudkit.lifecycle._models import Saga


if __name__ == "__main__":
    sys.exit(main())
