from collections.abc import Callable
from decimal import Decimal

from django.db import DataError, transaction
from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import PublicReadRoleModelPermissions
from accounts.services import api_key_authenticate
from core.api.conditional import ConditionalGetMixin
from core.api.pagination import CursorPagination
from core.api.views import ServiceModelViewSet
from core.dataio.views import TableBulkMixin, TableImportExportMixin
from core.errors import ApplicationError
from core.idempotency import StoredResponse
from core.jobs.models import BatchJobKind
from core.jobs.serializers import BatchJobOutputSerializer
from core.jobs.services import batch_job_create
from core.ops.replicas import ReplicaReadsMixin
from products import selectors, services
from products.filters import CategoryFilter, ProductFilter, StockMovementFilter
from products.models import CatalogRequestKey, Product
from products.serializers import (
    CATEGORY_REPRESENTATION_VERSION,
    MAX_STOCK_QUANTITY,
    PRODUCT_REPRESENTATION_VERSION,
    CatalogDetailSerializer,
    CatalogQuantityInputSerializer,
    CategoryInputSerializer,
    CategoryOutputSerializer,
    PriceUpdateInputSerializer,
    ProductInputSerializer,
    ProductOutputSerializer,
    StockMovementOutputSerializer,
    product_shows_cost,
)


class CategoryViewSet(ConditionalGetMixin, TableImportExportMixin, ServiceModelViewSet):
    """Product categories. Anyone may read them; writes need a manager. Reads answer with
    ETag and Last-Modified, and 304 to a current If-None-Match or If-Modified-Since."""

    data_table = "categories"
    queryset = selectors.category_list()
    permission_classes = [PublicReadRoleModelPermissions]
    oauth_scopes = {"safe": "read", "unsafe": "write", "import_file": "import"}
    input_serializer_class = CategoryInputSerializer
    output_serializer_class = CategoryOutputSerializer
    filterset_class = CategoryFilter
    ordering_fields = ["name", "created_at"]
    ordering = ["name", "id"]
    representation_version = CATEGORY_REPRESENTATION_VERSION

    def get_data_state(self):
        if self.action == "list":
            return selectors.category_list_state()
        return selectors.category_detail_state(category_id=self.kwargs["pk"])

    def create_object(self, data):
        return services.category_create(**data)

    def update_object(self, instance, data):
        return services.category_update(category=instance, data=data)

    def delete_object(self, instance):
        services.category_delete(category=instance)


class ProductViewSet(
    ConditionalGetMixin, TableBulkMixin, TableImportExportMixin, ServiceModelViewSet
):
    """Products: the public catalog. Anyone may read; `cost` is shown only to staff roles.
    Setting `stock_quantity` records the difference in the stock ledger. Reads answer with
    ETag and Last-Modified, and 304 to a current If-None-Match or If-Modified-Since."""

    data_table = "products"
    queryset = selectors.product_list()
    permission_classes = [PublicReadRoleModelPermissions]
    oauth_scopes = {
        "safe": "read",
        "unsafe": "write",
        "import_file": "import",
        "bulk": "import",
        "price_update": "import",
    }
    input_serializer_class = ProductInputSerializer
    output_serializer_class = ProductOutputSerializer
    filterset_class = ProductFilter
    ordering_fields = ["name", "sku", "price", "stock_quantity", "created_at", "updated_at"]
    ordering = ["name", "id"]
    action_permissions = {"price_update": ["products.change_product"]}
    representation_version = PRODUCT_REPRESENTATION_VERSION

    def list(self, request, *args, **kwargs):
        _refuse_unknown_parameters(request, ProductFilter)
        return super().list(request, *args, **kwargs)

    def get_data_state(self):
        if self.action == "list":
            return selectors.product_list_state()
        return selectors.product_detail_state(product_id=self.kwargs["pk"])

    def get_representation_variant(self):
        return {"cost": product_shows_cost(self.request)}

    @extend_schema(request=PriceUpdateInputSerializer, responses={200: dict, 202: dict})
    @action(detail=False, methods=["post"], url_path="price-update")
    def price_update(self, request, *args, **kwargs):
        """Change the prices of the products matching a filter (category ids, skus, price
        range) by `percent` or `amount`. With `dry_run` it answers 200 with what would change;
        otherwise it runs as a batch job: 202 with the job (`GET /api/jobs/{id}/`). All or
        nothing: refused whole if a price would fall below 0."""
        serializer = PriceUpdateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        selection = serializer.selection()
        # Checked now (a price out of range is a 400 here, not a failed job later).
        result = services.product_price_update(
            products=selectors.product_price_selection(**selection),
            percent=data.get("percent"),
            amount=data.get("amount"),
            dry_run=True,
        )
        if data["dry_run"]:
            return Response(result.as_dict())
        job = batch_job_create(
            kind=BatchJobKind.PRICE_UPDATE,
            params={
                "selection": {k: _jsonable(v) for k, v in selection.items()},
                "percent": _jsonable(data.get("percent")),
                "amount": _jsonable(data.get("amount")),
            },
            created_by=request.user,
        )
        job.refresh_from_db()
        body = {"job": BatchJobOutputSerializer(job, context={"request": request}).data}
        return Response(
            body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["job"]["url"]}
        )

    def handle_exception(self, exc):
        response = super().handle_exception(exc)
        if response.status_code == status.HTTP_404_NOT_FOUND and self.action == "retrieve":
            # The catalog contract: a product GET answers 404 {"detail": …} (kept beside the
            # API's usual error shape).
            response.data["detail"] = "Not found."
        return response

    def create_object(self, data):
        return services.product_create(**data, actor=self.request.user)

    def update_object(self, instance, data):
        return services.product_update(product=instance, data=data, actor=self.request.user)

    def delete_object(self, instance):
        services.product_delete(product=instance)


# Query parameters of a list besides its filters: ordering, pagination, DRF's format override.
LIST_PARAMETERS = frozenset({"ordering", "page", "page_size", "format"})
# Filters of the Product Catalog API that mean nothing here: named in the 400.
UNSUPPORTED_FILTERS = {
    "is_featured": "Products have no featured flag here; this filter is not supported.",
}


def _refuse_unknown_parameters(request, filterset_class) -> None:
    """A 400 naming every query parameter the list does not know, instead of ignoring it (a
    client would believe a filter applied that did not)."""
    known = LIST_PARAMETERS | set(filterset_class.base_filters)
    unknown = sorted(name for name in request.query_params if name not in known)
    if unknown:
        raise ApplicationError(
            f"Unknown query parameter{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}.",
            code="unknown_parameter",
            fields={
                name: [
                    UNSUPPORTED_FILTERS.get(
                        name, f"Unknown parameter; known: {', '.join(sorted(known))}."
                    )
                ]
                for name in unknown
            },
        )


def _jsonable(value):
    if isinstance(value, Decimal):
        return str(value)
    return value


class StockMovementViewSet(ReplicaReadsMixin, viewsets.ReadOnlyModelViewSet):
    """The stock ledger, newest first: every stock change, with its reason and reference.
    Per product the deltas sum to `stock_quantity`. Filter with `product=`. Cursor-paginated
    (it grows with every sale): follow `next`."""

    queryset = selectors.stock_movement_list()
    oauth_scopes = {"safe": "read"}
    pagination_class = CursorPagination
    serializer_class = StockMovementOutputSerializer
    filterset_class = StockMovementFilter
    ordering_fields = ["created_at", "delta"]
    ordering = ["-created_at", "-id"]


MAX_PRODUCT_ID = 2**63 - 1  # bigint


class CatalogContractView(APIView):
    """Base of the catalog-compatible endpoints (``purchase/``, ``restock/``): the Product
    Catalog API contract of docs/catalog.md, which another sales system can use unchanged.

    Authenticated by ``Authorization: Api-Key <key>`` (checked before the product lookup: 403
    when missing or wrong). Answers the contract's ``{"detail": …}`` bodies, not the API's
    usual error shape. Our extension: an optional ``Idempotency-Key`` header makes a repeat
    (same key, same API key) answer the first success again without moving stock twice; the
    same key for another request is a 422; a repeat while the first still runs waits for it a
    little, then is a 409 with ``Retry-After`` (``core/idempotency.py``, as ``POST /api/sales/``).
    """

    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes: list = []
    operation = ""  # "purchase" or "restock", with stock_operation, set by the subclasses
    stock_operation: Callable[..., Product] | None = None

    def get_exception_handler(self):
        return catalog_contract_exception_handler

    @extend_schema(
        request=CatalogQuantityInputSerializer,
        responses={
            200: ProductOutputSerializer,
            400: CatalogDetailSerializer,
            403: CatalogDetailSerializer,
            404: CatalogDetailSerializer,
        },
    )
    def post(self, request, pk: str):
        api_key = api_key_authenticate(header=request.headers.get("Authorization"))
        if api_key is None:
            return Response(
                {"detail": "Invalid or missing API key (header 'Authorization: Api-Key <key>')."},
                status=status.HTTP_403_FORBIDDEN,
            )
        if not (pk.isascii() and pk.isdigit() and int(pk) <= MAX_PRODUCT_ID):
            # Any id segment reaches this view, so that the contract's 404 (after the key
            # check) answers unknown ids of any shape.
            return Response({"detail": "Not found."}, status=status.HTTP_404_NOT_FOUND)
        product_id = int(pk)
        serializer = CatalogQuantityInputSerializer(data=request.data)
        if not serializer.is_valid():
            return Response(
                {"detail": serializer.first_error()}, status=status.HTTP_400_BAD_REQUEST
            )
        quantity = serializer.validated_data["quantity"]
        key = request.headers.get("Idempotency-Key")
        claimed: CatalogRequestKey | None = None
        if key is not None:
            try:
                outcome = services.catalog_request_claim(
                    api_key=api_key,
                    key=key,
                    operation=self.operation,
                    product_id=product_id,
                    quantity=quantity,
                )
            except ApplicationError as exc:  # malformed key (400), another request (422), busy
                return self._error(exc)
            if isinstance(outcome, StoredResponse):
                return Response(
                    outcome.body, status=outcome.status, headers={"Idempotent-Replayed": "true"}
                )
            claimed = outcome
        try:
            response = self._apply(request, api_key, product_id, quantity, claimed)
        except BaseException:
            if claimed is not None:
                services.catalog_request_release(record=claimed)  # a crash: let them retry
            raise
        if claimed is not None and response.status_code != status.HTTP_200_OK:
            services.catalog_request_release(record=claimed)  # failures are not stored
        return response

    def _apply(self, request, api_key, pk: int, quantity: int, claimed) -> Response:
        try:
            assert self.stock_operation is not None, "set by the subclasses"
            with transaction.atomic():
                product = self.stock_operation(
                    product_id=pk, quantity=quantity, reference=f"api-key:{api_key.prefix}"
                )
                body = ProductOutputSerializer(product, context={"request": request}).data
                if claimed is not None:  # stored with the stock change, or not at all
                    services.catalog_request_complete(record=claimed, response_body=body)
        except services.UnknownProductError:
            return Response({"detail": "Not found."}, status=status.HTTP_404_NOT_FOUND)
        except services.InsufficientStockError as exc:
            return Response(
                {"detail": f"Not enough stock. Only {exc.available} available."},
                status=status.HTTP_400_BAD_REQUEST,
            )
        except ApplicationError as exc:  # e.g. this deployment itself uses a remote catalog
            return self._error(exc)
        except DataError:  # a restock past the 32-bit stock column (PostgreSQL), not a 500
            return Response(
                {"detail": f"Stock cannot exceed {MAX_STOCK_QUANTITY}."},
                status=status.HTTP_400_BAD_REQUEST,
            )
        return Response(body)

    @staticmethod
    def _error(exc: ApplicationError) -> Response:
        """An error in the contract's ``{"detail"}`` shape."""
        response = Response({"detail": exc.message}, status=exc.status_code)
        if exc.retry_after is not None:
            response["Retry-After"] = str(exc.retry_after)
        return response


class ProductPurchaseView(CatalogContractView):
    """`POST /api/products/{id}/purchase/` `{"quantity": n}`: take stock (no oversell)."""

    operation = "purchase"
    stock_operation = staticmethod(services.product_purchase)


class ProductRestockView(CatalogContractView):
    """`POST /api/products/{id}/restock/` `{"quantity": n}`: add stock."""

    operation = "restock"
    stock_operation = staticmethod(services.product_restock)


def catalog_contract_exception_handler(exc, context):
    """Malformed JSON, wrong method and the like, in the contract's ``{"detail"}`` shape."""
    from rest_framework.views import exception_handler

    response = exception_handler(exc, context)
    if response is not None and isinstance(response.data, dict) and "detail" not in response.data:
        response.data = {"detail": str(getattr(exc, "detail", exc))}
    return response
