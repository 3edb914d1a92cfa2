"""The one DRF router: every API resource is registered here, under ``/api/``."""

from rest_framework.routers import DefaultRouter

from customers.views import CustomerViewSet
from products.views import CategoryViewSet, ProductViewSet, StockMovementViewSet
from sales.views import SaleViewSet

router = DefaultRouter(trailing_slash=True)
router.register("customers", CustomerViewSet, basename="customer")
router.register("categories", CategoryViewSet, basename="category")
router.register("products", ProductViewSet, basename="product")
router.register("stock-movements", StockMovementViewSet, basename="stockmovement")
router.register("sales", SaleViewSet, basename="sale")
