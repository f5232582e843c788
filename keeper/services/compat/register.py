"""Registering a build the LTD Keeper 1.x way: a pending build and, per
folder of the site, a form-upload target and a directory-marker target."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from keeper.db import Build, Organization, Product
from keeper.domain.paths import PathError, check_path
from keeper.services.builds.register import register_build
from keeper.services.compat.probe import ensure_presigned_post_works
from keeper.services.errors import Invalid
from keeper.services.form_uploads import marker_target, post_target
from keeper.services.runtime import Runtime
from keeper.storage import InvalidKey, PostTarget, validate_dir_prefix

#: Set in ``Build.ci`` of builds registered through the 1.x routes: their
#: manifest is read from storage when they are confirmed.
COMPAT_MARK = "ltd_keeper_api"
_MAX_REF = 255


@dataclass(frozen=True)
class CompatRegistration:
    build: Build
    #: Folder as the client named it ("/", "a/b/") -> where its files go.
    prefix_targets: dict[str, PostTarget]
    #: Folder -> where its empty directory-marker object goes.
    dir_targets: dict[str, PostTarget]


def register_compat_build(
    session: Session,
    runtime: Runtime,
    org: Organization,
    product: Product,
    *,
    git_refs: list[str],
    directories: list[str],
    uploader: str,
    requester: str | None = None,
) -> CompatRegistration:
    refs = _check_refs(git_refs)
    folders = folder_prefixes(directories)
    store = runtime.stores.for_org(org)
    if store.supports_presigned_post:
        # Before the build exists, so a refusing store leaves nothing behind.
        ensure_presigned_post_works(store)
    ci: dict[str, object] = {COMPAT_MARK: "1.x"}
    if requester:
        ci["github_requester"] = requester
    build, _ = register_build(
        session,
        runtime,
        org,
        product,
        git_ref=refs[0],
        git_refs=refs,
        alternate_name=None,
        manifest=[],
        ci=ci,
        uploader=uploader,
    )
    return CompatRegistration(
        build=build,
        prefix_targets={
            name: post_target(runtime, store, org, product, build, folder)
            for name, folder in folders.items()
        },
        dir_targets={
            name: marker_target(runtime, org, product, build, folder)
            for name, folder in folders.items()
        },
    )


def folder_prefixes(directories: list[str]) -> dict[str, str]:
    """Client folder names ("/", "a/b" or "a/b/") -> prefixes in the build
    ("", "a/b/"), keyed the way LTD Keeper 1.x answered them."""
    folders: dict[str, str] = {}
    for raw in directories or ["/"]:
        name = raw.strip()
        if not name.endswith("/"):
            name += "/"
        folder = name.lstrip("/")
        try:
            validate_dir_prefix(folder)
            if folder:
                check_path(folder[:-1])
        except (InvalidKey, PathError) as exc:
            raise Invalid(f"directory {raw!r} is not a site folder: {exc}") from exc
        folders[name] = folder
    return folders


def _check_refs(git_refs: list[str]) -> list[str]:
    refs = [r.strip() for r in git_refs]
    if not refs or not all(refs):
        raise Invalid("git_refs needs at least one non-empty git ref")
    too_long = [r for r in refs if len(r) > _MAX_REF]
    if too_long:
        raise Invalid(f"git refs are at most {_MAX_REF} characters: {too_long[0]!r}")
    return refs
