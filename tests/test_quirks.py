"""Every registered quirk has evidence cassettes, a marked test and an entry in docs/quirks.md."""

import ast
from pathlib import Path

import pytest

from cloudkit import QUIRKS

ROOT = Path(__file__).resolve().parents[1]


def _marked_quirk_ids() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "tests").rglob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "quirk"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                found.add(node.args[0].value)
    return found


MARKED = _marked_quirk_ids()


def test_registry_is_not_empty():
    assert len(QUIRKS) >= 6


@pytest.mark.parametrize("quirk_id", sorted(QUIRKS))
def test_quirk_has_evidence_test_and_docs(quirk_id):
    q = QUIRKS[quirk_id]
    cassettes = [e for e in q.evidence if e.startswith("cassettes/")]
    assert cassettes, f"{quirk_id} names no evidence cassette"
    for cassette in cassettes:
        assert (ROOT / cassette).is_file(), f"{quirk_id}: missing {cassette}"
    assert quirk_id in MARKED, f"no test is marked @pytest.mark.quirk({quirk_id!r})"
    assert f"`{quirk_id}`" in (ROOT / "docs" / "quirks.md").read_text()


def test_docs_quirks_page_is_generated_from_the_registry():
    assert (ROOT / "docs" / "quirks.md").read_text() == QUIRKS.markdown(), (
        "regenerate it: cloudkit quirks --markdown > docs/quirks.md"
    )


def test_every_quirk_handler_is_tagged():
    import cloudkit.billing._quirks as billing_quirks

    tagged = {
        obj.quirk.id for obj in vars(billing_quirks).values() if callable(obj) and hasattr(obj, "quirk")
    }
    assert tagged == {q for q in QUIRKS if q.startswith("billing.")}
