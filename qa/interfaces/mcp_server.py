"""`qa mcp`: the index as Model Context Protocol tools on stdio (the official `mcp` SDK), for agents.

Three tools, each answering with cited text for the model to read and structured content with the
``Hit``/``Answer`` fields for programs: ``search``, ``ask`` and ``document``. Bad input is a tool
error carrying the same one-line message as the CLI. The index is followed as `qa serve` follows it:
a rebuild by `qa watch` or `qa index` is picked up without a restart.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any, Literal

# Imported here, not in create_server: the SDK reads the tools' annotations, which must resolve in this module.

from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, TextContent

from qa.errors import QAError
from qa.interfaces.export import export
from qa.search.live import LiveIndex

__all__ = ["create_server", "run"]

INSTRUCTIONS = ("Search and question answering over the user's own archive of articles. Every passage and "
                "sentence comes with its citation (author, title, publication, date, paragraph or page); quote "
                "them verbatim. `ask` says 'Not found in these articles.' with a reason when they do not answer.")


def create_server(index: str | Path = "index", live: LiveIndex | None = None):
    live = live or LiveIndex(index)
    server = MCPServer("qa", instructions=INSTRUCTIONS)

    def result(text: str, structured: dict[str, Any]) -> CallToolResult:
        return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=structured)

    def failure(exc: QAError) -> CallToolResult:
        # Returned, not raised: the SDK would prefix a raised error with "Error executing tool …", and the
        # message should read exactly as the CLI's.
        return CallToolResult(content=[TextContent(type="text", text=str(exc))], is_error=True)

    @server.tool()
    def search(question: str, k: int = 5, mode: Literal["hybrid", "dense", "bm25"] = "hybrid",
               filters: dict[str, Any] | None = None) -> CallToolResult:
        """Rank the archive's passages for a question. Filters: doc_id, publication, author (lists), since and
        until (YYYY[-MM[-DD]]). Each hit has its citation, its exact text and its character span."""
        engine = live.engine
        try:
            hits = engine.search(question, k=k, mode=mode, filters=filters or None)
        except QAError as exc:
            return failure(exc)
        text = export(hits, "markdown", engine.document) if hits else "No passage matches that question."
        return result(text, {"hits": [asdict(h) for h in hits]})

    @server.tool()
    def ask(question: str, k: int = 5, filters: dict[str, Any] | None = None) -> CallToolResult:
        """Answer a question with sentences quoted verbatim from the archive, each cited, or say it is not found
        and why. Filters as for search."""
        engine = live.engine
        try:
            answer = engine.ask(question, k=k, filters=filters or None)
        except QAError as exc:
            return failure(exc)
        return result(export(answer, "markdown", engine.document), asdict(answer))

    @server.tool()
    def document(doc_id: str) -> CallToolResult:
        """One article whole: its title, metadata and text, by the doc_id a hit gave."""
        engine = live.engine
        try:
            doc = engine.document(doc_id)
        except QAError as exc:
            return failure(exc)
        structured = {"doc_id": doc.doc_id, "title": doc.title, "text": doc.text, "metadata": doc.metadata,
                      "source": doc.source}
        return result(f"# {doc.title or doc.doc_id}\n\n{doc.text}", structured)

    return server


def run(index: str | Path = "index") -> None:
    """Serve on stdio until the client closes it."""
    create_server(index).run("stdio")
