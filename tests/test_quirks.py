"""Every registered quirk has evidence cassettes, a marked test and an entry in docs/quirks.md."""

import ast
import re
from pathlib import Path

import pytest

from cloudkit import QUIRKS
from cloudkit._core._quirks import EVIDENCE_KINDS
from cloudkit.testing import cassette_source

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
    cassettes = [e for e in q.sources if e.startswith("cassettes/")]
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


# A cited upstream source: a URL, or a public repository path (``owner/repo path/in/it``).
_UPSTREAM = re.compile(r"^(https?://\S+|[\w.-]+/[\w.-]+ [\w./-]+\.\w+)")


@pytest.mark.parametrize("quirk_id", sorted(QUIRKS))
def test_quirk_evidence_is_backed_by_what_it_claims(quirk_id):
    q = QUIRKS[quirk_id]
    assert q.evidence in EVIDENCE_KINDS
    if q.evidence == "assumption":
        return
    real = [
        e
        for e in q.sources
        if e.startswith("cassettes/") and cassette_source((ROOT / e).read_text()) in {"lab", "live"}
    ]
    cited = [e for e in q.sources if _UPSTREAM.match(e)]
    if q.evidence == "real-service":
        assert real, f"{quirk_id} claims real-service evidence but names no lab or live cassette"
    else:
        assert cited, f"{quirk_id} claims upstream-source evidence but cites no URL or repository path"


def test_quirks_page_shows_the_evidence_split():
    page = (ROOT / "docs" / "quirks.md").read_text()
    for q in QUIRKS.values():
        assert f"**Evidence:** {q.evidence}" in page
    assert "proves only what cloudkit sent" in page


def test_readme_states_the_evidence_split():
    counts = {kind: sum(q.evidence == kind for q in QUIRKS.values()) for kind in EVIDENCE_KINDS}
    readme = (ROOT / "README.md").read_text()
    assert (
        f"Of the {len(QUIRKS)} registered quirks, {counts['real-service']} rest on a recording of the real"
        in " ".join(readme.split())
    )
    assert f"{counts['upstream-source']} on cited upstream source code" in " ".join(readme.split())
    assert f"and {counts['assumption']} on assumptions" in " ".join(readme.split())
