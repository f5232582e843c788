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

from keeper.db import EditionKind, Role
from keeper.domain.limits import (
    MAX_BUILD_BYTES,
    MAX_FILE_BYTES,
    MAX_MANIFEST_FILES,
)
from keeper.domain.paths import PathError, check_path, check_paths_together
from keeper.edge.redirects import MAX_RULES, RedirectError, make_rule
from keeper.edge.rules import RESERVED_EDITION_SLUGS

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
UrlLayout = Literal["subdomain", "path"]
SiteScheme = Literal["https", "http"]
Port = Annotated[int, Field(ge=1, le=65535)]
CdnKind = Literal["none", "fastly", "varnish", "nginx"]
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
Md5 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Patch(_Strict):
    """A partial update: omitted fields stay; ``null`` only where allowed."""

    nullable: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _no_null_for_required(self) -> Self:
        for name in sorted(self.model_fields_set - self.nullable):
            if getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null; leave it out to keep it")
        return self


class OrgCreate(_Strict):
    slug: Slug
    title: str = Field(min_length=1, max_length=200)
    base_domain: str = Field(default="", max_length=253)
    site_scheme: SiteScheme = "https"
    site_port: Port | None = None
    url_layout: UrlLayout = "subdomain"
    storage_url: str | None = Field(default=None, max_length=1000)
    cdn_kind: CdnKind = "none"
    cdn_settings: dict[str, Any] = Field(default_factory=dict)


class OrgUpdate(_Patch):
    nullable = frozenset({"storage_url", "site_port"})

    title: str | None = Field(default=None, min_length=1, max_length=200)
    base_domain: str | None = Field(default=None, max_length=253)
    site_scheme: SiteScheme | None = None
    site_port: Port | None = None
    url_layout: UrlLayout | None = None
    storage_url: str | None = Field(default=None, max_length=1000)
    cdn_kind: CdnKind | None = None
    cdn_settings: dict[str, Any] | None = None


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

    source: str = Field(alias="from", max_length=1000)
    target: str = Field(alias="to", max_length=2000)
    status: int = 301

    @model_validator(mode="after")
    def _usable(self) -> Self:
        try:
            make_rule(self.source, self.target, self.status)
        except RedirectError as exc:
            raise ValueError(str(exc)) from None
        return self


Redirects = Annotated[list[RedirectRule], Field(max_length=MAX_RULES)]


class ProductCreate(_Strict):
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


class EditionCreate(_Strict):
    slug: EditionSlug
    title: str | None = Field(default=None, max_length=200)
    kind: EditionKind = EditionKind.draft
    tracking_mode: str = "git_ref"
    tracking_params: dict[str, Any] = Field(default_factory=dict)
    build: str | None = Field(default=None, description="point at this build now")
    hidden: bool = False


class EditionUpdate(_Patch):
    slug: EditionSlug | None = None
    title: str | None = Field(default=None, min_length=1, max_length=200)
    kind: EditionKind | None = None
    tracking_mode: str | None = None
    tracking_params: dict[str, Any] | None = None
    build: str | None = Field(default=None, description="point at this build now")
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
    published: datetime | None


class RollbackRequest(_Strict):
    build: str


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


class ManifestFile(_Strict):
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


GitRef = Annotated[
    str,
    StringConstraints(min_length=1, max_length=255, pattern=r"^[^\x00-\x1f\x7f\s]+$"),
]


class BuildCreate(_Strict):
    git_ref: GitRef
    git_refs: list[GitRef] | None = None
    alternate_name: (
        Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")]
        | None
    ) = None
    manifest: Annotated[
        list[ManifestFile],
        Field(max_length=MAX_MANIFEST_FILES),
        AfterValidator(_one_build),
    ]
    ci: dict[str, Any] = Field(default_factory=dict)


class BuildUpdate(_Strict):
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


class UploadRenewal(_Strict):
    paths: list[SitePath] = Field(min_length=1, max_length=MAX_MANIFEST_FILES)


class BuildConfirmed(BuildPublic):
    editions: list[str]


class TokenCreate(_Strict):
    role: Role
    name: str = Field(default="", max_length=200)
    expires: AwareDatetime | None = None


class TemplateSource(_Strict):
    source: str = Field(min_length=1)


class TemplateSummary(BaseModel):
    name: str
    description: str
    #: False while keeper's own template is in use.
    overridden: bool
    updated: datetime | None


class TemplatePublic(TemplateSummary):
    source: str
