"""Tables (SQLModel) and the database engine."""

from keeper.db.build import Build, BuildFile, BuildStatus
from keeper.db.edge import EdgeConfig
from keeper.db.edition import (
    MAIN_EDITION,
    Edition,
    EditionHistory,
    EditionKind,
    PublishStatus,
)
from keeper.db.job import Job, JobStatus
from keeper.db.organization import Organization
from keeper.db.product import Product
from keeper.db.stored_object import ObjectState, StoredObject
from keeper.db.template import OrgTemplate
from keeper.db.token import Role, Token

__all__ = [
    "MAIN_EDITION",
    "Build",
    "BuildFile",
    "BuildStatus",
    "EdgeConfig",
    "Edition",
    "EditionHistory",
    "EditionKind",
    "Job",
    "JobStatus",
    "ObjectState",
    "OrgTemplate",
    "Organization",
    "Product",
    "PublishStatus",
    "Role",
    "StoredObject",
    "Token",
]
