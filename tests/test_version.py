"""The version has one source (cloudkit.__version__) and the changelog names it."""

import importlib.metadata
import re
from pathlib import Path

import cloudkit

ROOT = Path(__file__).resolve().parent.parent


def test_the_installed_metadata_carries_cloudkits_own_version():
    assert importlib.metadata.version("cloudkit") == cloudkit.__version__


def test_pyproject_does_not_state_a_second_version():
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert re.search(r"^version\s*=", pyproject, re.MULTILINE) is None
    assert 'dynamic = ["version"]' in pyproject


def test_the_changelog_opens_with_the_current_version():
    first = re.search(r"^## (\S+)", (ROOT / "CHANGELOG.md").read_text(), re.MULTILINE)
    assert first is not None
    assert first[1] == cloudkit.__version__
