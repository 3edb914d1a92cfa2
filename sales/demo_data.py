"""Deterministic demo data: customers, categories, products, sales and the stock ledger.

Used by ``python manage.py seed_demo`` (a thin door onto :func:`seed_demo_data`).

*Generation* is pure Python and deterministic: every entity kind draws from its own
``random.Random`` stream seeded from ``--seed`` (never the global ``random``), so the same seed,
sizes and anchor day give the same rows, and changing ``--sales`` does not change the customers
or products.
Time is relative to an *anchor day* (default: today at 00:00 UTC): sales fall on the ``days``
days before the anchor, between 08:00 and 20:00 UTC.

*Loading* streams the generated sales in chunks, so memory stays bounded whatever the size:

- PostgreSQL: ``COPY ... FROM STDIN`` through psycopg 3, with ids taken from the tables' own
  sequences while the tables are locked against other writers; a separate thread generates the
  next chunk while the database writes the previous one; for big loads the foreign keys of the
  two sales tables are checked once at the end instead of row by row (see
  ``_PostgresLoader.suspend_foreign_keys``); indexes are kept;
- other databases (the embedded SQLite): batched ``executemany`` inserts of the same rows.

Everything (the optional reset included) happens in one transaction: a failure leaves nothing
half-written. The stock ledger stays balanced: per product one ``restock`` movement (the opening
stock, reference ``seed_demo opening stock``) and one aggregated ``sale`` movement for the demo's
completed sales (reference ``seed_demo sales``) sum to ``Product.stock_quantity``.
"""

from __future__ import annotations

import math
import queue
import random
import threading
import time
import unicodedata
from bisect import bisect_right
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import accumulate
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import DatabaseError, connection, models, transaction

from customers.models import Customer, CustomerSegment
from products.models import Category, Product, StockMovement, StockMovementReason
from sales.models import Sale, SaleItem, SaleStatus

OPENING_STOCK_REFERENCE = "seed_demo opening stock"
SALES_MOVEMENT_REFERENCE = "seed_demo sales"
NO_CUSTOMER_RATE = 0.08
CANCEL_RATE = 0.03
BUSINESS_HOURS = (8, 20)  # sales happen from 08:00 to 19:59:59 UTC
SALES_PER_CHUNK = 20_000  # sales generated and written per COPY / executemany round
SQLITE_BATCH = 2_000
DAY = 86_400
NULL = "\\N"  # NULL in the COPY text format

DEFAULTS = {
    "seed": 42,
    "customers": 2000,
    "products": 500,
    "categories": 12,
    "sales": 50_000,
    "days": 730,
}

# --- Built-in vocabularies -----------------------------------------------------------------------

# fmt: off
FIRST_NAMES = (
    "Emma", "Liam", "Olivia", "Noah", "Ava", "Lucas", "Sophia", "Mateo", "Mia", "Elias",
    "Amelia", "Leon", "Isabella", "Hugo", "Charlotte", "Louis", "Chloé", "Arthur", "Léa", "Jules",
    "Hannah", "Felix", "Lena", "Paul", "Marie", "Ben", "Sofia", "Lorenzo", "Giulia", "Leonardo",
    "Alice", "Francesco", "Lucía", "Martín", "Valentina", "Adrián", "Daniela", "Pablo", "Sara",
    "Daan", "Julia", "Sem", "Tess", "Finn", "Saar", "Oliver", "Freya", "George", "Isla", "Harry",
    "Ella", "Jack", "Grace", "James", "Zoë", "William", "Chloe", "Ethan", "Maya", "Benjamin",
    "Nora", "Magnus", "Astrid", "Oscar", "Ebba", "Axel", "Wilma", "Henry", "Ruby", "Samuel",
    "Aisha", "Omar", "Priya", "Arjun", "Mei", "Kenji", "Yuki", "Tomás", "Inés", "Nikolai",
)
LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Martin",
    "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau",
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Hoffmann",
    "Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci", "Marino",
    "García", "Fernández", "González", "Rodríguez", "López", "Martínez", "Sánchez", "Pérez",
    "de Jong", "Jansen", "de Vries", "van den Berg", "Bakker", "Visser", "Smit", "Meijer",
    "Taylor", "Wilson", "Evans", "Walker", "Wright", "Thompson", "Roberts", "Green", "Hall",
    "Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson", "Persson",
    "Tremblay", "Gagnon", "Roy", "Côté", "Nguyen", "Singh", "Patel", "Chen", "Kim", "O'Brien",
)
COMPANY_NAMES = (
    "Northwind", "Contoso", "Fabrikam", "Tailspin", "Litware", "Proseware", "Wingtip",
    "Adatum", "Fourth Coffee", "Lucerne", "Margie's Travel", "Trey Research", "Woodgrove",
    "Blue Yonder", "Coho Winery", "Graphic Design Institute", "Humongous Insurance",
    "Alpine Ski House", "City Power", "Wide World Importers", "Southridge Video", "Relecloud",
)

# (ISO 3166 code, weight, phone template with # for digits, cities)
COUNTRIES = (
    ("US", 26, "+1 ###-555-####", ("New York", "Chicago", "Austin", "Seattle", "Denver", "Boston")),
    ("GB", 12, "+44 7### ######", ("London", "Manchester", "Bristol", "Leeds", "Edinburgh")),
    ("DE", 12, "+49 15# #######", ("Berlin", "Hamburg", "Munich", "Cologne", "Frankfurt")),
    ("FR", 11, "+33 6 ## ## ## ##", ("Paris", "Lyon", "Marseille", "Toulouse", "Bordeaux")),
    ("ES", 8, "+34 6## ### ###", ("Madrid", "Barcelona", "Valencia", "Seville", "Bilbao")),
    ("IT", 8, "+39 3## ### ####", ("Rome", "Milan", "Naples", "Turin", "Florence")),
    ("NL", 6, "+31 6 ########", ("Amsterdam", "Rotterdam", "Utrecht", "The Hague", "Eindhoven")),
    ("CA", 7, "+1 ###-555-####", ("Toronto", "Montreal", "Vancouver", "Calgary", "Ottawa")),
    ("AU", 5, "+61 4## ### ###", ("Sydney", "Melbourne", "Brisbane", "Perth", "Adelaide")),
    ("SE", 5, "+46 7# ### ## ##", ("Stockholm", "Gothenburg", "Malmö", "Uppsala")),
)
CONSUMER_EMAIL_DOMAINS = ("example.com", "example.net", "example.org")  # reserved, RFC 2606

# segment: (weight, purchase-frequency factor, quantity profile)
SEGMENTS = (
    (CustomerSegment.CONSUMER, 62, 1.0, "consumer"),
    (CustomerSegment.SMALL_BUSINESS, 20, 1.6, "business"),
    (CustomerSegment.CORPORATE, 13, 2.2, "business"),
    (CustomerSegment.PUBLIC_SECTOR, 5, 1.4, "business"),
)
# Relative odds of buying 1, 2, 3, ... units of a product in one line.
QUANTITY_WEIGHTS = {
    "consumer": (62, 20, 8, 5, 2, 2, 1),
    "business": (30, 18, 12, 10, 8, 6, 4, 4, 3, 5),
}
LINE_COUNT_WEIGHTS = (25, 30, 20, 15, 10)  # 1..5 lines per sale, 2.55 on average

_FLAT = (1.0,) * 12
_SUMMER = (0.6, 0.7, 1.0, 1.3, 1.5, 1.5, 1.4, 1.2, 0.9, 0.7, 0.6, 0.7)
_GIFTS = (0.7, 0.7, 0.8, 0.8, 0.8, 0.8, 0.8, 0.9, 0.9, 1.1, 1.6, 2.6)
_SCHOOL = (1.1, 1.0, 1.0, 0.9, 0.9, 0.9, 1.0, 1.6, 1.5, 1.0, 1.0, 1.1)
_FASHION = (1.3, 0.9, 1.0, 1.1, 1.1, 1.0, 1.2, 0.9, 1.0, 1.1, 1.2, 1.3)
_WINTER = (1.3, 1.2, 1.0, 0.9, 0.8, 0.8, 0.8, 0.8, 0.9, 1.1, 1.3, 1.5)


@dataclass(frozen=True)
class CategoryTemplate:
    name: str
    sku_prefix: str
    price_range: tuple[float, float]
    items: tuple[str, ...]
    variants: tuple[str, ...]
    season: tuple[float, ...] = _FLAT


CATEGORY_TEMPLATES = (
    CategoryTemplate(
        "Electronics", "ELEC", (9, 900),
        ("Wireless Headphones", "Bluetooth Speaker", "Smartwatch", "Action Camera",
         "Portable Charger", "E-Reader", "Soundbar", "Smart Plug", "Dash Cam", "Earbuds"),
        ("Black", "White", "Pro", "Mini", "Max", "Lite", "2nd Gen"), _GIFTS,
    ),
    CategoryTemplate(
        "Computers & Accessories", "COMP", (12, 1800),
        ("Laptop", "Mechanical Keyboard", "Wireless Mouse", "27\" Monitor", "USB-C Hub",
         "External SSD", "Webcam", "Laptop Stand", "Docking Station", "Router"),
        ("13\"", "15\"", "1 TB", "512 GB", "Ergonomic", "Compact", "Silent"),
    ),
    CategoryTemplate(
        "Home & Kitchen", "HOME", (6, 450),
        ("Chef's Knife", "Cast Iron Skillet", "Espresso Machine", "Blender", "Kettle",
         "Cutting Board", "Dinner Set", "Air Fryer", "Toaster", "Food Storage Set"),
        ("Stainless", "Matte Black", "Ceramic", "12-Piece", "Large", "Small"),
    ),
    CategoryTemplate(
        "Garden & Outdoor", "GARD", (5, 600),
        ("Garden Hose", "Pruning Shears", "Lawn Mower", "Raised Bed", "Patio Chair",
         "Solar Lights", "Seed Starter Kit", "Watering Can", "BBQ Grill", "Hammock"),
        ("15 m", "30 m", "Set of 4", "Cordless", "Green", "Teak"), _SUMMER,
    ),
    CategoryTemplate(
        "Sports & Fitness", "SPRT", (8, 700),
        ("Yoga Mat", "Dumbbell Set", "Running Shoes", "Tennis Racket", "Bike Helmet",
         "Water Bottle", "Resistance Bands", "Camping Tent", "Hiking Backpack", "Jump Rope"),
        ("S", "M", "L", "Blue", "Red", "2-Person", "40 L"), _SUMMER,
    ),
    CategoryTemplate(
        "Toys & Games", "TOYS", (5, 250),
        ("Building Blocks", "Board Game", "Puzzle 1000 pcs", "Plush Bear", "RC Car",
         "Card Game", "Science Kit", "Doll House", "Wooden Train", "Kite"),
        ("Classic", "Deluxe", "Travel", "Family Edition", "Junior"), _GIFTS,
    ),
    CategoryTemplate(
        "Books", "BOOK", (4, 80),
        ("Cookbook", "Thriller Novel", "Travel Guide", "Children's Picture Book", "Biography",
         "Python Handbook", "Fantasy Saga", "Photography Manual", "History Atlas", "Poetry"),
        ("Paperback", "Hardcover", "Illustrated", "2nd Edition"), _SCHOOL,
    ),
    CategoryTemplate(
        "Clothing", "CLTH", (8, 300),
        ("T-Shirt", "Hoodie", "Jeans", "Rain Jacket", "Wool Sweater", "Sneakers", "Scarf",
         "Chino Trousers", "Dress Shirt", "Beanie"),
        ("XS", "S", "M", "L", "XL", "Navy", "Grey", "Olive"), _FASHION,
    ),
    CategoryTemplate(
        "Beauty & Personal Care", "BEAU", (3, 150),
        ("Face Cream", "Shampoo", "Electric Toothbrush", "Perfume", "Hair Dryer", "Lip Balm",
         "Sunscreen SPF 50", "Beard Trimmer", "Body Lotion", "Makeup Brush Set"),
        ("50 ml", "100 ml", "250 ml", "Travel Size", "Sensitive"),
    ),
    CategoryTemplate(
        "Health & Household", "HLTH", (3, 200),
        ("Vitamin D3", "First Aid Kit", "Digital Thermometer", "Hand Sanitizer", "Air Purifier",
         "Blood Pressure Monitor", "Laundry Detergent", "Paper Towels", "Humidifier", "Masks"),
        ("60 Count", "120 Count", "Family Pack", "Refill", "Unscented"), _WINTER,
    ),
    CategoryTemplate(
        "Office Supplies", "OFFC", (2, 400),
        ("Notebook", "Gel Pens", "Desk Organizer", "Office Chair", "Stapler", "Printer Paper",
         "Whiteboard", "Label Maker", "Filing Cabinet", "Desk Lamp"),
        ("A4", "A5", "Pack of 10", "Black", "Blue", "Ergonomic"), _SCHOOL,
    ),
    CategoryTemplate(
        "Pet Supplies", "PETS", (3, 180),
        ("Dog Food", "Cat Litter", "Chew Toy", "Pet Bed", "Leash", "Scratching Post",
         "Aquarium Filter", "Bird Feeder", "Cat Treats", "Grooming Brush"),
        ("2 kg", "10 kg", "Small", "Medium", "Large", "Grain-Free"),
    ),
    CategoryTemplate(
        "Grocery & Gourmet", "GROC", (2, 60),
        ("Coffee Beans", "Green Tea", "Olive Oil", "Dark Chocolate", "Pasta", "Honey",
         "Granola", "Spice Set", "Maple Syrup", "Sparkling Water"),
        ("250 g", "500 g", "1 kg", "Organic", "Pack of 6"), _GIFTS,
    ),
    CategoryTemplate(
        "Automotive", "AUTO", (5, 500),
        ("Car Vacuum", "Tire Inflator", "Phone Mount", "Jump Starter", "Seat Covers",
         "Floor Mats", "Wiper Blades", "Car Wax", "Roof Box", "LED Headlights"),
        ("Universal", "Heavy Duty", "Set of 2", "Compact"), _WINTER,
    ),
    CategoryTemplate(
        "Music & Instruments", "MUSC", (5, 1200),
        ("Acoustic Guitar", "Digital Piano", "Ukulele", "Guitar Strings", "Drum Sticks",
         "Studio Headphones", "Microphone", "Metronome", "Violin", "Audio Interface"),
        ("Natural", "Sunburst", "Beginner", "Studio", "USB"), _GIFTS,
    ),
    CategoryTemplate(
        "Jewelry & Watches", "JEWL", (15, 1500),
        ("Silver Necklace", "Gold Earrings", "Leather Watch", "Charm Bracelet", "Ring",
         "Cufflinks", "Pearl Studs", "Pendant", "Chronograph", "Anklet"),
        ("Sterling", "Rose Gold", "Classic", "Minimal", "Gift Box"), _GIFTS,
    ),
)
BRANDS = (
    "Aurora", "Northwind", "Nordic Line", "Everly", "Brightway", "Kestrel", "Lumen", "Oakridge",
    "Sol & Sea", "Vantage", "Meridian", "Pinecrest", "Halcyon", "Tessera", "Bluebird", "Orbit",
)
# fmt: on

# Demand over the year (Jan..Dec), the week (Mon..Sun) and the day (08:00..19:00 hours, UTC).
MONTH_FACTORS = (0.85, 0.80, 0.92, 0.95, 1.00, 0.90, 0.82, 0.78, 0.95, 1.02, 1.25, 1.55)
WEEKDAY_FACTORS = (0.92, 0.94, 0.97, 1.00, 1.10, 1.28, 0.79)
HOUR_WEIGHTS = (0.4, 0.7, 0.9, 1.0, 1.2, 1.1, 0.9, 0.9, 1.0, 1.2, 1.3, 0.9)
SPECIAL_DAYS = {(12, 24): 0.6, (12, 25): 0.1, (12, 26): 0.8, (12, 31): 0.5, (1, 1): 0.3}
BLACK_FRIDAY_FACTOR = 2.6
GROWTH_OVER_WINDOW = 0.30  # the last day sells ~30% more than the first one, all else equal

DEMO_USERS = (
    # username (also the password), superuser, group
    ("admin", True, None),
    ("analyst", False, "analyst"),
    ("sales", False, "sales"),
    ("manager", False, "manager"),
)


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


# --- Generation ---------------------------------------------------------------------------------


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


# --- Loading ------------------------------------------------------------------------------------

# Above this many sales, PostgreSQL checks the foreign keys of the two sales tables once, with
# one join per key at the end of the load, instead of once per row (see _PostgresLoader).
BULK_FOREIGN_KEY_THRESHOLD = 100_000

SALE_FIELDS = (
    "id", "reference", "customer", "sold_at", "status", "total", "created_by", "created_at",
    "updated_at", "cancelled_at",
)  # fmt: skip
ITEM_FIELDS = ("id", "sale", "product", "quantity", "unit_price", "unit_cost", "line_total")
_SEEDED_MODELS = (SaleItem, Sale, StockMovement, Product, Category, Customer)


@dataclass
class SeedResult:
    customers: int = 0
    categories: int = 0
    products: int = 0
    sales: int = 0
    cancelled: int = 0
    without_customer: int = 0
    lines: int = 0
    movements: int = 0
    deleted: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    analyze_seconds: float = 0.0
    rollup_seconds: float = 0.0
    anchor: date | None = None
    start: date | None = None


def existing_data_counts() -> dict[str, int]:
    """What demo seeding would collide with: rows already in the demo's tables."""
    return {
        "sales": Sale.objects.count(),
        "customers": Customer.objects.count(),
        "products": Product.objects.count(),
    }


def dependent_models() -> list[type[models.Model]]:
    """Models outside the seeded ones whose tables reference them (directly or through each
    other), deepest first: ``--reset`` empties them too, e.g. a catalog outbox of products."""
    seeded = set(_SEEDED_MODELS)
    found: list[type[models.Model]] = []
    frontier = list(_SEEDED_MODELS)
    while frontier:
        model = frontier.pop(0)
        for relation in model._meta.get_fields(include_hidden=True):
            # Reverse foreign keys, also hidden ones (related_name="+") and those of the
            # automatic many-to-many tables; not the many-to-many relation itself.
            if not (relation.auto_created and not relation.concrete) or relation.many_to_many:
                continue
            other = relation.related_model
            if other is None or other in seeded or other in found:
                continue
            found.append(other)
            frontier.append(other)
    found.sort(key=lambda m: m._meta.label)  # a stable order, then the deepest first
    depth = {m: _dependency_depth(m, seeded) for m in found}
    return sorted(found, key=lambda m: -depth[m])


def _dependency_depth(model: type[models.Model], seeded: set, seen: frozenset = frozenset()) -> int:
    """1 for a model that references a seeded one, 2 for one referencing such a model, ..."""
    depths = [0]
    for f in model._meta.get_fields():
        target = getattr(f, "related_model", None)
        if not (f.many_to_one or f.one_to_one) or not f.concrete or target is None:
            continue
        if target in seeded:
            depths.append(1)
        elif target is not model and target not in seen:
            inner = _dependency_depth(target, seeded, seen | {model})
            if inner:
                depths.append(inner + 1)
    return max(depths)


def _count_rows() -> dict[str, int]:
    counts = {str(m._meta.verbose_name_plural): m._base_manager.count() for m in dependent_models()}
    counts.update(
        {
            "sale lines": SaleItem.objects.count(),
            "sales": Sale.objects.count(),
            "stock movements": StockMovement.objects.count(),
            "products": Product.objects.count(),
            "categories": Category.objects.count(),
            "customers": Customer.objects.count(),
        }
    )
    return counts


def _datetime(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _cents(value: int) -> str:
    return f"{value // 100}.{value % 100:02d}"


def _columns(model: type[models.Model], names: Sequence[str]) -> list[str]:
    return [model._meta.get_field(name).column for name in names]


class _TimestampText:
    """Epoch seconds -> the database's text for a timestamp, with the date part cached."""

    def __init__(self, suffix: str) -> None:
        self.suffix = suffix
        self._days: dict[int, str] = {}

    def __call__(self, ts: int) -> str:
        day, second = divmod(ts, DAY)
        text = self._days.get(day)
        if text is None:
            text = self._days[day] = _datetime(day * DAY).strftime("%Y-%m-%d")
        hour, rest = divmod(second, 3600)
        return f"{text} {hour:02d}:{rest // 60:02d}:{rest % 60:02d}{self.suffix}"


@dataclass
class _Chunk:
    """A chunk of sales ready to write, in the loader's own format."""

    sales: Any
    items: Any
    sale_count: int
    line_count: int


@dataclass
class _SaleStats:
    sold: list[int]  # units of completed sales, per product index
    cancelled: int = 0
    without_customer: int = 0


class _Loader:
    """Writes rows for one database vendor. Small tables take typed rows (int, str, None, bool,
    Decimal, datetime); sale chunks are formatted by :meth:`format_chunk` (which runs in the
    generating thread, so it must not touch the database) and written by :meth:`write_chunk`."""

    def __init__(self, cursor) -> None:
        self.cursor = cursor

    def lock_tables(self) -> None:
        raise NotImplementedError

    def reset(self) -> dict[str, int]:
        raise NotImplementedError

    def first_id(self, model: type[models.Model]) -> int:
        raise NotImplementedError

    def last_id_used(self, model: type[models.Model], last: int) -> None:
        """Tell the id generator that ids up to ``last`` are taken."""

    def insert(self, model: type[models.Model], names: Sequence[str], rows: list[tuple]) -> None:
        raise NotImplementedError

    def format_chunk(
        self,
        chunk: list[SaleSpec],
        first_sale_id: int,
        first_item_id: int,
        customer_ids: list[int],
        product_ids: list[int],
    ) -> _Chunk:
        raise NotImplementedError

    def write_chunk(self, chunk: _Chunk) -> None:
        raise NotImplementedError

    def suspend_foreign_keys(self) -> bool:
        return False

    def restore_foreign_keys(self) -> None:
        pass

    def analyze(self, tables: Sequence[str]) -> None:
        pass


def _copy_text(value: Any) -> str:
    """One value in PostgreSQL's COPY text format."""
    if value is None:
        return NULL
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.isoformat()
    text = str(value)
    if any(ch in text for ch in "\\\t\n\r"):
        for raw, escaped in (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r")):
            text = text.replace(raw, escaped)
    return text


def _quote(table: str) -> str:
    return connection.ops.quote_name(table)


class _PostgresLoader(_Loader):
    """``COPY ... FROM STDIN`` (text format) through the psycopg 3 cursor under Django's."""

    def __init__(self, cursor) -> None:
        super().__init__(cursor)
        self.ts = _TimestampText("+00")
        self._suspended: list[tuple[str, str, str]] = []

    def _flush_deferred_checks(self) -> None:
        # Deferred foreign-key checks still pending in this transaction (rows written before the
        # command ran, e.g. in a test) would make TRUNCATE and ALTER TABLE fail: run them now.
        self.cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        self.cursor.execute("SET CONSTRAINTS ALL DEFERRED")

    def lock_tables(self) -> None:
        # Other writers wait until we commit, so the ids we take from the sequences stay ours.
        tables = ", ".join(_quote(m._meta.db_table) for m in _SEEDED_MODELS)
        self.cursor.execute(f"LOCK TABLE {tables} IN SHARE ROW EXCLUSIVE MODE")

    def reset(self) -> dict[str, int]:
        deleted = _count_rows()
        self._flush_deferred_checks()
        models_to_empty = [*dependent_models(), *_SEEDED_MODELS]
        tables = ", ".join(_quote(m._meta.db_table) for m in models_to_empty)
        # CASCADE: also tables outside Django that reference these ones.
        self.cursor.execute(f"TRUNCATE TABLE {tables} RESTART IDENTITY CASCADE")
        return deleted

    def first_id(self, model: type[models.Model]) -> int:
        self.cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s))",
            [model._meta.db_table, model._meta.pk.column],
        )
        return self.cursor.fetchone()[0]

    def last_id_used(self, model: type[models.Model], last: int) -> None:
        self.cursor.execute(
            "SELECT setval(pg_get_serial_sequence(%s, %s), GREATEST(%s, 1))",
            [model._meta.db_table, model._meta.pk.column, last],
        )

    def _copy(self, model: type[models.Model], names: Sequence[str], text: str) -> None:
        columns = ", ".join(_quote(c) for c in _columns(model, names))
        sql = f"COPY {_quote(model._meta.db_table)} ({columns}) FROM STDIN"
        with self.cursor.cursor.copy(sql) as copy:
            copy.write(text)

    def insert(self, model: type[models.Model], names: Sequence[str], rows: list[tuple]) -> None:
        if rows:
            text = "".join("\t".join(map(_copy_text, row)) + "\n" for row in rows)
            self._copy(model, names, text)

    def format_chunk(self, chunk, first_sale_id, first_item_id, customer_ids, product_ids):
        ts = self.ts
        sale_lines = []
        item_lines = []
        item_id = first_item_id
        sale_id = first_sale_id
        for reference, customer, sold_at, cancelled_at, total, lines in chunk:
            sold = ts(sold_at)
            customer_id = NULL if customer is None else customer_ids[customer]
            if cancelled_at is None:
                status, updated, cancelled = "completed", sold, NULL
            else:
                status, updated = "cancelled", ts(cancelled_at)
                cancelled = updated
            sale_lines.append(
                f"{sale_id}\t{reference}\t{customer_id}\t{sold}\t{status}\t"
                f"{total // 100}.{total % 100:02d}\t{NULL}\t{sold}\t{updated}\t{cancelled}\n"
            )
            for product, quantity, price, cost, line_total in lines:
                item_lines.append(
                    f"{item_id}\t{sale_id}\t{product_ids[product]}\t{quantity}\t"
                    f"{price // 100}.{price % 100:02d}\t{cost // 100}.{cost % 100:02d}\t"
                    f"{line_total // 100}.{line_total % 100:02d}\n"
                )
                item_id += 1
            sale_id += 1
        return _Chunk("".join(sale_lines), "".join(item_lines), len(chunk), len(item_lines))

    def write_chunk(self, chunk: _Chunk) -> None:
        self._copy(Sale, SALE_FIELDS, chunk.sales)
        self._copy(SaleItem, ITEM_FIELDS, chunk.items)

    def suspend_foreign_keys(self) -> bool:
        """Drop the foreign keys *of* the two sales tables until :meth:`restore_foreign_keys`.

        PostgreSQL checks a foreign key row by row (~10 µs each here: 6 million checks for a
        million sales), but re-adding the constraint checks every row at once with one join.
        Both happen in the seeding transaction: the constraints are back, identical (same names
        and definitions), before it commits, and nothing is changed if anything fails. Indexes
        are untouched. Returns False (constraints kept, checked row by row) if they cannot be
        dropped, e.g. when the database user does not own the tables.
        """
        self._flush_deferred_checks()
        self.cursor.execute(
            """
            SELECT rel.relname, con.conname, pg_get_constraintdef(con.oid)
            FROM pg_constraint con JOIN pg_class rel ON rel.oid = con.conrelid
            WHERE con.contype = 'f' AND con.conrelid IN (%s::regclass, %s::regclass)
            ORDER BY rel.relname, con.conname
            """,
            [_quote(Sale._meta.db_table), _quote(SaleItem._meta.db_table)],
        )
        foreign_keys = list(self.cursor.fetchall())
        try:
            with transaction.atomic():  # a savepoint: a refusal leaves every constraint in place
                for table, name, _ in foreign_keys:
                    self.cursor.execute(
                        f"ALTER TABLE {_quote(table)} DROP CONSTRAINT {_quote(name)}"
                    )
        except DatabaseError:
            return False
        self._suspended = foreign_keys
        return True

    def restore_foreign_keys(self) -> None:
        for table, name, definition in self._suspended:
            self.cursor.execute(
                f"ALTER TABLE {_quote(table)} ADD CONSTRAINT {_quote(name)} {definition}"
            )
        self._suspended = []

    def analyze(self, tables: Sequence[str]) -> None:
        self.cursor.execute(f"ANALYZE {', '.join(_quote(t) for t in tables)}")


class _GenericLoader(_Loader):
    """SQLite (the embedded default) and any other database: batched ``executemany``."""

    def __init__(self, cursor) -> None:
        super().__init__(cursor)
        # Django's own storage format for an aware datetime on SQLite: naive UTC text.
        self.ts = _TimestampText("")

    def lock_tables(self) -> None:
        pass  # SQLite has one writer at a time; the transaction's first write takes the lock.

    def reset(self) -> dict[str, int]:
        deleted = _count_rows()
        # The same tables as TRUNCATE on PostgreSQL, referencing ones first (PROTECT).
        for model in [*dependent_models(), *_SEEDED_MODELS]:
            model._base_manager.all().delete()
        return deleted

    def first_id(self, model: type[models.Model]) -> int:
        biggest = model.objects.aggregate(biggest=models.Max("pk"))["biggest"]
        return (biggest or 0) + 1

    def _executemany(self, model, names: Sequence[str], rows: list[tuple]) -> None:
        columns = _columns(model, names)
        sql = "INSERT INTO {} ({}) VALUES ({})".format(
            _quote(model._meta.db_table),
            ", ".join(_quote(c) for c in columns),
            ", ".join(["%s"] * len(columns)),
        )
        for start in range(0, len(rows), SQLITE_BATCH):
            self.cursor.executemany(sql, rows[start : start + SQLITE_BATCH])

    def insert(self, model: type[models.Model], names: Sequence[str], rows: list[tuple]) -> None:
        fields = [model._meta.get_field(name) for name in names]
        prepared = [
            tuple(f.get_db_prep_save(v, connection) for f, v in zip(fields, row, strict=True))
            for row in rows
        ]
        self._executemany(model, names, prepared)

    def format_chunk(self, chunk, first_sale_id, first_item_id, customer_ids, product_ids):
        ts = self.ts
        sale_rows = []
        item_rows = []
        item_id = first_item_id
        sale_id = first_sale_id
        for reference, customer, sold_at, cancelled_at, total, lines in chunk:
            sold = ts(sold_at)
            cancelled = None if cancelled_at is None else ts(cancelled_at)
            sale_rows.append(
                (
                    sale_id,
                    reference,
                    None if customer is None else customer_ids[customer],
                    sold,
                    SaleStatus.COMPLETED.value if cancelled is None else SaleStatus.CANCELLED.value,
                    _cents(total),
                    None,
                    sold,
                    cancelled or sold,
                    cancelled,
                )
            )
            for product, quantity, price, cost, line_total in lines:
                item_rows.append(
                    (
                        item_id,
                        sale_id,
                        product_ids[product],
                        quantity,
                        _cents(price),
                        _cents(cost),
                        _cents(line_total),
                    )
                )
                item_id += 1
            sale_id += 1
        return _Chunk(sale_rows, item_rows, len(chunk), len(item_rows))

    def write_chunk(self, chunk: _Chunk) -> None:
        self._executemany(Sale, SALE_FIELDS, chunk.sales)
        self._executemany(SaleItem, ITEM_FIELDS, chunk.items)

    def analyze(self, tables: Sequence[str]) -> None:
        if connection.vendor == "sqlite":
            for table in tables:
                self.cursor.execute(f"ANALYZE {_quote(table)}")


def _produce_chunks(
    *,
    generator: DemoDataGenerator,
    loader: _Loader,
    first_sale_id: int,
    first_item_id: int,
    customer_ids: list[int],
    product_ids: list[int],
    stats: _SaleStats,
    out: queue.Queue,
    stop: threading.Event,
) -> None:
    """Generate and format the sales chunk by chunk into ``out`` (run in its own thread, so
    that Python builds the next chunk while the database writes the previous one). Ends with
    ``None``, or with the exception that stopped it."""

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                out.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    try:
        sale_id, item_id = first_sale_id, first_item_id
        chunk: list[SaleSpec] = []
        sales = generator.sales()
        while True:
            sale = next(sales, None)
            if sale is not None:
                chunk.append(sale)
                _, customer, _, cancelled_at, _, lines = sale
                if customer is None:
                    stats.without_customer += 1
                if cancelled_at is None:
                    for product, quantity, *_ in lines:
                        stats.sold[product] += quantity
                else:
                    stats.cancelled += 1
            if chunk and (sale is None or len(chunk) >= SALES_PER_CHUNK):
                formatted = loader.format_chunk(chunk, sale_id, item_id, customer_ids, product_ids)
                sale_id += formatted.sale_count
                item_id += formatted.line_count
                chunk = []
                if not put(formatted):
                    return
            if sale is None:
                break
        put(None)
    except BaseException as exc:  # handed to the writing thread, which re-raises it
        put(exc)


def _insert_categories(
    loader: _Loader, templates: list[CategoryTemplate], now: datetime
) -> list[int]:
    """Reuse categories that already exist by name (case-insensitively); create the others."""
    existing = {name.lower(): pk for pk, name in Category.objects.values_list("pk", "name")}
    missing = [t for t in templates if t.name.lower() not in existing]
    if missing:
        first = loader.first_id(Category)
        loader.insert(
            Category,
            ("id", "name", "description", "created_at", "updated_at"),
            [
                (first + i, t.name, f"Demo category: {t.name.lower()}.", now, now)
                for i, t in enumerate(missing)
            ],
        )
        loader.last_id_used(Category, first + len(missing) - 1)
        existing.update({t.name.lower(): first + i for i, t in enumerate(missing)})
    return [existing[t.name.lower()] for t in templates]


def _insert_customers(loader: _Loader, customers: list[CustomerSpec]) -> list[int]:
    if not customers:
        return []
    first = loader.first_id(Customer)
    ids = list(range(first, first + len(customers)))
    loader.insert(
        Customer,
        ("id", "name", "email", "phone", "city", "country", "segment", "created_at", "updated_at"),
        [
            (pk, c.name, c.email, c.phone, c.city, c.country, c.segment, created, created)
            for pk, c in zip(ids, customers, strict=True)
            for created in [_datetime(c.created_at)]
        ],
    )
    loader.last_id_used(Customer, ids[-1])
    return ids


def _insert_products(
    loader: _Loader, products: list[ProductSpec], category_ids: list[int]
) -> list[int]:
    if not products:
        return []
    first = loader.first_id(Product)
    ids = list(range(first, first + len(products)))
    names = (
        "id", "sku", "name", "category", "price", "cost", "stock_quantity", "is_active",
        "created_at", "updated_at",
    )  # fmt: skip
    rows = []
    for pk, p in zip(ids, products, strict=True):
        created = _datetime(p.created_at)
        price, cost = Decimal(_cents(p.price_cents)), Decimal(_cents(p.cost_cents))
        category = category_ids[p.category]
        rows.append(
            (pk, p.sku, p.name, category, price, cost, p.final_stock, True, created, created)
        )
    loader.insert(Product, names, rows)
    loader.last_id_used(Product, ids[-1])
    return ids


def _load_sales(
    *,
    loader: _Loader,
    generator: DemoDataGenerator,
    customer_ids: list[int],
    product_ids: list[int],
    result: SeedResult,
    progress: Callable[[int], None] | None,
) -> list[int]:
    """Stream the sales and their lines into the database; returns the units sold (completed
    sales only) per product index."""
    stats = _SaleStats(sold=[0] * len(product_ids))
    if not generator.options.sales:
        return stats.sold
    first_sale_id = loader.first_id(Sale)
    first_item_id = loader.first_id(SaleItem)
    chunks: queue.Queue = queue.Queue(maxsize=2)  # memory stays bounded: ~3 chunks at most
    stop = threading.Event()
    producer = threading.Thread(
        target=_produce_chunks,
        name="seed_demo-generator",
        kwargs={
            "generator": generator,
            "loader": loader,
            "first_sale_id": first_sale_id,
            "first_item_id": first_item_id,
            "customer_ids": customer_ids,
            "product_ids": product_ids,
            "stats": stats,
            "out": chunks,
            "stop": stop,
        },
        daemon=True,
    )
    producer.start()
    try:
        while (chunk := chunks.get()) is not None:
            if isinstance(chunk, BaseException):
                raise chunk
            loader.write_chunk(chunk)
            result.sales += chunk.sale_count
            result.lines += chunk.line_count
            if progress is not None:
                progress(chunk.sale_count)
    finally:
        stop.set()
        producer.join()
    loader.last_id_used(Sale, first_sale_id + result.sales - 1)
    loader.last_id_used(SaleItem, first_item_id + result.lines - 1)
    result.cancelled = stats.cancelled
    result.without_customer = stats.without_customer
    return stats.sold


def _insert_ledger(
    loader: _Loader,
    generator: DemoDataGenerator,
    products: list[ProductSpec],
    product_ids: list[int],
    sold: list[int],
) -> int:
    """Per product: the opening stock (a restock the day before the first sale) and the units
    of the demo's completed sales (at the end of the window); they sum to the final stock."""
    opening_at = _datetime(generator.start_ts - DAY)
    closing_at = _datetime(generator.anchor_ts - 1)
    rows = []
    for product_id, spec, quantity in zip(product_ids, products, sold, strict=True):
        opening = spec.final_stock + quantity
        if opening:
            rows.append(
                (product_id, opening, StockMovementReason.RESTOCK.value,
                 OPENING_STOCK_REFERENCE, opening_at)
            )  # fmt: skip
        if quantity:
            rows.append(
                (product_id, -quantity, StockMovementReason.SALE.value,
                 SALES_MOVEMENT_REFERENCE, closing_at)
            )  # fmt: skip
    if rows:
        first = loader.first_id(StockMovement)
        loader.insert(
            StockMovement,
            ("id", "product", "delta", "reason", "reference", "created_at"),
            [(first + i, *row) for i, row in enumerate(rows)],
        )
        loader.last_id_used(StockMovement, first + len(rows) - 1)
    return len(rows)


def seed_demo_data(
    *,
    options: DemoOptions,
    reset: bool = False,
    progress: Callable[[int], None] | None = None,
    bulk_foreign_keys: bool | None = None,
) -> SeedResult:
    """Generate and load the demo data in one transaction; see the module docstring.

    Without ``reset`` the demo's tables must hold no sales, customers or products
    (:class:`DemoDataError` otherwise). ``progress(n)`` is called each time ``n`` more sales
    are written. ``bulk_foreign_keys`` (PostgreSQL): check the sales tables' foreign keys once
    at the end rather than row by row; default: when there are at least
    ``BULK_FOREIGN_KEY_THRESHOLD`` sales.
    """
    problems = options.errors()
    if problems:
        raise DemoDataError(" ".join(problems))
    if bulk_foreign_keys is None:
        bulk_foreign_keys = options.sales >= BULK_FOREIGN_KEY_THRESHOLD
    started = time.perf_counter()
    generator = DemoDataGenerator(options)
    result = SeedResult(anchor=generator.anchor_day, start=generator.start_day)
    now = datetime.now(UTC)
    loader_class = _PostgresLoader if connection.vendor == "postgresql" else _GenericLoader

    with transaction.atomic(), connection.cursor() as cursor:
        loader = loader_class(cursor)
        if reset:
            result.deleted = loader.reset()
        else:
            loader.lock_tables()
            existing = {name: n for name, n in existing_data_counts().items() if n}
            if existing:
                found = ", ".join(f"{n} {name}" for name, n in existing.items())
                raise DemoDataError(
                    f"The database already has data ({found}); "
                    "use --reset to replace it with demo data."
                )
        category_ids = _insert_categories(loader, generator.categories(), now)
        customer_ids = _insert_customers(loader, generator.customers())
        products = generator.products()
        product_ids = _insert_products(loader, products, category_ids)
        if bulk_foreign_keys:
            bulk_foreign_keys = loader.suspend_foreign_keys()
        sold = _load_sales(
            loader=loader,
            generator=generator,
            customer_ids=customer_ids,
            product_ids=product_ids,
            result=result,
            progress=progress,
        )
        if bulk_foreign_keys:
            loader.restore_foreign_keys()
        result.movements = _insert_ledger(loader, generator, products, product_ids, sold)
        result.categories = len(category_ids)
        result.customers = len(customer_ids)
        result.products = len(product_ids)

    result.seconds = time.perf_counter() - started
    analyze_started = time.perf_counter()
    with connection.cursor() as cursor:
        loader_class(cursor).analyze([m._meta.db_table for m in _SEEDED_MODELS])
    result.analyze_seconds = time.perf_counter() - analyze_started
    # The demo's sales bypass the sale services: rebuild the analytics rollups, all of them
    # (the demo's days are the whole history; a --reset also drops the old days' rows).
    from analytics.services import rollups_rebuild

    result.rollup_seconds = rollups_rebuild().seconds
    return result


# --- Demo users ---------------------------------------------------------------------------------


def demo_users_ensure() -> list[tuple[str, str, str]]:
    """Create or refresh the demo logins; returns ``[(username, password, role), ...]``.

    ``admin`` is a superuser; ``analyst``, ``sales`` and ``manager`` are staff in the group of
    the same name (created by the accounts migrations). Passwords are reset to the username.
    """
    User = get_user_model()
    groups = {g.name: g for g in Group.objects.filter(name__in=[g for *_, g in DEMO_USERS if g])}
    missing = sorted({g for *_, g in DEMO_USERS if g} - set(groups))
    if missing:
        raise DemoDataError(
            f"Missing role group(s) {', '.join(missing)}; run `python manage.py migrate` first."
        )
    logins = []
    with transaction.atomic():
        for username, superuser, group in DEMO_USERS:
            user = User.objects.filter(username=username).first() or User(username=username)
            user.email = user.email or f"{username}@example.com"
            user.is_staff = True
            user.is_superuser = superuser
            user.is_active = True
            user.set_password(username)
            user.save()
            user.groups.set([groups[group]] if group else [])
            logins.append((username, username, "superuser" if superuser else f"group {group}"))
    return logins
