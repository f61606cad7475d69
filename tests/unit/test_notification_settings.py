"""The notification service's settings: one name per concept, the old names still read."""

from __future__ import annotations

from services.notification.settings import NotificationSettings


def test_the_old_poll_wait_and_secret_names_still_configure_the_service(monkeypatch):
    monkeypatch.setenv("NOTIFICATION_POLL_WAIT_S", "3")
    monkeypatch.setenv("NOTIFICATION_DATABASE_SECRET_ID", "shop/old/database")
    settings = NotificationSettings()
    assert (settings.consumer_wait_s, settings.database_secret_id) == (3, "shop/old/database")


def test_the_defaults_are_the_ones_the_readme_lists():
    settings = NotificationSettings(stage="dev")
    assert (settings.consumer_wait_s, settings.db_pool_size, settings.run_consumer) == (10, 5, True)
    assert settings.database_secret_id == "shop/dev/database"
