"""The ``keeper`` command: run the service and administer its database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from keeper import __version__
from keeper.config import get_settings
from keeper.db import Job, JobStatus, Organization, Product, Role
from keeper.db.engine import make_engine
from keeper.db.migrate import current_revision, upgrade
from keeper.edge.configs import forget_edge, recorded_edges, render_edge
from keeper.edge.render import TARGET_NAMES, target
from keeper.jobs.runner import JobRunner
from keeper.pages.publish import write_all_pages
from keeper.services import gc, storage_migration, tokens
from keeper.services import jobs as job_service
from keeper.services.auth import create_token
from keeper.services.builds.materialize import materialize_org
from keeper.services.errors import KeeperError
from keeper.services.lookup import get_org
from keeper.services.runtime import Runtime
from keeper.services.work import WORK


@click.group()
@click.version_option(__version__, prog_name="keeper")
def main() -> None:
    """Keeper tracks documentation builds and re-points editions."""


@main.command()
@click.option("--host", default="127.0.0.1", envvar="KEEPER_HOST", show_default=True)
@click.option("--port", default=8000, type=int, envvar="KEEPER_PORT", show_default=True)
@click.option("--workers", default=1, type=click.IntRange(min=1), show_default=True)
def serve(host: str, port: int, workers: int) -> None:
    """Serve the API (the schema is created or migrated first).

    SIGTERM or Ctrl+C stops it: requests get KEEPER_SHUTDOWN_SECONDS to
    finish, and the process ends a few seconds later whatever still runs."""
    from keeper.serving import run

    raise SystemExit(run(host=host, port=port, workers=workers))


@main.command()
@click.option("--port", default=8000, type=int, show_default=True)
@click.option(
    "--dir",
    "workdir",
    default="demo-site",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the demo keeps its database, store and built docs.",
)
@click.option(
    "--docs",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="The Sphinx project to publish (default: examples/sphinx).",
)
def demo(port: int, workdir: Path, docs: Path | None) -> None:
    """Run keeper with a sample site published as two versions."""
    from keeper import demo as demo_mod

    docs = docs or demo_mod.default_docs()
    if docs is None:
        raise click.ClickException(
            "no example project found here; pass --docs PATH (a Sphinx project)"
        )
    try:
        status = demo_mod.run(demo_mod.Demo(workdir=workdir, docs=docs, port=port))
    except demo_mod.DemoError as exc:
        raise click.ClickException(str(exc)) from exc
    raise SystemExit(status)


@contextmanager
def database() -> Iterator[tuple[Engine, Session]]:
    """Keeper's database, migrated first, and the command's unit of work:
    services change rows in the session, and it commits once, when the
    command's block ends without an error. A refusal (unknown org, bad
    value …) becomes a message for the person at the terminal rather than
    a traceback, and changes nothing."""
    engine = make_engine(get_settings().database_url)
    upgrade(engine)
    try:
        with Session(engine, expire_on_commit=False) as session:
            yield engine, session
            session.commit()
    except KeeperError as exc:
        raise click.ClickException(exc.msg) from exc


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""
    engine = make_engine(get_settings().database_url)
    upgrade(engine)
    click.echo(f"database at revision {current_revision(engine)}")


@main.group()
def edge() -> None:
    """Configurations for nginx, Varnish and Fastly edges."""


@edge.command("render")
@click.option(
    "--target",
    "target_name",
    type=click.Choice(TARGET_NAMES),
    required=True,
    help="The server the configuration is for.",
)
@click.option("--org", "org_slug", required=True, help="The organization it serves.")
@click.option(
    "--listen",
    required=True,
    metavar="HOST:PORT",
    help="Where the edge accepts readers.",
)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write the configuration into (created if missing).",
)
@click.option(
    "--option",
    "options",
    multiple=True,
    metavar="KEY=VALUE",
    help="A target setting, repeatable (see the README's edge section).",
)
def edge_render(
    target_name: str,
    org_slug: str,
    listen: str,
    out_dir: Path,
    options: tuple[str, ...],
) -> None:
    """Write an edge configuration; every later publish keeps it current."""
    settings = get_settings()
    pairs = _options(options)
    runtime = Runtime.from_settings(settings)
    with database() as (engine, session):
        try:
            org = get_org(session, org_slug)
            session.commit()  # nothing slow runs inside a transaction
            # The edge reads builds as plain files: make those published
            # so far so before it is first written.
            materialize_org(engine, runtime, org)
            _, ctx = render_edge(
                session,
                runtime,
                org,
                target_name=target_name,
                listen=listen,
                out_dir=out_dir,
                settings=pairs,
            )
        except ValueError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(
        f"wrote the {target_name} configuration for {org_slug!r} to {ctx.out_dir}"
    )
    click.echo(f"start it with: {target(target_name).command(ctx)}")


def _options(options: tuple[str, ...]) -> dict[str, str]:
    pairs = {}
    for option in options:
        key, sep, value = option.partition("=")
        if not sep or not key:
            raise click.BadParameter(
                f"expected KEY=VALUE, not {option!r}", param_hint="--option"
            )
        pairs[key] = value
    return pairs


@edge.command("agent")
@click.option(
    "--keeper", "keeper_url", required=True, envvar="KEEPER_URL", help="Keeper's URL."
)
@click.option(
    "--token",
    required=True,
    envvar="KEEPER_EDGE_TOKEN",
    help="An edge token of the org (role edge).",
)
@click.option(
    "--org",
    "org_slug",
    required=True,
    envvar="KEEPER_EDGE_ORG",
    help="The edge's organization.",
)
@click.option(
    "--edge",
    "edge_id",
    required=True,
    type=click.IntRange(min=1),
    help="The edge's id (from POST /api/orgs/ORG/edges).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="The folder the server reads; checked against the edge's.",
)
@click.option(
    "--option",
    "options",
    multiple=True,
    metavar="KEY=VALUE",
    help="This host's options (nginx=PATH, varnish_name=NAME), repeatable.",
)
@click.option(
    "--interval",
    type=click.FloatRange(min=0.1),
    default=2.0,
    show_default=True,
    help="Seconds between two looks at keeper.",
)
@click.option("--once", is_flag=True, help="Apply the configuration once and exit.")
def edge_agent(
    keeper_url: str,
    token: str,
    org_slug: str,
    edge_id: int,
    out: Path | None,
    options: tuple[str, ...],
    interval: float,
    once: bool,
) -> None:
    """Keep the nginx or Varnish beside this agent on the configuration
    keeper renders for edge ID, and tell keeper what it applied."""
    import logging

    from keeper.edge.agent import Agent, AgentError

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    agent = Agent(
        keeper=keeper_url,
        token=token,
        org=org_slug,
        edge_id=edge_id,
        out_dir=out,
        options=_options(options),
        interval=interval,
    )
    try:
        if once:
            agent.sync_when_ready()
        else:
            agent.run()
    except AgentError as exc:
        raise click.ClickException(str(exc)) from exc
    except KeyboardInterrupt:
        pass


@edge.command("list")
@click.option("--org", "org_slug", help="Only this organization's edges.")
def edge_list(org_slug: str | None) -> None:
    """Edges keeper keeps current, and how their last update went."""
    with database() as (_, session):
        org = get_org(session, org_slug) if org_slug else None
        slugs = {o.id: o.slug for o in session.exec(select(Organization))}
        for row in recorded_edges(session, org):
            status = f"failed: {row.last_error}" if row.last_error else "ok"
            click.echo(
                f"{slugs.get(row.org_id, '?')}\t{row.target}\t{row.listen}\t"
                f"{row.out_dir}\t{status}"
            )


@edge.command("forget")
@click.option("--target", "target_name", type=click.Choice(TARGET_NAMES), required=True)
@click.option("--org", "org_slug", required=True)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The folder the configuration was rendered into.",
)
def edge_forget(target_name: str, org_slug: str, out_dir: Path) -> None:
    """Stop updating an edge after publishes (its files stay)."""
    with database() as (_, session):
        org = get_org(session, org_slug)
        if not forget_edge(session, org, target_name=target_name, out_dir=out_dir):
            raise click.ClickException(
                f"no {target_name} edge of {org_slug!r} was rendered into {out_dir}"
            )
    click.echo(f"keeper no longer updates the {target_name} edge in {out_dir}")


@main.group()
def pages() -> None:
    """The pages keeper generates for products (/v/, /builds/, switchers)."""


@pages.command("refresh")
@click.option("--org", "org_slug", help="Only this organization's products.")
def pages_refresh(org_slug: str | None) -> None:
    """Write every product's generated pages again (they are otherwise
    written after each change, and when keeper starts)."""
    with database() as (engine, session):
        query = select(Product.id)
        if org_slug:
            query = query.where(Product.org_id == get_org(session, org_slug).id)
        ids = [i for i in session.exec(query).all() if i is not None]
    done = write_all_pages(engine, Runtime.from_settings(get_settings()), ids)
    click.echo(f"wrote the pages of {done} of {len(ids)} product(s)")
    if done < len(ids):
        raise click.ClickException("some products failed; see the log above")


@main.command("gc")
@click.option("--org", "org_slug", help="Only this organization's products.")
@click.option(
    "--dry-run", is_flag=True, help="Say what would be removed; remove nothing."
)
def gc_command(org_slug: str | None, dry_run: bool) -> None:
    """Expire abandoned builds and delete the objects no build references
    (after the grace period, KEEPER_GC_GRACE_SECONDS). Keeper also does this
    by itself, as a job, after builds are registered or deleted."""
    runtime = Runtime.from_settings(get_settings())
    with database() as (engine, session):
        org = get_org(session, org_slug) if org_slug else None
        session.commit()  # nothing slow runs inside a transaction
        found = gc.collect_all(engine, runtime, org=org, dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    for c in found:
        if c.expired_builds or c.objects or c.stray:
            click.echo(
                f"{c.org}/{c.product}: {verb} {len(c.expired_builds)} abandoned "
                f"build(s) {' '.join(c.expired_builds)}".rstrip()
                + f", {c.objects} object(s) ({c.bytes} bytes), {c.stray} stray"
            )
    total = sum(c.objects for c in found)
    size = sum(c.bytes for c in found)
    builds = sum(len(c.expired_builds) for c in found)
    click.echo(
        f"{verb} {builds} abandoned build(s) and {total} unreferenced object(s) "
        f"({size} bytes) in {len(found)} product(s)"
    )


@main.group()
def storage() -> None:
    """The object store's layout."""


@storage.command("migrate")
@click.option("--org", "org_slug", help="Only this organization's builds.")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    help="Convert at most this many builds, then stop (run again to go on).",
)
@click.option(
    "--drop-prefixes",
    is_flag=True,
    help="Delete each converted build's plain-file copy where no nginx, "
    "Varnish or Fastly edge of the org reads it.",
)
def storage_migrate(
    org_slug: str | None, limit: int | None, drop_prefixes: bool
) -> None:
    """Convert builds stored as full prefixes into content-addressed
    objects and manifests. Resumable and idempotent: stop it anywhere and
    run it again; editions keep serving throughout."""
    runtime = Runtime.from_settings(get_settings())
    with database() as (engine, session):
        org = get_org(session, org_slug) if org_slug else None
        session.commit()
        report = storage_migration.migrate(
            engine,
            runtime,
            org=org,
            limit=limit,
            drop_prefixes=drop_prefixes,
            progress=lambda build, outcome: click.echo(f"build {build}: {outcome}"),
        )
    click.echo(
        f"converted {len(report.converted)} build(s), placing "
        f"{report.objects} object(s) ({report.bytes} bytes); "
        f"{report.dropped} prefix(es) to be deleted; "
        f"{report.remaining} build(s) still stored as prefixes"
    )
    if report.failed:
        raise click.ClickException(
            f"{len(report.failed)} build(s) could not be converted (they keep "
            "serving as they are): "
            + "; ".join(f"{b}: {why}" for b, why in report.failed.items())
        )


@main.group()
def jobs() -> None:
    """Background jobs: rendering pages, updating edges."""


def _job_line(job: Job, orgs: dict[int | None, str]) -> str:
    return "\t".join(
        [
            str(job.id),
            job.kind,
            job.key,
            orgs.get(job.org_id, "-"),
            job.status,
            f"{job.attempts}/{job.max_attempts}",
            job.created.isoformat(),
            (job.error or "").splitlines()[0][:200] if job.error else "",
        ]
    )


@jobs.command("list")
@click.option("--org", "org_slug", help="Only this organization's jobs.")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice([s.value for s in JobStatus]),
    help="Only jobs in this status (repeatable).",
)
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
def jobs_list(org_slug: str | None, statuses: tuple[str, ...], limit: int) -> None:
    """The newest jobs: id, kind, key, org, status, attempts, created and
    the last error."""
    with database() as (_, session):
        org = get_org(session, org_slug) if org_slug else None
        orgs: dict[int | None, str] = {
            o.id: o.slug for o in session.exec(select(Organization))
        }
        found = job_service.platform_jobs(
            session, org, statuses=[JobStatus(s) for s in statuses], limit=limit
        )
        for job in found:
            click.echo(_job_line(job, orgs))


@jobs.command("show")
@click.argument("job_id", metavar="ID", type=click.IntRange(min=1))
def jobs_show(job_id: int) -> None:
    """Everything about one job, its whole error included."""
    with database() as (_, session):
        job = job_service.get_any_job(session, job_id)
        for name, value in job.model_dump().items():
            click.echo(f"{name}: {value if value is not None else '-'}")


@jobs.command("retry")
@click.argument("job_id", metavar="ID", type=click.IntRange(min=1))
def jobs_retry(job_id: int) -> None:
    """Queue a failed job again, from its first attempt; a running keeper
    takes it up (or run `keeper jobs run`)."""
    with database() as (_, session):
        job_service.retry_job(session, job_service.get_any_job(session, job_id))
    click.echo(f"job {job_id} queued again")


@main.command()
@click.option(
    "--burst", is_flag=True, help="Run the jobs due now, then exit (for tests)."
)
def worker(burst: bool) -> None:
    """Run background jobs from Redis (KEEPER_REDIS_URL), beside `keeper
    serve` processes that then only queue them. SIGTERM stops it after the
    jobs in hand; a job cut short runs again when its lease ends."""
    import logging.config

    from arq.logs import default_log_config

    from keeper.jobs.on_arq import worker as arq_worker

    # arq's own lines (what it runs), and keeper's jobs (what each did).
    config = default_log_config(verbose=False)
    config["loggers"]["keeper"] = {"handlers": ["arq.standard"], "level": "INFO"}
    logging.config.dictConfig(config)
    settings = get_settings()
    if not settings.redis_url:
        raise click.ClickException(
            "set KEEPER_REDIS_URL (redis://HOST:6379/0): without Redis, "
            "`keeper serve` runs the jobs itself"
        )
    arq_worker(settings, WORK, burst=burst).run()


@jobs.command("run")
def jobs_run() -> None:
    """Run every job that is due now, here, and exit (for a keeper that is
    not running, or to see a job's failure in the terminal)."""
    with database() as (engine, _):
        runner = JobRunner(engine, Runtime.from_settings(get_settings()), work=WORK)
        ran = runner.run_until_idle()
    click.echo(f"ran {ran} job(s)")


@main.group()
def token() -> None:
    """API tokens."""


@token.command("list")
@click.option("--org", "org_slug", help="Only this organization's tokens.")
def token_list(org_slug: str | None) -> None:
    """Every token (superadmin tokens too): id, role, org, name, hint,
    last use and expiry; never a secret."""
    with database() as (_, session):
        org = get_org(session, org_slug) if org_slug else None
        slugs = {o.id: o.slug for o in session.exec(select(Organization))}
        for t in tokens.platform_tokens(session, org):
            click.echo(
                "\t".join(
                    [
                        str(t.id),
                        t.role,
                        slugs.get(t.org_id, "-") if t.org_id else "-",
                        t.name or "-",
                        t.hint,
                        t.last_used.isoformat() if t.last_used else "never used",
                        t.expires.isoformat() if t.expires else "no expiry",
                    ]
                )
            )


@token.command("revoke")
@click.argument("token_id", metavar="ID", type=click.IntRange(min=1))
def token_revoke(token_id: int) -> None:
    """Revoke a token, whatever its org or role (its ID is in `keeper token
    list`); refused from the next request on, on every keeper process. A
    revoked KEEPER_BOOTSTRAP_TOKEN comes back at the next start unless it is
    removed from the environment."""
    with database() as (_, session):
        row = tokens.revoke_any_token(session, token_id)
    click.echo(f"revoked token {token_id} ({row.role}, {row.name or 'unnamed'})")


@token.command("create")
@click.option("--org", "org_slug", help="The organization the token acts in.")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--name", default="", help="A label to recognise the token by.")
@click.option("--expires-in-days", type=click.IntRange(min=1), default=None)
def token_create(
    org_slug: str | None, role: str, name: str, expires_in_days: int | None
) -> None:
    """Create a token and print it (it is shown only this once)."""
    expires = (
        datetime.now(UTC) + timedelta(days=expires_in_days) if expires_in_days else None
    )
    with database() as (_, session):
        org = get_org(session, org_slug) if org_slug else None
        _, secret = create_token(
            session, role=Role(role), org=org, name=name, expires=expires
        )
    click.echo(secret)
