"""The local backend: one directory with FAISS vectors, a sparse BM25 matrix and JSONL records."""
