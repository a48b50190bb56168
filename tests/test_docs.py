"""The docs hold together: README.md is a front door, and every relative link in it and in
docs/*.md leads somewhere (a file that exists, a heading that exists).

The docs' Python blocks themselves run in their own pytest run, ``pytest --markdown-docs
README.md docs`` (``make test``; the environment they get is in the top-level conftest.py).
"""

from __future__ import annotations

import ast
import itertools
import re
import subprocess
import unicodedata
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

markdown_it = pytest.importorskip("markdown_it")

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PAGES = sorted((ROOT / "docs").glob("*.md"))
DOCUMENTS = [README, *PAGES]
PYTHON_FENCES = {"py", "python", "python3"}


def tokens(path: Path) -> list:  # type: ignore[type-arg]
    return markdown_it.MarkdownIt("commonmark").parse(path.read_text(encoding="utf-8"))


def inline_children(path: Path) -> list:  # type: ignore[type-arg]
    return [child for token in tokens(path) if token.children for child in token.children]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation and symbols dropped, spaces → -."""
    kept = (
        char
        for char in heading.strip().lower()
        if char in " -_" or unicodedata.category(char)[0] in "LNM"
    )
    return "".join(kept).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    seen: dict[str, int] = {}
    stream = tokens(path)
    for opening, inline in itertools.pairwise(stream):
        if opening.type != "heading_open":
            continue
        text = "".join(child.content for child in inline.children or [])
        base = slug(text)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def relative_links(path: Path) -> list[str]:
    links = []
    for child in inline_children(path):
        target = child.attrs.get("href") if child.type == "link_open" else None
        if child.type == "image":
            target = child.attrs.get("src")
        if target and not urlsplit(str(target)).scheme:
            links.append(str(target))
    return links


def test_the_docs_pages_are_there() -> None:
    names = {page.name for page in PAGES}
    assert names >= {
        "client.md",
        "sandbox.md",
        "form-and-table.md",
        "bulk.md",
        "cli.md",
        "retries-and-safety.md",
        "performance.md",
        "development.md",
    }


def test_the_readme_is_a_front_door() -> None:
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 250
    assert "make lab" in text and "make test" in text
    assert "](docs/form.png)" in text  # the screenshot, made by `make screenshots`
    for page in PAGES:
        assert f"](docs/{page.name})" in text, f"the README does not link to docs/{page.name}"


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda path: path.relative_to(ROOT).as_posix())
def test_every_relative_link_resolves(path: Path) -> None:
    broken = []
    for link in relative_links(path):
        parts = urlsplit(link)
        target = (path.parent / unquote(parts.path)).resolve() if parts.path else path
        if not target.exists():
            broken.append(f"{link}: no such file")
        elif parts.fragment and target.suffix == ".md" and parts.fragment not in anchors(target):
            broken.append(f"{link}: no heading #{parts.fragment} in {target.name}")
    assert not broken, "\n".join(broken)


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda path: path.relative_to(ROOT).as_posix())
def test_every_code_block_says_what_it_is(path: Path) -> None:
    """A block without a language would be neither run nor highlighted; ``notest`` is kept for
    the blocks that say in the page why they cannot run."""
    for token in tokens(path):
        if token.type != "fence":
            continue
        line = token.map[0] + 1 if token.map else 0
        words = token.info.split()
        assert words, f"{path.name}:{line}: a code block with no language (python, text, console…)"
        if words[0] in PYTHON_FENCES and "notest" in words:
            before = path.read_text(encoding="utf-8").splitlines()[max(0, line - 6) : line]
            assert any(re.search(r"\bnot run\b|\bcannot run\b", text) for text in before), (
                f"{path.name}:{line}: a notest block without a word on why it cannot run"
            )


def test_slugs_follow_github() -> None:
    assert slug("Retries: why a create is never duplicated") == (
        "retries-why-a-create-is-never-duplicated"
    )
    assert slug("`cmnb.connect()`: LIVE with a key, the sandbox without") == (
        "cmnbconnect-live-with-a-key-the-sandbox-without"
    )
    assert slug("Bulk setup: `create_many`") == "bulk-setup-create_many"


DEVELOPMENT = ROOT / "docs" / "development.md"
CMNB = ROOT / "cmnb"


def top_level_names(path: Path) -> set[str]:
    """What a module defines itself (functions, classes, assignments), not what it imports."""
    names: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(target.id for target in node.targets if isinstance(target, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def concern_rows() -> list[tuple[str, str]]:
    text = DEVELOPMENT.read_text(encoding="utf-8")
    table = text.split("## Where each concern lives", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| ") and "`cmnb/" in line]
    return [(row.split(" | ")[0].strip("| "), row.rsplit(" | ", 1)[1]) for row in rows]


def test_where_each_concern_lives_names_files_and_names_that_exist() -> None:
    """Other work moves code around: the table in docs/development.md must follow it."""
    rows = concern_rows()
    assert len(rows) > 20
    wrong = []
    for concern, where in rows:
        path: Path | None = None
        for span in re.findall(r"`([^`]+)`", where):
            if span.endswith(".py"):
                path = ROOT / span
                if not path.is_file():
                    wrong.append(f"{concern}: {span} does not exist")
                    path = None
            elif path is not None and span not in top_level_names(path):
                wrong.append(f"{concern}: {span} is not defined in {path.relative_to(ROOT)}")
    assert not wrong, "docs/development.md, 'Where each concern lives':\n" + "\n".join(wrong)


def committed_modules() -> list[Path]:
    """cmnb's modules as git knows them (a colleague's scratch file is not the layout yet);
    every ``*.py`` under cmnb/ outside a git checkout."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "cmnb"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        return list(CMNB.rglob("*.py"))
    return [ROOT / name for name in listed if name.endswith(".py") and (ROOT / name).is_file()]


def test_the_layout_drawn_is_the_layout() -> None:
    """Every module of cmnb/ is in the drawn tree of docs/development.md, and nothing else."""
    text = DEVELOPMENT.read_text(encoding="utf-8")
    tree = text.split("## Layout", 1)[1].split("```text", 1)[1].split("```", 1)[0]
    drawn = set(re.findall(r"[\w.]+\.py\b", tree))
    modules = {path.name for path in committed_modules()}
    assert sorted(modules - drawn) == [], "modules missing from the layout in docs/development.md"
    assert sorted(drawn - modules) == [], "the layout in docs/development.md names modules gone"
