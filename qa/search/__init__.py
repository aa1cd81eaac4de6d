"""Answering a question: candidates from a backend, fusion, filters, hits with citations, answer sentences."""
