"""The test fixtures pick the right server and keep each test's data to itself."""

from __future__ import annotations

import psycopg
import pytest

from localcloud import containers
from localcloud.containers import choose_source


def never() -> bool:
    raise AssertionError("Docker must not be probed when the setting is given")


@pytest.mark.parametrize(
    ("given", "docker", "source"),
    [
        ("postgresql://u:p@db:5432/shop", never, "external"),
        (None, lambda: True, "container"),
        (None, lambda: False, "embedded"),
    ],
)
def test_a_setting_wins_over_docker_which_wins_over_embedded(given, docker, source):
    assert choose_source(given, docker) == source


def test_an_unreachable_docker_engine_is_reported_missing_rather_than_raising(monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    assert containers.docker_available() is False


def test_each_test_gets_an_empty_database_of_its_own(pg_url, servers):
    assert pg_url != servers.postgres.url
    with psycopg.connect(pg_url) as conn:
        tables = conn.execute("select count(*) from pg_tables where schemaname = 'public'").fetchone()
        conn.execute("create table leftover (id int)")
    assert tables == (0,)


def test_a_table_made_by_another_test_is_not_seen(pg_url):
    with psycopg.connect(pg_url) as conn:
        found = conn.execute("select to_regclass('public.leftover')").fetchone()
    assert found == (None,)


def test_redis_keys_are_under_the_tests_own_prefix_and_removed_after(redis_space, servers):
    client = redis_space.client()
    client.set(f"{redis_space.prefix}cart", "1")
    assert client.get(f"{redis_space.prefix}cart") == "1"
    client.close()


def test_no_key_of_an_earlier_test_is_left(servers):
    import redis

    client = redis.Redis.from_url(servers.valkey.url)
    assert list(client.scan_iter(match="test:*")) == []
    client.close()


def test_the_emulator_starts_empty_for_every_test(aws):
    assert aws.client("sqs").list_queues().get("QueueUrls", []) == []
    aws.client("sqs").create_queue(QueueName="left-behind")


def test_a_queue_made_by_another_test_is_gone(aws):
    assert aws.client("sqs").list_queues().get("QueueUrls", []) == []
