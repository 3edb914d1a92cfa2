"""Everything the repository cites is in the repository (issue 15, item 7).

The design lives in ``docs/architecture.md``. No tracked file may point to a design document a
clone does not have, or to a directory outside the repository: the needles below are built from
parts so that this file does not match itself. ``.ci/`` (the machinery that runs the checks) is
left out.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# A design document outside the repository, and a sibling directory of the checkout.
NEEDLES = ("DESIGN" + ".md", ".." + "/shared")
EXCLUDED_DIRS = {".ci", ".git", ".venv", "node_modules", "__pycache__", "site", "staticfiles"}
# Relative links of the docs pages: [text](target) where the target is a path, not a URL.
MARKDOWN_LINK = re.compile(r"\]\(([^)\s]+)\)")


def tracked_files(root: Path = ROOT) -> list[Path]:
    """The files git tracks (the whole tree, but for build and tool directories, when this is
    not a git checkout)."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return [
            path
            for path in root.rglob("*")
            if path.is_file()
            and not any(part in EXCLUDED_DIRS for part in path.relative_to(root).parts)
        ]
    return [root / name for name in listed.decode().split("\0") if name]


def outside_references(files: list[Path], root: Path = ROOT) -> list[str]:
    """``path:line: needle`` for every line of ``files`` naming one of :data:`NEEDLES`."""
    found = []
    for path in files:
        relative = path.relative_to(root)
        if relative.parts[0] in EXCLUDED_DIRS or not path.is_file():
            continue
        data = path.read_bytes()
        if not any(needle.encode() in data for needle in NEEDLES):
            continue
        for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), start=1):
            for needle in NEEDLES:
                if needle in line:
                    found.append(f"{relative.as_posix()}:{number}: {needle}")
    return found


def test_the_check_finds_a_reference_outside(tmp_path):
    (tmp_path / "a.py").write_text('"""See the contract in ' + NEEDLES[0] + '."""\n')
    (tmp_path / "README.md").write_text("ok\nthe design is in `" + NEEDLES[1] + "/x`\n")
    (tmp_path / ".ci").mkdir()
    (tmp_path / ".ci" / "run").write_text(NEEDLES[0])
    files = [tmp_path / "a.py", tmp_path / "README.md", tmp_path / ".ci" / "run"]
    assert outside_references(files, tmp_path) == [
        f"a.py:1: {NEEDLES[0]}",
        f"README.md:2: {NEEDLES[1]}",
    ]


def test_no_tracked_file_points_outside_the_repository():
    files = tracked_files()
    assert files, "no file found"
    found = outside_references(files)
    assert not found, "point to docs/architecture.md (or the right docs page) instead:\n" + (
        "\n".join(found)
    )


def test_the_architecture_page_links_only_inside_the_docs():
    page = ROOT / "docs" / "architecture.md"
    if not page.is_file():
        pytest.fail("docs/architecture.md is missing")
    targets = MARKDOWN_LINK.findall(page.read_text(encoding="utf-8"))
    assert targets, "the page links to the other docs pages"
    broken = []
    for target in targets:
        if target.startswith(("http://", "https://", "#")):
            continue
        path = (page.parent / target.split("#", 1)[0]).resolve()
        if not path.is_relative_to(ROOT) or not path.exists():
            broken.append(target)
    assert not broken, f"links outside the repository or to missing files: {broken}"
