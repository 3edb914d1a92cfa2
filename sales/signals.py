"""Signals of the sales app (issue 15: dependencies run one way).

``sales_contribution``
    Sent by every sale write (``sales.services``, the sales import in ``sales.tables``) *inside*
    its transaction, around the change of sales rows, so that whatever sums the sales (the
    analytics' daily rollups) stays exact. ``sender`` is :class:`sales.models.Sale`. Keyword
    arguments (the contract of ``analytics.services.rollups_apply_sales``):

    - ``sale_ids``: the ids of the sales concerned (a sequence of ints; may be empty when
      ``sale_ids_sql`` is given);
    - ``sign``: ``-1`` sent BEFORE the sales change (while their old rows exist, after locking
      them: their old contribution is taken off), ``+1`` sent AFTER they are created or changed
      (their new contribution is added);
    - ``extra_days``: days (dates or datetimes) the write will move the sales to, given on the
      ``-1`` call of an edit of ``sold_at`` (so day locks are taken in one order); ``()`` else;
    - ``sale_ids_sql``: ``None``, or a parameterless SQL query giving the sale ids (bulk writers
      such as imports, from their staging table).

    A bulk sender (the sales import) may send the ``+1`` call with the row-by-row foreign key
    triggers off (``core.dataio.stage.trusted_references``: ``session_replication_role =
    replica``, refused when any table has a trigger of its own), after locking ``FOR KEY
    SHARE`` until the commit every product its lines reference and every customer its sales
    reference: a receiver's rows must then reference only those (the analytics rollups
    reference the lines' products and the sales' customers).

    Receivers MUST run synchronously inside the sender's transaction (Django signals are
    synchronous; do not defer the work to ``on_commit`` or a task): a rollback then undoes their
    writes with the sale's, and the sums are exact. A receiver that raises makes the write fail
    (``send``, not ``send_robust``). The analytics app's receiver
    (``analytics.receivers.apply_sales_contribution``) calls ``rollups_apply_sales`` and so
    also schedules the analytics cache bump for after the commit.
"""

from __future__ import annotations

from django.dispatch import Signal

sales_contribution = Signal()


def send_sales_contribution(
    *,
    sign: int,
    sale_ids=(),
    extra_days=(),
    sale_ids_sql: str | None = None,
) -> None:
    """Send :data:`sales_contribution` (sender ``Sale``) with the contract's keyword arguments."""
    from sales.models import Sale

    if sign not in (1, -1):
        raise ValueError("sign must be +1 or -1")
    sales_contribution.send(
        sender=Sale,
        sale_ids=sale_ids,
        sign=sign,
        extra_days=extra_days,
        sale_ids_sql=sale_ids_sql,
    )
