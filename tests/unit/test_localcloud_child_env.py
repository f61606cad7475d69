"""What every service process is given to reach the local cloud (localcloud.supervisor.child_env)."""

from __future__ import annotations

from localcloud import health
from localcloud.backends import Endpoint
from localcloud.settings import LocalCloudSettings
from localcloud.supervisor import child_env


def test_a_service_reaches_the_emulator_with_dummy_credentials_only(monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_SESSION_TOKEN", "a real session's token")
    monkeypatch.setenv("AWS_PROFILE", "a real profile")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "a real key")
    monkeypatch.setenv("SHOP_AWS_MODE", "emulator")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    pg = Endpoint("postgres", "postgresql://u:p@127.0.0.1:1/shop", "embedded", "")
    kv = Endpoint("valkey", "redis://127.0.0.1:2/0", "embedded", "")
    aws = Endpoint("aws", "http://127.0.0.1:3", "embedded", "")
    env = child_env(LocalCloudSettings(), pg, kv, aws, tmp_path / "no-outputs.json")
    assert {k: env[k] for k in health.emulator_env(aws.url, "eu-west-1")} == {
        "AWS_ENDPOINT_URL": "http://127.0.0.1:3",
        "AWS_REGION": "eu-west-1",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    assert "AWS_SESSION_TOKEN" not in env
    assert "AWS_PROFILE" not in env
    assert env["PROFILE_AUTO_CONFIRM"] == "true"
    assert (env["DATABASE_URL"], env["REDIS_URL"]) == (pg.url, kv.url)


def test_against_real_aws_a_service_keeps_the_default_credential_chain(monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_PROFILE", "a real profile")
    monkeypatch.setenv("SHOP_AWS_MODE", "aws")
    endpoint = Endpoint("aws", "", "external", "")
    env = child_env(LocalCloudSettings(), endpoint, endpoint, endpoint, tmp_path / "no-outputs.json")
    assert "AWS_ENDPOINT_URL" not in env
    assert "PROFILE_AUTO_CONFIRM" not in env
    assert env["AWS_PROFILE"] == "a real profile"
