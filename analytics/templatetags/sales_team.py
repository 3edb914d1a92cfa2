"""``{% sales_team_sections filters %}``: the dashboard's issue-17 sections as one include, so
the dashboard view needs no change (analytics/dashboard_sections.py computes them)."""

from __future__ import annotations

from typing import Any

from django import template

from analytics.dashboard_sections import sales_team_sections as sections
from analytics.selectors import AnalyticsFilters

register = template.Library()


@register.inclusion_tag("analytics/_sales_team.html")
def sales_team_sections(filters: AnalyticsFilters) -> dict[str, Any]:
    return {"team": sections(filters), "filters": filters}
