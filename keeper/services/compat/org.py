"""The organization the LTD Keeper 1.x routes act on.

Those routes name a product but no organization (LTD Keeper 1.x had
none), so one organization is chosen for them by configuration.
"""

from __future__ import annotations

from sqlmodel import Session, select

from keeper.config import Settings
from keeper.db import Organization
from keeper.services.errors import KeeperError


class CompatNotConfigured(KeeperError):
    status_code = 503
    error_type = "not_configured"


def compat_org(session: Session, settings: Settings) -> Organization:
    """``KEEPER_COMPAT_ORG`` when set, else the only organization there is."""
    if settings.compat_org:
        org = session.exec(
            select(Organization).where(Organization.slug == settings.compat_org)
        ).first()
        if org is None:
            raise CompatNotConfigured(
                f"KEEPER_COMPAT_ORG names organization {settings.compat_org!r}, "
                "which does not exist"
            )
        return org
    orgs = session.exec(select(Organization).order_by(Organization.slug)).all()
    if len(orgs) == 1:
        return orgs[0]
    if not orgs:
        raise CompatNotConfigured(
            "no organization exists yet: create one for the LTD Keeper 1.x "
            "routes to act on"
        )
    slugs = ", ".join(o.slug for o in orgs)
    raise CompatNotConfigured(
        f"the LTD Keeper 1.x routes act on one organization, and there are "
        f"{len(orgs)} ({slugs}): set KEEPER_COMPAT_ORG to one of them"
    )
