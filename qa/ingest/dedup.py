"""Near-duplicate documents (the same article saved twice, a syndicated copy), found at index time with MinHash."""

from __future__ import annotations

import re
from typing import Sequence

from qa.records import Document

__all__ = ["near_duplicates", "SIMILARITY", "SHINGLE_WORDS"]

# Estimated Jaccard similarity of word shingles above which two documents are one article: a copy
# with another site's furniture, a changed headline or a corrected typo stays well above it.
SIMILARITY = 0.8
SHINGLE_WORDS = 3
_PERMUTATIONS = 128


def near_duplicates(documents: Sequence[Document]) -> dict[str, str]:
    """``{doc_id: canonical doc_id}`` for every document that repeats another; the canonical one is the
    first of its group by doc_id, so the choice is the same on every build."""
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=SIMILARITY, num_perm=_PERMUTATIONS)
    signatures = {}
    for doc in sorted(documents, key=lambda d: d.doc_id):
        words = re.findall(r"\w+", doc.text.casefold())
        shingles = {" ".join(words[i:i + SHINGLE_WORDS]) for i in range(max(1, len(words) - SHINGLE_WORDS + 1))}
        signature = MinHash(num_perm=_PERMUTATIONS, seed=1)
        signature.update_batch([s.encode("utf-8") for s in shingles])
        signatures[doc.doc_id] = signature
        lsh.insert(doc.doc_id, signature)
    canonical: dict[str, str] = {}
    for doc_id in sorted(signatures):
        if doc_id in canonical:
            continue
        for other in lsh.query(signatures[doc_id]):
            # LSH finds candidates; the estimate itself decides.
            if other != doc_id and other not in canonical and signatures[doc_id].jaccard(signatures[other]) >= SIMILARITY:
                canonical[other] = doc_id
    return canonical
