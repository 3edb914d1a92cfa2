"""The admin index links to the analytics dashboard (``/dashboard/``)."""

from django.contrib import admin

admin.site.index_template = "analytics/admin_index.html"
