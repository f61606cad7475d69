"""The settings of catalog, search and gateway: every variable is in its README's table, old names still read."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import AliasChoices

from services.catalog.settings import CatalogSettings
from services.common.settings import ServiceSettings
from services.gateway.settings import GatewaySettings
from services.search.settings import SearchSettings

REPO = Path(__file__).resolve().parents[2]
SETTINGS: dict[str, type[ServiceSettings]] = {
    "catalog": CatalogSettings,
    "search": SearchSettings,
    "gateway": GatewaySettings,
}


def variables(cls: type[ServiceSettings]) -> dict[str, list[str]]:
    """Each field's environment variables: its aliases, else the prefix and its name."""
    prefix = str(cls.model_config.get("env_prefix", ""))
    out = {}
    for name, field in cls.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            out[name] = [str(a) for a in alias.choices]
        elif isinstance(alias, str):
            out[name] = [alias]
        else:
            out[name] = [(prefix + name).upper()]
    return out


@pytest.mark.parametrize("service", sorted(SETTINGS))
def test_every_setting_is_in_the_readme_table(service):
    table = set(re.findall(r"`([A-Z][A-Z0-9_<>]+)`", (REPO / "services" / service / "README.md").read_text()))
    missing = {name: names for name, names in variables(SETTINGS[service]).items() if not set(names) & table}
    assert not missing, f"services/{service}/README.md does not list {missing}"


def test_the_old_names_of_the_catalogs_settings_still_work(monkeypatch):
    monkeypatch.setenv("CATALOG_DATABASE_SECRET_ID", "shop/old/database")
    monkeypatch.setenv("CATALOG_RELAY_IDLE_MS", "500")
    settings = CatalogSettings()
    assert (settings.database_secret_id, settings.relay_idle_s) == ("shop/old/database", 0.5)


def test_the_search_indexers_old_wait_name_still_works(monkeypatch):
    monkeypatch.setenv("SEARCH_POLL_WAIT_S", "3")
    assert SearchSettings().consumer_wait_s == 3
