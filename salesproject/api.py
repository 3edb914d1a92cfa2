"""The one DRF router: every API resource is registered here, under ``/api/``."""

from rest_framework import permissions, routers

from analytics.customer_api import CustomerViewSet  # customers' viewset + lifetime figures
from analytics.views import AnalyticsViewSet
from core.jobs.views import BatchJobViewSet
from products.views import CategoryViewSet, ProductViewSet, StockMovementViewSet
from sales.views import SaleViewSet


class APIRootView(routers.APIRootView):
    """The sales analytics API: follow the links. Authenticate with a JWT from
    `/api/auth/token/` (or log in for this browsable API); the schema is at `/api/schema/` and
    Swagger UI at `/api/docs/`."""

    permission_classes = [permissions.AllowAny]
    oauth_scopes = {"safe": "read"}


class Router(routers.DefaultRouter):
    APIRootView = APIRootView


router = Router(trailing_slash=True)
router.register("customers", CustomerViewSet, basename="customer")
router.register("categories", CategoryViewSet, basename="category")
router.register("products", ProductViewSet, basename="product")
router.register("stock-movements", StockMovementViewSet, basename="stockmovement")
router.register("sales", SaleViewSet, basename="sale")
router.register("jobs", BatchJobViewSet, basename="batchjob")
router.register("analytics", AnalyticsViewSet, basename="analytics")
