"""The docs site's table of contents (mkdocs.yml) and its sources agree, checked without building.

CI builds the site with ``mkdocs build --strict`` (about 15 to 30 s, too slow for every test run); these
checks take milliseconds and catch the usual mistakes first: a page added to docs/ and not to the nav,
a nav entry whose page is gone, a public package without its API reference page.
"""

import importlib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PUBLIC_PACKAGES = (
    "cloudkit",
    "cloudkit.errors",
    "cloudkit.billing",
    "cloudkit.openstack",
    "cloudkit.tungsten",
    "cloudkit.session",
    "cloudkit.platform",
    "cloudkit.lifecycle",
    "cloudkit.testing",
    "cloudkit.testing.fakes",
)


def _nav_pages(entries) -> list[str]:
    pages = []
    for entry in entries:
        value = next(iter(entry.values())) if isinstance(entry, dict) else entry
        pages.extend(_nav_pages(value) if isinstance(value, list) else [value])
    return pages


def _config() -> dict:
    return yaml.safe_load((ROOT / "mkdocs.yml").read_text())


def test_every_page_is_in_the_nav_and_every_nav_entry_is_a_page():
    nav = _nav_pages(_config()["nav"])
    sources = {str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md")}
    assert sorted(sources - set(nav)) == [], "add these pages to the nav in mkdocs.yml"
    assert [page for page in nav if not (DOCS / page).exists()] == []  # the notebook included
    assert len(nav) == len(set(nav))


def test_every_public_package_has_its_api_reference_page():
    rendered = {
        line.removeprefix("::: ").strip()
        for page in (DOCS / "reference").glob("*.md")
        for line in page.read_text().splitlines()
        if line.startswith("::: ")
    }
    assert rendered == set(PUBLIC_PACKAGES)
    for name in PUBLIC_PACKAGES:  # each one a real module with an __all__ for the page to show
        assert importlib.import_module(name).__all__
