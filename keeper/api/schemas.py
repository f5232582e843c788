"""Request and response bodies of the REST API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from keeper.db import EditionKind, PublishStatus, Role
from keeper.domain.json_values import compact_size, deeper_than
from keeper.domain.limits import (
    MAX_BUILD_BYTES,
    MAX_CI_BYTES,
    MAX_FILE_BYTES,
    MAX_GIT_REFS,
    MAX_JSON_DEPTH,
    MAX_MANIFEST_FILES,
    MAX_SETTINGS_BYTES,
    MAX_TRACKING_PARAMS_BYTES,
)
from keeper.domain.paths import PathError, check_path, check_paths_together
from keeper.domain.site_domains import DomainError, normalise_base_domain
from keeper.edge.redirects import (
    MAX_RULES,
    SOURCE_PATTERN,
    STATUSES,
    TARGET_PATTERN,
    RedirectError,
    make_rule,
)
from keeper.edge.rules import RESERVED_EDITION_SLUGS
from keeper.services.store_urls import STORAGE_URL_PATTERN

Slug = Annotated[
    str, StringConstraints(pattern=r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
]


def _not_reserved(slug: str) -> str:
    if slug in RESERVED_EDITION_SLUGS:
        raise ValueError(f"{slug!r} is the name of a generated page under /v/")
    return slug


EditionSlug = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"),
    AfterValidator(_not_reserved),
]


def _base_domain(value: str) -> str:
    try:
        return normalise_base_domain(value)
    except DomainError as exc:
        raise ValueError(str(exc)) from None


#: Stored as the edge compares it (see keeper.domain.site_domains).
BaseDomain = Annotated[str, Field(max_length=254), AfterValidator(_base_domain)]
UrlLayout = Literal["subdomain", "path"]
SiteScheme = Literal["https", "http"]
Port = Annotated[int, Field(ge=1, le=65535)]
CdnKind = Literal["none", "fastly", "varnish", "nginx"]
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
Md5 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")]


def _bounded_json(limit: int) -> AfterValidator:
    """A free-form JSON value of at most ``limit`` bytes (compact) and
    :data:`~keeper.domain.limits.MAX_JSON_DEPTH` levels: it is stored, and
    shown to every reader of the resource."""

    def check(value: Any) -> Any:
        if deeper_than(value, MAX_JSON_DEPTH):
            raise ValueError(f"nests deeper than {MAX_JSON_DEPTH} levels")
        size = compact_size(value)
        if size > limit:
            raise ValueError(f"takes {size} bytes as JSON; the limit is {limit}")
        return value

    return AfterValidator(check)


#: A build's CI annotations (commit, run URL, pull request …).
CiAnnotations = Annotated[dict[str, Any], _bounded_json(MAX_CI_BYTES)]
TrackingParams = Annotated[dict[str, Any], _bounded_json(MAX_TRACKING_PARAMS_BYTES)]
SettingsJson = Annotated[dict[str, Any], _bounded_json(MAX_SETTINGS_BYTES)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _not_null_unless_nullable(schema: dict[str, Any], model: type) -> None:
    """Document a patch's fields as they are validated: a field outside
    ``nullable`` may be left out, but is never ``null``."""
    nullable: frozenset[str] = getattr(model, "nullable", frozenset())
    for name, prop in schema.get("properties", {}).items():
        if name in nullable or "anyOf" not in prop:
            continue
        kinds = [k for k in prop["anyOf"] if k != {"type": "null"}]
        if prop.get("default", ...) is None:
            del prop["default"]
        if len(kinds) == 1:
            del prop["anyOf"]
            prop.update(kinds[0])
        else:
            prop["anyOf"] = kinds


class _Patch(Strict):
    """A partial update: omitted fields stay; ``null`` only where allowed."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra=_not_null_unless_nullable,
    )
    nullable: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _no_null_for_required(self) -> Self:
        for name in sorted(self.model_fields_set - self.nullable):
            if getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null; leave it out to keep it")
        return self


class OrgCreate(Strict):
    slug: Slug
    title: str = Field(min_length=1, max_length=200)
    base_domain: BaseDomain = ""
    site_scheme: SiteScheme = "https"
    site_port: Port | None = None
    url_layout: UrlLayout = "subdomain"
    storage_url: str | None = Field(
        default=None,
        max_length=1000,
        json_schema_extra={"pattern": STORAGE_URL_PATTERN},
    )
    cdn_kind: CdnKind = "none"
    cdn_settings: SettingsJson = Field(default_factory=dict)


class OrgUpdate(_Patch):
    nullable = frozenset({"storage_url", "site_port"})

    title: str | None = Field(default=None, min_length=1, max_length=200)
    base_domain: BaseDomain | None = None
    site_scheme: SiteScheme | None = None
    site_port: Port | None = None
    url_layout: UrlLayout | None = None
    storage_url: str | None = Field(
        default=None,
        max_length=1000,
        json_schema_extra={"pattern": STORAGE_URL_PATTERN},
    )
    cdn_kind: CdnKind | None = None
    cdn_settings: SettingsJson | None = None


class OrgPublic(BaseModel):
    slug: str
    title: str
    base_domain: str
    site_scheme: str
    site_port: int | None
    url_layout: str
    storage_url: str | None
    cdn_kind: str
    cdn_settings: dict[str, Any]
    created: datetime
    updated: datetime


class RedirectRule(BaseModel):
    """``from`` → ``to`` with a redirect status (see the README's Redirects)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    # The schema states make_rule's rules as patterns; make_rule checks
    # them, with messages that say what is wrong.
    source: str = Field(
        alias="from", max_length=1000, json_schema_extra={"pattern": SOURCE_PATTERN}
    )
    target: str = Field(
        alias="to", max_length=2000, json_schema_extra={"pattern": TARGET_PATTERN}
    )
    status: int = Field(default=301, json_schema_extra={"enum": [*sorted(STATUSES)]})

    @model_validator(mode="after")
    def _usable(self) -> Self:
        try:
            make_rule(self.source, self.target, self.status)
        except RedirectError as exc:
            raise ValueError(str(exc)) from None
        return self


Redirects = Annotated[list[RedirectRule], Field(max_length=MAX_RULES)]


class ProductCreate(Strict):
    slug: Slug
    title: str = Field(min_length=1, max_length=200)
    source_repo_url: str | None = Field(default=None, max_length=1000)
    redirects: Redirects = Field(default_factory=list)


class ProductUpdate(_Patch):
    nullable = frozenset({"source_repo_url"})

    title: str | None = Field(default=None, min_length=1, max_length=200)
    source_repo_url: str | None = Field(default=None, max_length=1000)
    redirects: Redirects | None = None


class ProductPublic(BaseModel):
    org: str
    slug: str
    title: str
    source_repo_url: str | None
    redirects: list[RedirectRule]
    published_url: str | None
    created: datetime
    updated: datetime


class EditionCreate(Strict):
    slug: EditionSlug
    title: str | None = Field(default=None, max_length=200)
    kind: EditionKind = EditionKind.draft
    tracking_mode: str = Field(default="git_ref", max_length=32)
    tracking_params: TrackingParams = Field(default_factory=dict)
    build: str | None = Field(
        default=None, max_length=32, description="point at this build now"
    )
    hidden: bool = False


class EditionUpdate(_Patch):
    slug: EditionSlug | None = None
    title: str | None = Field(default=None, min_length=1, max_length=200)
    kind: EditionKind | None = None
    tracking_mode: str | None = Field(default=None, max_length=32)
    tracking_params: TrackingParams | None = None
    build: str | None = Field(
        default=None, max_length=32, description="point at this build now"
    )
    hidden: bool | None = None


class EditionPublic(BaseModel):
    slug: str
    title: str
    kind: str
    tracking_mode: str
    tracking_params: dict[str, Any]
    build_id: str | None
    hidden: bool
    published_url: str | None
    created: datetime
    updated: datetime
    #: When it last switched build.
    published: datetime | None
    #: ``pending`` until its current build is on every page and recorded
    #: edge of the org, then ``published``; ``failed`` (with
    #: ``publish_error``) when the job that had to show it gave up.
    publish_status: PublishStatus
    #: When its current build reached every page and edge.
    published_at: datetime | None
    publish_error: str | None


class RollbackRequest(Strict):
    build: str = Field(max_length=32)


class HistoryEntry(BaseModel):
    build_id: str | None
    previous_build_id: str | None
    reason: str
    actor: str | None
    created: datetime


def _site_path(path: str) -> str:
    try:
        return check_path(path)
    except PathError as exc:
        raise ValueError(str(exc)) from None


#: A file's path within a build (keeper.domain.paths has the rules, and
#: names the limit a path breaks).
SitePath = Annotated[str, AfterValidator(_site_path)]


class ManifestFile(Strict):
    path: SitePath
    size: int = Field(ge=0, le=MAX_FILE_BYTES)
    sha256: Sha256
    md5: Md5 | None = Field(
        default=None,
        description="lets keeper verify the upload from the store's listing",
    )
    content_type: str = Field(
        default="application/octet-stream", min_length=1, max_length=255
    )


def _one_build(files: list[ManifestFile]) -> list[ManifestFile]:
    """The rules that hold between the files of one manifest."""
    try:
        check_paths_together(f.path for f in files)
    except PathError as exc:
        raise ValueError(str(exc)) from None
    total = sum(f.size for f in files)
    if total > MAX_BUILD_BYTES:
        raise ValueError(
            f"the files add up to {total} bytes; a build has at most "
            f"{MAX_BUILD_BYTES} bytes (MAX_BUILD_BYTES)"
        )
    return files


#: A git ref as CI reports it: no spaces, no control characters (C0 or C1).
GitRef = Annotated[
    str,
    StringConstraints(
        min_length=1, max_length=255, pattern=r"^[^\x00-\x20\x7f-\x9f\s]+$"
    ),
]


class BuildCreate(Strict):
    git_ref: GitRef
    git_refs: list[GitRef] | None = Field(
        default=None, min_length=1, max_length=MAX_GIT_REFS
    )
    alternate_name: (
        Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")]
        | None
    ) = None
    manifest: Annotated[
        list[ManifestFile],
        Field(max_length=MAX_MANIFEST_FILES),
        AfterValidator(_one_build),
    ]
    ci: CiAnnotations = Field(default_factory=dict)
    #: Sign upload URLs for at most this many files now; the rest come back
    #: in ``more_uploads``, for ``POST …/builds/{id}/uploads``, so that
    #: sending starts while keeper signs the others.
    first_urls: int | None = Field(default=None, ge=1, le=MAX_MANIFEST_FILES)


class BuildUpdate(Strict):
    status: Literal["uploaded"]


class UploadInstruction(BaseModel):
    path: str
    url: str
    method: str
    headers: dict[str, str]


class BuildPublic(BaseModel):
    id: str
    git_ref: str
    git_refs: list[str]
    alternate_name: str | None
    status: str
    uploader: str | None
    ci: dict[str, Any]
    file_count: int
    total_size: int
    error: str | None
    created: datetime
    uploaded: datetime | None
    completed: datetime | None


class BuildCreated(BuildPublic):
    uploads: list[UploadInstruction]
    reused: int
    #: True when this continues an interrupted upload of the same manifest.
    resumed: bool = False
    #: Files to send that have no URL yet (``first_urls``): ask for theirs
    #: with ``POST …/builds/{id}/uploads``.
    more_uploads: list[str] = Field(default_factory=list)


class UploadRenewal(Strict):
    paths: list[SitePath] = Field(min_length=1, max_length=MAX_MANIFEST_FILES)


class UploadsSent(Strict):
    """Files of a pending build its client has sent: keeper places them
    while the rest arrive."""

    paths: list[SitePath] = Field(min_length=1, max_length=MAX_MANIFEST_FILES)


class UploadsQueued(BaseModel):
    queued: int


class TokenCreate(Strict):
    role: Role
    name: str = Field(default="", max_length=200)
    expires: AwareDatetime | None = None


class TemplateSource(Strict):
    source: str = Field(min_length=1)


class TemplateSummary(BaseModel):
    name: str
    description: str
    #: False while keeper's own template is in use.
    overridden: bool
    updated: datetime | None


class TemplatePublic(TemplateSummary):
    source: str
