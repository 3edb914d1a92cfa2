"""Migration operations shared by the apps' trigram-index migrations (a module whose name
starts with ``_`` is not a migration to Django's loader)."""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations, router


class PostgresOnlyTrigramExtension(TrigramExtension):
    """``CREATE EXTENSION IF NOT EXISTS pg_trgm``; reversed, ``DROP EXTENSION`` (refused by
    PostgreSQL while something else still uses it). Django's ``CreateExtension`` skips other
    databases going forwards but not backwards (it queries ``pg_extension``, which fails on
    SQLite): this one does nothing on other databases either way."""

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return
        super().database_backwards(app_label, schema_editor, from_state, to_state)


class PostgresOnlyTrigramIndexes(migrations.operations.base.Operation):
    """GIN ``gin_trgm_ops`` indexes on ``UPPER((column)::text)``, the expression Django's
    ``icontains``/``iexact`` compare on PostgreSQL, then ``ANALYZE`` of the table (the planner
    estimates ``LIKE '%w%'`` from the statistics ANALYZE gathers on index expressions; without
    them, until the next auto-analyze, it may keep a Seq Scan).

    PostgreSQL only: nothing on other databases. No model state: an expression with an operator
    class and a GIN access method has no portable ``Meta.indexes`` form. Reversible (drops them).
    Needs the pg_trgm extension (``PostgresOnlyTrigramExtension()`` before it)."""

    reversible = True

    def __init__(self, table, indexes):
        self.table = table
        self.indexes = indexes  # [(index name, column), ...]

    def state_forwards(self, app_label, state):
        pass

    def _applies(self, app_label, schema_editor):
        return schema_editor.connection.vendor == "postgresql" and router.allow_migrate(
            schema_editor.connection.alias, app_label
        )

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if not self._applies(app_label, schema_editor):
            return
        quote = schema_editor.quote_name
        for name, column in self.indexes:
            schema_editor.execute(
                f"CREATE INDEX IF NOT EXISTS {quote(name)} ON {quote(self.table)} "
                f"USING gin ((UPPER(({quote(column)})::text)) gin_trgm_ops)"
            )
        schema_editor.execute(f"ANALYZE {quote(self.table)}")

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if not self._applies(app_label, schema_editor):
            return
        for name, _column in self.indexes:
            schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(name)}")

    def describe(self):
        names = ", ".join(name for name, _column in self.indexes)
        return f"Create GIN trigram indexes {names} on {self.table} (PostgreSQL only)"
