"""Writes of the products app, one module per concern (as saleor's ``warehouse/``):

- :mod:`.stock`: the stock ledger, the one write path of ``stock_quantity``;
- :mod:`.catalog_items`: categories and products (create, update, delete);
- :mod:`.contract`: the catalog contract's purchase/restock and their Idempotency-Key;
- :mod:`.mirror`: the HTTP catalog's local mirror rows and ``sync_catalog``;
- :mod:`.outbox`: remote stock changes sent after commit and retried until done;
- :mod:`.price_update`: price changes of many products at once.

Callers import from ``products.services``: the public services are re-exported here.
"""

from products.services.catalog_items import (
    PRODUCT_EDITABLE_FIELDS,
    category_create,
    category_delete,
    category_update,
    product_create,
    product_delete,
    product_update,
)
from products.services.contract import (
    catalog_request_claim,
    catalog_request_complete,
    catalog_request_keys_purge,
    catalog_request_release,
    product_purchase,
    product_restock,
)
from products.services.mirror import (
    catalog_adopt_by_sku,
    catalog_local_products,
    catalog_mirror_record,
    catalog_mirror_upsert,
    catalog_remote_ids,
    catalog_sync,
    mirror_stock_sync,
)
from products.services.outbox import (
    OUTBOX_LEASE,
    OUTBOX_MAX_BACKOFF,
    catalog_outbox_add,
    catalog_outbox_process,
    enqueue_outbox_processing,
)
from products.services.price_update import (
    MAX_PRICE,
    PRICE_CHANGE_SAMPLE,
    PriceUpdateResult,
    product_price_update,
)
from products.services.stock import (
    InsufficientStockError,
    UnknownProductError,
    require_local_stock,
    stock_change,
    stock_set,
)

__all__ = [
    "MAX_PRICE",
    "OUTBOX_LEASE",
    "OUTBOX_MAX_BACKOFF",
    "PRICE_CHANGE_SAMPLE",
    "PRODUCT_EDITABLE_FIELDS",
    "InsufficientStockError",
    "PriceUpdateResult",
    "UnknownProductError",
    "catalog_adopt_by_sku",
    "catalog_local_products",
    "catalog_mirror_record",
    "catalog_mirror_upsert",
    "catalog_outbox_add",
    "catalog_outbox_process",
    "catalog_remote_ids",
    "catalog_request_claim",
    "catalog_request_complete",
    "catalog_request_keys_purge",
    "catalog_request_release",
    "catalog_sync",
    "category_create",
    "category_delete",
    "category_update",
    "enqueue_outbox_processing",
    "mirror_stock_sync",
    "product_create",
    "product_delete",
    "product_price_update",
    "product_purchase",
    "product_restock",
    "product_update",
    "require_local_stock",
    "stock_change",
    "stock_set",
]
