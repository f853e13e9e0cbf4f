"""CI: the sdist and the wheel hold what an installed cloudkit needs, under the one version.

Usage: python .ci/check_dist.py DIST_DIR (the folder ``python -m build`` wrote). Checks that there is one
sdist and one wheel named with ``cloudkit.__version__`` (read from src/cloudkit/__init__.py, the version's
one source), that every file of the package under src/cloudkit (data files included: templates, JSON,
constraints, py.typed) is in the wheel, that the wheel holds no test or cache file, and that the sdist
carries the files a rebuild needs. Exit status 1 with every problem listed.
"""

import re
import sys
import tarfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "cloudkit"
SDIST_NEEDS = ("pyproject.toml", "README.md", "CHANGELOG.md", "LICENSE", "src/cloudkit/__init__.py")


def main(dist: Path) -> int:
    """Check ``dist``; the exit status."""
    version = re.search(r'^__version__ = "([^"]+)"', (PACKAGE / "__init__.py").read_text(), re.MULTILINE)
    assert version, "src/cloudkit/__init__.py sets no __version__"
    problems: list[str] = []
    wheels = sorted(dist.glob("cloudkit-*.whl"))
    sdists = sorted(dist.glob("cloudkit-*.tar.gz"))
    if len(wheels) != 1 or len(sdists) != 1:
        print(f"expected one wheel and one sdist in {dist}, found {wheels + sdists}")
        return 1
    problems += [
        f"{built.name} is not named with version {version[1]}"
        for built in (wheels[0], sdists[0])
        if f"cloudkit-{version[1]}" not in built.name
    ]
    with zipfile.ZipFile(wheels[0]) as wheel:
        in_wheel = set(wheel.namelist())
    wanted = {
        path.relative_to(PACKAGE.parent).as_posix()
        for path in PACKAGE.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }
    problems += [f"wheel lacks {name}" for name in sorted(wanted - in_wheel)]
    problems += [
        f"wheel holds {name}"
        for name in sorted(in_wheel)
        if "__pycache__" in name or name.startswith(("tests/", "cassettes/", "docs/"))
    ]
    with tarfile.open(sdists[0]) as sdist:
        in_sdist = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    problems += [f"sdist lacks {name}" for name in SDIST_NEEDS if name not in in_sdist]
    problems += [f"sdist holds {name}" for name in sorted(in_sdist) if name.startswith((".venv/", "site/"))]
    for problem in problems:
        print(problem)
    print(f"{wheels[0].name}: {len(in_wheel)} files; {sdists[0].name}: {len(in_sdist)} files")
    print(f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
