"""Every user-facing string has its English translation (the UI is Chinese first)."""
import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
METHODS = [("portal/**.py", "python"), ("templates/**.html", "jinja2")]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None}


def source_messages() -> set[str]:
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
            str(ROOT), METHODS, keywords=KEYWORDS):
        found.add(message if isinstance(message, str) else message[0])
    return found


def test_every_message_has_an_english_translation():
    with open(ROOT / "portal/translations/en/LC_MESSAGES/messages.po", "rb") as f:
        catalog = read_po(f)
    translated = {m.id for m in catalog if m.id and m.string and not m.fuzzy}
    missing = sorted(source_messages() - translated)
    assert len(source_messages()) > 100, "the extraction found too little to be looking"
    assert not missing, f"run scripts/translations and translate: {missing[:10]}"


def test_template_gettext_translates_then_formats_with_escaped_values(app):
    render = app.jinja_env.from_string
    # Each in its own app context, as each request has (Babel keeps the locale in `g`).
    with app.app_context(), app.test_request_context("/", headers={"Cookie": "tb_lang=en"}):
        out = render("{{ _('还有%(n)d个名额', n=3) }}|{{ _('看看%(day)s %(time)s', day='<b>', "
                     "time='9:00') }}|{{ _('通办') }}").render()
    assert out == "3 places left|Try &lt;b&gt; 9:00|Tongban"
    with app.app_context(), app.test_request_context("/"):
        assert render("{{ _('通办') }}|{{ _('%(x)s', x='<i>') }}").render() == "通办|&lt;i&gt;"


def test_one_date_and_one_date_time_format_per_language(app):
    """Stored moments are UTC and shown in the town's time; typed times are shown as typed."""
    from datetime import date, datetime

    from flask_babel import force_locale

    from portal.templating import date_text, moment_text
    stored = datetime(2026, 11, 30, 23, 39)  # UTC: 1 December in Shanghai
    with app.test_request_context("/"):
        assert date_text(date(2026, 11, 30)) == "2026年11月30日"
        assert moment_text(stored) == "2026年12月1日 07:39"
        assert date_text(stored) == "2026年12月1日"
        assert moment_text(stored, local=True) == "2026年11月30日 23:39"
    with app.test_request_context("/"), force_locale("en"):
        assert date_text(date(2026, 11, 30)) == "30 Nov 2026"
        assert moment_text(stored) == "1 Dec 2026, 07:39"
    template_dir = Path(__file__).resolve().parent.parent / "templates"
    formats = re.compile(r"dateformat|datetimeformat\('(short|medium|long|full)'\)|%Y-%m-%d")
    assert [str(p) for p in template_dir.rglob("*.html") if formats.search(p.read_text())] == []


def test_the_catalogues_fixed_vocabularies_are_translated_free_text_is_not(town, client, page):
    client.set_cookie("tb_lang", "en")
    guide = page(client.get("/services/SB-008"))
    materials = guide.text("table")
    assert "Original" in materials and "原件" not in materials
    assert "Free" in guide.text("dl") and "免费" not in guide.text("dl")
    assert "社会保障卡" in materials  # a material's name is the town's own text
