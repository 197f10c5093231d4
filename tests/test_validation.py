"""The plain rules behind account forms: phones, ID numbers, passwords, masking."""
from datetime import date

import pytest

from portal.accounts import validation as v


@pytest.mark.parametrize("raw, expected", [
    ("13812345678", "13812345678"),
    ("１３８１２３４５６７８", "13812345678"),          # full-width digits
    (" 138 1234 5678 ", "13812345678"),               # spaces
    ("138-1234-5678", "13812345678"),
    ("+86 138 1234 5678", "13812345678"),
    ("0086 13812345678", "13812345678"),
    ("8613812345678", "13812345678"),
    ("１３８　１２３４　５６７８", "13812345678"),       # ideographic spaces
])
def test_phone_is_normalised(raw, expected):
    assert v.normalise_phone(raw) == expected
    assert v.phone_problem(v.normalise_phone(raw)) is None


@pytest.mark.parametrize("raw", ["", "1381234567", "138123456789", "12812345678", "010-12345678",
                                 "abcdefghijk", "1381234567x", "13٨12345678"])
def test_wrong_phone_numbers_have_a_reason(raw):
    assert v.phone_problem(v.normalise_phone(raw))


def test_id_card_check_digit_follows_gb11643():
    # The standard's worked example; X stands for 10.
    assert v.id_card_check_char("11010519491231002") == "X"
    assert v.id_card_problem("11010519491231002X") is None
    assert v.id_card_problem(v.normalise_id_card("110105 19491231 002x")) is None


@pytest.mark.parametrize("number, words", [
    ("110105194912310021", "校验位"),   # wrong check digit
    ("11010519491231002", "18位"),     # too short
    ("11010519491231٠٠2X", "18位"),    # Arabic-Indic digits are not ID digits
    ("99010519491231002X", "地区码"),   # no such province
    ("110105194913310020", "出生日期"),  # month 13
    ("110105209912310027", "出生日期"),  # born in the future
])
def test_bad_id_cards_say_what_is_wrong(number, words):
    problem = v.id_card_problem(number, today=date(2026, 11, 22))
    assert problem and words in str(problem)


@pytest.mark.parametrize("password", ["short", "12345678", "88888888", "qwertyuiop", "password1",
                                      "woaini1314", "a1b2c3d4"])
def test_weak_passwords_are_refused(password):
    assert v.password_problem(password)


def test_password_containing_the_phone_is_refused():
    assert "手机号码" in str(v.password_problem("x13812345678y!", phone="13812345678"))


@pytest.mark.parametrize("password", ["demo-2026", "chunmian-bujuexiao7", "Tongban says hi 2026"])
def test_reasonable_passwords_pass(password):
    assert v.password_problem(password, phone="13812345678") is None


def test_masks_never_show_the_middle():
    assert v.mask_phone("13812345678") == "138****5678"
    assert v.mask_id_card("11010519491231002X") == "1101**********002X"
    assert "19491231" not in v.mask_id_card("11010519491231002X")
