"""The browsable API's renderer: a view's ``raw_data_example`` fills the raw-data form of POST.

A sale's body holds a list of lines, which DRF's HTML form cannot edit ("Lists are not currently
supported in HTML input"); its raw-data tab then opened with an empty skeleton. With an example
body there, a person can edit the ids and send.
"""

from __future__ import annotations

import json
from typing import Any

from rest_framework import renderers


class BrowsableAPIRenderer(renderers.BrowsableAPIRenderer):
    def get_raw_data_form(self, data: Any, view: Any, method: str, request: Any) -> Any:
        form = super().get_raw_data_form(data, view, method, request)
        example = getattr(view, "raw_data_example", None)
        if form is not None and method == "POST" and example is not None:
            form.initial["_content"] = json.dumps(example, indent=4)
        return form
