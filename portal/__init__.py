"""Tongban (通办): the application factory, made of small named steps."""
from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from portal import config
from portal.catalogues import compile_catalogues
from portal.config import PACKAGE, asset_dir
from portal.extensions import babel, csrf, db, htmx, limiter, login_manager, migrate
from portal.params import BoundedInt
from portal.web import PortalRequest, allow_large_uploads, preferred_language


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__, template_folder=str(asset_dir("templates")),
                static_folder=str(asset_dir("static")))
    app.request_class = PortalRequest
    app.url_map.converters["int"] = BoundedInt  # before any route: no id beyond the database's
    config.load(app, test_config)
    from portal import logs
    logs.install()
    if app.config["TRUSTED_PROXIES"]:
        n = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    register_security_headers(app)
    register_template_helpers(app)
    register_static_files(app)
    register_screen_polls(app)
    return app


def register_extensions(app: Flask) -> None:
    from portal import models  # noqa: F401  (every model, for Alembic and relationships)
    from portal.accounts.sessions import load_user
    from portal.database import tune_engine

    db.init_app(app)
    with app.app_context():
        tune_engine(db.engine, testing=app.testing)
    migrate.init_app(app, db, directory=str(asset_dir("migrations")), render_as_batch=True)
    csrf.init_app(app)  # before the kiosk idle check, which may clear the session
    login_manager.init_app(app)
    login_manager.user_loader(load_user)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = None
    try:  # a checkout after a .po change, say; an installed wheel has them compiled
        compile_catalogues(PACKAGE / "translations")
    except OSError as error:  # a read-only install: serve what is there, and say so
        app.logger.warning("translations not compiled: %s", error)
    babel.init_app(app, locale_selector=preferred_language)
    htmx.init_app(app)
    limiter.init_app(app)
    from portal import jobs
    jobs.init_app(app)


def register_blueprints(app: Flask) -> None:
    from portal.accounts.views import bp as accounts
    from portal.admin.views import bp as admin
    from portal.booking.views import bp as booking
    from portal.civility.views import bp as civility
    from portal.civility.manage import department, moderate
    from portal.dashboard.api import bp as api
    from portal.dashboard.views import bp as dashboard
    from portal.desk.views import bp as desk
    from portal.kiosk.hall import bp as hall
    from portal.kiosk.views import bp as kiosk
    from portal.kiosk.views import enforce_idle_reset
    from portal.main.views import bp as main
    from portal.points.manage import partner, points_admin
    from portal.points.views import bp as points
    from portal.privacy.views import bp as mydata
    from portal.notices.views import bp as notices
    from portal.notices.manage import editor
    from portal.ratings.manage import bp as follow_ups
    from portal.ratings.views import bp as ratings
    from portal.search.views import bp as search
    from portal.volunteer.manage import bp as coordinate
    from portal.volunteer.views import bp as volunteer

    for blueprint in (main, accounts, kiosk, hall, admin, booking, desk, ratings, follow_ups,
                      notices, editor, search, civility, moderate, department, volunteer,
                      coordinate, points, partner, points_admin, dashboard, api, mydata):
        app.register_blueprint(blueprint)
    enforce_idle_reset(app)
    allow_large_uploads(app)
    register_search(app)


def register_search(app: Flask) -> None:
    """What can be found (each area's provider), and keeping the index up to date."""
    from portal.booking import search as _booking  # noqa: F401  (registers its provider)
    from portal.booking.models import ServiceItem
    from portal.notices import search as _notices  # noqa: F401
    from portal.notices.models import Notice
    from portal.search import service
    from portal.volunteer import search as _volunteer  # noqa: F401
    from portal.volunteer.models import Activity
    service.watch(Notice, "notice")
    service.watch(ServiceItem, "service")
    service.watch(Activity, "activity")
    service.register(app)


def register_errorhandlers(app: Flask) -> None:
    from portal.errors import register_errorhandlers as register
    register(app)


def register_commands(app: Flask) -> None:
    from portal.cli import register
    register(app)


def register_security_headers(app: Flask) -> None:
    from portal.security import register_security_headers as register
    register(app)


def register_static_files(app: Flask) -> None:
    from portal.static_files import serve
    serve(app, asset_dir("static"))


def register_screen_polls(app: Flask) -> None:
    from portal.kiosk.hall import serve_screen_polls
    serve_screen_polls(app)


def register_template_helpers(app: Flask) -> None:
    from portal import page_cache
    from portal.templating import register
    register(app)
    page_cache.register(app)
