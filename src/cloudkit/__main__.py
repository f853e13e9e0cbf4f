"""``python -m cloudkit``: the ``cloudkit`` command, for when the script is not on ``PATH``.

Example:
    >>> import subprocess, sys
    >>> done = subprocess.run([sys.executable, "-m", "cloudkit", "--help"], capture_output=True, text=True)
    >>> done.returncode, done.stdout.startswith("usage: cloudkit ")
    (0, True)
"""

from cloudkit.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
