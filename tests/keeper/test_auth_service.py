"""Token rules that the HTTP tests cannot reach directly."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session

from keeper.db import Organization, Role
from keeper.db.engine import make_engine
from keeper.db.migrate import upgrade
from keeper.services.auth import authenticate, create_token, hash_token
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
        expires=datetime.now(UTC) + timedelta(seconds=-1),
    )
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
