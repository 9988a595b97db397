"""eshare backend: `create_app` is the one thing exported."""

from backend.app import create_app

__all__ = ["create_app"]
