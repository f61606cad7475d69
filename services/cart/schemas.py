"""The JSON bodies the cart accepts (answers are the priced cart, ``CartService.view``)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

ProductIdText = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")]


class AddItem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    product_id: ProductIdText
    quantity: int = Field(1, gt=0, le=10_000)


class SetQuantity(BaseModel):
    model_config = ConfigDict(extra="forbid")
    quantity: int = Field(ge=0, le=10_000)


class Bought(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lines: dict[ProductIdText, Annotated[int, Field(gt=0)]] = Field(max_length=100)
