from __future__ import annotations

from fastapi import Request, Response, status

from keeper.api.access import PUBLIC, Admin, Superadmin
from keeper.api.deps import OrgDep, PageDep, RuntimeDep, SessionDep, link_next
from keeper.api.present import org_public
from keeper.api.routing import api_router
from keeper.api.schemas import OrgCreate, OrgPublic, OrgUpdate
from keeper.db import Role
from keeper.domain.site_domains import api_host
from keeper.services import orgs
from keeper.services.errors import Forbidden

router = api_router(prefix="/orgs", tags=["organizations"])


@router.post("", status_code=status.HTTP_201_CREATED)
def create_org(
    body: OrgCreate, session: SessionDep, _: Superadmin, runtime: RuntimeDep
) -> OrgPublic:
    host = api_host(runtime.settings.base_url)
    return org_public(orgs.create_org(session, api_host=host, **body.model_dump()))


@router.get("", dependencies=[PUBLIC])
def list_orgs(
    session: SessionDep, page: PageDep, request: Request, response: Response
) -> list[OrgPublic]:
    result = orgs.list_orgs(session, page)
    link_next(request, response, result)
    return [org_public(o) for o in result.items]


@router.get("/{org}", dependencies=[PUBLIC])
def get_org_(o: OrgDep) -> OrgPublic:
    return org_public(o)


@router.patch("/{org}")
def update_org(
    row: OrgDep,
    body: OrgUpdate,
    session: SessionDep,
    principal: Admin,
    runtime: RuntimeDep,
) -> OrgPublic:
    changes = body.model_dump(exclude_unset=True)
    # Which hosts and which stored objects are the org's is the platform's
    # decision: an org admin who could set base_domain, url_layout or
    # storage_url could take another org's sites, keeper's API or its files.
    platform = orgs.platform_changes(row, changes)
    if platform and principal.role is not Role.superadmin:
        raise Forbidden(f"only a superadmin may change {', '.join(sorted(platform))}")
    host = api_host(runtime.settings.base_url)
    return org_public(orgs.update_org(session, row, changes, api_host=host))


@router.delete("/{org}", status_code=status.HTTP_204_NO_CONTENT)
def delete_org(org: str, session: SessionDep, _: Superadmin) -> None:
    orgs.delete_org(session, org)
