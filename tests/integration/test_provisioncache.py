"""The provision cache: a provisioned emulator's state, kept in a file, restored into a new emulator process is
what provisioning made there, answering at the new address, with the database secret brought up to date."""

from __future__ import annotations

import json

from emulator_support import inventory

from localcloud import backends
from localcloud.provision import Provisioner
from localcloud.provisioncache import ProvisionCache


class _At:
    """The ``aws`` fixture's shape for another emulator (``inventory`` takes it)."""

    def __init__(self, endpoint_url: str, region: str):
        self.endpoint_url, self.region = endpoint_url, region

    def client(self, service: str):
        from localcloud.health import aws_client

        return aws_client(service, endpoint_url=self.endpoint_url, region=self.region)


def _here(listing: dict, endpoint_url: str) -> dict:
    """A listing with the emulator's own address taken out of its queue URLs."""
    return json.loads(json.dumps(listing).replace(endpoint_url.rstrip("/"), "<emulator>"))


def test_a_kept_state_restored_into_a_new_emulator_is_what_provisioning_made(aws, provisioned, tmp_path):
    cache = ProvisionCache(tmp_path / "cache", "digest-1")
    assert cache.lookup() is None
    entry = cache.save(aws.endpoint_url, provisioned)
    assert cache.lookup() == entry
    made = _here(inventory(aws), aws.endpoint_url)
    (tmp_path / "logs").mkdir()

    with backends.embedded_moto(aws.region, tmp_path / "logs") as other:
        outputs = cache.restore(entry, other.url)
        assert outputs.endpoint_url == other.url
        assert outputs == provisioned.moved(other.url)
        assert all(
            u.startswith(other.url.rstrip("/") + "/") for u in [*outputs.queues.values(), *outputs.dlqs.values()]
        )
        assert _here(inventory(_At(other.url, aws.region)), other.url) == made

        url = "postgresql://shop_app:s3cret@127.0.0.1:6543/shop"
        Provisioner(endpoint_url=other.url, region=aws.region, stage=aws.stage, database_url=url).secrets(outputs)
        sm = _At(other.url, aws.region).client("secretsmanager")
        value = json.loads(sm.get_secret_value(SecretId=outputs.secrets["database"])["SecretString"])
        assert (value["host"], value["port"], value["password"]) == ("127.0.0.1", 6543, "s3cret")
        sqs = _At(other.url, aws.region).client("sqs")
        queue = next(iter(outputs.queues.values()))
        sqs.send_message(QueueUrl=queue, MessageBody="kept")
        assert [m["Body"] for m in sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=2)["Messages"]] == ["kept"]


def test_an_entry_is_used_only_when_complete(aws, provisioned, tmp_path):
    cache = ProvisionCache(tmp_path, "digest-2")
    entry = cache.save(aws.endpoint_url, provisioned)
    (entry / "manifest.json").unlink()
    assert cache.lookup() is None
