"""The web page: ask a question, read ranked passages with citations, open the article around one."""

from __future__ import annotations

import html
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

import qa
from qa.ingest.chunk import PARAGRAPH_BREAK
from qa.interfaces.export import export, file_suffix
from qa.search.cite import format_date
from qa.search.live import LiveIndex

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
.qa-article mark.qa-answer-mark {background: #fb923c; color: inherit; font-weight: 600;}
.qa-read {margin-top: 8px; padding: 4px 10px; border-radius: 6px; border: 1px solid var(--border-color-primary);
          background: var(--button-secondary-background-fill); cursor: pointer;}
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
            f'{also_in}<div class="qa-why">Why it ranked: {" · ".join(why)}</div>'
            f'<button class="qa-read" data-chunk="{_e(hit.chunk_id)}" data-rank="{hit.rank}">Read in the article</button>'
            '</div>')
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


def render_article(engine: qa.Engine, doc_id: str, char_start: int, char_end: int,
                   quoted: Sequence[tuple[int, int]] = ()) -> str:
    """The whole article, the passage marked (id "qa-passage", for scrolling) and the answer's sentences in it
    highlighted. Marks are cut at paragraph breaks, so each <p> holds whole, well-nested markup."""
    doc = engine.document(doc_id)
    text = doc.text
    cuts = sorted({0, len(text), char_start, char_end, *(b for span in quoted for b in span)}
                  | {m.start() for m in PARAGRAPH_BREAK.finditer(text)} | {m.end() for m in PARAGRAPH_BREAK.finditer(text)})
    paragraphs, current, first_mark = [], [], True
    for start, end in zip(cuts, cuts[1:]):
        piece = text[start:end]
        if PARAGRAPH_BREAK.fullmatch(piece):
            paragraphs.append("".join(current))
            current = []
            continue
        html_piece = _e(piece)
        if any(s <= start and end <= e for s, e in quoted):
            html_piece = f'<mark class="qa-answer-mark">{html_piece}</mark>'
        if char_start <= start and end <= char_end:
            anchor = ' id="qa-passage"' if first_mark else ""
            first_mark = False
            html_piece = f'<mark class="qa-passage-mark"{anchor}>{html_piece}</mark>'
        current.append(html_piece)
    paragraphs.append("".join(current))
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (f'<div class="qa-article-view"><h3>{_e(doc.title or doc.doc_id)}</h3><div class="qa-meta">{_e(_byline(doc))}</div>'
            f'<div class="qa-article" style="white-space: pre-wrap;">{body}</div></div>')


def create_app(index: str | Path = "index", engine: qa.Engine | None = None):
    """The Gradio Blocks app over the index at ``index`` (opened once, here, never per request)."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # offline by design: no telemetry calls
    import gradio as gr

    load_error = ""
    live = None
    if engine is None:
        try:
            live = LiveIndex(index)  # follows `qa watch` and `qa index` rebuilds without a restart
            engine = live.engine
        except qa.QAError as exc:
            load_error = str(exc)
    fixed_engine = engine

    def current() -> qa.Engine:
        """The index as last built; each request keeps the one it started with."""
        return live.engine if live is not None else fixed_engine
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
                   authors: list[str] | None, since: str, until: str, history: list[str]):
        """answer, results, state (hits and quoted spans), article, downloads, history, history list."""
        history = list(history or [])
        if (question or "").strip() and not missing:
            history = [q for q in history if q != question.strip()] + [question.strip()]  # latest last, once
        listed = gr.update(samples=[[q] for q in reversed(history)], visible=bool(history))
        empty = {"hits": [], "quoted": []}
        if missing:
            return _message(missing), "", empty, "", None, history, listed
        if not (question or "").strip():
            return _message("Type a question above and press Enter."), "", empty, "", None, history, listed
        engine = current()
        try:
            answer = engine.ask(question, k=int(k), mode=mode,
                                filters=filters_for(articles, publications, authors, since, until))
            hits = list(answer.hits)
        except qa.QAError as exc:
            return _message(str(exc)), "", empty, "", None, history, listed
        if not hits:
            return (render_answer(answer), f'<div class="qa-results-for" data-question="{_e(question)}">'
                    + _message("No passage matches that question with these settings. Try other words, the hybrid "
                               "or dense mode, or fewer filters.") + "</div>",
                    empty, "", None, history, listed)
        state = {"hits": [[h.chunk_id, h.doc_id, h.char_start, h.char_end] for h in hits],
                 "quoted": [[s.doc_id, s.char_start, s.char_end] for s in answer.sentences] if answer.found else []}
        # The question rides along, so a script (or a test) can tell these results from the last ones.
        cards = f'<div class="qa-results-for" data-question="{_e(question)}">{render_hits(engine, question, hits)}</div>'
        return (render_answer(answer), cards, state, "", downloads(engine, answer),
                history, listed)

    def downloads(engine: qa.Engine, answer) -> list[str]:
        """The current answer and its passages as files: the CLI's --format choices, bar plain text."""
        folder = Path(tempfile.mkdtemp(prefix="qa-results-"))
        files = []
        for fmt in ("markdown", "bibtex", "ris", "csv", "json"):
            path = folder / f"qa-results{file_suffix(fmt)}"
            path.write_text(export(answer, fmt, engine.document), encoding="utf-8")
            files.append(str(path))
        return files

    def open_article(state: dict[str, Any], evt: gr.SelectData):
        chunk_id, engine = evt.value, current()
        for cid, doc_id, start, end in (state or {}).get("hits", []):
            if cid == chunk_id:
                quoted = [(int(s), int(e)) for d, s, e in state.get("quoted", []) if d == doc_id]
                return render_article(engine, doc_id, int(start), int(end), quoted)
        return ""

    # Gradio finds the event argument by its annotation; under `from __future__ import annotations` that is
    # the string "gr.SelectData", which it cannot resolve, since gradio is imported in this function only.
    open_article.__annotations__["evt"] = gr.SelectData

    def ask_api(question: str, k: int = 5, mode: str = "hybrid") -> dict[str, Any]:
        """The answer: found, text, sentences (verbatim, with doc_id, char_start, char_end, marker, score) and hits."""
        from dataclasses import asdict

        if missing:
            raise gr.Error(missing)
        try:
            return asdict(current().ask(question, k=int(k), mode=mode))  # type: ignore[arg-type]
        except qa.QAError as exc:
            raise gr.Error(str(exc)) from None

    def search_api(question: str, k: int = 5, mode: str = "hybrid") -> list[dict[str, Any]]:
        """Ranked passages for a question, each with the Hit fields (rank, score, doc_id, chunk_id, title,
        text, char_start, char_end, citation, bm25_rank, dense_rank)."""
        from dataclasses import asdict

        if missing:
            raise gr.Error(missing)
        try:
            return [asdict(h) for h in current().search(question, k=int(k), mode=mode)]  # type: ignore[arg-type]
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
        # Closed at first: open, on a phone-width screen it pushes the answer two screens down.
        with gr.Accordion("Settings and filters", open=False, elem_id="qa-settings"):
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
        # One listener on the results: a card's "Read in the article" sends its passage's chunk id.
        results = gr.HTML(elem_id="qa-results", js_on_load=(
            "element.addEventListener('click', (event) => { const button = event.target.closest('.qa-read');"
            " if (button) trigger('select', {value: button.dataset.chunk, index: Number(button.dataset.rank)}); });"))
        article = gr.HTML(elem_id="qa-article")
        downloads_box = gr.File(label="Download these results (Markdown, BibTeX, RIS, CSV, JSON)",
                                file_count="multiple", elem_id="qa-downloads", interactive=False)
        state = gr.State({"hits": [], "quoted": []})
        history = gr.State([])
        history_list = gr.Dataset(components=[question], samples=[], label="This session's questions",
                                  elem_id="qa-history", visible=False)
        examples = gr.Examples(EXAMPLE_QUESTIONS, inputs=[question], label="Example questions",
                               elem_id="qa-examples")

        inputs = [question, k, mode, articles, publications, authors, since, until, history]
        outputs = [answer, results, state, article, downloads_box, history, history_list]
        for trigger in (question.submit, ask.click, mode.change):
            trigger(run_search, inputs, outputs, api_visibility="private")
        # Clicking an example fills the box; run the search too, so one click answers.
        examples.load_input_event.then(run_search, inputs, outputs, api_visibility="private")
        # Clicking one of this session's questions asks it again.
        history_list.click(lambda sample: sample[0], history_list, question, api_visibility="private").then(
            run_search, inputs, outputs, api_visibility="private")
        results.select(open_article, state, article, api_visibility="private").then(
            None, js="() => { const m = document.getElementById('qa-passage');"
                     " if (m) m.scrollIntoView({block: 'center'}); }")
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
