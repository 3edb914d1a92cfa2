"""Import and export in the Django admin, with django-import-export's screens (upload →
preview with per-row errors → confirm; export with the changelist's filters) on top of the same
engine as the commands and the API: the same columns, checks, natural keys and set-based writes
(no per-row saves, foreign keys resolved in one query, one admin log entry per import)."""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.admin.models import ADDITION, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.urls import reverse
from import_export import fields, resources
from import_export.admin import ImportExportMixin
from import_export.formats import base_formats
from import_export.forms import ConfirmImportForm, ImportForm, SelectableFieldsExportForm
from import_export.results import Error, Result, RowResult
from import_export.signals import post_export
from tablib import Dataset

from core.dataio.exporter import text_columns
from core.dataio.formats import CONTENT_TYPES
from core.dataio.importer import ImportOptions, ImportReport
from core.dataio.readers import open_table
from core.dataio.reading import BadRow
from core.dataio.services import data_export, data_import
from core.dataio.tables import TABLES, get_table
from core.dataio.writers import WRITERS
from core.errors import ApplicationError

PREVIEW_ROWS = 500


def all_column_names() -> list[str]:
    """Every table's columns: what the delimiter sniffing looks for in a header."""
    return sorted({name for table in TABLES for name in get_table(table).column_names})


class MessageError(Error):
    """A file-level error shown as its message (no traceback: it is the user's file)."""

    traceback = ""


class TableDataset(Dataset):
    """The uploaded file's rows (for the preview) plus its bytes (for the engine)."""

    def __init__(self, raw: bytes, fmt: str) -> None:
        super().__init__()
        self.raw, self.fmt = raw, fmt
        self.row_index: dict[int, int] = {}


class _TableFormat:
    """Reads with our readers (UTF-8 check, delimiter sniffing, streaming XLSX/JSON) and
    writes with our writers, so a file is read and written exactly as the commands do."""

    fmt = ""
    expected_columns: tuple[str, ...] = ()

    def is_binary(self) -> bool:
        return True

    def get_read_mode(self) -> str:
        return "rb"

    def get_content_type(self) -> str:
        return CONTENT_TYPES[self.fmt]

    def get_extension(self) -> str:
        return self.fmt

    def create_dataset(self, in_stream: bytes | str, **kwargs: Any) -> TableDataset:
        raw = in_stream if isinstance(in_stream, bytes) else in_stream.encode()
        reader = open_table(io.BytesIO(raw), self.fmt, all_column_names())
        dataset = TableDataset(raw, self.fmt)
        dataset.headers = reader.header
        for row_number, cells in reader.rows():
            values = [cells.message] if isinstance(cells, BadRow) else cells
            width = len(reader.header)
            dataset.row_index[row_number] = len(dataset)
            dataset.append((list(values) + [""] * width)[:width])
        return dataset

    def export_data(self, dataset: Dataset, **kwargs: Any) -> bytes:
        # The CSV writer escapes the text columns (set by TableResource.export) against formulas.
        text_columns = getattr(dataset, "text_columns", ())
        return b"".join(WRITERS[self.fmt](dataset.headers, dataset, text_columns=text_columns))


class TableCSV(_TableFormat, base_formats.CSV):
    fmt = "csv"


class TableXLSX(_TableFormat, base_formats.XLSX):
    fmt = "xlsx"


class TableJSON(_TableFormat, base_formats.JSON):
    fmt = "json"


class TableResource(resources.Resource):
    """A resource whose import and export are the dataio table's (``table_name``)."""

    table_name = ""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.table = get_table(self.table_name)
        self.fields = {
            column.name: fields.Field(attribute=column.name, column_name=column.name)
            for column in self.table.columns
        }

    @classmethod
    def get_display_name(cls) -> str:
        return cls.table_name

    def get_user_visible_fields(self) -> list[fields.Field]:
        return list(self.fields.values())

    def get_export_headers(self, selected_fields: Iterable[str] | None = None) -> list[str]:
        return self.table.column_names

    def export(self, queryset: QuerySet[Any] | None = None, **kwargs: Any) -> Dataset:
        dataset = Dataset(headers=self.table.column_names)
        dataset.text_columns = text_columns(self.table.columns)
        for row in self.table.export_rows(queryset):
            dataset.append(row)
        return dataset

    def import_data(
        self,
        dataset: TableDataset,
        dry_run: bool = False,
        raise_errors: bool = False,
        **kwargs: Any,
    ) -> Result:
        result = Result()
        result.diff_headers = self.table.column_names
        options = ImportOptions(
            dry_run=dry_run,
            on_error=kwargs.get("on_error") or "abort",
            apply_stock=bool(kwargs.get("apply_stock")) and self.table_name == "sales",
            actor=kwargs.get("user"),
            source_name=kwargs.get("file_name") or "",
            preview_rows=PREVIEW_ROWS if dry_run else 0,
        )
        try:
            report = data_import(
                table=self.table_name,
                source=io.BytesIO(dataset.raw),
                fmt=dataset.fmt,
                options=options,
            )
        except ApplicationError as error:
            result.append_base_error(MessageError(error.message))
            return result
        result.report = report
        if report.aborted:
            self._invalid_rows(result, dataset, report)
            return result
        result.totals.update(
            {
                RowResult.IMPORT_TYPE_NEW: report.created,
                RowResult.IMPORT_TYPE_UPDATE: report.updated,
                RowResult.IMPORT_TYPE_SKIP: report.unchanged,
            }
        )
        result.total_rows = report.rows
        for _row, action, cells in report.preview:
            row_result = RowResult()
            row_result.import_type = action
            row_result.diff = cells
            result.append_row_result(row_result)
        return result

    def _invalid_rows(self, result: Result, dataset: TableDataset, report: ImportReport) -> None:
        by_row: dict[int, dict[str, list[str]]] = {}
        for error in report.errors:
            by_row.setdefault(error.row, {}).setdefault(
                error.column or NON_FIELD_ERRORS, []
            ).append(error.message)
        for row_number, errors in sorted(by_row.items()):
            index = dataset.row_index.get(row_number)
            cells = (
                dict(zip(dataset.headers, dataset[index], strict=True)) if index is not None else {}
            )
            result.append_invalid_row(row_number, cells, ValidationError(errors))
        if report.error_count > len(report.errors):
            result.append_base_error(
                MessageError(f"… and {report.error_count - len(report.errors)} more errors.")
            )


ON_ERROR_CHOICES = (
    ("abort", "Abort: write nothing if any row is bad"),
    ("skip", "Skip bad rows: import the good ones, list the others"),
)
DRY_RUN_HELP = "Validate and count only: the preview is shown and nothing is written."
APPLY_STOCK_HELP = (
    "New sales take their stock through the sale service, at the file's prices (a sale that "
    "would oversell is refused). Without it a sales import records history and leaves stock "
    "alone."
)


class LimitedImportForm(ImportForm):
    """django-import-export's upload form with the import_data command's options (on_error,
    dry run, apply stock for sales) and the admin's size limit."""

    on_error = forms.ChoiceField(
        label="Bad rows", choices=ON_ERROR_CHOICES, initial="abort", required=False
    )
    dry_run = forms.BooleanField(label="Dry run", required=False, help_text=DRY_RUN_HELP)
    apply_stock = forms.BooleanField(
        label="Apply stock", required=False, help_text=APPLY_STOCK_HELP
    )

    def __init__(self, formats: Any, resources: Any, **kwargs: Any) -> None:
        super().__init__(formats, resources, **kwargs)
        if not any(getattr(resource, "table_name", "") == "sales" for resource in resources):
            del self.fields["apply_stock"]

    def clean_import_file(self) -> Any:  # the uploaded file
        upload = self.cleaned_data["import_file"]
        limit = settings.IMPORT_ADMIN_MAX_BYTES
        if upload.size > limit:
            raise forms.ValidationError(
                f"The file has {upload.size:,} bytes; the admin imports at most {limit:,} "
                "(IMPORT_ADMIN_MAX_BYTES). Use the API or the import_data command for bigger "
                "files."
            )
        return upload


class OptionsConfirmImportForm(ConfirmImportForm):
    """The confirmation carries the options chosen with the upload."""

    on_error = forms.ChoiceField(choices=ON_ERROR_CHOICES, widget=forms.HiddenInput)
    apply_stock = forms.BooleanField(required=False, widget=forms.HiddenInput)


class CsvFirstExportForm(SelectableFieldsExportForm):
    """The export form with CSV chosen (the formats are CSV, XLSX, JSON in that order)."""

    def __init__(self, formats: Any, resources: Any, **kwargs: Any) -> None:
        super().__init__(formats, resources, **kwargs)
        self.fields["format"].initial = "0"


class TableImportExportAdmin(ImportExportMixin):
    """Import and export buttons on a model admin, backed by ``resource_classes``' table."""

    formats = [TableCSV, TableXLSX, TableJSON]
    import_form_class = LimitedImportForm
    confirm_form_class = OptionsConfirmImportForm
    export_form_class = CsvFirstExportForm
    # The import page lists every rejected row as text above the preview.
    import_template_name = "admin/import_export/table_import.html"
    skip_admin_log = True  # one log entry per import instead of one per row
    import_error_display = ("message",)

    model: type[Model]  # the ModelAdmin's

    def _perm(self, request: HttpRequest, *actions: str) -> bool:
        meta = self.model._meta
        return request.user.has_perms([f"{meta.app_label}.{a}_{meta.model_name}" for a in actions])

    def has_import_permission(self, request: HttpRequest) -> bool:
        return self._perm(request, "add", "change")

    def has_export_permission(self, request: HttpRequest) -> bool:
        return self._perm(request, "view")

    def _do_file_export(
        self,
        file_format: _TableFormat,
        request: HttpRequest,
        queryset: QuerySet[Any],
        export_form: forms.Form | None = None,
    ) -> StreamingHttpResponse:
        """Streamed as the API streams it (the table's rows from a server-side cursor through
        the writer), instead of django-import-export's whole Dataset and file in memory before
        the first byte. The file has the table's columns, as the resource's export did."""
        if not self.has_export_permission(request):
            raise PermissionDenied
        table = self.get_export_resource_classes(request)[0].table_name
        response = StreamingHttpResponse(
            data_export(table=table, fmt=file_format.fmt, queryset=queryset),
            content_type=file_format.get_content_type(),
        )
        filename = self.get_export_filename(request, queryset, file_format)
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        post_export.send(sender=None, model=self.model)
        return response

    def get_import_data_kwargs(self, **kwargs: Any) -> dict[str, Any]:
        form = kwargs.pop("form", None)
        if form is not None:
            kwargs["on_error"] = form.cleaned_data.get("on_error") or "abort"
            kwargs["apply_stock"] = bool(form.cleaned_data.get("apply_stock"))
        return kwargs

    def get_confirm_form_initial(
        self, request: HttpRequest, import_form: forms.Form | None
    ) -> dict[str, Any]:
        initial: dict[str, Any] = super().get_confirm_form_initial(request, import_form)
        if import_form is not None:
            initial["on_error"] = import_form.cleaned_data.get("on_error") or "abort"
            initial["apply_stock"] = bool(import_form.cleaned_data.get("apply_stock"))
        return initial

    def create_confirm_form(
        self, request: HttpRequest, import_form: forms.Form | None = None
    ) -> forms.Form | None:
        if import_form is not None and import_form.cleaned_data.get("dry_run"):
            messages.info(request, "Dry run: nothing was written. Untick it to import the file.")
            return None  # no "Confirm import" button
        form: forms.Form = super().create_confirm_form(request, import_form=import_form)
        return form

    def add_data_read_fail_error_to_form(self, form: forms.Form, e: Exception) -> None:
        if isinstance(e, ApplicationError):
            form.add_error("import_file", e.message)
        else:
            super().add_data_read_fail_error_to_form(form, e)

    def process_result(self, result: Result, request: HttpRequest) -> HttpResponse:
        if result.has_errors() or result.has_validation_errors():
            # The data changed between the preview and the confirmation: nothing was written.
            report = getattr(result, "report", None)
            detail = (
                report.summary()
                if report
                else "; ".join(str(error.error) for error in result.base_errors)
            )
            messages.error(request, f"The import was not done: {detail}")
            return HttpResponseRedirect(
                reverse(
                    f"admin:{self.model._meta.app_label}_{self.model._meta.model_name}_changelist"
                )
            )
        report = getattr(result, "report", None)
        if report is not None and report.error_count:
            messages.warning(request, report.summary())
        response: HttpResponse = super().process_result(result, request)
        return response

    def generate_log_entries(self, result: Result, request: HttpRequest) -> None:
        report = getattr(result, "report", None)
        if report is None:
            return
        LogEntry.objects.create(
            user_id=request.user.pk,  # type: ignore[misc]  # an admin: signed in
            content_type=ContentType.objects.get_for_model(self.model),
            object_repr=f"Import of {report.rows} rows"[:200],
            action_flag=ADDITION,
            change_message=report.summary(),
        )
