"""Demo shoppers for the local shop: ``python -m services.profile.seed`` (idempotent; local only).

Creates each demo user in the Cognito pool, confirmed and with a known password, in its
groups, with a profile and one address. ``nox -s up`` runs it once every service answers.
The passwords are public: the seed refuses to run unless AWS_ENDPOINT_URL names an emulator.
"""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass
from typing import Any

import boto3

from services.common import db
from services.profile.adapters.postgres import PostgresProfiles
from services.profile.domain import AddressFields, ProfileFields
from services.profile.settings import ProfileSettings

# services.profile.app.SCHEMA (a test holds them equal), not imported from there: the app module pulls in
# FastAPI and every route, about a CPU-second this seed does not need on every start (issue 20).
SCHEMA = "profile"


@dataclass(frozen=True)
class DemoUser:
    email: str
    password: str
    display_name: str
    address: AddressFields
    groups: tuple[str, ...] = ()


# Local-only logins, listed in services/profile/README.md.
DEMO_USERS = (
    DemoUser(
        "demo@shop.example.com",
        "Demo-Shopper-1",
        "Demo Shopper",
        AddressFields("Demo Shopper", "410 Terry Ave N", "Seattle", "US", "98109", region="WA", label="Home"),
    ),
    DemoUser(
        "admin@shop.example.com",
        "Admin-Shopper-1",
        "Shop Admin",
        AddressFields("Shop Admin", "1 Main Street", "Springfield", "US", "62701", region="IL", label="Office"),
        groups=("admin",),
    ),
)


def ensure_user(idp: Any, pool_id: str, user: DemoUser) -> str:
    """The user, confirmed with the demo password and in its groups (created if missing); returns its sub."""
    try:
        found = idp.admin_get_user(UserPoolId=pool_id, Username=user.email)
    except idp.exceptions.UserNotFoundException:
        idp.admin_create_user(
            UserPoolId=pool_id,
            Username=user.email,
            MessageAction="SUPPRESS",
            UserAttributes=[{"Name": "email", "Value": user.email}, {"Name": "email_verified", "Value": "true"}],
        )
        found = None
    if found is None or found.get("UserStatus") != "CONFIRMED":
        # admin_create_user leaves the user in FORCE_CHANGE_PASSWORD until the password is made permanent.
        idp.admin_set_user_password(UserPoolId=pool_id, Username=user.email, Password=user.password, Permanent=True)
        found = idp.admin_get_user(UserPoolId=pool_id, Username=user.email)
    for group in user.groups:
        idp.admin_add_user_to_group(UserPoolId=pool_id, Username=user.email, GroupName=group)
    return next(a["Value"] for a in found["UserAttributes"] if a["Name"] == "sub")


async def seed(settings: ProfileSettings) -> str:
    """Seed every demo user; returns the one-line summary."""
    idp = boto3.client("cognito-idp", region_name=settings.aws_region)
    url = await db.prepare("services.profile", SCHEMA, settings.database_secret_id, settings.aws_region,
                           migrate_schema=settings.migrate_on_start)  # fmt: skip
    database = await db.Database.connect(url, SCHEMA, max_size=1)
    profiles = PostgresProfiles(database)
    try:
        for user in DEMO_USERS:
            sub = await asyncio.to_thread(ensure_user, idp, settings.user_pool_id, user)
            profile = await profiles.profile(sub, user.email)
            if not profile.fields.display_name:  # leave a profile the user has since changed alone
                await profiles.update_profile(sub, user.email, ProfileFields(display_name=user.display_name))
            if not await profiles.addresses(sub):
                await profiles.add_address(sub, user.email, user.address.checked(), settings.max_addresses)
    finally:
        await database.close()
        idp.close()
    logins = ", ".join(
        f"{u.email} / {u.password}" + (f" (groups: {', '.join(u.groups)})" if u.groups else "") for u in DEMO_USERS
    )
    return f"profile seed: {len(DEMO_USERS)} demo logins (local only): {logins}"


def main() -> int:
    if not os.environ.get("AWS_ENDPOINT_URL"):
        print("profile seed: skipped; demo users with public passwords are for the local emulator only")
        return 0
    print(asyncio.run(seed(ProfileSettings())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
