"""An org's own templates for the pages keeper generates.

A template is checked before it is stored: it must compile and render the
sample product below in Jinja's sandbox, within the render budget of org
templates (:mod:`keeper.pages.budget`), so a broken or runaway template is
refused with its line number or the budget it exceeded instead of breaking
every later publish.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from jinja2 import TemplateError, TemplateSyntaxError
from sqlmodel import Session, select

from keeper.db import MAIN_EDITION, Organization, OrgTemplate
from keeper.db.types import pk, utcnow
from keeper.jobs.follow import org_changed
from keeper.pages.budget import BudgetExceeded, RendererUnavailable
from keeper.pages.entries import BuildEntry, EditionEntry, Listing
from keeper.pages.render import (
    TEMPLATES,
    environment,
    platform_not_found,
    render_pages,
)
from keeper.services.errors import Invalid, KeeperError, NotFound

#: Larger templates are refused: pages are re-rendered on every publish.
MAX_TEMPLATE_BYTES = 256 * 1024


class OverBudget(Invalid):
    """A template exceeds the render budget of org templates."""

    error_type = "template_over_budget"


class RenderingUnavailable(KeeperError):
    """Keeper could not check the template (it is stopping, or could not
    start a render worker); the template may be fine."""

    status_code = 503
    error_type = "unavailable"


@dataclass(frozen=True)
class TemplateInfo:
    name: str
    description: str
    overridden: bool
    source: str
    updated: datetime | None


def org_overrides(session: Session, org_id: int | None) -> dict[str, str]:
    rows = session.exec(select(OrgTemplate).where(OrgTemplate.org_id == org_id))
    return {row.name: row.source for row in rows}


def list_templates(session: Session, org: Organization) -> list[TemplateInfo]:
    return [get_template(session, org, name) for name in TEMPLATES]


def get_template(session: Session, org: Organization, name: str) -> TemplateInfo:
    _known(name)
    row = _row(session, org, name)
    return TemplateInfo(
        name=name,
        description=TEMPLATES[name],
        overridden=row is not None,
        source=row.source if row is not None else _default_source(name),
        updated=row.updated if row is not None else None,
    )


def set_template(
    session: Session, org: Organization, name: str, source: str
) -> TemplateInfo:
    _known(name)
    if len(source.encode()) > MAX_TEMPLATE_BYTES:
        raise Invalid(f"template {name} is larger than {MAX_TEMPLATE_BYTES} bytes")
    overrides = {**org_overrides(session, org.id), name: source}
    check_templates(overrides, name=name)
    row = _row(session, org, name) or OrgTemplate(
        org_id=org.id or 0, name=name, source=source
    )
    row.source = source
    row.updated = utcnow()
    _touch(session, org)
    session.add(row)
    session.flush()
    return get_template(session, org, name)


def reset_template(session: Session, org: Organization, name: str) -> None:
    """Go back to keeper's own template."""
    _known(name)
    row = _row(session, org, name)
    if row is None:
        return
    session.delete(row)
    _touch(session, org)
    session.flush()


def check_templates(overrides: dict[str, str], *, name: str = "") -> None:
    """Render every page of a sample product with ``overrides``; raise
    :class:`Invalid` naming the template and line at fault, or
    :class:`OverBudget` naming the budget ``name`` (the template being set)
    made a page exceed."""
    try:
        render_pages(SAMPLE, overrides)
        platform_not_found(
            "Sample", "", org_title="Sample org", overrides=overrides, strict=True
        )
    except BudgetExceeded as exc:
        subject = f"template {name}" if name else "the templates"
        page = "" if exc.template == name else f" while rendering {exc.template}"
        raise OverBudget(
            f"{subject} exceeds the render budget on a sample product{page}: "
            f"{exc.spent}"
        ) from None
    except RendererUnavailable as exc:
        raise RenderingUnavailable(
            f"the template could not be checked, try again: {exc}"
        ) from None
    except TemplateSyntaxError as exc:
        where = f"{exc.name or 'template'}, line {exc.lineno}"
        raise Invalid(f"{where}: {exc.message}") from None
    except TemplateError as exc:
        raise Invalid(f"template error: {exc}") from None
    except Exception as exc:  # runtime errors inside an org's template
        raise Invalid(
            f"the template fails on a sample product: {type(exc).__name__}: {exc}"
        ) from None


def _known(name: str) -> None:
    if name not in TEMPLATES:
        raise NotFound(
            f"no template named {name!r}; templates are: {', '.join(TEMPLATES)}"
        )


def _row(session: Session, org: Organization, name: str) -> OrgTemplate | None:
    return session.exec(
        select(OrgTemplate).where(
            OrgTemplate.org_id == org.id, OrgTemplate.name == name
        )
    ).first()


def _touch(session: Session, org: Organization) -> None:
    # The org's row changing is what tells every keeper process (and the
    # page writer) that its pages must be rendered again.
    org.updated = utcnow()
    session.add(org)
    org_changed(session, pk(org))


def _default_source(name: str) -> str:
    env = environment()
    assert env.loader is not None
    return env.loader.get_source(env, name)[0]


_WHEN = datetime(2026, 1, 1, tzinfo=UTC)
SAMPLE = Listing(
    org="sample",
    org_title="Sample org",
    product="sample",
    product_title="Sample",
    root="",
    editions=(
        EditionEntry(
            slug=MAIN_EDITION,
            title="Latest",
            kind="main",
            url="/",
            build="b1",
            git_ref="main",
            updated=_WHEN,
            source_url="https://example.org/repo/tree/main",
            is_default=True,
            group="default",
        ),
        EditionEntry(
            slug="1.0",
            title="1.0",
            kind="release",
            url="/v/1.0/",
            build="b0",
            git_ref="v1.0.0",
            updated=_WHEN,
            source_url=None,
            is_default=False,
            group="release",
        ),
        EditionEntry(
            slug="pr-1",
            title="pr-1",
            kind="draft",
            url="/v/pr-1/",
            build="b2",
            git_ref="feature",
            updated=_WHEN,
            source_url=None,
            is_default=False,
            group="draft",
            pr_number=1,
        ),
    ),
    builds=(
        BuildEntry(
            public_id="b1",
            url="/builds/b1/",
            git_ref="main",
            created=_WHEN,
            completed=_WHEN,
            file_count=3,
            total_size=1234,
            editions=(MAIN_EDITION,),
            source_url=None,
            run_url="https://example.org/run/1",
            pr_number=None,
        ),
    ),
    builds_total=1,
)
