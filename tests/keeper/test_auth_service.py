"""Token rules that the HTTP tests cannot reach directly."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlmodel import Session

from keeper.db import Organization, Role
from keeper.db.engine import make_engine
from keeper.db.migrate import upgrade
from keeper.domain.limits import MAX_TOKEN_DAYS
from keeper.services.auth import (
    authenticate,
    authenticate_token_id,
    check_expiry,
    create_token,
    hash_token,
)
from keeper.services.errors import Invalid, Unauthorized
from keeper.services.upload_urls import UploadGrant, UploadSigner


@pytest.fixture
def session(database_url: str) -> Iterator[Session]:
    engine = make_engine(database_url)
    upgrade(engine)
    with Session(engine) as session:
        yield session
    engine.dispose()


def test_tokens_are_stored_hashed_and_expire(session: Session) -> None:
    org = Organization(slug="o", title="O")
    session.add(org)
    session.flush()
    token, secret = create_token(
        session,
        role=Role.uploader,
        org=org,
        expires=datetime.now(UTC) + timedelta(days=1),
    )
    session.commit()
    assert authenticate(session, secret).token_id == token.id
    token.expires = datetime.now(UTC) - timedelta(seconds=1)  # a day later
    session.commit()
    assert token.token_hash == hash_token(secret) and secret not in token.token_hash
    with pytest.raises(Unauthorized, match="expired"):
        authenticate(session, secret)
    with pytest.raises(Unauthorized):
        authenticate(session, "ltd_not-a-token")


def test_org_roles_need_an_org_and_superadmin_none(session: Session) -> None:
    with pytest.raises(Invalid):
        create_token(session, role=Role.admin, org=None)
    org = Organization(slug="o2", title="O")
    session.add(org)
    session.flush()
    with pytest.raises(Invalid):
        create_token(session, role=Role.superadmin, org=org)


def test_upload_urls_expire_and_resist_tampering() -> None:
    signer = UploadSigner(b"k" * 32)
    grant = UploadGrant(
        org="o",
        build="b",
        key="p/_staging/b/index.html",
        size=3,
        sha256="0" * 64,
        content_type="text/html",
        expires=1000,
    )
    token = signer.sign(grant)
    assert signer.verify(token, now=999) == grant
    with pytest.raises(Exception, match="expired"):
        signer.verify(token, now=1001)
    payload, _, mac = token.partition(".")
    with pytest.raises(Exception, match="signature"):
        signer.verify(payload[:-2] + "xx." + mac, now=0)
    with pytest.raises(Exception, match="signature"):
        UploadSigner(b"other").verify(token, now=0)


NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expires", "refused"),
    [
        (NOW + timedelta(seconds=1), None),
        (NOW + timedelta(days=MAX_TOKEN_DAYS), None),
        (datetime(2025, 6, 1, 9, 0, tzinfo=timezone(timedelta(hours=-5))), None),
        (NOW, "future"),
        (NOW - timedelta(days=1), "future"),
        (datetime(2025, 6, 1, 13, 0, tzinfo=timezone(timedelta(hours=2))), "future"),
        (NOW + timedelta(days=MAX_TOKEN_DAYS, seconds=1), "at most"),
        (
            datetime(9999, 12, 31, 23, 0, tzinfo=timezone(timedelta(hours=-5))),
            "at most",
        ),
        (datetime(2026, 1, 1), "time zone"),
    ],
)
def test_a_new_tokens_expiry_lies_ahead_but_not_too_far(
    expires: datetime, refused: str | None
) -> None:
    if refused is None:
        check_expiry(expires, NOW)
    else:
        with pytest.raises(Invalid, match=refused):
            check_expiry(expires, NOW)


def test_a_session_never_passes_for_a_later_token_with_the_same_id(
    session: Session,
) -> None:
    """SQLite gives a new row the highest id plus one, so deleting the
    newest token frees its id for the next: a session naming only the id
    would then act as that next token, maybe an admin of another org."""
    org = Organization(slug="o3", title="O")
    session.add(org)
    session.flush()
    revoked, secret = create_token(session, role=Role.uploader, org=org)
    session.commit()
    principal = authenticate(session, secret)
    assert authenticate_token_id(session, principal.token_id, principal.fingerprint)
    session.delete(revoked)
    session.commit()
    successor, _ = create_token(session, role=Role.admin, org=org)
    session.commit()
    if session.get_bind().dialect.name == "sqlite":
        assert successor.id == principal.token_id  # the id did come back
    with pytest.raises(Unauthorized):
        authenticate_token_id(session, principal.token_id, principal.fingerprint)
