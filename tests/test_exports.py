"""Spreadsheet files: Chinese headers open in Excel, and typed text never runs as a formula."""
import io

from openpyxl import load_workbook

from portal import exports

ROWS = [["姓名", "时长"], ["=HYPERLINK(\"http://x\")", 2.5], ["@SUM(A1)", -1]]


def test_csv_has_a_bom_and_defuses_formulas():
    body = exports.as_csv(ROWS)
    assert body.startswith("\ufeff".encode())
    text = body.decode("utf-8-sig").splitlines()
    assert text[0] == "姓名,时长"
    assert text[1].startswith("\"'=HYPERLINK") and text[2] == "'@SUM(A1),-1"


def test_xlsx_keeps_numbers_and_defuses_formulas():
    sheet = load_workbook(io.BytesIO(exports.as_xlsx(ROWS, "t"))).active
    assert [c.value for c in sheet[2]] == ["'=HYPERLINK(\"http://x\")", 2.5]
    assert sheet.cell(3, 1).data_type == "s" and sheet.cell(3, 2).value == -1
