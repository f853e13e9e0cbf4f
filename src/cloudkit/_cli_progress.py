"""Progress of long ``cloudkit`` work on stderr: one small display for ``lab``, ``record`` and sweeps.

Progress is shown only when stderr is a terminal or the command got ``--progress``, and never with
``--json`` (stdout then carries one JSON document and stderr stays quiet unless something fails). On a
terminal a counter is rewritten in place; a finished phase is a line of its own, prefixed with the task.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import TextIO

__all__ = ["Progress", "add_progress_flag", "progress_for"]

_BAR = 30
_QUIET_SECONDS = 1.0  # off a terminal, a counter line at most this often (a log is not a screen)


def add_progress_flag(parser: argparse.ArgumentParser) -> None:
    """Give a command the ``--progress`` flag (progress on stderr even when it is not a terminal).

    Example:
        >>> import argparse
        >>> parser = argparse.ArgumentParser()
        >>> add_progress_flag(parser)
        >>> parser.parse_args(["--progress"]).progress
        True
    """
    parser.add_argument(
        "--progress", action="store_true", help="show progress on stderr even when it is not a terminal"
    )


class Progress:
    """Phases and counters of one task (``lab up``, ``record billing``, ``sweep``) on a stream.

    A disabled progress (``stream=None``) accepts every call and writes nothing, so callers never
    branch on it.

    Example:
        >>> import io
        >>> out = io.StringIO()
        >>> progress = Progress(out, "lab install", clock=lambda: 0.0)
        >>> progress.phase("nova venv built")
        >>> progress.count("venvs", 1, 2)
        >>> progress.count("venvs", 1, 2)  # off a terminal, not again within a second
        >>> progress.close()
        >>> print(out.getvalue())
        lab install: [   0.0s] nova venv built
        lab install: [   0.0s] venvs 1/2 [###############               ]
        >>> Progress(None, "quiet").phase("nothing is written")
    """

    def __init__(
        self, stream: TextIO | None, task: str, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        """Report ``task`` on ``stream`` (``None``: report nothing); times are counted from now."""
        self.stream = stream
        self.task = task
        self._clock = clock
        self._started = clock()
        self._width = 0  # of the counter line now on screen, 0 when none is
        self._last_line: float | None = None  # when a counter line was last written off a terminal

    @property
    def enabled(self) -> bool:
        """Whether anything is written."""
        return self.stream is not None

    def _prefix(self) -> str:
        return f"{self.task}: [{self._clock() - self._started:6.1f}s]"

    def phase(self, text: str) -> None:
        """A finished phase (``mariadb up``): a line of its own, after any counter on screen."""
        if self.stream is None:
            return
        self._clear()
        self.stream.write(f"{self._prefix()} {text}\n")
        self.stream.flush()

    def count(self, what: str, done: int, total: int | None = None) -> None:
        """``done`` of ``total`` (``None`` when unknown): rewritten in place on a terminal; elsewhere a
        line, at most one a second (and always the last, ``done == total``).
        """  # noqa: D205 (the summary runs over two lines)
        if self.stream is None:
            return
        if total:
            bar = "#" * (_BAR * min(done, total) // total)
            text = f"{self._prefix()} {what} {done}/{total} [{bar:<{_BAR}}]"
        else:
            text = f"{self._prefix()} {what} {done:,}"
        if not self.stream.isatty():
            moment = self._clock()
            finished = total is not None and done >= total
            if not finished and self._last_line is not None and moment - self._last_line < _QUIET_SECONDS:
                return
            self._last_line = moment
            self.stream.write(text + "\n")
        else:
            self._width = max(self._width, len(text))
            self.stream.write("\r" + text.ljust(self._width))
        self.stream.flush()

    def close(self) -> None:
        """Clear a counter left on screen (the terminal line is free again)."""
        if self.stream is not None:
            self._clear()
            self.stream.flush()

    def _clear(self) -> None:
        if self.stream is not None and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self._width = 0


def progress_for(args: argparse.Namespace, err: TextIO, task: str) -> Progress:
    """The progress of ``task`` as the command line asked: on ``err`` when it is a terminal or with
    ``--progress``; never with ``--json``.

    Example:
        >>> import argparse, io
        >>> progress_for(argparse.Namespace(progress=True, json=False), io.StringIO(), "record").enabled
        True
        >>> progress_for(argparse.Namespace(progress=True, json=True), io.StringIO(), "record").enabled
        False
        >>> progress_for(argparse.Namespace(), io.StringIO(), "record").enabled
        False
    """  # noqa: D205 (the condition is the summary)
    wanted = bool(getattr(args, "progress", False)) or err.isatty()
    return Progress(err if wanted and not getattr(args, "json", False) else None, task)
