"""The documentation site and the README front door (issue 16, item 8).

Every environment variable the settings read is documented in docs/configuration.md and listed in
.env.example; every page of docs/ is in the MkDocs nav; the README stays a front door; the docs
name nothing of the machine the figures were measured on.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
# Words that speak of the place a document was written in, not of the project.
OUTSIDE_WORDS = re.compile(
    r"\bthis (virtual )?machine\b|\brun at \d{1,2}:\d{2}\b|\bother engineers\b", re.I
)
# A call that reads a variable: env.str("NAME"…), _env_int("NAME"…), env_origins("NAME"…),
# os.environ.get("NAME"…), os.getenv("NAME"…).
READ = re.compile(
    r'(?:\b_?env(?:_[a-z_]+)?|env\.[a-z_]+|environ\.get|getenv)\(\s*"([A-Z][A-Z0-9_]+)"'
)
# Read by the settings but not configuration (the test suite's own switches, if any).
NOT_SETTINGS: set[str] = set()


def settings_variables() -> set[str]:
    sources = [p for p in (ROOT / "salesproject").rglob("*.py") if "settings" in p.as_posix()]
    sources.append(ROOT / "salesproject" / "environment.py")
    names: set[str] = set()
    for path in sources:
        names |= set(READ.findall(path.read_text()))
    return names - NOT_SETTINGS


def test_the_scan_finds_the_variables_of_the_settings():
    names = settings_variables()
    # A sample of each way the settings read a variable.
    assert {"DATABASE_URL", "DEBUG", "API_PAGE_SIZE", "CORS_ALLOWED_ORIGINS", "CURRENCY"} <= names


def test_every_variable_is_documented_in_the_configuration_page():
    documented = (DOCS / "configuration.md").read_text()
    missing = sorted(n for n in settings_variables() if f"`{n}`" not in documented)
    assert missing == [], f"not in docs/configuration.md: {missing}"


def test_every_variable_is_in_env_example():
    example = (ROOT / ".env.example").read_text()
    listed = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", example, re.MULTILINE))
    # READ_DOT_ENV decides whether .env is read at all: it is set in the environment, not in .env.
    missing = sorted(settings_variables() - listed - {"READ_DOT_ENV"})
    assert missing == [], f"not in .env.example: {missing}"


def nav_pages(items) -> set[str]:
    pages: set[str] = set()
    for item in items:
        if isinstance(item, str):
            pages.add(item)
        elif isinstance(item, dict):
            for value in item.values():
                pages |= nav_pages(value) if isinstance(value, list) else {value}
    return pages


def test_every_docs_page_is_in_the_nav():
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    in_nav = nav_pages(config["nav"])
    pages = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    assert sorted(pages - in_nav) == [], "add these pages to mkdocs.yml's nav"
    assert sorted(in_nav - pages) == [], "the nav names pages that do not exist"


def test_readme_is_a_front_door():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 250
    for image in re.findall(r"!\[[^]]*\]\(([^)]+)\)", readme):
        assert (ROOT / image).is_file(), f"README shows {image}, which is not in the repository"


def test_the_docs_name_nothing_of_the_machine_or_the_hour_of_a_run():
    found = []
    for path in [ROOT / "README.md", *DOCS.rglob("*.md")]:
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if OUTSIDE_WORDS.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:80]}")
    assert found == []
