"""The JSON bodies the cart accepts (answers are the priced cart, ``CartService.view``)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.common.types import integer

ProductIdText = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")]


class AddItem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    product_id: ProductIdText
    quantity: integer(ge=1, le=10_000) = 1  # strict: true is not one unit, "1" and 1.0 are not integers


class SetQuantity(BaseModel):
    model_config = ConfigDict(extra="forbid")
    quantity: integer(ge=0, le=10_000)


class Bought(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lines: dict[ProductIdText, integer(ge=1, le=10_000)] = Field(max_length=100)
