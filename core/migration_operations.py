"""Migration operations shared by the apps' trigram-index migrations (customers, products,
sales): in the core, so that no app imports another's migrations (issue 15, item 2)."""

from collections.abc import Sequence

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations, router
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import ProjectState

# (index name, column), or (index name, (column, column, ...)) for the columns' one text.
IndexSpec = tuple[str, str | tuple[str, ...]]


class PostgresOnlyTrigramExtension(TrigramExtension):
    """``CREATE EXTENSION IF NOT EXISTS pg_trgm``; reversed, ``DROP EXTENSION`` (refused by
    PostgreSQL while something else still uses it). Django's ``CreateExtension`` skips other
    databases going forwards but not backwards (it queries ``pg_extension``, which fails on
    SQLite): this one does nothing on other databases either way."""

    def database_backwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
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

    def __init__(self, table: str, indexes: Sequence[IndexSpec], drop: bool = False) -> None:
        self.table = table
        # [(index name, column), ...]; a tuple of columns instead of one indexes the text
        # UPPER(c1 || ' ' || c2 || ...), which ``search_in(..., one_text=True)`` compares.
        self.indexes = indexes
        self.drop = drop  # the other way round: forwards drops them, backwards creates them

    def state_forwards(self, app_label: str, state: ProjectState) -> None:
        pass

    def _applies(self, app_label: str, schema_editor: BaseDatabaseSchemaEditor) -> bool:
        return schema_editor.connection.vendor == "postgresql" and router.allow_migrate(
            schema_editor.connection.alias, app_label
        )

    def _create(self, schema_editor: BaseDatabaseSchemaEditor) -> None:
        quote = schema_editor.quote_name
        for name, column in self.indexes:
            if isinstance(column, tuple):
                text = " || ' ' || ".join(quote(each) for each in column)
                expression = f"UPPER({text})"
            else:
                expression = f"UPPER(({quote(column)})::text)"
            schema_editor.execute(
                f"CREATE INDEX IF NOT EXISTS {quote(name)} ON {quote(self.table)} "
                f"USING gin (({expression}) gin_trgm_ops)"
            )
        schema_editor.execute(f"ANALYZE {quote(self.table)}")

    def _drop(self, schema_editor: BaseDatabaseSchemaEditor) -> None:
        for name, _column in self.indexes:
            schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(name)}")

    def database_forwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        if self._applies(app_label, schema_editor):
            (self._drop if self.drop else self._create)(schema_editor)

    def database_backwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        if self._applies(app_label, schema_editor):
            (self._create if self.drop else self._drop)(schema_editor)

    def describe(self) -> str:
        names = ", ".join(name for name, _column in self.indexes)
        verb = "Drop" if self.drop else "Create"
        return f"{verb} GIN trigram indexes {names} on {self.table} (PostgreSQL only)"
