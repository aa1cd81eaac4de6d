"""The index directory on disk: manifest checks, JSONL records, the swap and its recovery."""

from __future__ import annotations

import json
import logging

import pytest

import qa
from qa.backends.local.store import FORMAT_VERSION, new_manifest, read_jsonl, read_manifest, write_jsonl


def test_new_manifest_records_version_and_a_utc_time():
    manifest = new_manifest(model={"name": "m"})
    assert manifest["format_version"] == FORMAT_VERSION and manifest["qa_version"] == qa.__version__
    assert manifest["created_at"].endswith("+00:00") and manifest["model"] == {"name": "m"}


@pytest.mark.parametrize("content, message", [
    ("[1, 2]", "is damaged (not a JSON object)"),
    ("{not json", "is damaged ("),
    (b"\xff\xfe{}", "is damaged ("),
])
def test_damaged_manifest_is_reported_with_how_to_rebuild(tmp_path, content, message):
    (tmp_path / "manifest.json").write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(qa.IndexCorruptError) as info:
        read_manifest(tmp_path)
    assert message in str(info.value) and f"qa index CORPUS --index {tmp_path}" in str(info.value)


def test_manifest_sections_and_version_are_checked(tmp_path):
    manifest = {"format_version": FORMAT_VERSION, "config": {}, "model": {}, "corpus": {}}
    for missing in ("config", "model", "corpus"):
        broken = {k: v for k, v in manifest.items() if k != missing}
        (tmp_path / "manifest.json").write_text(json.dumps(broken))
        with pytest.raises(qa.IndexCorruptError, match=f"lacks its '{missing}' section"):
            read_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({**manifest, "format_version": FORMAT_VERSION - 1}))
    with pytest.raises(qa.IndexMismatchError, match=f"has format {FORMAT_VERSION - 1} but .* reads format {FORMAT_VERSION}"):
        read_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    assert read_manifest(tmp_path) == manifest


def test_jsonl_round_trip_skips_blank_lines_and_reports_damage(tmp_path):
    path = tmp_path / "records.jsonl"
    write_jsonl(path, [{"a": "é<&>"}, {"b": 2}])
    path.write_text(path.read_text(encoding="utf-8") + "\n\n", encoding="utf-8")
    assert read_jsonl(path) == [{"a": "é<&>"}, {"b": 2}]
    path.write_text('{"a": 1}\n{oops\n', encoding="utf-8")
    with pytest.raises(qa.IndexCorruptError, match="records.jsonl is damaged"):
        read_jsonl(path)
    with pytest.raises(qa.IndexCorruptError, match="missing.jsonl is missing"):
        read_jsonl(tmp_path / "missing.jsonl")


def test_recovery_after_a_crash_between_the_renames_is_logged(fake_engine, fake_embedder, caplog):
    index = fake_engine.index_dir
    index.rename(index.parent / f".{index.name}.previous")
    with caplog.at_level(logging.WARNING):
        qa.open(index, embedder=fake_embedder)
    assert any(str(index) in r.getMessage() and "restored the previous index" in r.getMessage() for r in caplog.records)
    assert not (index.parent / f".{index.name}.previous").exists()
