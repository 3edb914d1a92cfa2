import django_filters

from core.api.filtering import (
    FilterSet,
    IsoDateTimeFilter,
    NumberFilter,
    StrictBooleanFilter,
    search_in,
)
from products.models import Category, Product, StockMovement, StockMovementReason


class CategoryFilter(FilterSet):
    search = django_filters.CharFilter(method=search_in("name", "description"))
    name = django_filters.CharFilter(lookup_expr="iexact")

    class Meta:
        model = Category
        fields = ["search", "name"]


class ProductFilter(FilterSet):
    search = django_filters.CharFilter(
        method=search_in("name", "sku"), label="Words to find in name or SKU"
    )
    sku = django_filters.CharFilter(lookup_expr="iexact")
    category = django_filters.ModelChoiceFilter(queryset=Category.objects.all())
    category_name = django_filters.CharFilter(field_name="category__name", lookup_expr="iexact")
    is_active = StrictBooleanFilter()
    price_min = NumberFilter(field_name="price", lookup_expr="gte")
    price_max = NumberFilter(field_name="price", lookup_expr="lte")
    stock_min = NumberFilter(field_name="stock_quantity", lookup_expr="gte")
    stock_max = NumberFilter(field_name="stock_quantity", lookup_expr="lte")
    in_stock = StrictBooleanFilter(method="filter_in_stock")
    updated_after = IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")
    # The Product Catalog API's names for the same filters, so that its clients can use this
    # list unchanged (docs/catalog.md): name contains (case-insensitive), price range, in stock.
    name = django_filters.CharFilter(
        lookup_expr="icontains", max_length=200, label="Name contains (case-insensitive)"
    )
    min_price = NumberFilter(field_name="price", lookup_expr="gte", label="Alias of price_min")
    max_price = NumberFilter(field_name="price", lookup_expr="lte", label="Alias of price_max")
    available = StrictBooleanFilter(method="filter_in_stock", label="Alias of in_stock")

    class Meta:
        model = Product
        fields = ["search", "sku", "category", "is_active"]

    def filter_in_stock(self, queryset, name, value):
        return queryset.filter(stock_quantity__gt=0) if value else queryset.filter(stock_quantity=0)


class StockMovementFilter(FilterSet):
    product = NumberFilter(field_name="product_id")
    reason = django_filters.ChoiceFilter(choices=StockMovementReason.choices)
    reference = django_filters.CharFilter()
    created_after = IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = StockMovement
        fields = ["product", "reason", "reference"]
