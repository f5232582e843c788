from __future__ import annotations

from fastapi import APIRouter, Request, Response, status
from sqlmodel import select

from keeper.api.deps import PageDep, PrincipalDep, RuntimeDep, SessionDep, link_next
from keeper.api.present import product_public
from keeper.api.schemas import ProductCreate, ProductPublic, ProductUpdate
from keeper.db import Product, Role
from keeper.services import products
from keeper.services.auth import authorize
from keeper.services.lookup import get_org, get_product
from keeper.services.pagination import paginate

router = APIRouter(prefix="/orgs/{org}/products", tags=["products"])


@router.post("", status_code=status.HTTP_201_CREATED)
def create_product(
    org: str, body: ProductCreate, session: SessionDep, principal: PrincipalDep
) -> ProductPublic:
    row = get_org(session, org)
    authorize(principal, row, Role.admin)
    return product_public(
        row, products.create_product(session, row, **body.model_dump(by_alias=True))
    )


@router.get("")
def list_products(
    org: str, session: SessionDep, page: PageDep, request: Request, response: Response
) -> list[ProductPublic]:
    row = get_org(session, org)
    result = paginate(
        session, select(Product).where(Product.org_id == row.id), Product.id, page
    )
    link_next(request, response, result)
    return [product_public(row, p) for p in result.items]


@router.get("/{product}")
def get_product_(org: str, product: str, session: SessionDep) -> ProductPublic:
    row = get_org(session, org)
    return product_public(row, get_product(session, row, product))


@router.patch("/{product}")
def update_product(
    org: str,
    product: str,
    body: ProductUpdate,
    session: SessionDep,
    principal: PrincipalDep,
) -> ProductPublic:
    row = get_org(session, org)
    authorize(principal, row, Role.admin)
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
    principal: PrincipalDep,
) -> None:
    row = get_org(session, org)
    authorize(principal, row, Role.admin)
    products.delete_product(
        session, runtime.stores, row, get_product(session, row, product)
    )
