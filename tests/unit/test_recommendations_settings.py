"""The recommendations service's settings: one name per concept, the old names still read."""

from __future__ import annotations

from services.recommendations.settings import RecommendationsSettings


def test_the_old_poll_wait_and_secret_names_still_configure_the_service(monkeypatch):
    monkeypatch.setenv("RECOMMENDATIONS_POLL_WAIT_S", "2")
    monkeypatch.setenv("RECOMMENDATIONS_DATABASE_SECRET_ID", "shop/old/database")
    settings = RecommendationsSettings()
    assert (settings.consumer_wait_s, settings.database_secret_id) == (2, "shop/old/database")


def test_a_new_name_wins_over_its_old_one(monkeypatch):
    monkeypatch.setenv("RECOMMENDATIONS_POLL_WAIT_S", "2")
    monkeypatch.setenv("RECOMMENDATIONS_CONSUMER_WAIT_S", "7")
    assert RecommendationsSettings().consumer_wait_s == 7
