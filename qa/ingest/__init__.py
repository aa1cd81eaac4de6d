"""Reading an archive: files to documents (load, formats, pdf, ocr, metadata) and documents to passages (chunk)."""
