"""The web page: ask a question, read ranked passages with citations, open the article around one."""

from __future__ import annotations

import html
import logging
import os
import time
from pathlib import Path
from typing import Any

import qa
from qa.search.cite import format_date

__all__ = ["create_app", "serve", "EXAMPLE_QUESTIONS"]

logger = logging.getLogger(__name__)

EXAMPLE_QUESTIONS = [
    "what did Kazakhstan want from the US?",
    "Why did Kazakhstan keep its peacekeepers in Iraq?",
    "How does Kazakhstan balance Russia, China and the United States?",
    "How much have American companies invested in Kazakhstan?",
]
MODES = ["hybrid", "dense", "bm25"]
# Two cores: two searches at once keep both busy; more would only queue inside torch.
CONCURRENCY = 2

CSS = """
.qa-card {border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 12px 16px; margin: 10px 0;}
.qa-card h3 {margin: 0 0 4px 0; font-size: 1.05em;}
.qa-meta {color: var(--body-text-color-subdued); font-size: 0.9em;}
.qa-passage {margin: 8px 0; line-height: 1.5; white-space: pre-wrap;}
.qa-citation {display: block; font-family: var(--font-mono); font-size: 0.85em; padding: 4px 6px;
              background: var(--background-fill-secondary); border-radius: 4px; user-select: all;}
.qa-why {font-size: 0.85em; color: var(--body-text-color-subdued); margin-top: 6px;}
.qa-answer {border-left: 4px solid var(--color-accent); padding: 8px 14px; background: var(--background-fill-secondary);}
.qa-answer sup.qa-marker {color: var(--color-accent); font-weight: 600;}
.qa-message {padding: 10px 14px; border-radius: 6px; background: var(--background-fill-secondary);}
.qa-article {max-height: 520px; overflow-y: auto; line-height: 1.55; padding-right: 8px;}
.qa-article mark.qa-passage-mark {background: #fde68a; color: inherit;}
mark.qa-term {background: #fef08a; color: inherit; padding: 0 1px;}
"""


def _e(text: object) -> str:
    """Escape for HTML text and attributes: article text never becomes markup."""
    return html.escape(str(text), quote=True)


def _message(text: str) -> str:
    return f'<div class="qa-message">{_e(text)}</div>'


def _byline(doc: qa.Document) -> str:
    parts = []
    if doc.authors:
        parts.append(", ".join(doc.authors))
    if doc.publication:
        parts.append(doc.publication)
    if doc.date:
        parts.append(format_date(doc.date))
    return " · ".join(parts) or "Author, publication and date not given"


def _highlight(engine: qa.Engine, question: str, text: str) -> str:
    pieces, cursor = [], 0
    for start, end in engine.term_spans(question, text):
        pieces.append(_e(text[cursor:start]))
        pieces.append(f'<mark class="qa-term">{_e(text[start:end])}</mark>')
        cursor = end
    pieces.append(_e(text[cursor:]))
    return "".join(pieces)


def render_hits(engine: qa.Engine, question: str, hits: list[qa.Hit]) -> str:
    cards = []
    for hit in hits:
        doc = engine.document(hit.doc_id)
        why = [f"fused score {hit.score:.4f}" if hit.bm25_rank or hit.dense_rank else f"score {hit.score:.4f}",
               f"BM25 rank {hit.bm25_rank if hit.bm25_rank is not None else '—'}",
               f"dense rank {hit.dense_rank if hit.dense_rank is not None else '—'}"]
        copies = [engine.document(d).title or d for d in engine.also_in(hit.doc_id)]  # the same article elsewhere
        also_in = f'<div class="qa-meta">also in: {_e(", ".join(copies))}</div>' if copies else ""
        cards.append(
            f'<div class="qa-card" data-rank="{hit.rank}" data-doc-id="{_e(hit.doc_id)}">'
            f'<h3>{hit.rank}. {_e(hit.title or hit.doc_id)}</h3>'
            f'<div class="qa-meta">{_e(_byline(doc))}</div>'
            f'<div class="qa-passage">{_highlight(engine, question, hit.text)}</div>'
            f'<code class="qa-citation" title="Citation (click to select)">{_e(hit.citation)}</code>'
            f'{also_in}<div class="qa-why">Why it ranked: {" · ".join(why)}</div></div>')
    return "".join(cards)


def render_answer(answer) -> str:
    if not answer.found:
        reason = f'<div class="qa-reason">{_e(answer.reason)}</div>' if getattr(answer, "reason", "") else ""
        closest = ('<div class="qa-meta">Closest passages: below, for you to check.</div>' if answer.hits else "")
        return (f'<div class="qa-answer qa-not-found"><strong>Answer</strong>'
                f'<div class="qa-passage">{_e(answer.text)}</div>{reason}{closest}</div>')
    sentences = " ".join(f'{_e(s.text)} <sup class="qa-marker">[{s.marker}]</sup>' for s in answer.sentences)
    # Each sentence cites its own paragraph (or page); one line per distinct citation.
    cited = dict.fromkeys(f"[{s.marker}] {s.citation}" for s in answer.sentences)
    sources = "".join(f'<div class="qa-meta">{_e(line)}</div>' for line in cited)
    return (f'<div class="qa-answer"><strong>Answer</strong><div class="qa-passage">{sentences}</div>{sources}</div>')


def render_article(engine: qa.Engine, doc_id: str, char_start: int, char_end: int) -> str:
    doc = engine.document(doc_id)
    text = doc.text
    body = (_e(text[:char_start]) + '<mark class="qa-passage-mark" id="qa-passage">' + _e(text[char_start:char_end])
            + "</mark>" + _e(text[char_end:]))
    paragraphs = "".join(f"<p>{p}</p>" for p in body.split("\n\n"))
    return (f'<div class="qa-article-view"><h3>{_e(doc.title or doc.doc_id)}</h3><div class="qa-meta">{_e(_byline(doc))}</div>'
            f'<div class="qa-article" style="white-space: pre-wrap;">{paragraphs}</div></div>')


def create_app(index: str | Path = "index", engine: qa.Engine | None = None):
    """The Gradio Blocks app over the index at ``index`` (opened once, here, never per request)."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # offline by design: no telemetry calls
    import gradio as gr

    load_error = ""
    if engine is None:
        try:
            engine = qa.open(index)
        except qa.QAError as exc:
            load_error = str(exc)
    missing = (f"No usable index: {load_error} The index is built by `qa index corpus --index {index}` "
               f"(or `make run`).") if load_error else ""

    documents = engine.documents if engine else []
    article_choices = [(d.title or d.doc_id, d.doc_id) for d in sorted(documents, key=lambda d: (d.title or d.doc_id).casefold())]
    publication_choices = sorted({d.publication for d in documents if d.publication})
    author_choices = sorted({a for d in documents for a in d.authors})

    def filters_for(articles, publications, authors, since, until) -> dict[str, Any]:
        filters: dict[str, Any] = {"doc_id": list(articles or []), "publication": list(publications or []),
                                   "author": list(authors or []), "since": (since or "").strip(),
                                   "until": (until or "").strip()}
        return {key: value for key, value in filters.items() if value}

    def run_search(question: str, k: float, mode: str, articles: list[str] | None, publications: list[str] | None,
                   authors: list[str] | None, since: str, until: str):
        no_article = gr.update(choices=[], value=None)
        if missing:
            return _message(missing), "", no_article, [], ""
        if not (question or "").strip():
            return _message("Type a question above and press Enter."), "", no_article, [], ""
        try:
            answer = engine.ask(question, k=int(k), mode=mode,
                                filters=filters_for(articles, publications, authors, since, until))
            hits = list(answer.hits)
        except qa.QAError as exc:
            return _message(str(exc)), "", no_article, [], ""
        if not hits:
            return (render_answer(answer), _message("No passage matches that question with these settings. Try "
                                                    "other words, the hybrid or dense mode, or fewer filters."),
                    no_article, [], "")
        choices = [(f"{h.rank}. {h.title or h.doc_id} ({h.citation.rsplit(', ', 1)[-1]})", h.chunk_id) for h in hits]
        state = [[h.chunk_id, h.doc_id, h.char_start, h.char_end] for h in hits]
        return (render_answer(answer), render_hits(engine, question, hits),
                gr.update(choices=choices, value=None), state, "")

    def open_article(chunk_id: str | None, state: list[list[Any]]):
        for cid, doc_id, start, end in state or []:
            if cid == chunk_id:
                return render_article(engine, doc_id, int(start), int(end))
        return ""

    def ask_api(question: str, k: int = 5, mode: str = "hybrid") -> dict[str, Any]:
        """The answer: found, text, sentences (verbatim, with doc_id, char_start, char_end, marker, score) and hits."""
        from dataclasses import asdict

        if missing:
            raise gr.Error(missing)
        try:
            return asdict(engine.ask(question, k=int(k), mode=mode))  # type: ignore[arg-type]
        except qa.QAError as exc:
            raise gr.Error(str(exc)) from None

    def search_api(question: str, k: int = 5, mode: str = "hybrid") -> list[dict[str, Any]]:
        """Ranked passages for a question, each with the Hit fields (rank, score, doc_id, chunk_id, title,
        text, char_start, char_end, citation, bm25_rank, dense_rank)."""
        from dataclasses import asdict

        if missing:
            raise gr.Error(missing)
        try:
            return [asdict(h) for h in engine.search(question, k=int(k), mode=mode)]  # type: ignore[arg-type]
        except qa.QAError as exc:
            raise gr.Error(str(exc)) from None

    with gr.Blocks(title="qa: ask your articles") as demo:
        gr.Markdown("# Ask your articles\nSearch the collection with a question; every passage comes with its citation.")
        if missing:
            gr.HTML(_message(missing), elem_id="qa-load-error")
        with gr.Row():
            question = gr.Textbox(label="Question", placeholder="e.g. what did Kazakhstan want from the US?",
                                  scale=5, elem_id="qa-question", max_length=qa.search.engine.MAX_QUERY_CHARS)
            ask = gr.Button("Search", variant="primary", scale=1, elem_id="qa-search")
        with gr.Accordion("Settings and filters", open=True):
            with gr.Row():
                k = gr.Slider(1, 20, value=5, step=1, label="Number of results", elem_id="qa-k")
                mode = gr.Radio(MODES, value="hybrid", label="Retrieval mode", elem_id="qa-mode")
            with gr.Row():
                articles = gr.Dropdown(article_choices, multiselect=True, label="Only these articles",
                                       elem_id="qa-articles")
                publications = gr.Dropdown(publication_choices, multiselect=True, label="Only these publications",
                                           elem_id="qa-publications")
            with gr.Row():
                authors = gr.Dropdown(author_choices, multiselect=True, label="Only these authors", elem_id="qa-authors")
                since = gr.Textbox(label="Dated from (YYYY[-MM[-DD]])", elem_id="qa-since", max_lines=1)
                until = gr.Textbox(label="Dated until (YYYY[-MM[-DD]])", elem_id="qa-until", max_lines=1)
        answer = gr.HTML(elem_id="qa-answer")
        results = gr.HTML(elem_id="qa-results")
        state = gr.State([])
        with gr.Accordion("Read the full article around a passage", open=True):
            article_pick = gr.Dropdown([], label="Result to read in context", elem_id="qa-article-pick")
            article = gr.HTML(elem_id="qa-article")
        examples = gr.Examples(EXAMPLE_QUESTIONS, inputs=[question], label="Example questions",
                               elem_id="qa-examples")

        inputs = [question, k, mode, articles, publications, authors, since, until]
        outputs = [answer, results, article_pick, state, article]
        for trigger in (question.submit, ask.click, mode.change):
            trigger(run_search, inputs, outputs, api_visibility="private")
        # Clicking an example fills the box; run the search too, so one click answers.
        examples.load_input_event.then(run_search, inputs, outputs, api_visibility="private")
        article_pick.change(open_article, [article_pick, state], article, api_visibility="private").then(
            None, js="() => { const m = document.getElementById('qa-passage'); if (m) m.scrollIntoView({block: 'center'}); }")
        gr.api(search_api, api_name="search")
        gr.api(ask_api, api_name="ask")
    demo.queue(default_concurrency_limit=CONCURRENCY)
    demo.qa_engine = engine  # for the server's warm-up
    return demo


def serve(index: str | Path = "index", host: str = "127.0.0.1", port: int | None = None, block: bool = True):
    """Open the index, warm the model, and serve the page on ``host:port`` (never a share link).

    ``port`` defaults to ``$GRADIO_SERVER_PORT`` or 7860.
    """
    started = time.perf_counter()
    demo = create_app(index)
    if demo.qa_engine is not None:
        demo.qa_engine.ask(EXAMPLE_QUESTIONS[0], k=1)  # load the model now, not on the first user's question
    port = port or int(os.environ.get("GRADIO_SERVER_PORT") or 7860)
    demo.launch(server_name=host, server_port=port, share=False, prevent_thread_lock=True, quiet=True,
                css=CSS, footer_links=["api"])
    print(f"qa: page ready at http://{host}:{port} after {time.perf_counter() - started:.1f}s (Ctrl-C stops it)",
          flush=True)
    if block:
        demo.block_thread()
    return demo
