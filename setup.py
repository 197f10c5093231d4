"""Build step setuptools cannot express in pyproject.toml: the wheel carries what the portal
serves. Templates, static files and migrations live at the top of the checkout (the layout
of the design card); they are copied into the package as `portal/templates` … and the
translations are compiled and the static files compressed. An editable install (scripts/setup) uses the checkout as it is."""
import importlib.util
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
ASSETS = ("templates", "static", "migrations")


def _load(name: str):
    """A module of the portal that needs only the build requirements (not Flask)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "portal" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class BuildWithAssets(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        package = Path(self.build_lib) / "portal"
        for name in ASSETS:
            shutil.copytree(ROOT / name, package / name, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.gz",
                                                          "*.br"))
        _load("catalogues").compile_catalogues(ROOT / "portal" / "translations",
                                               package / "translations")
        _load("static_files").compress(package / "static")


setup(cmdclass={"build_py": BuildWithAssets})
