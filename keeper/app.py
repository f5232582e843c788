"""The keeper ASGI application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlmodel import Session

from keeper import __version__
from keeper.api.access import PUBLIC, check_routes
from keeper.api.errors import install_error_handlers
from keeper.api.openapi import install_openapi
from keeper.api.routes import (
    builds,
    compat,
    edge_origin,
    edges,
    editions,
    jobs,
    orgs,
    products,
    templates,
    tokens,
    uploads,
)
from keeper.api.routing import KeeperRoute, api_router
from keeper.config import Settings, get_settings
from keeper.db.engine import make_engine
from keeper.db.migrate import upgrade
from keeper.domain.site_domains import api_host
from keeper.edge.app import EdgeApp
from keeper.edge.dispatch import HostDispatch
from keeper.jobs.follow import catch_up
from keeper.jobs.on_arq import ArqNudge
from keeper.jobs.runner import JobRunner
from keeper.pages import budget
from keeper.services.auth import ensure_bootstrap_token
from keeper.services.runtime import Runtime
from keeper.services.work import WORK

#: Seconds shutdown waits for the job runner to finish its job (it is a
#: daemon thread: past that, the job ends with the process and runs again
#: when its lease ends).
_STOP_SECONDS = 1.0


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        budget.configure(budget.Budget.from_settings(settings))
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
        # nginx/Varnish/Fastly edges follow every publish as jobs
        # (keeper.jobs): run here, or with Redis by `keeper worker`s.
        runner: JobRunner | None = None
        nudge: ArqNudge | None = None
        if settings.redis_url:
            nudge = ArqNudge(engine, settings)
            await nudge.start()
        else:
            runner = JobRunner(engine, app.state.runtime, work=WORK)
        app.state.jobs = runner
        # Products published before this keeper started (by an older
        # version, say) get their pages too.
        with Session(engine) as session:
            catch_up(session)
            session.commit()
        if runner is not None:
            runner.start()
        yield
        # Shutting down must not wait on work: the runner stops after its
        # current job, and org templates being rendered stop now (a job cut
        # short runs again, here or elsewhere, when its lease ends).
        budget.stop_workers()
        if runner is not None:
            runner.stop(timeout=_STOP_SECONDS)
        if nudge is not None:
            await nudge.stop()
        engine.dispose()

    app = FastAPI(
        title="keeper",
        version=__version__,
        lifespan=lifespan,
        description="Documentation builds, editions and the rules that re-point them.",
    )
    app.router.route_class = KeeperRoute
    install_error_handlers(app)
    install_openapi(app)
    # Readers' requests for a product's host never reach the API's routes.
    app.add_middleware(HostDispatch, state=app.state)
    api = api_router(prefix="/api")
    for module in (
        orgs,
        templates,
        products,
        editions,
        builds,
        tokens,
        jobs,
        edges,
        uploads,
    ):
        api.include_router(module.router)
    app.include_router(api)
    # Released ltd-conveyor clients look for LTD Keeper 1.x at the root.
    app.include_router(compat.router)
    # Raw build objects for a rendered Varnish edge over a filesystem store.
    app.include_router(edge_origin.router)

    @app.get("/api", tags=["meta"], dependencies=[PUBLIC])
    def root() -> dict[str, str]:
        return {"name": "keeper", "version": __version__}

    check_routes(app.routes)
    return app
