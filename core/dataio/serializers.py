from typing import TYPE_CHECKING, Any

from rest_framework import serializers

from core.dataio.formats import FORMATS
from core.dataio.importer import ON_ERROR_CHOICES

if TYPE_CHECKING:
    _Serializer = serializers.Serializer[Any]
else:
    _Serializer = serializers.Serializer  # DRF's classes are not generic at run time


class ImportInputSerializer(_Serializer):
    file = serializers.FileField(help_text="The CSV (UTF-8), XLSX or JSON file.")
    format = serializers.ChoiceField(
        choices=FORMATS, required=False, help_text="Default: from the file name's extension."
    )
    dry_run = serializers.BooleanField(default=False, help_text="Validate and count only.")
    on_error = serializers.ChoiceField(
        choices=ON_ERROR_CHOICES,
        default="abort",
        help_text="abort: nothing is written if any row is bad; skip: import the good rows.",
    )
    apply_stock = serializers.BooleanField(
        default=False,
        help_text="Sales only: new sales take stock through the catalog (oversold ones are "
        "refused). Without it a sales import records history only.",
    )


class ImportErrorSerializer(_Serializer):
    row = serializers.IntegerField()
    column = serializers.CharField()
    message = serializers.CharField()


class ImportReportSerializer(_Serializer):
    table = serializers.CharField()
    format = serializers.CharField()
    rows = serializers.IntegerField(help_text="Data rows read.")
    counted = serializers.CharField(help_text="What created/updated/unchanged count.")
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    rejected = serializers.IntegerField(help_text="Rows rejected.")
    error_count = serializers.IntegerField()
    # A field named like Serializer.errors (DRF declares fields as class attributes).
    errors = ImportErrorSerializer(  # type: ignore[assignment]
        many=True, help_text="The first 1,000 errors."
    )
    errors_truncated = serializers.BooleanField()
    dry_run = serializers.BooleanField()
    aborted = serializers.BooleanField()
    message = serializers.CharField()
    seconds = serializers.FloatField()
    rows_per_second = serializers.IntegerField()


class ImportResultSerializer(_Serializer):
    report = ImportReportSerializer()
