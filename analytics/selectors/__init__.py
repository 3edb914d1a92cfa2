"""Reads for analytics: the one read path of the API and the dashboard.

Modules: ``filters`` (the period and filters of a question, shared helpers), ``figures``
(summary, revenue, top products and customers, breakdown, filter choices), ``team_reports``
(cohorts, basket, RFM, customer lifetime), ``lifetimes`` (the lifetime rows of a page of
customers, for the customers API and admin). Callers import from ``analytics.selectors``; every
public name is re-exported here.

Every figure counts the lines of completed sales whose local day (``settings.TIME_ZONE``) is in
the period. Filters: ``product`` and ``category`` select lines (a sale counts as an order of a
product or category when it has a line of it), ``customer``, ``country`` and ``segment`` select
sales (by the customer's current country and segment). Money is ``Decimal`` (2 places).

Where each answer comes from (``source`` in every answer):

=====================  ==========================================  ==========================
question               rollups read                                 sales tables when
=====================  ==========================================  ==========================
totals, time series    DailySales (no filter), DailyCustomerSales   a product/category filter
                       (customer/country/segment), DailyProduct-    together with a customer/
                       Sales (product), DailyCategorySales          country/segment filter
                       (category)
unique customers       DailyCustomerSales (EXISTS per customer)     a product/category filter
top products           DailyProductSales                            customer/country/segment
top customers          DailyCustomerSales                           product/category filter
breakdown category     DailyCategorySales / DailyProductSales       customer/country/segment
breakdown country,     DailyCustomerSales (+ DailySales for sales   product/category filter
segment                without customer)
=====================  ==========================================  ==========================

Category figures also come from the sales tables while a product's category has changed since
its sales were counted (until ``rebuild_rollups``): orders per category cannot be moved
between categories. Pass ``source="sales"`` to any selector to force the sales tables (the
benchmark's baseline).
"""

from __future__ import annotations

from analytics.selectors.figures import (
    analytics_breakdown,
    analytics_choices,
    analytics_revenue,
    analytics_summary,
    analytics_top_customers,
    analytics_top_products,
    daily_totals,
    unique_customers,
)
from analytics.selectors.filters import (
    BREAKDOWN_FIGURES,
    CATEGORY,
    CENT,
    CUSTOMER,
    DAILY,
    DAILY_CATEGORY,
    DAILY_CUSTOMER,
    DAILY_PRODUCT,
    DEFAULT_DAYS,
    DIMENSIONS,
    INTERVALS,
    MONTHLY_CUSTOMER,
    MONTHLY_PRODUCT,
    SOURCES,
    TOP_CUSTOMERS_BY,
    TOP_PRODUCTS_BY,
    ZERO,
    AnalyticsFilters,
    Totals,
    bucket_start,
    category_rollup_in_step,
    default_period,
    money,
    ratio,
)
from analytics.selectors.lifetimes import customer_lifetimes
from analytics.selectors.team_reports import (
    COHORT_INTERVALS,
    RFM_GRID,
    RFM_SEGMENT_KEYS,
    RFM_SEGMENTS,
    analytics_basket,
    analytics_cohorts,
    analytics_customer_lifetime,
    analytics_rfm,
    analytics_rfm_customers,
    bucket_label,
    rfm_segment,
)

__all__ = [
    "BREAKDOWN_FIGURES",
    "CATEGORY",
    "CENT",
    "COHORT_INTERVALS",
    "CUSTOMER",
    "DAILY",
    "DAILY_CATEGORY",
    "DAILY_CUSTOMER",
    "DAILY_PRODUCT",
    "DEFAULT_DAYS",
    "DIMENSIONS",
    "INTERVALS",
    "MONTHLY_CUSTOMER",
    "MONTHLY_PRODUCT",
    "RFM_GRID",
    "RFM_SEGMENTS",
    "RFM_SEGMENT_KEYS",
    "SOURCES",
    "TOP_CUSTOMERS_BY",
    "TOP_PRODUCTS_BY",
    "ZERO",
    "AnalyticsFilters",
    "Totals",
    "analytics_basket",
    "analytics_breakdown",
    "analytics_choices",
    "analytics_cohorts",
    "analytics_customer_lifetime",
    "analytics_revenue",
    "analytics_rfm",
    "analytics_rfm_customers",
    "analytics_summary",
    "analytics_top_customers",
    "analytics_top_products",
    "bucket_label",
    "bucket_start",
    "category_rollup_in_step",
    "customer_lifetimes",
    "daily_totals",
    "default_period",
    "money",
    "ratio",
    "rfm_segment",
    "unique_customers",
]
