"""The documentation site: every page is in the nav and every nav entry is a page, and the
Python code blocks of the pages run (as a user runs them: standard dtype promotion, in a
fresh folder; ``../shared/data`` means the project's data folder).

A block is marked by an HTML comment on the line before its fence:
``<!-- docs-test: slow -->`` (runs in the slow tier), ``<!-- docs-test: skip -->`` (a
schematic, never run). Blocks that include a file by ``--8<--`` (the gallery's examples) are
run by tests/test_examples.py instead. The blocks of one page run in order in one namespace.
"""

import pathlib
import re

import jax
import pytest

from tests.conftest import SHARED_DATA

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
BLOCK = re.compile(r"(?:<!-- docs-test: (?P<mark>\w+)[^>]*-->\n)?```python\n(?P<code>.*?)```", re.S)


def nav_pages() -> list[str]:
    """The ``*.md`` paths of mkdocs.yml's nav (commented-out entries excluded)."""
    text = (ROOT / "mkdocs.yml").read_text()
    nav = text[text.index("\nnav:"):]
    return [m.group(1) for line in nav.splitlines() if not line.lstrip().startswith("#")
            for m in [re.search(r":\s*(\S+\.md)\s*$", line)] if m]


def doc_pages() -> list[str]:
    return sorted(p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md"))


def blocks(page: str) -> list[tuple[str | None, str]]:
    out = []
    for m in BLOCK.finditer((DOCS / page).read_text()):
        if not m.group("code").lstrip().startswith("--8<--"):
            out.append((m.group("mark"), m.group("code")))
    return out


def test_every_page_is_in_the_nav_and_every_nav_entry_is_a_page():
    nav = nav_pages()
    assert len(nav) == len(set(nav)), "a page is twice in the nav"
    assert sorted(nav) == doc_pages(), (
        f"not in the nav: {sorted(set(doc_pages()) - set(nav))}; no such page: {sorted(set(nav) - set(doc_pages()))}")


def test_the_site_fetches_nothing_at_build_time():
    config = (ROOT / "mkdocs.yml").read_text()
    assert re.search(r"^  font: false$", config, re.M), "theme.font must be false (no web fonts)"
    assert "http" not in config, "mkdocs.yml must not name remote resources"


def test_marks_are_known():
    for page in doc_pages():
        for mark, _ in blocks(page):
            assert mark in (None, "slow", "skip"), f"{page}: unknown docs-test mark {mark!r}"


def _run(page: str, tmp_path, monkeypatch, tier: str) -> None:
    todo = [(mark, code) for mark, code in blocks(page) if mark != "skip"]
    if tier == "default":
        todo = [(m, c) for m, c in todo if m is None]
    if any("../shared/data" in code for _, code in todo) and not pathlib.Path(SHARED_DATA).is_dir():
        pytest.skip("../shared/data is absent")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__docs__"}
    with jax.numpy_dtype_promotion("standard"):
        for i, (_, code) in enumerate(todo):
            code = code.replace('"../shared/data', '"' + SHARED_DATA)
            try:
                exec(compile(code, f"{page} block {i}", "exec"), namespace)
            except ModuleNotFoundError as e:  # an optional extra (pyscipopt, ...) not installed
                pytest.skip(f"{page}: {e}")


PAGES_DEFAULT = [p for p in doc_pages() if any(m is None for m, _ in blocks(p))]
PAGES_SLOW = [p for p in doc_pages() if any(m == "slow" for m, _ in blocks(p))]


@pytest.mark.parametrize("page", PAGES_DEFAULT)
def test_code_blocks_run(page, tmp_path, monkeypatch):
    _run(page, tmp_path, monkeypatch, "default")


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES_SLOW)
def test_slow_code_blocks_run(page, tmp_path, monkeypatch):
    _run(page, tmp_path, monkeypatch, "slow")
