"""Many sales at once, each through ``sale_create`` (the catalog's stock rules hold for every
one). Every sale gets its reference before anything is recorded, so running the same batch again
(a job delivered twice, a worker killed midway) records each sale once: a sale whose reference
already exists was recorded by the earlier run."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.errors import ApplicationError
from core.users import Actor
from products.catalog import get_catalog
from sales.models import Sale
from sales.services import SaleLine, generate_sale_reference, sale_create


@dataclass
class SalesBulkResult:
    created: int = 0
    already_recorded: int = 0
    failed: int = 0
    results: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "already_recorded": self.already_recorded,
            "failed": self.failed,
            "results": self.results,
        }


def sales_bulk_plan(sales: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """JSON-ready sales with a reference each (generated where missing). A reference given
    twice in the batch, or already used by a recorded sale, is a 400 naming the items."""
    planned: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    problems: dict[int, str] = {}
    for index, sale in enumerate(sales):
        sold_at = sale.get("sold_at")
        reference = (sale.get("reference") or "").strip() or generate_sale_reference(sold_at)
        if reference in seen:
            problems[index] = f"Reference {reference!r} is also used by item {seen[reference]}."
        seen.setdefault(reference, index)
        planned.append(
            {
                "reference": reference,
                "customer": sale.get("customer"),
                "sold_at": sold_at.isoformat() if sold_at else None,
                "items": [[item["product"], item["quantity"]] for item in sale["items"]],
            }
        )
    given = [s["reference"].strip() for s in sales if (s.get("reference") or "").strip()]
    for reference in Sale.objects.filter(reference__in=given).values_list("reference", flat=True):
        problems[seen[reference]] = f"A sale with reference {reference!r} already exists."
    if problems:
        raise ApplicationError(
            f"{len(problems)} of {len(sales)} sales cannot be recorded; nothing was.",
            fields={
                "sales": [
                    {"reference": [problems[i]]} if i in problems else {} for i in range(len(sales))
                ]
            },
        )
    return planned


def sales_bulk_record(
    *,
    planned: Sequence[dict[str, Any]],
    created_by: Actor = None,
    progress: Callable[[int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> SalesBulkResult:
    """Record the planned sales one by one; a sale refused (e.g. insufficient stock) is reported
    and the others go on."""
    catalog = get_catalog()
    result = SalesBulkResult()
    existing = set(
        Sale.objects.filter(reference__in=[sale["reference"] for sale in planned]).values_list(
            "reference", flat=True
        )
    )
    for index, sale in enumerate(planned):
        if should_stop is not None and index % 50 == 0 and index and should_stop():
            break
        entry: dict[str, Any] = {"index": index, "reference": sale["reference"]}
        if sale["reference"] in existing:
            result.already_recorded += 1
            entry["status"] = "already_recorded"
        else:
            try:
                recorded = sale_create(
                    lines=[SaleLine(product_id=pid, quantity=qty) for pid, qty in sale["items"]],
                    customer_id=sale["customer"],
                    sold_at=datetime.fromisoformat(sale["sold_at"]) if sale["sold_at"] else None,
                    reference=sale["reference"],
                    created_by=created_by,
                    catalog=catalog,
                )
            except ApplicationError as error:
                result.failed += 1
                entry.update(
                    status="failed",
                    error={"code": error.code, "message": error.message, "fields": error.fields},
                )
            else:
                result.created += 1
                entry.update(status="created", id=recorded.pk, total=str(recorded.total))
        result.results.append(entry)
        if progress is not None:
            progress(index + 1)
    return result
