"""What one sale, import, bulk request or batch job may cost, and how jobs are watched."""

from salesproject.environment import config_error as _config_error
from salesproject.environment import env_bool as _env_bool
from salesproject.environment import env_int as _env_int
from salesproject.environment import env_memory as _env_memory

SALE_MAX_LINES = _env_int("SALE_MAX_LINES", 500, minimum=1)
# The admin's lists count matching rows up to this many, then say "more than N" (and their
# pages end there): a full count of a common search word read every matching sale.
ADMIN_COUNT_LIMIT = _env_int("ADMIN_COUNT_LIMIT", 10_000, minimum=100)
IDEMPOTENCY_KEY_TTL_HOURS = _env_int("IDEMPOTENCY_KEY_TTL_HOURS", 24, minimum=24)

# Imports (CSV/XLSX/JSON). An API upload up to IMPORT_SYNC_MAX_BYTES is imported in the request;
# a bigger one runs as a batch job (202 + job URL). Uploads over IMPORT_MAX_BYTES are refused,
# as are admin imports over IMPORT_ADMIN_MAX_BYTES (the admin previews the file in the request).
IMPORT_SYNC_MAX_BYTES = _env_int("IMPORT_SYNC_MAX_BYTES", 1_000_000, minimum=0)
IMPORT_MAX_BYTES = _env_int("IMPORT_MAX_BYTES", 500_000_000, minimum=1)
IMPORT_ADMIN_MAX_BYTES = _env_int("IMPORT_ADMIN_MAX_BYTES", 20_000_000, minimum=1)
# Bounds on what one import file may cost (docs/security.md, "File imports"): data rows, columns
# (also the widest XLSX sheet read), characters in one CSV line / XLSX row / JSON object (a longer
# one is an error for that row), row errors kept for the report and the errors file (all are
# counted), and the wall-clock limit of an import job (it fails with a message saying so).
IMPORT_MAX_ROWS = _env_int("IMPORT_MAX_ROWS", 5_000_000, minimum=1)
IMPORT_MAX_COLUMNS = _env_int("IMPORT_MAX_COLUMNS", 64, minimum=16)
IMPORT_MAX_LINE_LENGTH = _env_int("IMPORT_MAX_LINE_LENGTH", 65_536, minimum=1024)
IMPORT_ERRORS_KEPT = _env_int("IMPORT_ERRORS_KEPT", 1_000, minimum=1)
# The unpacked size of an XLSX part that openpyxl loads whole (shared strings, styles, workbook;
# not the worksheets, read as streams): a bigger one refuses the file before it is read.
IMPORT_XLSX_MAX_PART_BYTES = _env_int("IMPORT_XLSX_MAX_PART_BYTES", 64_000_000, minimum=1_000_000)
IMPORT_JOB_TIME_LIMIT = _env_int("IMPORT_JOB_TIME_LIMIT", 1800, minimum=10)
# PostgreSQL imports: check the foreign keys of imported rows as one set under FOR KEY SHARE
# locks instead of a trigger per row (needs the right to set session_replication_role; falls
# back to the triggers otherwise); the work_mem of the import and export transactions.
IMPORT_SET_BASED_FK_CHECKS = _env_bool("IMPORT_SET_BASED_FK_CHECKS", default=True)
# CSV imports into PostgreSQL split, check and encode plain lines a column at a time (pyarrow),
# rows in any other form cell by cell (core/dataio/columnar.py); False: every row cell by cell.
IMPORT_COLUMNAR_PARSE = _env_bool("IMPORT_COLUMNAR_PARSE", default=True)
# PostgreSQL imports: the tables an import changed by more than this percentage of their rows
# (inserted + updated + deleted against the rows they held) are ANALYZEd before it commits, so
# the planner knows their new size at once (0: after every import that changes a table).
IMPORT_ANALYZE_PERCENT = _env_int("IMPORT_ANALYZE_PERCENT", 10, minimum=0)
if IMPORT_ANALYZE_PERCENT > 100:
    raise _config_error("IMPORT_ANALYZE_PERCENT", "at most 100 (a percentage of a table's rows)")


# PostgreSQL sales imports of at least 10,000 lines that add at least this percentage of the rows
# the sales tables hold drop their secondary indexes and build them after the inserts (faster;
# readers of the sales wait for the import's commit meanwhile). 0: never.
IMPORT_INDEX_REBUILD_PERCENT = _env_int("IMPORT_INDEX_REBUILD_PERCENT", 50, minimum=0)
IMPORT_WORK_MEM = _env_memory("IMPORT_WORK_MEM", "128MB")
EXPORT_WORK_MEM = _env_memory("EXPORT_WORK_MEM", "64MB")
# POST /api/products/bulk/ and /api/customers/bulk/: items per request (all or nothing).
BULK_MAX_ITEMS = _env_int("BULK_MAX_ITEMS", 10_000, minimum=1)
# POST /api/sales/bulk/: up to SALES_BULK_SYNC_MAX sales are recorded in the request, more (up
# to SALES_BULK_MAX) as a batch job.
SALES_BULK_SYNC_MAX = _env_int("SALES_BULK_SYNC_MAX", 100, minimum=0)
SALES_BULK_MAX = _env_int("SALES_BULK_MAX", 10_000, minimum=1)

# Batch jobs: a running job's worker writes a heartbeat every JOB_HEARTBEAT_SECONDS; a job
# without one for JOB_HEARTBEAT_TIMEOUT is taken over by its redelivered task, or marked failed.
JOB_HEARTBEAT_SECONDS = _env_int("JOB_HEARTBEAT_SECONDS", 5, minimum=1)
JOB_HEARTBEAT_TIMEOUT = _env_int("JOB_HEARTBEAT_TIMEOUT", 120, minimum=10)
if JOB_HEARTBEAT_TIMEOUT <= 2 * JOB_HEARTBEAT_SECONDS:
    raise _config_error("JOB_HEARTBEAT_TIMEOUT", "it must be more than twice JOB_HEARTBEAT_SECONDS")
# A finished job's uploaded file and error report are deleted this many days after it ended
# (beat entry purge-job-files, command purge_job_files); the job row stays and notes it.
JOB_FILES_RETENTION_DAYS = _env_int("JOB_FILES_RETENTION_DAYS", 7, minimum=1)
