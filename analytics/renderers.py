"""``?format=csv`` on the analytics reports: the answer's rows as CSV, the same numbers.

Each report's view names how its answer becomes rows (``csv_table`` on the viewset: a header
and rows, see ``analytics.views``). Error answers stay JSON (the project's one error shape).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from typing import Any

from rest_framework.exceptions import ValidationError
from rest_framework.renderers import BaseRenderer, JSONRenderer


class AnalyticsCSVRenderer(BaseRenderer):
    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> str:
        context = renderer_context or {}
        response, view = context.get("response"), context.get("view")
        table = getattr(view, "csv_table", None)
        if response is None or response.status_code >= 400 or table is None:
            if response is not None:
                response["Content-Type"] = "application/json"
            return json.dumps(data)
        header, rows = table(data)
        action = getattr(view, "action", None) or "report"
        response["Content-Disposition"] = f'attachment; filename="{action.replace("_", "-")}.csv"'
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(["" if value is None else value for value in row] for row in rows)
        return out.getvalue()


class ReportFormatMixin:
    """A viewset's ``?format=``: ``json``, ``csv`` or ``api`` (the browsable API); anything else
    is a 400 naming ``format`` (DRF would answer a bare 404), in JSON."""

    FORMATS = ("json", "csv", "api")

    def perform_content_negotiation(self, request: Any, force: bool = False) -> Any:
        fmt = request.query_params.get("format")
        if fmt is not None and fmt not in self.FORMATS:
            if force:  # rendering the error itself
                return JSONRenderer(), JSONRenderer.media_type
            raise ValidationError({"format": [f"Use one of {', '.join(self.FORMATS)}."]})
        return super().perform_content_negotiation(request, force)  # type: ignore[misc]
