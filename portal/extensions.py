"""The Flask extensions, created unbound here and bound to an app in `create_app`."""
from flask import request
from flask_babel import Babel
from flask_babel.speaklater import LazyString
from flask_htmx import HTMX
from flask_limiter import Limiter
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from markupsafe import escape
from sqlalchemy import MetaData

# Flask-Babel's lazy strings say their HTML is their text, unescaped: a lazy message with a
# user's word in it (`_l("“%(w)s”不行", w=word)`) reached the page as markup. A message is
# text; its HTML is its text escaped (no message of ours carries markup).
LazyString.__html__ = lambda self: str(escape(str(self)))

# Stable constraint names, so Alembic migrations read the same on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def client_address() -> str:
    """The client's address as rate limits see it (ProxyFix has already applied trusted hops)."""
    return request.remote_addr or "unknown"


db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING))
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
htmx = HTMX()
limiter = Limiter(key_func=client_address)
