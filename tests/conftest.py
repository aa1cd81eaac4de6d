"""Shared fixtures: a fake embedder for fast unit tests, small corpora on disk, and the real model once per session."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "corpus"


class FakeEmbedder:
    """Hashed bag-of-words vectors: deterministic, fast, and similar for texts sharing words."""

    def __init__(self, name: str = "fake-embedder", dimension: int = 64):
        self.name = name
        self.dimension = dimension
        self.fingerprint = hashlib.sha256(name.encode()).hexdigest()
        self.documents_encoded = 0
        self.queries_encoded = 0

    def _vectors(self, texts):
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                out[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dimension] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1, norms)

    def encode_documents(self, texts):
        self.documents_encoded += len(texts)
        return self._vectors(texts)

    def encode_queries(self, texts):
        self.queries_encoded += len(texts)
        return self._vectors(texts)


def run_cli(args, capsys, stdin: bytes | None = None, monkeypatch=None):
    """Run the CLI in-process: (exit code, stdout, stderr); ``stdin`` bytes need ``monkeypatch``."""
    import io
    import sys

    from qa.interfaces.cli import main

    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
    try:
        code = main(args)
    except SystemExit as exc:
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture
def cli_fake(monkeypatch, tmp_path):
    """The CLI builds and opens indexes with the fake embedder (and its own cache), so commands run in seconds."""
    import qa.search.engine

    fake = FakeEmbedder()
    monkeypatch.setenv("QA_CACHE_DIR", str(tmp_path / "cli-cache"))
    monkeypatch.setattr(qa.search.engine, "SentenceTransformerEmbedder", lambda *a, **k: fake)
    return fake


@pytest.fixture
def cache_dir(tmp_path) -> Path:
    return tmp_path / "cache"


ARTICLES = {
    "alpha.md": "---\ntitle: Grain Exports\nauthors: [Ann Author]\npublication: Farm Weekly\ndate: 2020-05-01\n---\n"
                "Kazakhstan exports grain to its neighbours. Wheat is the largest crop.\n\n"
                "Rail lines carry the grain to ports on the Caspian Sea. The harvest was large in 2019.\n",
    "beta.txt": "Oil and Pipelines\n\nThe Caspian pipeline carries oil to the Black Sea. "
                "Investors from the U.S. paid for much of it.\n\nTengiz is the largest oil field.\n",
    "gamma.md": "---\ntitle: Space Launches\npublication: Sky Review\n---\n"
                "Baikonur is a launch site leased to Russia. Rockets carry crews to the space station.\n",
}


@pytest.fixture
def small_corpus(tmp_path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    for name, text in ARTICLES.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def fake_engine(small_corpus, tmp_path, fake_embedder, cache_dir):
    import qa

    return qa.build(small_corpus, tmp_path / "index", embedder=fake_embedder, cache_dir=cache_dir)


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory) -> Path:
    """One embedding cache for every real-model index of the session: each passage is embedded once."""
    return tmp_path_factory.mktemp("model-cache")


@pytest.fixture(scope="session")
def real_engine(tmp_path_factory, model_cache):
    """The five articles indexed with the real bundled model, built once for the whole session."""
    import qa

    return qa.build(CORPUS, tmp_path_factory.mktemp("real") / "index", cache_dir=model_cache)


HOSTILE_ARTICLE = """---
title: "Pipeline <script>window.__pwned = 1</script> Report"
authors: ["Eve <img src=x onerror=window.__pwned=2>"]
publication: Hostile Gazette
---
The zebra pipeline report says <script>window.__pwned = 3</script> nothing at all.
An image tag <img src=x onerror="window.__pwned = 4"> sits in this zebra sentence.
"""


@pytest.fixture(scope="session")
def web_index(tmp_path_factory, model_cache) -> Path:
    """The five articles plus one whose text and metadata try to inject HTML and JavaScript."""
    import shutil

    import qa

    base = tmp_path_factory.mktemp("web")
    corpus = base / "corpus"
    shutil.copytree(CORPUS, corpus)
    (corpus / "hostile.md").write_text(HOSTILE_ARTICLE, encoding="utf-8")
    qa.build(corpus, base / "index", cache_dir=model_cache)
    return base / "index"
