"""Every user-facing string has its English translation (the UI is Chinese first)."""
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
