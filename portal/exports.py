"""Tables as files staff open in a spreadsheet: CSV (UTF-8 with a byte-order mark, so Excel
reads the Chinese headers) and Excel. Text a spreadsheet would run as a formula (=, +, -, @
first: CSV injection) is written with a leading apostrophe; numbers stay numbers."""
from __future__ import annotations

import csv
import io


def _safe(value):
    return f"'{value}" if isinstance(value, str) and value[:1] in ("=", "+", "-", "@") else value


def as_csv(rows: list[list]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows([[_safe(v) for v in row] for row in rows])
    return out.getvalue().encode("utf-8-sig")


def as_xlsx(rows: list[list], title: str) -> bytes:
    from openpyxl import Workbook
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=title[:31])
    for row in rows:
        sheet.append([_safe(v) for v in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def download(rows: list[list], kind: str, filename: str, title: str):
    """The rows as an attachment: `kind` is "csv" or "xlsx"; `filename` without extension."""
    from flask import Response
    if kind == "csv":
        body, mimetype = as_csv(rows), "text/csv; charset=utf-8"
    else:
        body, mimetype = as_xlsx(rows, title), XLSX
    return Response(body, mimetype=mimetype,
                    headers={"Content-Disposition": f'attachment; filename="{filename}.{kind}"'})
