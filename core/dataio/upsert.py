"""Tables whose rows map one-to-one onto a model's rows by a natural key: classified and merged
with one ``INSERT … SELECT … ON CONFLICT (key) DO UPDATE … WHERE <something changed>``."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from django.db import connection
from django.db.models import Model
from django.utils import timezone

from core.dataio.importer import ImportOptions, ImportTable
from core.dataio.stage import Stage, distinct, execute, fetch_all, fetch_iter
from core.signals import reporting_data_changed


@dataclass(frozen=True)
class Target:
    """A column of the model's table and where its value comes from.

    ``source``: SQL over the staged row ``s``. ``file_column``: the file column it depends on;
    when the file lacks that column, new rows get ``default`` and existing rows keep theirs."""

    column: str
    source: str
    file_column: str | None = None
    default: str | None = None


class UpsertTable(ImportTable):
    model: type[Model]  # whose table the rows go to
    key_join = ""  # SQL: staged row s is stored row t
    conflict = ""  # the ON CONFLICT target, e.g. "(sku)"
    targets: Sequence[Target] = ()

    @property
    def target_table(self) -> str:
        """The model's table, from ``_meta``, quoted."""
        return connection.ops.quote_name(self.model._meta.db_table)

    def _targets(self, stage: Stage) -> tuple[list[Target], list[Target]]:
        """(targets the file gives, targets it lacks)."""
        given, lacking = [], []
        for target in self.targets:
            if target.file_column is None or target.file_column in stage.present:
                given.append(target)
            else:
                lacking.append(target)
        return given, lacking

    def changed_sql(self, stage: Stage) -> str:
        given, _ = self._targets(stage)
        return " OR ".join(distinct(f"t.{target.column}", target.source) for target in given)

    def classify(self, stage: Stage, options: ImportOptions) -> tuple[int, int, int]:
        created, updated, unchanged = fetch_all(
            f"""
            SELECT COALESCE(SUM(CASE WHEN t.id IS NULL THEN 1 ELSE 0 END), 0),
                   COALESCE(SUM(CASE WHEN t.id IS NOT NULL AND ({self.changed_sql(stage)})
                                THEN 1 ELSE 0 END), 0),
                   COUNT(t.id)
            FROM {stage.name} s LEFT JOIN {self.target_table} t ON {self.key_join}
            """
        )[0]
        return int(created), int(updated), int(unchanged) - int(updated)

    def preview(self, stage: Stage, limit: int) -> list[tuple[int, str]]:
        return list(
            fetch_iter(
                f"""
                SELECT s.row_number,
                       CASE WHEN t.id IS NULL THEN 'new'
                            WHEN {self.changed_sql(stage)} THEN 'update' ELSE 'skip' END
                FROM {stage.name} s LEFT JOIN {self.target_table} t ON {self.key_join}
                ORDER BY s.row_number LIMIT {int(limit)}
                """
            )
        )

    def merge(self, stage: Stage, options: ImportOptions) -> None:
        upsert(stage, self)


def upsert(stage: Stage, table: UpsertTable, where: str = "true") -> int:
    """Insert the new rows and update the changed ones, in file order."""
    given, lacking = table._targets(stage)
    inserted = [*given, *(target for target in lacking if target.default is not None)]
    columns = ", ".join([*(target.column for target in inserted), "created_at", "updated_at"])
    sources = ", ".join(
        target.source if target in given else str(target.default) for target in inserted
    )
    updates = ", ".join(
        [*(f"{t.column} = excluded.{t.column}" for t in given), "updated_at = excluded.updated_at"]
    )
    changed = " OR ".join(
        distinct(f"{table.target_table}.{t.column}", f"excluded.{t.column}") for t in given
    )
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    # Names, categories, countries and segments show in the analytics: new answers after commit.
    reporting_data_changed.send(sender=type(table))
    return execute(
        f"""
        INSERT INTO {table.target_table} ({columns})
        SELECT {sources}, %s, %s FROM {stage.name} s WHERE {where} ORDER BY s.row_number
        ON CONFLICT {table.conflict} DO UPDATE SET {updates} WHERE {changed}
        """,
        [now, now],
    )


def unknown_reference_check(
    stage: Stage, *, column: str, resolved: str, what: str, hint: str = ""
) -> Iterator[tuple[int, str, str]]:
    """Rows whose foreign key (by natural key) matched nothing."""
    for row_number, value in fetch_iter(
        f"SELECT row_number, {column} FROM {stage.name} "
        f"WHERE {column} IS NOT NULL AND {resolved} IS NULL ORDER BY row_number"
    ):
        yield row_number, column, f"unknown {what} {value!r}{hint}."
