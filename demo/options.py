"""The options of a demo load (``seed_demo``'s sizes and seed), validated."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from demo.vocabulary import CATEGORY_TEMPLATES

DEFAULTS = {
    "seed": 42,
    "customers": 2000,
    "products": 500,
    "categories": 12,
    "sales": 50_000,
    "days": 730,
}


class DemoDataError(Exception):
    """A request the demo data cannot honour (bad option, database not empty, ...)."""


# --- Options ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoOptions:
    seed: int = DEFAULTS["seed"]
    customers: int = DEFAULTS["customers"]
    products: int = DEFAULTS["products"]
    categories: int = DEFAULTS["categories"]
    sales: int = DEFAULTS["sales"]
    days: int = DEFAULTS["days"]
    anchor: date | None = None  # None: today (UTC)

    @property
    def anchor_day(self) -> date:
        return self.anchor or datetime.now(UTC).date()

    def errors(self) -> list[str]:
        """Problems with the options, each naming its command-line option."""
        problems = []
        for name in ("seed", "customers", "products", "categories", "sales", "days"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                problems.append(f"--{name} must be a whole number >= 0 (got {value!r}).")
        if problems:
            return problems
        if self.categories > len(CATEGORY_TEMPLATES):
            problems.append(
                f"--categories must be at most {len(CATEGORY_TEMPLATES)} "
                f"(the built-in category list), got {self.categories}."
            )
        if self.products > 0 and self.categories < 1:
            problems.append("--categories must be at least 1 when --products is above 0.")
        if self.sales > 0 and self.products < 1:
            problems.append("--products must be at least 1 when --sales is above 0.")
        if not 1 <= self.days <= 36_500:
            problems.append(f"--days must be between 1 and 36500, got {self.days}.")
        if self.anchor is not None and self.anchor > datetime.now(UTC).date():
            problems.append(f"--anchor-date must not be in the future, got {self.anchor}.")
        return problems
