"""What the demo data is made of: names, countries, segments, categories, brands and demand
over the year, the week and the day (constants only; :mod:`demo.generate` draws from them)."""

from __future__ import annotations

from dataclasses import dataclass

from customers.models import CustomerSegment

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
