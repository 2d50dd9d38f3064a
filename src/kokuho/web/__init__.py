"""The one ASGI app: the eligibility service's faces (and, later, the dashboard)."""

from kokuho.web._app import create_app

__all__ = ["create_app"]
