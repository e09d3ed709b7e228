"""Leads in from a spreadsheet: read a CSV or XLSX file, map its columns to lead fields, check
every row, find duplicates, and create (or update) the leads through crm.services.

The package is split by step: `reading` (decode CSV encodings, stream XLSX, sniff the header
and count rows), `mapping` (header → field, remembered mappings), `cells` (one check per
field, a row's cells as field values), `duplicates` (what makes two leads the same),
`checking` (the row checked like the lead form, what each row does), `uploads` (the job:
upload, preview, configure), `running` (run in the request or in the background, sweep) and
`progress` (how far a run is, and its summary). The names callers use are re-exported here,
so `from crm import imports; imports.import_run(...)` stays.
"""

from django.core.exceptions import ValidationError

from crm import audit
from crm.imports.cells import FIELD_CHECKS, Lookups, convert_row
from crm.imports.checking import PROGRESS_EVERY, _check, _Checked, _error
from crm.imports.duplicates import _keys
from crm.imports.mapping import (
    ALIASES,
    IMPORTABLE_FIELDS,
    field_label,
    mapping_clean,
    suggested_mapping,
)
from crm.imports.progress import checked, progress, saved, summary
from crm.imports.reading import MAX_COLUMNS, Sniffed, max_bytes, max_rows, sniff
from crm.imports.running import (
    ABANDONED_AFTER,
    MAX_ATTEMPTS,
    STALE_PENDING,
    STALE_RUNNING,
    background_rows,
    import_run,
    import_sweep,
    runs_in_background,
)
from crm.imports.uploads import (
    can_import,
    import_configure,
    import_upload,
    megabytes,
    preview,
)

__all__ = [
    "ABANDONED_AFTER",
    "ALIASES",
    "FIELD_CHECKS",
    "IMPORTABLE_FIELDS",
    "MAX_ATTEMPTS",
    "MAX_COLUMNS",
    "PROGRESS_EVERY",
    "STALE_PENDING",
    "STALE_RUNNING",
    "Lookups",
    "Sniffed",
    "ValidationError",
    "_Checked",
    "_check",
    "_error",
    "_keys",
    "audit",
    "background_rows",
    "can_import",
    "checked",
    "convert_row",
    "field_label",
    "import_configure",
    "import_run",
    "import_sweep",
    "import_upload",
    "mapping_clean",
    "max_bytes",
    "max_rows",
    "megabytes",
    "preview",
    "progress",
    "runs_in_background",
    "saved",
    "sniff",
    "suggested_mapping",
    "summary",
]
