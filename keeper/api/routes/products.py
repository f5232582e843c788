from __future__ import annotations

from fastapi import Request, Response, status

from keeper.api.access import PUBLIC, Admin
from keeper.api.deps import OrgDep, PageDep, ProductDep, SessionDep, link_next
from keeper.api.present import product_public
from keeper.api.routing import api_router, max_body
from keeper.api.schemas import ProductCreate, ProductPublic, ProductUpdate
from keeper.domain.limits import PRODUCT_BODY_BYTES
from keeper.services import products

router = api_router(prefix="/orgs/{org}/products", tags=["products"])


@router.post(
    "", status_code=status.HTTP_201_CREATED, openapi_extra=max_body(PRODUCT_BODY_BYTES)
)
def create_product(
    o: OrgDep, body: ProductCreate, session: SessionDep, _: Admin
) -> ProductPublic:
    return product_public(
        o, products.create_product(session, o, **body.model_dump(by_alias=True))
    )


@router.get("", dependencies=[PUBLIC])
def list_products(
    o: OrgDep, session: SessionDep, page: PageDep, request: Request, response: Response
) -> list[ProductPublic]:
    result = products.list_products(session, o, page)
    link_next(request, response, result)
    return [product_public(o, p) for p in result.items]


@router.get("/{product}", dependencies=[PUBLIC])
def get_product_(o: OrgDep, p: ProductDep) -> ProductPublic:
    return product_public(o, p)


@router.patch("/{product}", openapi_extra=max_body(PRODUCT_BODY_BYTES))
def update_product(
    o: OrgDep,
    p: ProductDep,
    body: ProductUpdate,
    session: SessionDep,
    _: Admin,
) -> ProductPublic:
    updated = products.update_product(
        session, p, body.model_dump(exclude_unset=True, by_alias=True)
    )
    return product_public(o, updated)


@router.delete("/{product}", status_code=status.HTTP_204_NO_CONTENT)
def delete_product(o: OrgDep, p: ProductDep, session: SessionDep, _: Admin) -> None:
    products.delete_product(session, o, p)
