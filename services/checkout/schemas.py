"""The checkout API's request body: every bound a field has is checked here, before the saga starts."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]


class Address(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Text
    line1: Text
    line2: Annotated[str, StringConstraints(max_length=120)] = ""
    city: Text
    postal_code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=12)]
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]


class CheckoutIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    shipping_address: Address
    payment_method: Annotated[str, StringConstraints(pattern=r"^pm_[a-z0-9_]{1,40}$")] = Field(
        "pm_card_ok", description="a payment method token; locally the simulator's test methods"
    )
