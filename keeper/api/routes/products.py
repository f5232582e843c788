from __future__ import annotations

from fastapi import Request, Response, status
from sqlmodel import select

from keeper.api.access import PUBLIC, Admin
from keeper.api.deps import PageDep, RuntimeDep, SessionDep, link_next
from keeper.api.present import product_public
from keeper.api.routing import api_router, max_body
from keeper.api.schemas import ProductCreate, ProductPublic, ProductUpdate
from keeper.db import Product
from keeper.domain.limits import PRODUCT_BODY_BYTES
from keeper.services import products
from keeper.services.lookup import get_org, get_product
from keeper.services.pagination import paginate

router = api_router(prefix="/orgs/{org}/products", tags=["products"])


@router.post(
    "", status_code=status.HTTP_201_CREATED, openapi_extra=max_body(PRODUCT_BODY_BYTES)
)
def create_product(
    org: str, body: ProductCreate, session: SessionDep, _: Admin
) -> ProductPublic:
    row = get_org(session, org)
    return product_public(
        row, products.create_product(session, row, **body.model_dump(by_alias=True))
    )


@router.get("", dependencies=[PUBLIC])
def list_products(
    org: str, session: SessionDep, page: PageDep, request: Request, response: Response
) -> list[ProductPublic]:
    row = get_org(session, org)
    result = paginate(
        session, select(Product).where(Product.org_id == row.id), Product.id, page
    )
    link_next(request, response, result)
    return [product_public(row, p) for p in result.items]


@router.get("/{product}", dependencies=[PUBLIC])
def get_product_(org: str, product: str, session: SessionDep) -> ProductPublic:
    row = get_org(session, org)
    return product_public(row, get_product(session, row, product))


@router.patch("/{product}", openapi_extra=max_body(PRODUCT_BODY_BYTES))
def update_product(
    org: str,
    product: str,
    body: ProductUpdate,
    session: SessionDep,
    _: Admin,
) -> ProductPublic:
    row = get_org(session, org)
    updated = products.update_product(
        session,
        get_product(session, row, product),
        body.model_dump(exclude_unset=True, by_alias=True),
    )
    return product_public(row, updated)


@router.delete("/{product}", status_code=status.HTTP_204_NO_CONTENT)
def delete_product(
    org: str,
    product: str,
    session: SessionDep,
    runtime: RuntimeDep,
    _: Admin,
) -> None:
    row = get_org(session, org)
    products.delete_product(
        session, runtime.stores, row, get_product(session, row, product)
    )
