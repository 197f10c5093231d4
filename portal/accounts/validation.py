"""Rules for what people type into account forms: phone numbers, ID numbers, passwords.

Plain functions, no request: the forms call them and the tests call them directly.
"""
from __future__ import annotations

import re
import unicodedata
from datetime import date

from flask_babel import lazy_gettext as _l
from zxcvbn import zxcvbn

MOBILE = re.compile(r"1[3-9][0-9]{9}")  # ASCII digits only: \d also matches ٣ and other scripts
_SEPARATORS = re.compile(r"[\s\-()（）—]+")
# GB 11643-1999: weights of the first 17 digits, and the check character for sum mod 11.
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_PROVINCES = {
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
    "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64",
    "65", "71", "81", "82", "83",
}
# zxcvbn's dictionaries are English; these are among the most common Chinese passwords' parts.
_COMMON_CN = ("woaini", "5201314", "1314520", "woaini1314", "aini1314", "wangyi", "zhangwei",
              "wangfang", "zhongguo", "beijing", "shanghai", "nihao", "qq123456")
PASSWORD_MIN = 8
PASSWORD_MAX = 128


def normalise_phone(raw: str | None) -> str:
    """Full-width digits to ASCII, spaces and dashes out, +86/0086 country prefix off."""
    text = _SEPARATORS.sub("", unicodedata.normalize("NFKC", raw or ""))
    for prefix in ("+86", "0086"):
        if text.startswith(prefix):
            return text[len(prefix):]
    if len(text) == 13 and text.startswith("86"):
        return text[2:]
    return text


def phone_problem(phone: str) -> str | None:
    """Why a normalised phone number is not a mainland mobile number, or None."""
    if not phone:
        return _l("请输入手机号码")
    if not MOBILE.fullmatch(phone):
        return _l("请输入11位中国大陆手机号码，例如 13812345678")
    return None


def normalise_id_card(raw: str | None) -> str:
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", raw or "")).upper()


def id_card_check_char(first17: str) -> str:
    """The GB 11643 check character for the first 17 digits of an ID number."""
    return _CHECK[sum(int(d) * w for d, w in zip(first17, _WEIGHTS)) % 11]


def id_card_problem(number: str, today: date | None = None) -> str | None:
    """Why a normalised 18-character resident ID number is not valid, or None."""
    if not re.fullmatch(r"[0-9]{17}[0-9X]", number):
        return _l("身份证号码应为18位，最后一位可以是数字或X")
    if number[:2] not in _PROVINCES:
        return _l("身份证号码的地区码不正确")
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return _l("身份证号码中的出生日期不正确")
    if born > (today or date.today()) or born.year < 1900:
        return _l("身份证号码中的出生日期不正确")
    if id_card_check_char(number[:17]) != number[17]:
        return _l("身份证号码校验位不正确，请核对后重新输入")
    return None


def password_problem(password: str, *, phone: str = "", name: str = "") -> str | None:
    """Why a password is too weak to protect an account, or None.

    Length and guessability (zxcvbn, which knows keyboard walks, repeats, sequences and dates)
    rather than composition rules; a password containing the phone number is refused outright.
    """
    if len(password) < PASSWORD_MIN:
        return _l("密码至少需要%(n)d个字符", n=PASSWORD_MIN)
    if len(password) > PASSWORD_MAX:
        return _l("密码不能超过%(n)d个字符", n=PASSWORD_MAX)
    if phone and (phone in password or phone[-8:] in password):
        return _l("密码不能包含手机号码")
    if zxcvbn(password, user_inputs=[*_COMMON_CN, *(v for v in (phone, name) if v)])["score"] < 2:
        return _l("密码太容易被猜到，请避免连续或重复的数字、生日和常见单词，可以用一句话的拼音加数字")
    return None


def mask_phone(phone: str | None) -> str:
    """138****5678."""
    if not phone or len(phone) < 7:
        return "****"
    return f"{phone[:3]}****{phone[-4:]}"


def mask_id_card(number: str | None) -> str:
    """1101**********123X: region and check digit only, never the birth date."""
    if not number:
        return ""
    return f"{number[:4]}{'*' * (len(number) - 8)}{number[-4:]}"
