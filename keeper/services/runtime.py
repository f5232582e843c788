"""The long-lived collaborators services need besides a database session."""

from __future__ import annotations

from dataclasses import dataclass

from keeper.config import Settings
from keeper.services.stores import StoreProvider
from keeper.services.upload_urls import UploadSigner, load_or_create_secret


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    stores: StoreProvider
    signer: UploadSigner

    @classmethod
    def from_settings(cls, settings: Settings) -> Runtime:
        secret = (
            settings.secret_key.get_secret_value().encode()
            if settings.secret_key
            else load_or_create_secret(settings.secret_key_file)
        )
        return cls(
            settings=settings,
            stores=StoreProvider(settings.storage_url),
            signer=UploadSigner(secret),
        )
