"""The ``qa`` command line: index, search; JSON for scripts, plain text for people."""

from __future__ import annotations

import json
import logging
import re
import sys
import textwrap
import time
from dataclasses import asdict, replace
from pathlib import Path

import click

from qa.errors import QAError
from qa.interfaces.export import FORMATS, export

__all__ = ["cli", "main"]

MODES = ("hybrid", "dense", "bm25")


class IndexLocation(click.ParamType):
    """An index directory (a Path) or a Milvus URI (kept as text: a Path would fold its "//")."""

    name = "DIR|URI"

    def convert(self, value, param, ctx):
        if isinstance(value, Path) or (isinstance(value, str) and value.startswith(("milvus://", "milvus+"))):
            return value
        return Path(value)


INDEX = IndexLocation()
# click 8.2 renamed NoArgsIsHelp to NoArgsIsHelpError.
_NO_ARGS_IS_HELP = getattr(click.exceptions, "NoArgsIsHelpError", None) or getattr(click.exceptions, "NoArgsIsHelp")


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; every expected failure becomes one line on stderr and a non-zero exit."""
    logging.basicConfig(level=logging.WARNING, format="qa: %(levelname)s: %(message)s")
    try:
        cli.main(args=argv, prog_name="qa", standalone_mode=False)
    except QAError as exc:
        _fail(str(exc), 1)
    except _NO_ARGS_IS_HELP as exc:  # plain `qa`: the help text is the answer
        click.echo(exc.ctx.get_help() if exc.ctx else "")
        return 0
    except click.UsageError as exc:
        _fail(exc.format_message().replace("\n", " "), 2)
    except click.exceptions.Abort:
        _fail("interrupted", 130)
    except KeyboardInterrupt:
        _fail("interrupted; the previous index is unchanged", 130)
    except click.ClickException as exc:
        _fail(exc.format_message().replace("\n", " "), exc.exit_code or 1)
    except OSError as exc:  # a full disk, a permission problem: say which file, no traceback
        _fail(f"{exc.strerror or exc}{f': {exc.filename}' if exc.filename else ''}", 1)
    return 0


def filter_options(command):
    """--publication/--author/--doc-id (repeatable) and --since/--until, applied before the top-k cut."""
    for option in reversed([
        click.option("--publication", "publications", multiple=True, help="Only this publication (repeatable)."),
        click.option("--author", "authors", multiple=True, help="Only articles by this author (repeatable)."),
        click.option("--doc-id", "doc_ids", multiple=True, help="Only this document (repeatable)."),
        click.option("--since", default=None, help="Only articles dated on or after (YYYY[-MM[-DD]])."),
        click.option("--until", default=None, help="Only articles dated on or before (YYYY[-MM[-DD]])."),
    ]):
        command = option(command)
    return command


def _question(question: str) -> str:
    """``-`` reads the question from standard input (a long question does not fit in argv)."""
    if question != "-":
        return question
    return sys.stdin.buffer.read().decode("utf-8", errors="replace")


def _engine_for(question: str, k: int, index_dir: Path):
    """Check the question and k first (their mistakes are the user's to fix first), then open the index."""
    from qa.search.engine import check_k, clean_query, open_index

    question = _question(question)
    check_k(k), clean_query(question)
    return open_index(index_dir), question


def _filters(publications, authors, doc_ids, since, until) -> dict | None:
    filters = {"publication": list(publications), "author": list(authors), "doc_id": list(doc_ids),
               "since": since, "until": until}
    return {k: v for k, v in filters.items() if v} or None


def _one_line(text: str) -> str:
    """Line breaks and runs of ordinary spaces as one space, for wrapping; every other character (no-break
    and thin spaces included) stays as the article has it, so a quote can be checked against its source."""
    return re.sub(r"[ \t\r\n]+", " ", text).strip()


def _fail(message: str, code: int) -> None:
    click.echo(f"qa: error: {message}", err=True)
    sys.exit(code)


@click.group(no_args_is_help=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="qa", prog_name="qa")
def cli() -> None:
    """Offline search and question answering over your articles."""


@cli.command("index")
@click.argument("corpus", default="corpus", type=click.Path(path_type=Path))
@click.option("--index", "index_dir", default="index", show_default=True, type=INDEX,
              help="Directory to build or refresh.")
@click.option("--model", default=None, help="Embedding model: the bundled default, a local path, or a cached name.")
@click.option("--max-words", type=click.IntRange(min=1), default=None, help="Target passage size in words.")
@click.option("--overlap", type=click.IntRange(min=0), default=None, help="Sentences shared by consecutive passages.")
@click.option("--encoder", type=click.Choice(["onnx", "onnx-int8", "sentence-transformers"]), default=None,
              help="How passages are embedded (default onnx-int8: about twice torch's speed, the same SciFact quality; "
                   "onnx: sentence-transformers' own vectors).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def index_command(corpus: Path, index_dir: Path, model: str | None, max_words: int | None, overlap: int | None,
                  encoder: str | None, quiet: bool) -> None:
    """Build or refresh the index from CORPUS (a folder of articles or a .jsonl file)."""
    from qa.config import IndexConfig

    config = IndexConfig()
    if encoder:
        config = replace(config, dense=replace(config.dense, encoder=encoder))
    if model:
        config = replace(config, dense=replace(config.dense, model=model))
    if max_words is not None:
        config = replace(config, chunk=replace(config.chunk, max_words=max_words))
    if overlap is not None:
        config = replace(config, chunk=replace(config.chunk, overlap_sentences=overlap))
    _build_and_report(corpus, index_dir, config, quiet)


def _build_and_report(corpus: Path, index_dir: Path, config, quiet: bool) -> None:
    from qa.search.engine import build

    started = time.perf_counter()
    engine = build(corpus, index_dir, config=config, progress=not quiet)
    built = engine.manifest.get("build", {})
    skipped = engine.manifest["corpus"].get("skipped") or []
    click.echo(f"{index_dir}: {len(engine.documents)} documents, {len(engine.chunks)} passages, "
               f"{built.get('passages_embedded', 0)} newly embedded, {time.perf_counter() - started:.1f}s"
               + (f", {len(skipped)} file(s) skipped" if skipped else ""), err=True)


@cli.command("inspect")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--paragraphs", "shown", default=3, show_default=True, type=click.IntRange(min=0),
              help="How many of the first paragraphs to show.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per file.")
def inspect_command(files: tuple[Path, ...], shown: int, as_json: bool) -> None:
    """Show how each FILE is read: title, authors, pages (and which were OCR'd), paragraphs, warnings."""
    from qa.ingest.inspect import inspect_file

    reports = [inspect_file(file, shown) for file in files]
    if as_json:
        for report in reports:
            click.echo(json.dumps(report, ensure_ascii=False))
    else:
        for report in reports:
            click.echo(_inspect_text(report))
    if any(r["error"] for r in reports):
        raise SystemExit(1)


def _inspect_text(report: dict) -> str:
    if report["error"]:
        return f"{report['file']}: {report['error']}\n"
    lines = [click.style(report["file"], bold=True)]
    for key in ("title", "authors", "publication", "date", "format", "pages", "ocr_pages", "page_labels", "paragraphs"):
        value = report.get(key)
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value[:20]) + (" …" if len(value) > 20 else "")
        lines.append(f"  {key + ':':<13}{value if value not in (None, '') else '(none)'}")
    for warning in report["warnings"]:
        lines.append(f"  warning:     {warning}")
    for i, paragraph in enumerate(report["first_paragraphs"], 1):
        lines.append(textwrap.fill(paragraph, width=100, initial_indent=f"  ¶{i:<3} ", subsequent_indent="       "))
    return "\n".join(lines) + "\n"


@cli.command("add")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--corpus", "corpus_dir", default="corpus", show_default=True, type=click.Path(path_type=Path),
              help="The corpus folder the articles are copied into.")
@click.option("--index", "index_dir", default="index", show_default=True, type=INDEX)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def add_command(paths: tuple[Path, ...], corpus_dir: Path, index_dir: Path, quiet: bool) -> None:
    """Copy articles (.md .txt .html .pdf .docx) into the corpus and update the index.

    Only the new passages are embedded. A file that cannot be read is not copied.
    """
    import shutil

    from qa.config import IndexConfig
    from qa.search.engine import open_index
    from qa.errors import CorpusError
    from qa.ingest.load import SUPPORTED_SUFFIXES, load_file

    if not corpus_dir.is_dir():
        raise CorpusError(f"corpus folder not found: {corpus_dir} (give it with --corpus)")
    for path in paths:
        if not path.is_file():
            raise CorpusError(f"cannot add {path}: no such file")
        if path.suffix.lower() not in SUPPORTED_SUFFIXES:
            raise CorpusError(f"cannot add {path}: unsupported file type (supported: {', '.join(SUPPORTED_SUFFIXES)})")
        target = corpus_dir / path.name
        if target.exists() and target.read_bytes() != path.read_bytes():
            raise CorpusError(f"cannot add {path}: {target} already exists with other content; rename one of them")
        if load_file(path) is None:  # read it now: a file we cannot read must not land in the corpus
            raise CorpusError(f"cannot add {path}: no text in it")
    for path in paths:
        shutil.copy2(path, corpus_dir / path.name)
        click.echo(f"added {path} -> {corpus_dir / path.name}", err=True)
    try:
        config = open_index(index_dir).config  # keep the settings the index was built with
    except QAError:
        config = IndexConfig()
    _build_and_report(corpus_dir, index_dir, config, quiet)


def question_options(k_help: str, json_help: str):
    """QUESTION, -k, --mode, --index, --json and the filters: what `search` and `ask` both take."""
    def decorate(command):
        for option in reversed([
            click.argument("question"),
            click.option("-k", "k", type=int, default=5, show_default=True, help=k_help),
            click.option("--mode", type=click.Choice(MODES), default="hybrid", show_default=True),
            click.option("--index", "index_dir", default="index", show_default=True, type=INDEX),
            click.option("--json", "as_json", is_flag=True, help=json_help + " Same as --format json."),
            click.option("--format", "output_format", type=click.Choice(FORMATS), default="text", show_default=True,
                         help="text for reading; json, markdown, csv, or bibtex/ris (one entry per cited article)."),
        ]):
            command = option(command)
        return filter_options(command)
    return decorate


def _exported(result, engine, output_format: str) -> bool:
    """Print ``result`` in ``output_format`` unless that is plain text (which each command prints its own way)."""
    if output_format == "text":
        return False
    click.echo(export(result, output_format, engine.document), nl=False)
    return True


@cli.command("search")
@question_options("Number of passages.", "Print the hits as a JSON array.")
def search_command(question: str, k: int, mode: str, index_dir: Path, as_json: bool, output_format: str,
                   **filters) -> None:
    """Rank the passages that answer QUESTION ("-" reads it from standard input)."""
    engine, question = _engine_for(question, k, index_dir)
    hits = engine.search(question, k=k, mode=mode, filters=_filters(**filters))  # type: ignore[arg-type]
    if _exported(hits, engine, "json" if as_json else output_format):
        return
    if not hits:
        click.echo("No passage matches that question.")
    for hit in hits:
        why = [f"score {hit.score:.4f}"]
        if hit.bm25_rank is not None:
            why.append(f"BM25 #{hit.bm25_rank}")
        if hit.dense_rank is not None:
            why.append(f"dense #{hit.dense_rank}")
        click.echo(click.style(f"[{hit.rank}] {hit.title or hit.doc_id}", bold=True) + f"  ({', '.join(why)})")
        click.echo(f"    {hit.citation}")
        if copies := engine.also_in(hit.doc_id):
            click.echo(f"    also in: {', '.join(engine.document(d).title or d for d in copies)}")
        click.echo(textwrap.fill(_one_line(hit.text), width=100, initial_indent="    ", subsequent_indent="    "))
        click.echo()


@cli.command("ask")
@question_options("Passages to draw the answer from.", "Print the answer (sentences, spans, hits) as JSON.")
def ask_command(question: str, k: int, mode: str, index_dir: Path, as_json: bool, output_format: str,
                **filters) -> None:
    """Answer QUESTION with cited sentences from the articles, or say it is not found ("-": from stdin)."""
    engine, question = _engine_for(question, k, index_dir)
    answer = engine.ask(question, k=k, mode=mode, filters=_filters(**filters))  # type: ignore[arg-type]
    if _exported(answer, engine, "json" if as_json else output_format):
        return
    click.echo(textwrap.fill(answer.text, width=100))
    if answer.found:
        click.echo()
        cited = {}
        for sentence in answer.sentences:  # each sentence cites its own paragraph or page
            cited.setdefault(f"[{sentence.marker}] {sentence.citation}", None)
        for line in cited:
            click.echo(line)
        return
    if answer.reason:
        click.echo(answer.reason)
    if answer.hits:
        click.echo("\nClosest passages:")
        for hit in answer.hits[:3]:
            click.echo(f"[{hit.rank}] {hit.citation}")
            click.echo(textwrap.fill(_one_line(hit.text), width=100, initial_indent="    ",
                                     subsequent_indent="    "))


@cli.command("tune")
@click.option("--set", "eval_set", default="eval/kazakhstan.jsonl", show_default=True, type=click.Path(path_type=Path))
@click.option("--index", "index_dir", default="index", show_default=True, type=INDEX)
@click.option("--beir", "beir_dir", default=None, type=click.Path(path_type=Path),
              help="Also tune fusion on this BEIR collection's train queries (e.g. ../shared/bench/scifact).")
@click.option("--answers/--no-answers", default=True, show_default=True, help="Tune answer sentence scoring too.")
@click.option("--also", "also", nargs=2, multiple=True, type=(click.Path(path_type=Path, exists=True, dir_okay=False), INDEX),
              metavar="SET INDEX", help="Also tune the answer settings on this eval set's train split, over its own "
              "index (repeatable; e.g. eval/real-docs.jsonl rd-index).")
@click.option("--reports", "reports_dir", default="eval/reports", show_default=True, type=click.Path(path_type=Path))
def tune_command(eval_set: Path, index_dir: Path, beir_dir: Path | None, answers: bool,
                 also: tuple[tuple[Path, Path], ...], reports_dir: Path) -> None:
    """Search fusion (and answer) settings on training data only; report the gain on the test split."""
    from qa.config import FusionConfig
    from qa.search.engine import open_index
    from qa.evaluation.evaluate import evaluate_set, load_eval_set, passage_qrels
    from qa.evaluation.report import markdown_table, write_reports
    from qa.evaluation.tune import (answer_metrics, choose_answer_config, handled_share, tune_answers, tune_evidence,
                                    tune_fusion)

    engine = open_index(index_dir)
    questions = load_eval_set(eval_set)
    train = [q for q in questions if q.split == "train"]
    test = [q for q in questions if q.split == "test"]
    results: dict = {}
    sections = []
    train_in = [q for q in train if q.in_scope]
    rows = tune_fusion(engine, {q.id: q.question for q in train_in}, passage_qrels(engine, train_in))
    best = FusionConfig(**rows[0]["fusion"])
    results["fusion_eval_set"] = {"train_top": rows[:10]}
    sections.append("## Fusion, tuned on the eval set's train split (nDCG@10)\n\n" + markdown_table(
        [{"settings": f"{r['fusion']['method']} k={r['fusion']['rrf_k']} w={r['fusion']['dense_weight']} depth={r['fusion']['depth']}",
          "train ndcg@10": r["ndcg@10"]} for r in rows[:10]], ["settings", "train ndcg@10"]))
    if beir_dir is not None:
        from qa.embed import default_cache_dir
        from qa.search.engine import build
        from qa.evaluation.evaluate import load_beir

        corpus, queries, qrels = load_beir(beir_dir, split="train")
        beir_engine = build(corpus, default_cache_dir() / "beir" / beir_dir.resolve().name, progress=True)
        beir_rows = tune_fusion(beir_engine, queries, qrels, documents=True)
        results["fusion_beir_train"] = beir_rows[:10]
        # One default must serve both collections: the best nDCG@10 over all training queries
        # pooled, each query counting once (a plain mean of the two sets would give 28 questions
        # the weight of 809).
        on_beir = {json.dumps(r["fusion"], sort_keys=True): r["ndcg@10"] for r in beir_rows}
        n_eval, n_beir = len(train_in), len(queries)
        combined = sorted(({"fusion": r["fusion"], "eval_train": r["ndcg@10"],
                            "beir_train": on_beir[json.dumps(r["fusion"], sort_keys=True)]} for r in rows),
                          key=lambda r: -(n_eval * r["eval_train"] + n_beir * r["beir_train"]))
        for r in combined:
            r["pooled"] = (n_eval * r["eval_train"] + n_beir * r["beir_train"]) / (n_eval + n_beir)
        best = FusionConfig(**combined[0]["fusion"])
        results["fusion_chosen"] = combined[0]
        sections.append(f"## Chosen: best nDCG@10 over all {n_eval + n_beir} training queries pooled\n\n" + markdown_table(
            [{"settings": f"{r['fusion']['method']} k={r['fusion']['rrf_k']} w={r['fusion']['dense_weight']} depth={r['fusion']['depth']}",
              f"eval train ({n_eval})": r["eval_train"], f"{beir_dir.name} train ({n_beir})": r["beir_train"],
              "pooled": r["pooled"]} for r in combined[:5]],
            ["settings", f"eval train ({n_eval})", f"{beir_dir.name} train ({n_beir})", "pooled"]))
        sections.append(f"## Fusion, tuned on {beir_dir.name} train ({len(queries)} queries, nDCG@10)\n\n" + markdown_table(
            [{"settings": f"{r['fusion']['method']} k={r['fusion']['rrf_k']} w={r['fusion']['dense_weight']} depth={r['fusion']['depth']}",
              "train ndcg@10": r["ndcg@10"]} for r in beir_rows[:10]], ["settings", "train ndcg@10"]))
    current = engine.config.fusion
    test_current = evaluate_set(engine, test, ["hybrid"], split="test")["modes"]["hybrid"]["metrics"]
    test_best = evaluate_set(engine.with_fusion(best), test, ["hybrid"], split="test")["modes"]["hybrid"]["metrics"]
    results["fusion_test"] = {"index_settings": current.__dict__, "chosen": best.__dict__,
                              "test_index_settings": test_current, "test_chosen": test_best}
    sections.append("## Gain on the eval set's test split (hybrid)\n\n" + markdown_table(
        [{"settings": f"this index ({current.method}, k={current.rrf_k}, w={current.dense_weight}, depth={current.depth})", **test_current},
         {"settings": f"chosen ({best.method}, k={best.rrf_k}, w={best.dense_weight}, depth={best.depth})", **test_best}],
        ["settings", "recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10"]))
    if answers:
        # Two stages: sentence scoring picks which sentence answers (answerable and off-topic questions; its
        # ties go to the scoring best over all training questions), then the evidence checks decide, with
        # near-miss questions too, when even the best sentence does not answer.
        # Other archives' questions, each over its own index: their train splits join the objective, their test
        # splits are reported beside the eval set's.
        others = [(path, open_index(other_index), load_eval_set(path)) for path, other_index in also]
        extra = [(other, [q for q in qs if q.split == "train"]) for _, other, qs in others]
        answer_rows = tune_answers(engine, [q for q in train if q.type != "near_miss"],
                                   also=[(other, [q for q in qs if q.type != "near_miss"]) for other, qs in extra])
        chosen = choose_answer_config(answer_rows, overall=handled_share(engine, train, also=extra))
        chosen, evidence_rows = tune_evidence(engine, train, chosen, also=extra)
        results["evidence_train_top"] = evidence_rows[:10]
        from qa.search.answer import AnswerConfig

        results["answers"] = {"chosen": chosen.__dict__, "shipped": AnswerConfig().__dict__,
                              "train": answer_metrics(engine, train, chosen), "test": answer_metrics(engine, test, chosen),
                              "test_shipped": answer_metrics(engine, test, AnswerConfig())}
        table = [{"settings": "chosen on train", **results["answers"]["train"], "split": "train"},
                 {"settings": "chosen on train", **results["answers"]["test"], "split": "test"},
                 {"settings": "shipped defaults", **results["answers"]["test_shipped"], "split": "test"}]
        for path, other, qs in others:
            other_test = [q for q in qs if q.split == "test"]
            results["answers"][path.name] = {split: answer_metrics(other, [q for q in qs if q.split == split], chosen)
                                             for split in ("train", "test")}
            results["answers"][path.name]["test_shipped"] = answer_metrics(other, other_test, AnswerConfig())
            table += [{"settings": f"chosen, {path.name}", **results["answers"][path.name][split], "split": split}
                      for split in ("train", "test")]
            table.append({"settings": f"shipped, {path.name}", **results["answers"][path.name]["test_shipped"],
                          "split": "test"})
        for row in table:  # a rate over no question is no rate: "—", not 0.000
            for rate, count in (("answer_accuracy", "in_scope"), ("answered", "in_scope"),
                                ("abstention_near_miss", "near_miss"), ("abstention_off_topic", "off_topic")):
                if not row[count]:
                    row[rate] = None
        sets = ", ".join([eval_set.name, *(p.name for p, _, _ in others)])
        sections.append(f"## Answer sentence scoring, tuned on the train split of {sets}\n\n" + markdown_table(
            table, ["settings", "split", "answer_accuracy", "answered", "abstention_near_miss", "abstention_off_topic"])
            + f"\n\nChosen: {chosen}")
    markdown = "\n\n".join(sections)
    paths = write_reports(results, reports_dir, "tuning", "Tuning on training data", markdown)
    click.echo(markdown + f"\n\nreports: {', '.join(str(p) for p in paths)}")


@cli.command("bench")
@click.option("--chunks", "sizes", multiple=True, type=click.IntRange(min=100),
              help="Corpus sizes in passages (repeatable; default 10000, 100000, 1000000).")
@click.option("--index-type", type=click.Choice(["auto", "flat", "hnsw"]), default="auto", show_default=True)
@click.option("--embed", "embed_corpus", default=None, type=click.Path(path_type=Path),
              help="Instead: embed real passages of this corpus with each encoder and compare them.")
@click.option("--limit", default=1500, show_default=True, type=click.IntRange(min=1),
              help="With --embed: how many passages.")
@click.option("--json", "as_json", is_flag=True, help="End with one JSON line (the last size, plus all runs).")
def bench_command(sizes: tuple[int, ...], index_type: str, embed_corpus: Path | None, limit: int,
                  as_json: bool) -> None:
    """Benchmark query latency, build time, size and memory at scale, or encoders on real text (not a test)."""
    if embed_corpus is not None:
        from qa.evaluation.bench_embed import bench_encoders, embed_json, embed_table

        result = bench_encoders(embed_corpus, limit)
        click.echo(embed_table(result))
        if as_json:
            click.echo(embed_json(result))
        return
    from qa.evaluation.bench import run_bench, table, to_json

    results = []
    for n in sizes or (10_000, 100_000, 1_000_000):
        click.echo(f"benchmarking {n:,} passages…", err=True)
        results += run_bench([n], index_type)
    click.echo(table(results))
    if as_json:
        click.echo(to_json(results))


@cli.command("watch")
@click.argument("corpus", default="corpus", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option("--index", "index_dir", default="index", show_default=True, type=INDEX)
@click.option("--debounce", "debounce_ms", default=1000, show_default=True, type=click.IntRange(min=50),
              help="At most this many milliseconds of changes are gathered into one refresh.")
def watch_command(corpus: Path, index_dir: Path, debounce_ms: int) -> None:
    """Keep the index in step with CORPUS: refresh it on every added, changed or removed file."""
    from qa.interfaces.watch import watch

    watch(corpus, index_dir, debounce_ms=debounce_ms, report=lambda line: click.echo(line, err=False))


@cli.command("mcp")
@click.option("--index", "index_dir", default="index", show_default=True, type=INDEX)
def mcp_command(index_dir: Path) -> None:
    """Serve the index to agents as MCP tools (search, ask, document) on standard input and output."""
    from qa.interfaces.mcp_server import create_server

    server = create_server(index_dir)  # opens the index first: a missing one is a one-line error, not a hang
    server.run("stdio")


@cli.command("milvus-local")
@click.option("--port", type=click.IntRange(1, 65535), default=19530, show_default=True)
@click.option("--data", "data_dir", default=".milvus", show_default=True, type=click.Path(path_type=Path),
              help="Where Milvus Lite keeps its data.")
def milvus_local_command(port: int, data_dir: Path) -> None:
    """Run a local Milvus (Milvus Lite) on 127.0.0.1, in the foreground; Ctrl-C stops it."""
    import shutil
    import subprocess

    server = shutil.which("milvus-lite") or str(Path(sys.executable).with_name("milvus-lite"))
    if not Path(server).exists():
        raise QAError("Milvus Lite is not installed; install it with `pip install -e '.[milvus]'`")
    data_dir.mkdir(parents=True, exist_ok=True)
    click.echo(f"qa: Milvus Lite on milvus://127.0.0.1:{port}/COLLECTION, data in {data_dir} (Ctrl-C stops it)",
               err=True)
    # Bound to loopback: Milvus Lite listens on every interface unless told otherwise.
    completed = subprocess.run([server, "server", "--data-dir", str(data_dir), "--host", "127.0.0.1",
                                "--port", str(port)])
    if completed.returncode not in (0, -2, 130):
        raise QAError(f"Milvus Lite stopped with exit code {completed.returncode}")


@cli.command("serve")
@click.option("--index", "index_dir", default="index", show_default=True, type=INDEX)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind; 0.0.0.0 exposes the page to the network.")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Port (default $GRADIO_SERVER_PORT or 7860).")
def serve_command(index_dir: Path, host: str, port: int | None) -> None:
    """Open the web page over the index."""
    from qa.interfaces.web import serve

    serve(index_dir, host=host, port=port)


@cli.command("eval")
@click.option("--set", "eval_set", default="eval/kazakhstan.jsonl", show_default=True, type=click.Path(path_type=Path),
              help="Eval set (JSONL, see eval/README.md).")
@click.option("--mode", "modes", multiple=True, type=click.Choice(MODES), help="Modes to run (default: all three).")
@click.option("--index", "index_dir", default=None, type=INDEX,
              help="Index to evaluate (default index/; for --beir, one cached per collection).")
@click.option("--split", type=click.Choice(["all", "train", "test"]), default="all", show_default=True)
@click.option("--beir", "beir_dir", default=None, type=click.Path(path_type=Path),
              help="Evaluate on a BEIR collection folder instead (indexes its corpus; embeddings are cached).")
@click.option("--encoder", type=click.Choice(["onnx", "onnx-int8", "sentence-transformers"]), default=None,
              help="With --beir: the passage encoder of the collection's index (default: the default encoder).")
@click.option("--lowercase", is_flag=True,
              help="Ask every question in lower case, as many users type it (a robustness check; reports get -lowercase).")
@click.option("--reports", "reports_dir", default="eval/reports", show_default=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def eval_command(eval_set: Path, modes: tuple[str, ...], index_dir: Path | None, split: str, beir_dir: Path | None,
                 encoder: str | None, lowercase: bool, reports_dir: Path, as_json: bool) -> None:
    """Measure retrieval quality: Recall@1/5/10, MRR@10, nDCG@10 per mode (or nDCG@10, Recall@100 on BEIR)."""
    from qa.evaluation.evaluate import evaluate_beir, evaluate_set, load_beir, load_eval_set
    from qa.evaluation.report import BEIR_BASELINES, markdown_table, write_reports

    modes = modes or MODES
    if beir_dir is not None:
        from qa.embed import default_cache_dir
        from qa.search.engine import build

        corpus, queries, qrels = load_beir(beir_dir)
        name = beir_dir.resolve().name
        from qa.config import IndexConfig

        config = IndexConfig()
        if encoder:
            config = replace(config, dense=replace(config.dense, encoder=encoder))
        engine = build(corpus, index_dir or default_cache_dir() / "beir" / f"{name}-{config.dense.encoder}",
                       config=config, progress=True)
        results = evaluate_beir(engine, queries, qrels, modes)
        rows = [{"system": f"qa {mode}", **r["metrics"]} for mode, r in results["modes"].items()]
        rows += [{"system": f"published: {label}", "ndcg@10": ndcg, "recall@100": recall}
                 for label, ndcg, recall in BEIR_BASELINES.get(name, [])]
        table = markdown_table(rows, ["system", "ndcg@10", "recall@100"])
        title = f"BEIR {name} test ({results['queries']} queries)"
    else:
        from qa.search.engine import open_index

        engine = open_index(index_dir or Path("index"))
        questions = load_eval_set(eval_set)
        if lowercase:
            questions = [replace(q, question=q.question.lower()) for q in questions]
        results = evaluate_set(engine, questions, modes, split=None if split == "all" else split)
        rows = [{"mode": mode, **r["metrics"]} for mode, r in results["modes"].items()]
        table = markdown_table(rows, ["mode", "recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10"])
        if "hybrid" in modes:
            from qa.search.answer import AnswerConfig
            from qa.evaluation.tune import answer_metrics, rate_intervals

            chosen = [q for q in questions if split == "all" or q.split == split]
            results["answers"] = answer_metrics(engine, chosen, AnswerConfig())
            a = results["answers"]
            a["intervals_95"] = intervals = rate_intervals(a)

            def within(rate: str) -> str:
                return f" (95% CI {intervals[rate][0]:.3f}–{intervals[rate][1]:.3f})" if rate in intervals else ""

            table += ("\n\nAnswers (`qa ask`, hybrid, k=5): accuracy "
                      f"{a['answer_accuracy']:.3f}{within('answer_accuracy')} over {a['in_scope']} answerable questions "
                      f"(a gold quote lies within the answer sentences; answered {a['answered']:.3f}); abstention "
                      f"{a['abstention_near_miss']:.3f}{within('abstention_near_miss')} on {a['near_miss']} near-miss "
                      "questions (the articles' vocabulary, never answered)"
                      + (f" and {a['abstention_off_topic']:.3f}{within('abstention_off_topic')} on {a['off_topic']} "
                         "off-topic ones." if a["off_topic"] else "; no off-topic ones."))
        name = eval_set.stem + ("" if split == "all" else f"-{split}") + ("-lowercase" if lowercase else "")
        title = f"{eval_set.name}: {results['questions']} questions ({results['split']}){', in lower case' if lowercase else ''}"
    paths = write_reports(results, reports_dir, name, title, table)
    if as_json:
        click.echo(json.dumps({k: v for k, v in results.items()} | {"reports": [str(p) for p in paths]}, indent=2))
    else:
        click.echo(f"{title}\n\n{table}\n\nreports: {', '.join(str(p) for p in paths)}")
