"""``python -m storefront.publish`` against the emulator's S3: a release the front door can serve, idempotent."""

from __future__ import annotations

import re

import pytest

from reference import physical_name
from storefront import publish


@pytest.fixture
def bucket(provisioned, aws) -> str:
    return physical_name("static-site", aws.stage)


def objects(aws, bucket: str) -> dict[str, dict]:
    s3 = aws.client("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    return {key: s3.head_object(Bucket=bucket, Key=key) for key in keys}


def test_publish_uploads_every_asset_with_its_content_type_and_cache_policy(aws, bucket):
    summary = publish.publish(bucket)

    stored = objects(aws, bucket)
    prefix = f"v/{summary.release}/"
    on_disk = {p.relative_to(publish.SOURCE).as_posix() for p in publish.SOURCE.rglob("*") if p.is_file()}
    shop_files = {k for k in on_disk if not k.endswith((".py", ".pyc", ".md"))}
    assert set(stored) == {"index.html"} | {prefix + k for k in shop_files - {"index.html"}}
    assert {"js/app.js", "styles.css"} <= shop_files
    assert stored["index.html"]["ContentType"] == "text/html; charset=utf-8"
    assert stored["index.html"]["CacheControl"] == "no-cache"
    assert stored[prefix + "js/app.js"]["ContentType"] == "text/javascript; charset=utf-8"
    assert stored[prefix + "styles.css"]["ContentType"] == "text/css; charset=utf-8"
    assert stored[prefix + "favicon.svg"]["ContentType"] == "image/svg+xml"
    assert all(
        h["CacheControl"] == "public, max-age=31536000, immutable" for k, h in stored.items() if k != "index.html"
    )


def test_the_published_page_loads_the_assets_of_its_own_release(aws, bucket):
    summary = publish.publish(bucket)

    page = aws.client("s3").get_object(Bucket=bucket, Key="index.html")["Body"].read().decode()
    referenced = re.findall(r'(?:src|href)="(/[^"]+\.(?:js|css|svg))"', page)
    assert referenced
    assert all(ref.startswith(f"/v/{summary.release}/") for ref in referenced)
    stored = objects(aws, bucket)
    assert all(ref.lstrip("/") in stored for ref in referenced)


def test_publishing_twice_uploads_nothing_the_second_time(aws, bucket):
    first = publish.publish(bucket)
    second = publish.publish(bucket)

    assert first.uploaded == first.uploaded + first.unchanged > 0
    assert (second.uploaded, second.removed, second.unchanged) == (0, 0, first.uploaded)
    assert second.release == first.release
    assert second.line().startswith(f"storefront release {first.release} published to s3://{bucket}: ")


def test_a_changed_asset_makes_a_new_release_and_only_the_newest_releases_are_kept(aws, bucket, tmp_path):
    source = tmp_path / "storefront"
    (source / "js").mkdir(parents=True)
    (source / "index.html").write_text('<script type="module" src="/js/app.js"></script>')
    releases = []
    for n in range(publish.KEEP_RELEASES + 1):
        (source / "js" / "app.js").write_text(f"console.log({n});")
        releases.append(publish.publish(bucket, source).release)

    assert len(set(releases)) == len(releases)
    kept = {k.split("/")[1] for k in objects(aws, bucket) if k.startswith("v/")}
    assert kept == set(releases[-publish.KEEP_RELEASES :])


def test_the_command_finds_the_bucket_of_its_stage_and_prints_one_line(aws, bucket, capsys):
    assert publish.main(["--stage", aws.stage]) == 0

    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1
    assert f"s3://{bucket}" in out[0]


def test_the_command_names_what_is_missing_when_no_stack_runs(monkeypatch, capsys):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("SHOP_AWS_MODE", raising=False)

    assert publish.main(["--stage", "nobody-runs-this-stage"]) == 1
    assert "no local stack of stage nobody-runs-this-stage runs" in capsys.readouterr().err
