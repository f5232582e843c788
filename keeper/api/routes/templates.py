from __future__ import annotations

from fastapi import status

from keeper.api.access import PUBLIC, Admin
from keeper.api.deps import OrgDep, SessionDep
from keeper.api.routing import api_router
from keeper.api.schemas import TemplatePublic, TemplateSource, TemplateSummary
from keeper.services import templates

router = api_router(prefix="/orgs/{org}/templates", tags=["templates"])


@router.get("", dependencies=[PUBLIC])
def list_templates(row: OrgDep, session: SessionDep) -> list[TemplateSummary]:
    """The templates of the pages keeper generates for the org's products
    (the ``/v/`` dashboard, the ``/builds/`` list, the 404 page and the
    layout they share), and which of them the org replaced."""
    found = templates.list_templates(session, row)
    return [TemplateSummary.model_validate(t, from_attributes=True) for t in found]


@router.get("/{name}", dependencies=[PUBLIC])
def get_template(row: OrgDep, name: str, session: SessionDep) -> TemplatePublic:
    found = templates.get_template(session, row, name)
    return TemplatePublic.model_validate(found, from_attributes=True)


@router.put("/{name}")
def set_template(
    row: OrgDep,
    name: str,
    body: TemplateSource,
    session: SessionDep,
    _: Admin,
) -> TemplatePublic:
    """Replace one template (Jinja2, rendered in a sandbox). It must render
    a sample product without error; every product's pages are then
    rendered again."""
    found = templates.set_template(session, row, name, body.source)
    return TemplatePublic.model_validate(found, from_attributes=True)


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT)
def reset_template(row: OrgDep, name: str, session: SessionDep, _: Admin) -> None:
    """Go back to keeper's own template."""
    templates.reset_template(session, row, name)
