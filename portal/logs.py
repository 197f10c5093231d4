"""Logs never hold a full phone number, ID number or address.

Every log record made in the process is masked where it is made (a log record factory, so it
holds for the app's logger, the jobs worker, gunicorn's and werkzeug's access lines and any
handler a deployment adds): phone numbers keep their first three and last four digits, ID
numbers their first four and last four, and the parameters SQLAlchemy puts in a database
error and the row PostgreSQL quotes in its detail (where names and addresses would be) are
dropped. Addresses are never logged by the
portal's own code; the database parameters are the one way they could reach a log.
"""
from __future__ import annotations

import logging
import re
import traceback

PHONE = re.compile(r"(?<![0-9])(1[3-9][0-9])[0-9]{4}([0-9]{4})(?![0-9])")
ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])([0-9]{4})[0-9]{10}([0-9]{3}[0-9Xx])(?![0-9A-Za-z])")
SQL_PARAMETERS = re.compile(r"\[parameters: .*?\](?=\n|$)", re.S)
# PostgreSQL's detail of a broken constraint quotes the row or the key ("Failing row contains
# (…)", "Key (phone)=(…)").
SQL_DETAIL = re.compile(r"^DETAIL: .*$", re.M)


def mask(text: str) -> str:
    text = SQL_PARAMETERS.sub("[parameters: not logged]", text)
    text = SQL_DETAIL.sub("DETAIL: not logged", text)
    text = ID_NUMBER.sub(r"\1**********\2", text)
    return PHONE.sub(r"\1****\2", text)


def _masked(record: logging.LogRecord) -> logging.LogRecord:
    try:
        message = record.getMessage()
    except Exception:  # a broken format string: leave it for logging's own error report
        return record
    record.msg, record.args = mask(message), None
    if record.exc_info and not record.exc_text:
        record.exc_text = mask("".join(traceback.format_exception(*record.exc_info)).rstrip())
    if record.stack_info:
        record.stack_info = mask(record.stack_info)
    return record


def install() -> None:
    """Mask every record this process makes from now on (once, however many apps)."""
    make = logging.getLogRecordFactory()
    if getattr(make, "masks_personal_data", False):
        return

    def factory(*args, **kwargs):
        return _masked(make(*args, **kwargs))

    factory.masks_personal_data = True
    logging.setLogRecordFactory(factory)
