"""``cloudkit console``: the operator console on a loopback port (docs/console.md).

The operator token comes from ``CLOUDKIT_CONSOLE_TOKEN``; without it a new random token is written to a
file only its owner can read (mode 0600) and the file's path is printed, never the token itself.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from cloudkit._core._secret import Secret
from cloudkit._core._settings import EnvReader

if TYPE_CHECKING:
    from cloudkit.lifecycle.console import ConsoleServer

__all__ = ["DEFAULT_PORT", "add_console", "console_token", "run_console"]

DEFAULT_PORT = 8470
"""The console's default port."""
TOKEN_BYTES = 32  # 256 random bits, URL-safe: typed or pasted once per start


def add_console(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``console`` to the ``cloudkit`` command's subparsers; ``args.handler`` runs it.

    Example:
        >>> import argparse
        >>> from cloudkit._cli_console import add_console
        >>> parser = argparse.ArgumentParser(prog="cloudkit")
        >>> _ = add_console(parser.add_subparsers(dest="command"))
        >>> args = parser.parse_args(["console", "--port", "9000"])
        >>> args.host, args.port, args.handler.__name__
        ('127.0.0.1', 9000, 'run_console')
    """
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "console",
        help="the operator console on 127.0.0.1: stuck sagas, stop decisions, findings (docs/console.md)",
        description=__doc__.replace("``", "") if __doc__ else None,
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to listen on (127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    parser.add_argument(
        "--token-file",
        type=Path,
        default=None,
        help="without CLOUDKIT_CONSOLE_TOKEN: where the new token is written "
        "(default $XDG_STATE_HOME/cloudkit/console-token)",
    )
    parser.set_defaults(handler=run_console)
    return parser


def default_token_file(environ: Mapping[str, str]) -> Path:
    """``$XDG_STATE_HOME/cloudkit/console-token``, else ``~/.local/state/cloudkit/console-token``.

    Example:
        >>> from cloudkit._cli_console import default_token_file
        >>> str(default_token_file({"XDG_STATE_HOME": "/var/lib/portal"}))
        '/var/lib/portal/cloudkit/console-token'
    """
    base = environ.get("XDG_STATE_HOME") or str(Path(environ.get("HOME") or Path.home()) / ".local" / "state")
    return Path(base) / "cloudkit" / "console-token"


def console_token(environ: Mapping[str, str], token_file: Path | None = None) -> tuple[Secret, Path | None]:
    """The operator token and, when it was made here, the file it was written to.

    ``CLOUDKIT_CONSOLE_TOKEN`` wins (no file). Otherwise a new token is written to ``token_file``
    (default :func:`default_token_file`), created or replaced with mode 0600 in a 0700 folder.

    Example:
        >>> from cloudkit._cli_console import console_token
        >>> console_token({"CLOUDKIT_CONSOLE_TOKEN": "from-the-environment-123"})
        (Secret('***'), None)
    """
    given = EnvReader.of("CLOUDKIT_CONSOLE_", environ, system="lifecycle").optional("TOKEN")
    if given:
        return Secret(given), None
    path = token_file or default_token_file(environ)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    # O_NOFOLLOW: a symlink planted at the path is refused, not followed; fchmod fixes an older file's mode.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, f"{token}\n".encode())
    finally:
        os.close(fd)
    return Secret(token), path


def _block(server: ConsoleServer) -> None:
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how the operator stops it
        server.wait()


def run_console(
    args: argparse.Namespace,
    out: TextIO | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    until: Callable[[ConsoleServer], None] = _block,
) -> int:
    """Serve the console for the lifecycle of the ``CLOUDKIT_*`` settings until ``until`` returns (Ctrl-C).

    Example:
        >>> import argparse, io, os
        >>> from cloudkit._cli_console import run_console
        >>> args = argparse.Namespace(host="127.0.0.1", port=0, token_file=None)
        >>> env = {"CLOUDKIT_LIFECYCLE_DB": "sqlite://",
        ...        "CLOUDKIT_CONSOLE_TOKEN": "a-long-operator-token-1234"}
        >>> out = io.StringIO()
        >>> run_console(args, out, environ=env, until=lambda server: None)
        0
        >>> print(out.getvalue())
        cloudkit console on http://127.0.0.1:...
        operator token: CLOUDKIT_CONSOLE_TOKEN
        ...
    """
    from cloudkit.lifecycle import Lifecycle  # noqa: PLC0415 (SQLAlchemy loads with it)

    try:
        from cloudkit.lifecycle.console import serve  # noqa: PLC0415 (Flask: an optional extra)
    except ModuleNotFoundError as exc:
        sys.stderr.write(f"cloudkit console needs Flask: pip install 'cloudkit[console]' ({exc})\n")
        return 2
    out = out or sys.stdout
    env = dict(os.environ) if environ is None else environ
    token, written = console_token(env, args.token_file)
    with Lifecycle.from_env(env) as lifecycle:
        server = serve(lifecycle, host=args.host, port=args.port, token=token)
        try:
            out.write(f"cloudkit console on {server.url}\n")
            where = f"in {written} (mode 0600; new each start)" if written else "CLOUDKIT_CONSOLE_TOKEN"
            out.write(f"operator token: {where}\n")
            out.write("stop with Ctrl-C\n")
            out.flush()
            until(server)
        finally:
            server.stop()
    return 0
