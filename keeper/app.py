"""The keeper ASGI application."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, Depends, FastAPI
from sqlmodel import Session

from keeper import __version__
from keeper.api.deps import get_principal
from keeper.api.errors import install_error_handlers
from keeper.api.routes import (
    builds,
    compat,
    edge_origin,
    editions,
    orgs,
    products,
    templates,
    tokens,
    uploads,
)
from keeper.config import Settings, get_settings
from keeper.db.engine import make_engine
from keeper.db.migrate import upgrade
from keeper.domain.site_domains import api_host
from keeper.edge.app import EdgeApp
from keeper.edge.configs import keep_edges_current
from keeper.edge.dispatch import HostDispatch
from keeper.pages.publish import keep_pages_current, write_all_pages
from keeper.services.auth import ensure_bootstrap_token
from keeper.services.runtime import Runtime


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url)
        upgrade(engine)
        if settings.bootstrap_token is not None:
            with Session(engine) as session:
                ensure_bootstrap_token(
                    session, settings.bootstrap_token.get_secret_value()
                )
                session.commit()
        app.state.engine = engine
        app.state.runtime = Runtime.from_settings(settings)
        app.state.edge = EdgeApp.for_engine(
            engine, app.state.runtime.stores, api_host=api_host(settings.base_url)
        )
        # Generated pages (/v/, switcher files …) and rendered
        # nginx/Varnish/Fastly edges follow every publish.
        keep_pages_current(engine, app.state.runtime)
        keep_edges_current(engine, app.state.runtime)
        # Products published before this keeper started (by an older
        # version, or while their store was down) get their pages now,
        # without holding up the start.
        catch_up = threading.Thread(
            target=write_all_pages,
            args=(engine, app.state.runtime),
            name="keeper-pages",
            daemon=True,
        )
        catch_up.start()
        yield
        catch_up.join(timeout=30)
        engine.dispose()

    app = FastAPI(
        title="keeper",
        version=__version__,
        lifespan=lifespan,
        description="Documentation builds, editions and the rules that re-point them.",
    )
    install_error_handlers(app)
    # Readers' requests for a product's host never reach the API's routes.
    app.add_middleware(HostDispatch, state=app.state)
    api = APIRouter(prefix="/api")
    # A token sent to a route that needs none is still checked: a revoked or
    # expired one gets 401 everywhere, so a CI job learns at once. (Uploads
    # are authorized by their signed URL, whatever else comes along.)
    checked = [Depends(get_principal)]
    for module in (orgs, templates, products, editions, builds, tokens):
        api.include_router(module.router, dependencies=checked)
    api.include_router(uploads.router)
    app.include_router(api)
    # Released ltd-conveyor clients look for LTD Keeper 1.x at the root.
    app.include_router(compat.router)
    # Raw build objects for a rendered Varnish edge over a filesystem store.
    app.include_router(edge_origin.router)

    @app.get("/api", tags=["meta"], dependencies=checked)
    def root() -> dict[str, str]:
        return {"name": "keeper", "version": __version__}

    return app
