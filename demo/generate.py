"""What the demo data looks like: deterministic generation, no database.

Every entity kind draws from its own ``random.Random`` stream seeded from ``--seed`` (never the
global ``random``), so the same seed, sizes and anchor day give the same rows, and changing
``--sales`` does not change the customers or products. Time is relative to an *anchor day*
(default: today at 00:00 UTC): sales fall on the ``days`` days before the anchor, between 08:00
and 20:00 UTC.
"""

from __future__ import annotations

import math
import random
import unicodedata
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import accumulate

from customers.models import CustomerSegment
from demo.options import DemoOptions
from demo.vocabulary import (
    BLACK_FRIDAY_FACTOR,
    BRANDS,
    CATEGORY_TEMPLATES,
    COMPANY_NAMES,
    CONSUMER_EMAIL_DOMAINS,
    COUNTRIES,
    FIRST_NAMES,
    GROWTH_OVER_WINDOW,
    HOUR_WEIGHTS,
    LAST_NAMES,
    LINE_COUNT_WEIGHTS,
    MONTH_FACTORS,
    QUANTITY_WEIGHTS,
    SEGMENTS,
    SPECIAL_DAYS,
    WEEKDAY_FACTORS,
    CategoryTemplate,
)

NO_CUSTOMER_RATE = 0.08
CANCEL_RATE = 0.03
BUSINESS_HOURS = (8, 20)  # sales happen from 08:00 to 19:59:59 UTC
DAY = 86_400


@dataclass(frozen=True)
class CustomerSpec:
    name: str
    email: str
    phone: str
    city: str
    country: str
    segment: str
    created_at: int  # epoch seconds, UTC
    weight: float  # relative purchase frequency
    quantity_profile: str


@dataclass(frozen=True)
class ProductSpec:
    sku: str
    name: str
    category: int  # index into the generated categories
    price_cents: int
    cost_cents: int
    final_stock: int
    created_at: int
    popularity: float


# One generated sale: (reference, customer index or None, sold_at, cancelled_at or None,
# total in cents, lines) with lines (product index, quantity, unit price, unit cost, line total).
SaleLineSpec = tuple[int, int, int, int, int]
SaleSpec = tuple[str, int | None, int, int | None, int, list[SaleLineSpec]]


def _ascii_slug(text: str, sep: str = ".") -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    words = "".join(ch if ch.isalnum() else " " for ch in plain).split()
    return sep.join(words)


def _cumulative(weights: Sequence[float]) -> list[float]:
    return list(accumulate(weights))


def _pick(rng: random.Random, cumulative: list[float]) -> int:
    """Index drawn with the weights behind ``cumulative`` (like ``rng.choices``, but cheaper)."""
    index = bisect_right(cumulative, rng.random() * cumulative[-1])
    return min(index, len(cumulative) - 1)


class DemoDataGenerator:
    """Generates the demo rows; nothing here touches the database."""

    def __init__(self, options: DemoOptions) -> None:
        self.options = options
        self.anchor_day = options.anchor_day
        self.anchor_ts = int(datetime(*self.anchor_day.timetuple()[:3], tzinfo=UTC).timestamp())
        self.start_ts = self.anchor_ts - options.days * DAY
        self.start_day = self.anchor_day - timedelta(days=options.days)
        self._customers: list[CustomerSpec] | None = None
        self._products: list[ProductSpec] | None = None

    def _rng(self, stream: str) -> random.Random:
        # A str seed is hashed with SHA-512: stable across runs and PYTHONHASHSEED values.
        return random.Random(f"seed_demo:{self.options.seed}:{stream}")

    # Categories, customers, products: small, kept in memory.

    def categories(self) -> list[CategoryTemplate]:
        return list(CATEGORY_TEMPLATES[: self.options.categories])

    def customers(self) -> list[CustomerSpec]:
        if self._customers is not None:
            return self._customers
        rng = self._rng("customers")
        country_cum = _cumulative([weight for _, weight, _, _ in COUNTRIES])
        segment_cum = _cumulative([weight for _, weight, _, _ in SEGMENTS])
        emails: set[str] = set()
        result = []
        for _ in range(self.options.customers):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            country, _, phone_template, cities = COUNTRIES[_pick(rng, country_cum)]
            city = rng.choice(cities)
            segment, _, frequency, quantity_profile = SEGMENTS[_pick(rng, segment_cum)]
            if segment == CustomerSegment.CONSUMER:
                domain = rng.choice(CONSUMER_EMAIL_DOMAINS)
            else:
                domain = f"{_ascii_slug(rng.choice(COMPANY_NAMES), '-')}.example"
            local = f"{_ascii_slug(first)}.{_ascii_slug(last)}"
            email, suffix = f"{local}@{domain}", 1
            while email in emails:
                suffix += 1
                email = f"{local}{suffix}@{domain}"
            emails.add(email)
            phone = "".join(str(rng.randrange(10)) if ch == "#" else ch for ch in phone_template)
            result.append(
                CustomerSpec(
                    name=f"{first} {last}",
                    email=email,
                    phone=phone,
                    city=city,
                    country=country,
                    segment=str(segment),
                    created_at=self.start_ts - rng.randrange(DAY, 730 * DAY),
                    weight=rng.lognormvariate(0.0, 1.0) * frequency,
                    quantity_profile=quantity_profile,
                )
            )
        self._customers = result
        return result

    def products(self) -> list[ProductSpec]:
        if self._products is not None:
            return self._products
        rng = self._rng("products")
        templates = self.categories()
        category_cum = _cumulative([rng.uniform(0.5, 1.5) for _ in templates])
        per_category: dict[int, int] = {}
        result = []
        for index in range(self.options.products):
            # Every category gets a product first, then they fill up unevenly.
            category = index if index < len(templates) else _pick(rng, category_cum)
            template = templates[category]
            per_category[category] = per_category.get(category, 0) + 1
            name = f"{rng.choice(BRANDS)} {rng.choice(template.items)}"
            if rng.random() < 0.7:
                name = f"{name}, {rng.choice(template.variants)}"
            low, high = template.price_range
            price = math.exp(rng.uniform(math.log(low), math.log(high)))
            price_cents = self._charm_price(price)
            margin = rng.uniform(0.20, 0.60)
            cost_cents = max(1, min(price_cents - 1, round(price_cents * (1 - margin))))
            final_stock = 0 if rng.random() < 0.04 else int(rng.triangular(5, 400, 60))
            popularity = rng.lognormvariate(0.0, 0.9) * (20 / max(price, 5)) ** 0.35
            result.append(
                ProductSpec(
                    sku=f"{template.sku_prefix}-{per_category[category]:05d}",
                    name=name,
                    category=category,
                    price_cents=price_cents,
                    cost_cents=cost_cents,
                    final_stock=final_stock,
                    created_at=self.start_ts - rng.randrange(DAY, 400 * DAY),
                    popularity=popularity,
                )
            )
        self._products = result
        return result

    @staticmethod
    def _charm_price(price: float) -> int:
        """Shop prices: 4.49, 7.99, 24.99, 149.99, 1299.00 ..."""
        if price < 10:
            return int(price) * 100 + (49 if price % 1 < 0.5 else 99)
        if price < 100:
            return int(price) * 100 + 99
        if price < 1000:
            return (int(price / 5) * 5 + 4) * 100 + 99
        return int(price / 50) * 50 * 100 + 4900

    # Sales: streamed.

    def day_weights(self) -> list[float]:
        rng = self._rng("days")
        weights = []
        days = self.options.days
        for index in range(days):
            day = self.start_day + timedelta(days=index)
            weight = (
                MONTH_FACTORS[day.month - 1]
                * WEEKDAY_FACTORS[day.weekday()]
                * (1 + GROWTH_OVER_WINDOW * index / max(days - 1, 1))
                * SPECIAL_DAYS.get((day.month, day.day), 1.0)
                * rng.uniform(0.9, 1.1)
            )
            if day.month == 11 and day.weekday() == 4 and 22 < day.day <= 29:
                weight *= BLACK_FRIDAY_FACTOR  # the day after the 4th Thursday
            weights.append(weight)
        return weights

    def day_counts(self) -> list[int]:
        """Sales per day, summing exactly to ``--sales`` (largest-remainder rounding)."""
        weights = self.day_weights()
        total_weight = sum(weights)
        wanted = self.options.sales
        expected = [wanted * weight / total_weight for weight in weights]
        counts = [int(value) for value in expected]
        missing = wanted - sum(counts)
        by_remainder = sorted(range(len(expected)), key=lambda i: (-(expected[i] - counts[i]), i))
        for index in by_remainder[:missing]:
            counts[index] += 1
        return counts

    def sales(self) -> Iterator[SaleSpec]:
        """Every sale, in time order (so ids grow with ``sold_at``)."""
        customers = self.customers()
        products = self.products()
        if self.options.sales == 0:
            return
        rng = self._rng("sales")
        templates = self.categories()
        customer_cum = _cumulative([c.weight for c in customers]) if customers else None
        customer_profiles = [c.quantity_profile for c in customers]
        quantity_cum = {k: _cumulative(w) for k, w in QUANTITY_WEIGHTS.items()}
        product_cum_by_month = [
            _cumulative([p.popularity * templates[p.category].season[m] for p in products])
            for m in range(12)
        ]
        prices = [p.price_cents for p in products]
        costs = [p.cost_cents for p in products]
        product_count = len(products)
        line_count_cum = _cumulative(LINE_COUNT_WEIGHTS)
        hour_cum = _cumulative(HOUR_WEIGHTS)
        first_hour = BUSINESS_HOURS[0]
        last_allowed = self.anchor_ts - 1

        for day_index, count in enumerate(self.day_counts()):
            if not count:
                continue
            day = self.start_day + timedelta(days=day_index)
            day_ts = self.start_ts + day_index * DAY
            prefix = f"D-{day:%Y%m%d}-"
            product_cum = product_cum_by_month[day.month - 1]
            seconds = sorted(
                (first_hour + _pick(rng, hour_cum)) * 3600 + rng.randrange(3600)
                for _ in range(count)
            )
            for sequence, second in enumerate(seconds, 1):
                sold_at = day_ts + second
                if customer_cum is None or rng.random() < NO_CUSTOMER_RATE:
                    customer, profile = None, "consumer"
                else:
                    customer = _pick(rng, customer_cum)
                    profile = customer_profiles[customer]
                wanted = min(1 + _pick(rng, line_count_cum), product_count)
                chosen: list[int] = []
                attempts = 0
                while len(chosen) < wanted:
                    attempts += 1
                    if attempts > 50:  # tiny or very skewed catalogues: fill deterministically
                        chosen.extend(p for p in range(product_count) if p not in chosen)
                        del chosen[wanted:]
                        break
                    candidate = _pick(rng, product_cum)
                    if candidate not in chosen:
                        chosen.append(candidate)
                cumulative = quantity_cum[profile]
                lines = []
                total = 0
                for product in chosen:
                    quantity = 1 + _pick(rng, cumulative)
                    price = prices[product]
                    line_total = price * quantity
                    total += line_total
                    lines.append((product, quantity, price, costs[product], line_total))
                cancelled_at = None
                if rng.random() < CANCEL_RATE:
                    cancelled_at = min(sold_at + rng.randrange(600, 3 * DAY), last_allowed)
                yield (f"{prefix}{sequence:05d}", customer, sold_at, cancelled_at, total, lines)
