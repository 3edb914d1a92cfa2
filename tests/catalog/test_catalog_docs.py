"""docs/catalog.md says what an operator or an integrator needs, and stays true: every catalog
setting is documented (and in .env.example), the base URL has its exact form, the Flask Sales
Tracker's variables are given, and every sync_catalog option it names exists."""

from __future__ import annotations

import re
from pathlib import Path

from products.management.commands.sync_catalog import Command as SyncCatalog

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "catalog.md"


def doc_text() -> str:
    assert DOC.is_file(), "docs/catalog.md is missing"
    return DOC.read_text(encoding="utf-8")


def catalog_settings() -> set[str]:
    settings_py = "\n".join(
        path.read_text(encoding="utf-8")
        for path in sorted((ROOT / "salesproject" / "settings").glob("*.py"))
    )
    names = set(re.findall(r'_env_\w+\(\s*"(CATALOG_\w+)"', settings_py))
    names |= set(re.findall(r'env\.str\(\s*"(CATALOG_\w+)"', settings_py))
    assert {"CATALOG_BACKEND", "CATALOG_API_URL", "CATALOG_SALE_DEADLINE"} <= names, names
    return names


def test_every_catalog_setting_is_documented_and_in_the_env_example():
    text = doc_text()
    env_example = (ROOT / ".env.example").read_text(encoding="utf-8")
    for name in sorted(catalog_settings()):
        assert f"{name}=" in text, f"docs/catalog.md does not show how to set {name}"
        assert name in env_example, f".env.example does not list {name}"


def test_the_base_url_is_given_in_its_exact_form():
    text = doc_text()
    assert "`http://HOST:PORT/api`" in text
    assert "no trailing slash" in text.lower()
    for url in re.findall(r"(?:CATALOG_API_URL|PRODUCT_CATALOG_API_URL)=(\S+)", text):
        assert re.fullmatch(r"https?://[\w.\-]+(:\d+)?/api", url), url


def test_the_flask_sales_tracker_setup_names_its_variables():
    text = doc_text()
    section = text.split("### The Flask Sales Tracker", 1)[1].split("\n### ", 1)[0]
    assert "PRODUCT_CATALOG_API_URL=http://" in section
    assert "PRODUCT_CATALOG_API_KEY=" in section
    assert "create_api_key" in text


def test_every_sync_catalog_option_the_doc_names_exists():
    parser = SyncCatalog().create_parser("manage.py", "sync_catalog")
    known = {option for action in parser._actions for option in action.option_strings}
    options = set(re.findall(r"(?<![\w-])--[a-z][\w-]*", doc_text()))  # the only command there
    assert {"--adopt-by-sku", "--dry-run", "--deactivate-unmatched", "--ids"} <= options
    assert options <= known, options - known
