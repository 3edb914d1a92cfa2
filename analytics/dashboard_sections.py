"""The dashboard's sales-team sections (issue 17): the retention triangle, the RFM segment grid
and "bought together" for a chosen product, from the same selectors as the API."""

from __future__ import annotations

from typing import Any

from analytics import selectors
from analytics.selectors import AnalyticsFilters


def _shade(pct: Any) -> str:
    """A cell's background: the retention % as the opacity of one colour."""
    alpha = 0 if pct is None else min(float(pct), 100.0) / 100
    return f"rgba(65, 118, 144, {alpha:.2f})"


def sales_team_sections(filters: AnalyticsFilters) -> dict[str, Any]:
    """Template context of ``analytics/_sales_team.html``."""
    context: dict[str, Any] = {"cohorts": None, "rfm": None, "basket": None}
    if not filters.by_line:  # cohorts and RFM are per customer
        cohorts = selectors.analytics_cohorts(filters=filters, interval="month")
        width = max((len(c["periods"]) for c in cohorts["results"]), default=0)
        context["cohorts"] = {
            "offsets": list(range(width)),
            "rows": [
                {
                    "cohort": c["cohort"],
                    "customers": c["customers"],
                    "cells": [
                        {
                            **p,
                            "shade": _shade(p["retention_pct"]),
                            "light": p["retention_pct"] and p["retention_pct"] > 50,
                        }
                        for p in c["periods"]
                    ],
                }
                for c in cohorts["results"]
            ],
        }
        context["rfm"] = selectors.analytics_rfm(filters=filters)
    if filters.product is not None:
        context["basket"] = selectors.analytics_basket(
            filters=filters, product=filters.product, limit=10
        )
    return context
