from django.apps import AppConfig


class DataioConfig(AppConfig):
    """Import and export of table files (CSV, XLSX, JSON): the engine and the operators'
    commands ``import_data`` and ``export_data``."""

    name = "core.dataio"
    label = "dataio"
    verbose_name = "Import and export"
