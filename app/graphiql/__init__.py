"""GraphiQL served by the gateway itself: the page (page.py), its assets (assets.py), its documents."""

from app.graphiql.assets import PREFIX, serve_asset
from app.graphiql.page import render_page

__all__ = ["PREFIX", "render_page", "serve_asset"]
