"""The payment service's settings: the runtime's names, and its old names still read for one release."""

from __future__ import annotations

from services.payment.settings import PaymentSettings


def test_the_old_secret_and_relay_pause_names_are_read_with_the_pause_in_seconds(monkeypatch, caplog):
    monkeypatch.setenv("PAYMENT_DATABASE_SECRET_ID", "shop/old/database")
    monkeypatch.setenv("PAYMENT_RELAY_IDLE_MS", "50")
    s = PaymentSettings()
    assert (s.database_secret_id, s.relay_idle_s) == ("shop/old/database", 0.05)
    assert "PAYMENT_RELAY_IDLE_MS is deprecated; set PAYMENT_RELAY_IDLE_S instead" in caplog.text


def test_the_new_names_win_and_the_secret_defaults_to_the_stages(monkeypatch):
    monkeypatch.setenv("PAYMENT_DATABASE_SECRET_ID", "old")
    monkeypatch.setenv("PAYMENT_DATABASE_SECRET", "new")
    monkeypatch.setenv("PAYMENT_RELAY_IDLE_S", "0.5")
    monkeypatch.setenv("PAYMENT_RELAY_IDLE_MS", "9000")
    s = PaymentSettings()
    assert (s.database_secret_id, s.relay_idle_s) == ("new", 0.5)
    monkeypatch.delenv("PAYMENT_DATABASE_SECRET_ID")
    monkeypatch.delenv("PAYMENT_DATABASE_SECRET")
    assert PaymentSettings(stage="dev").database_secret_id == "shop/dev/database"


def test_an_old_name_given_as_a_keyword_is_converted_too(caplog):
    assert PaymentSettings(relay_idle_ms=50).relay_idle_s == 0.05
    assert "relay_idle_ms= is deprecated" in caplog.text
