"""The one ASGI app: the eligibility service's faces (and, later, the dashboard)."""

from kokuho.web._app import create_app
from kokuho.web._gc import tuned_gc

__all__ = ["create_app", "tuned_gc"]
