import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

import qa

from conftest import run_cli


@pytest.mark.parametrize("args, message", [
    (["search", "", "--index", "/nonexistent/index"], "the question is empty"),
    (["search", "oil", "-k", "0", "--index", "/nonexistent/index"], "k of 0 must be at least 1"),
    (["search", "oil", "-k", "abc"], "not a valid integer"),
    (["search", "oil", "--mode", "magic"], "magic"),
    (["search", "oil", "--index", "/nonexistent/index"], "no index at"),
    (["index", "/nonexistent/corpus"], "corpus not found"),
    (["nonsense"], "No such command"),
])
def test_errors_are_one_line_without_traceback(args, message, capsys):
    code, out, err = run_cli(args, capsys)
    assert code != 0
    assert err.count("\n") == 1 and err.startswith("qa: error: ") and message in err
    assert "Traceback" not in err


def test_search_json_prints_exactly_the_hit_fields(fake_engine, capsys):
    # BM25 mode never loads the model, so an index built with the fake embedder serves it.
    code, out, err = run_cli(["search", "Caspian pipeline", "--mode", "bm25", "-k", "2",
                              "--index", str(fake_engine.index_dir), "--json"], capsys)
    assert code == 0, err
    hits = json.loads(out)
    assert len(hits) == 2 and hits[0]["doc_id"] == "beta"
    assert list(hits[0]) == ["rank", "score", "doc_id", "chunk_id", "title", "text", "char_start", "char_end",
                             "citation", "bm25_rank", "dense_rank"]


def test_search_plain_output_shows_title_and_citation(fake_engine, capsys):
    code, out, _ = run_cli(["search", "wheat", "--mode", "bm25", "--index", str(fake_engine.index_dir)], capsys)
    assert code == 0
    assert "[1] Grain Exports" in out and "Ann Author, “Grain Exports”, Farm Weekly" in out


@pytest.mark.slow
def test_end_to_end_with_the_real_model(small_corpus, tmp_path):
    """A new user's path: `python -m qa index` then `python -m qa search --json`, as subprocesses."""
    env = {**os.environ, "QA_CACHE_DIR": str(tmp_path / "cache")}
    index = tmp_path / "index"
    built = subprocess.run([sys.executable, "-m", "qa", "index", str(small_corpus), "--index", str(index), "-q"],
                           capture_output=True, text=True, env=env, timeout=600)
    assert built.returncode == 0, built.stderr
    assert "3 documents" in built.stderr and (index / "manifest.json").exists()
    found = subprocess.run([sys.executable, "-m", "qa", "search", "Which rocket launch site is rented by Russia?",
                            "-k", "1", "--index", str(index), "--json"],
                           capture_output=True, text=True, env=env, timeout=600)
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)[0]["doc_id"] == "gamma"
