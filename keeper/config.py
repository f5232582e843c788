"""Keeper's settings, read from ``KEEPER_*`` environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from keeper.domain import limits


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KEEPER_", extra="ignore")

    #: SQLAlchemy URL. The embedded default is a SQLite file in the working
    #: directory; use ``postgresql+psycopg://user@host/db`` in production.
    database_url: str = "sqlite:///keeper.sqlite3"
    #: Where builds live: ``file://PATH`` or ``s3://BUCKET/PREFIX?endpoint_url=…``.
    storage_url: str = "file://keeper-data/storage"
    #: Public URL of this keeper, used to build absolute links (upload URLs).
    base_url: str = "http://127.0.0.1:8000"
    #: When set, this value is accepted as a superadmin token.
    bootstrap_token: SecretStr | None = None
    #: Signs keeper's own upload URLs for the filesystem backend. When unset a
    #: random key is generated once and kept in ``secret_key_file`` so that
    #: several keeper processes on one machine agree.
    secret_key: SecretStr | None = None
    secret_key_file: Path = Path("keeper-data/secret-key")
    #: Lifetime of the per-file upload URLs handed to clients (S3 presigned
    #: or keeper's own PUTs). Short, since a URL in a CI log is a credential
    #: until it expires; ``ltd upload`` asks for a new one when it does.
    upload_url_expires_in: int = Field(default=900, ge=60, le=7 * 24 * 3600)
    #: Lifetime of the form-upload URLs of the LTD Keeper 1.x routes.
    #: ltd-conveyor 0.8 cannot renew them, so they outlast a whole upload;
    #: what they write is staged and never served unless confirmed.
    form_upload_url_expires_in: int = Field(default=3600, ge=60, le=7 * 24 * 3600)
    #: Seconds an object no build references is kept before garbage
    #: collection deletes it, counted from the last time a registration
    #: was told the product holds it (or a build holding it was deleted).
    #: It must outlast any registration's request: a client told "held"
    #: keeps the object for this long even before its build's rows exist.
    gc_grace_seconds: int = Field(default=3600, ge=60, le=90 * 24 * 3600)
    #: Seconds a pending or failed build may wait for its uploads before
    #: garbage collection expires it (and what only it held).
    pending_build_expires_in: int = Field(
        default=7 * 24 * 3600, ge=3600, le=365 * 24 * 3600
    )
    #: The organization that the LTD Keeper 1.x routes (``/token``,
    #: ``/products/…``) act on: those predate organizations. Unset means the
    #: only organization there is.
    compat_org: str | None = None
    #: Largest page any list endpoint returns.
    max_page_size: int = Field(default=100, ge=1, le=1000)
    #: Default page size of list endpoints.
    default_page_size: int = Field(default=50, ge=1, le=1000)
    #: The budget of one page rendered from an org's own templates (they run
    #: in worker processes; see ``keeper.pages.budget`` and the reasons for
    #: each default in ``keeper.domain.limits``): CPU seconds, seconds by the
    #: clock, the worker's address space in MiB, and how many workers.
    template_cpu_seconds: int = Field(default=limits.TEMPLATE_CPU_SECONDS, ge=1, le=60)
    template_wall_seconds: float = Field(
        default=limits.TEMPLATE_WALL_SECONDS, gt=0, le=300
    )
    template_memory_mib: int = Field(
        default=limits.TEMPLATE_MEMORY_BYTES // limits.MIB, ge=128, le=64 * 1024
    )
    template_workers: int = Field(default=limits.TEMPLATE_WORKERS, ge=1, le=64)
    #: Seconds ``keeper serve`` lets requests finish after SIGTERM or Ctrl+C;
    #: it exits at most ``SHUTDOWN_MARGIN_SECONDS`` later, whatever runs.
    shutdown_seconds: int = Field(default=limits.SHUTDOWN_SECONDS, ge=0, le=600)
    #: Background jobs (``keeper.jobs``): attempts before a job is left
    #: failed; the first retry's delay in seconds, doubling up to the cap;
    #: how long a runner may hold a job before another takes it up (a
    #: runner that died); how often an idle runner looks for work from
    #: other processes; how many days finished jobs stay listed.
    job_attempts: int = Field(default=8, ge=1, le=100)
    job_backoff_seconds: float = Field(default=1.0, ge=0.01, le=3600)
    job_backoff_max_seconds: float = Field(default=300.0, ge=0.01, le=86400)
    job_lease_seconds: float = Field(default=300.0, ge=1, le=86400)
    job_poll_seconds: float = Field(default=1.0, ge=0.01, le=60)
    job_keep_days: float = Field(default=7.0, ge=0, le=3650)
    #: With a Redis URL (``redis://host:6379/0``), jobs run on arq in
    #: ``keeper worker`` processes and ``keeper serve`` only queues them;
    #: without one, ``keeper serve`` runs them itself. The queue's name in
    #: Redis, for several keepers sharing one Redis.
    redis_url: str | None = None
    job_queue_name: str = Field(default="keeper:jobs", min_length=1, max_length=200)


@lru_cache
def get_settings() -> Settings:
    return Settings()
