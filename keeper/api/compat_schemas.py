"""Bodies of the LTD Keeper 1.x routes, shaped as LTD Keeper answered them.

Field names and nesting follow LTD Keeper 1.x, not keeper's own API: the
clients reading them are released and cannot change.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from keeper import __version__
from keeper.api.present import product_url
from keeper.api.schemas import GitRef
from keeper.config import Settings
from keeper.db import Build, Organization, Product
from keeper.domain.limits import MAX_GIT_REFS, MAX_MANIFEST_FILES, MAX_PATH_BYTES
from keeper.services.compat.register import CompatRegistration
from keeper.storage import PostTarget

#: Newer ltd-conveyor releases read this and take the 1.x routes for any
#: version below 2.0.0.
SERVER_VERSION = f"1.0.0+ltd-platform.{__version__}"


class RootData(BaseModel):
    server_version: str
    documentation: str
    message: str


class RootLinks(BaseModel):
    self_url: str = Field(serialization_alias="self")
    token: str
    products: str


class RootResponse(BaseModel):
    data: RootData
    links: RootLinks


class TokenResponse(BaseModel):
    token: str


def _one_ref_field(schema: dict[str, Any]) -> None:
    schema["anyOf"] = [{"required": ["git_refs"]}, {"required": ["git_ref"]}]


class BuildRequest(BaseModel):
    """``POST /products/<p>/builds/``: 0.8 sends ``git_refs`` and the site's
    folders; later clients send a single ``git_ref``. One of them is needed."""

    model_config = ConfigDict(extra="ignore", json_schema_extra=_one_ref_field)

    git_refs: list[GitRef] | None = Field(
        default=None, min_length=1, max_length=MAX_GIT_REFS
    )
    git_ref: GitRef | None = None
    #: A folder holds at least one file: no more folders than files.
    directories: list[Annotated[str, Field(max_length=MAX_PATH_BYTES)]] = Field(
        default_factory=lambda: ["/"], max_length=MAX_MANIFEST_FILES
    )
    github_requester: str | None = Field(default=None, max_length=100)

    def refs(self) -> list[str]:
        if self.git_refs:
            return self.git_refs
        return [self.git_ref] if self.git_ref is not None else []


class BuildPatch(BaseModel):
    """LTD Keeper 1.x confirms a build with ``{"uploaded": true}``; that is
    the only change these routes take."""

    model_config = ConfigDict(extra="ignore")

    uploaded: Literal[True]


class PresignedPost(BaseModel):
    url: str
    fields: dict[str, str]


class BuildResponse(BaseModel):
    self_url: str
    product_url: str
    slug: str
    date_created: datetime
    date_ended: datetime | None = None
    uploaded: bool
    git_refs: list[str]
    git_ref: str
    github_requester: str | None
    published_url: str | None
    surrogate_key: str
    queue_url: str | None = None
    #: keeper's own: pending, uploaded, complete or failed, and why.
    status: str
    error: str | None
    post_prefix_urls: dict[str, PresignedPost] | None = None
    post_dir_urls: dict[str, PresignedPost] | None = None


class ProductResponse(BaseModel):
    self_url: str
    slug: str
    title: str
    doc_repo: str | None
    published_url: str | None


class ProductsResponse(BaseModel):
    products: list[str]


def root_response(settings: Settings) -> RootResponse:
    base = _base(settings)
    return RootResponse(
        data=RootData(
            server_version=SERVER_VERSION,
            documentation=f"{base}/docs",
            message=(
                "keeper, answering the LTD Keeper 1.x routes that ltd-conveyor "
                "uses; its own API is under /api"
            ),
        ),
        links=RootLinks(
            self_url=f"{base}/", token=f"{base}/token", products=f"{base}/products/"
        ),
    )


def build_url(settings: Settings, build: Build) -> str:
    return f"{_base(settings)}/builds/{build.public_id}"


def product_self_url(settings: Settings, product: Product) -> str:
    return f"{_base(settings)}/products/{product.slug}"


def build_response(
    settings: Settings,
    org: Organization,
    product: Product,
    build: Build,
    registration: CompatRegistration | None = None,
) -> BuildResponse:
    root = product_url(org, product)
    ci = build.ci or {}
    requester = ci.get("github_requester")
    return BuildResponse(
        self_url=build_url(settings, build),
        product_url=product_self_url(settings, product),
        slug=build.public_id,
        date_created=build.created,
        uploaded=build.uploaded is not None,
        git_refs=build.git_refs or [build.git_ref],
        git_ref=build.git_ref,
        github_requester=requester if isinstance(requester, str) else None,
        published_url=f"{root}builds/{build.public_id}/" if root else None,
        # LTD purged a build from the CDN by this key; the public id names
        # a build just as uniquely.
        surrogate_key=build.public_id,
        status=build.status,
        error=build.error,
        post_prefix_urls=_posts(registration.prefix_targets) if registration else None,
        post_dir_urls=_posts(registration.dir_targets) if registration else None,
    )


def product_response(
    settings: Settings, org: Organization, product: Product
) -> ProductResponse:
    return ProductResponse(
        self_url=product_self_url(settings, product),
        slug=product.slug,
        title=product.title,
        doc_repo=product.source_repo_url,
        published_url=product_url(org, product),
    )


def _posts(targets: dict[str, PostTarget]) -> dict[str, PresignedPost]:
    return {
        name: PresignedPost(url=t.url, fields=t.fields) for name, t in targets.items()
    }


def _base(settings: Settings) -> str:
    return settings.base_url.rstrip("/")
