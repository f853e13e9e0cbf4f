"""Running a processing module the way BILLmanager does: features first, then a subprocess per try.

Each try of a running operation runs in a background thread until the module reports back.

The contract is ``reference/lifecycle.md`` §1 and ``billing.md`` §7.2 (W11): ``<module> --command
features`` once, then ``<module> --command <cmd> --item <id> --runningoperation <ro>``; the module
calls ``service.post<cmd>`` when done, or records ``errorxml`` and exits non-zero when not.
"""

from __future__ import annotations

import subprocess
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from cloudkit.testing.fakes.billing._state import TASK_TYPES, FakeModuleRun, State, Task

_FEATURES = "features"
_FEATURES_TIMEOUT = 30.0
"""The least time ``--command features`` gets: a test's short ``module_timeout`` is meant for the
commands, and a busy machine can take longer than it just to start Python."""


@dataclass(frozen=True, slots=True)
class Features:
    """What the module's ``--command features`` document declares (empty when it could not be read)."""

    itemtypes: frozenset[str] = frozenset()
    features: frozenset[str] = frozenset()
    problem: str = ""  # why the document could not be read ("" when it could)


def parse_features(stdout: str) -> Features:
    """The item types and features of a ``--command features`` document.

    Example:
        >>> found = parse_features('<doc><itemtypes><itemtype name="cloudserver"/></itemtypes>'
        ...     '<features><feature name="open"/><feature name="close"/></features></doc>')
        >>> sorted(found.itemtypes), sorted(found.features)
        (['cloudserver'], ['close', 'open'])
        >>> parse_features("not xml").problem
        'the features document is not XML'
    """
    try:
        # The document comes from the module the test configured, on this machine: trusted input.
        root = ET.fromstring(stdout.strip())  # noqa: S314
    except ET.ParseError:
        return Features(problem="the features document is not XML")
    return Features(
        frozenset(e.get("name", "") for e in root.iterfind("./itemtypes/itemtype")) - {""},
        frozenset(e.get("name", "") for e in root.iterfind("./features/feature")) - {""},
    )


def error_xml(type_: str, message: str, obj: str | None = None) -> str:
    """An error document as a module prints it (billing's own error envelope).

    Example:
        >>> error_xml("unsupported", "no open & co", "command")
        '<doc><error type="unsupported" object="command"><msg>no open &amp; co</msg></error></doc>'
    """
    obj_attr = f" object={quoteattr(obj)}" if obj else ""
    return f"<doc><error type={quoteattr(type_)}{obj_attr}><msg>{escape(message)}</msg></error></doc>"


class ModuleDriver:
    """Runs one processing module for a billing fake; every state change happens under ``lock``.

    ``state`` returns the fake's current state (it is replaced by ``reset``), ``env`` the environment
    of a run (os.environ, the fake's ``CLOUDKIT_BILLING_*`` and the configured ``module_env``).
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        env: Callable[[], Mapping[str, str]],
        lock: threading.RLock,
        state: Callable[[], State],
        item_type: str,
        max_tries: int,
        auto_retry: bool,
        timeout: float,
    ) -> None:
        """Nothing runs until `launch`."""
        self._argv = tuple(argv)
        self._env = env
        self._lock = lock
        self._state = state
        self._item_type = item_type
        self._max_tries = max_tries
        self._auto_retry = auto_retry
        self._timeout = timeout
        self._cond = threading.Condition()  # guards the fields below; never held while a module runs
        self._features_lock = threading.Lock()
        self._features: Features | None = None
        self._active: set[int] = set()  # operations with a worker thread
        self._waiting: list[int] = []  # failed operations waiting for `run_pending` (auto_retry off)
        self._runs: list[FakeModuleRun] = []

    # ------------------------------------------------------------------------------ public side
    @property
    def runs(self) -> list[FakeModuleRun]:
        """Every run so far, oldest first (a copy)."""
        with self._cond:
            return list(self._runs)

    def launch(self, operation_ids: Sequence[int]) -> None:
        """Run the module for each operation in a background thread (one thread per operation)."""
        for op_id in operation_ids:
            with self._cond:
                if op_id in self._active:
                    continue
                self._active.add(op_id)
                if op_id in self._waiting:
                    self._waiting.remove(op_id)
            worker = threading.Thread(
                target=self._work, args=(op_id,), name=f"billing-module-ro{op_id}", daemon=True
            )
            worker.start()

    def run_pending(self) -> list[int]:
        """Run once more every operation whose failed try waits for a retry; returns their ids."""
        with self._cond:
            pending, self._waiting = self._waiting, []
        self.launch(pending)
        return pending

    def wait_idle(self, timeout: float) -> bool:
        """Block until no module run is under way (True) or ``timeout`` passes (False)."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._active, timeout)

    def forget(self) -> None:
        """Forget the runs, the features and the waiting retries (the fake's `reset`)."""
        with self._cond:
            self._runs.clear()
            self._waiting.clear()
        with self._features_lock:
            self._features = None

    # ------------------------------------------------------------------------------ worker side
    def _work(self, op_id: int) -> None:
        try:
            while self._one_try(op_id):
                pass
        finally:
            with self._cond:
                self._active.discard(op_id)
                self._cond.notify_all()

    def _one_try(self, op_id: int) -> bool:
        """One run of the module for the operation; True when it is to run again at once."""
        features = self._handshake()
        with self._lock:
            op = self._state().operations.get(op_id)
            if op is None or op.manual:
                return False  # done (the module called back) or staff took over
            refusal = self._refusal(features, op.name)
            if refusal:
                # assumption: BILLmanager never calls an unlisted command; the fake parks the
                # operation for staff with an error saying why (manual, no task) instead.
                op.errorxml, op.manual = refusal, True
                return False
            op.trycount += 1
            before = op.errorxml
            argv = (
                *self._argv,
                "--command",
                op.name,
                "--item",
                str(op.item),
                "--runningoperation",
                str(op_id),
                # assumption: billing's suspend command carries no reason; the fake names a client's
                # own suspension, so cloudkit-pm records it as SuspendReason.CUSTOMER
                *(
                    ("--param", "reason", "--value", "customer")
                    if op.by_client and op.name == "suspend"
                    else ()
                ),
            )
            command, item_id = op.name, op.item
        run = self._run(argv, command, item_id, op_id)
        with self._lock:
            state = self._state()
            op = state.operations.get(op_id)
            if op is None or op.manual or run.exit_code == 0:
                # assumption: a run that exits 0 without calling back leaves the service in progress
                # (billing.md §7.1: "a module that neither calls back nor reports an error leaves the
                # item stuck"); the fake does not run it again.
                return False
            if op.errorxml == before:  # the module did not record its error itself
                op.errorxml = run.stdout.strip() or error_xml(
                    "module", f"the processing module failed ({run.stderr.strip() or 'no output'})"
                )
            if op.trycount < self._max_tries:
                if self._auto_retry:
                    return True
                with self._cond:
                    self._waiting.append(op_id)
                return False
            # assumption: ISPsystem's modules set manual and open the task themselves past their try
            # limit; when the module did not, the fake does it for BILLmanager (one task per operation).
            op.manual = True
            if not any(t.runningoperation == op_id for t in state.tasks.values()):
                task = Task(state.next_id("task"), op.item, op_id, TASK_TYPES.get(op.name, ""))
                state.tasks[task.id] = task
            return False

    def _refusal(self, features: Features, command: str) -> str:
        """The error document refusing ``command``, or "" when the module declared it."""
        if features.problem:
            return error_xml("features", f"the processing module's features are unknown: {features.problem}")
        if self._item_type not in features.itemtypes:
            return error_xml(
                "features", f"the processing module does not serve item type '{self._item_type}'", "itemtype"
            )
        if command not in features.features:
            return error_xml(
                "features", f"the processing module does not support the command '{command}'", "command"
            )
        return ""

    def _handshake(self) -> Features:
        """``--command features``, run once (the first use) and remembered."""
        with self._features_lock:
            if self._features is None:
                run = self._run(
                    (*self._argv, "--command", _FEATURES),
                    _FEATURES,
                    None,
                    None,
                    timeout=max(self._timeout, _FEATURES_TIMEOUT),
                )
                if run.exit_code != 0:
                    self._features = Features(problem=f"--command features exited with {run.exit_code}")
                else:
                    self._features = parse_features(run.stdout)
            return self._features

    def _run(
        self,
        argv: tuple[str, ...],
        command: str,
        item_id: int | None,
        op_id: int | None,
        *,
        timeout: float | None = None,
    ) -> FakeModuleRun:
        """Run the module once (never under the fake's lock: it calls back into the fake)."""
        env = dict(self._env())
        timeout = self._timeout if timeout is None else timeout
        try:
            done = subprocess.run(  # noqa: S603 - the module the test configured, as an argv list
                argv,
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
            code: int | None = done.returncode
            stdout, stderr = done.stdout, done.stderr
        except subprocess.TimeoutExpired as exc:
            code, stdout = None, _text(exc.stdout)
            stderr = f"{_text(exc.stderr)}killed after module_timeout={timeout}s"
        except OSError as exc:
            code, stdout, stderr = None, "", f"could not start the processing module: {exc.strerror or exc}"
        run = FakeModuleRun(argv, command, item_id, op_id, code, stdout, stderr)
        with self._cond:
            self._runs.append(run)
        return run


def _text(output: str | bytes | None) -> str:
    if isinstance(output, bytes):
        return output.decode("utf-8", errors="replace")
    return output or ""
