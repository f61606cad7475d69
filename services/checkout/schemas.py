"""The checkout API's request body: every bound a field has is checked here, before the saga starts."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.common.types import name, text

# Required fields must hold something visible; every field refuses NUL and control characters.
Text = name(max_length=120)


class Address(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Text
    line1: Text
    line2: text(max_length=120, strip=True) = ""
    city: Text
    postal_code: name(min_length=2, max_length=12)
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]


class CheckoutIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    shipping_address: Address
    payment_method: Annotated[str, StringConstraints(pattern=r"^pm_[a-z0-9_]{1,40}$")] = Field(
        "pm_card_ok", description="a payment method token; locally the simulator's test methods"
    )
