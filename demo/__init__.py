"""Demo data: ``python manage.py seed_demo`` (generation, bulk loading, demo logins).

The top of the package graph below ``salesproject``: it may import every domain app, and
nothing but tests and bench imports it.
"""
