"""Ingest side by side with newsboat and lemon24/reader, on one loopback farm, in one run.

The farm (its own process, 127.0.0.1) serves RSS 2.0 feeds of Korean headlines with ETag and
Last-Modified, answering 304 to a matching conditional request, and article pages (the real
pages of ../shared/corpus/pages, or synthetic Korean pages when that folder is absent). Each
reader gets the same feeds on a fresh database and is timed as a whole process (wall clock,
and CPU of the process and its children):

- cold: N feeds x M items (default 200 x 20) never seen, no full text. aggregator runs the
  shipped config (config.yaml: its tags, rules and model, stories and the search index on),
  with its feeds replaced by the farm's and, since one loopback host stands for many outlets,
  ``fetch.per_host_limit`` raised to the 8 connections the peers use. newsboat runs
  ``newsboat -x reload`` with ``reload-threads 8``; reader ``update_feeds(workers=8)``.
- warm: the same feeds polled again, all answering 304. Start-up (the same command on a
  config with no feeds) is printed beside it, and the time beyond it.
- full text: F feeds x M items (default 20 x 20, 400 pages) with full text. The extraction
  lower bound is measured in the same run: every page extracted once in one process by the
  same function the workers run, the sum divided by the cores.
- scale (``--scale``): 2,000 feeds x 50 items (100,000 entries) cold, aggregator only, on
  SQLite and, where AGGREGATOR_TEST_POSTGRES_URL (or --postgres) names a server, on a fresh
  PostgreSQL database made and dropped by the bench; wall time, CPU per entry and the process
  tree's peak resident memory.

Peers: newsboat from Debian (``apt-get install newsboat`` is tried when it is missing and the
bench runs as root); reader from PyPI, into a virtualenv of its own under
~/.cache/aggregator-bench (its dependencies never meet ours). A peer that cannot be installed
is reported as skipped, with the reason. The package's bytecode is written first, as
``pip install`` writes it (an editable checkout under PYTHONDONTWRITEBYTECODE=1 would compile
its modules in every process). Numbers are printed, never asserted. Usage:

    python bench/peers.py [--feeds 200] [--items 20] [--full-text-feeds 20] [--scale]
"""

from __future__ import annotations

import argparse
import email.utils
import hashlib
import multiprocessing
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from proctree import compile_package, cpu_seconds, rss_bytes  # noqa: E402

CORPUS_PAGES = REPO.parent / "shared" / "corpus" / "pages"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "aggregator-bench"
# reader vendors a feedparser that imports sgmllib, which Python 3 dropped: sgmllib3k is it.
READER_SPECS = ("reader>=3.12,<4", "sgmllib3k")
WORKERS = 8
# The farm's clock: every item is published before it, so all readers see the same items.
EPOCH = 1_795_000_000  # 2026-11-18

# Headlines are composed from these, so that the tagger, the story matcher and the search
# index see varied real-looking Korean text (no two items of the farm share a headline).
SUBJECTS = (
    "정부",
    "국회",
    "한국은행",
    "서울시",
    "삼성전자",
    "현대차",
    "검찰",
    "교육부",
    "기상청",
    "대표팀",
    "배우 김지원",
    "과학기술정보통신부",
    "통일부",
    "금융위원회",
    "프로야구 LG",
    "미국 국무부",
)
OBJECTS = (
    "예산안",
    "기준금리",
    "반도체 수출",
    "전기차 보조금",
    "수사 결과",
    "대입 제도",
    "한파 특보",
    "월드컵 예선",
    "새 드라마",
    "인공지능 법안",
    "남북 대화",
    "가계부채 대책",
    "포스트시즌",
    "관세 협상",
    "주택 공급",
    "의료 개혁",
)
VERBS = ("발표", "확정", "논의", "연기", "강화", "검토", "합의", "공개", "추진", "철회")


def headline(feed: int, item: int) -> str:
    rng = random.Random(feed * 100_003 + item)
    return (
        f"{rng.choice(SUBJECTS)}, {rng.choice(OBJECTS)} {rng.choice(VERBS)}… {feed}-{item}번째 소식"
    )


def summary(feed: int, item: int) -> str:
    rng = random.Random(feed * 7_919 + item)
    return (
        f"{rng.choice(SUBJECTS)}는 {rng.choice(OBJECTS)}에 대해 {rng.choice(VERBS)}했다고 "
        f"밝혔다. 관계자는 {rng.choice(OBJECTS)}도 함께 {rng.choice(VERBS)}할 계획이라고 말했다."
    )


def feed_xml(port: int, prefix: str, feed: int, items: int) -> bytes:
    parts = []
    for i in range(items):
        published = email.utils.formatdate(EPOCH - (feed * items + i) * 37, usegmt=True)
        parts.append(
            f"<item><title>{headline(feed, i)}</title>"
            f"<link>http://127.0.0.1:{port}/page/{prefix}{feed}/{i}</link>"
            f'<guid isPermaLink="false">{prefix}{feed}-{i}</guid>'
            f"<pubDate>{published}</pubDate>"
            f"<description>{summary(feed, i)}</description></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        f"<title>벤치 피드 {prefix}{feed}</title><link>http://127.0.0.1:{port}/</link>"
        f"<description>loopback farm</description>{''.join(parts)}</channel></rss>"
    ).encode()


def load_pages() -> list[bytes]:
    pages = sorted(CORPUS_PAGES.glob("*/*.html")) if CORPUS_PAGES.is_dir() else []
    pages = [p for p in pages if "encoding-edge" not in p.parts and "404" not in p.name]
    if pages:
        return [p.read_bytes() for p in pages]
    sys.path.insert(0, str(REPO / "tests"))
    from sites import PARAGRAPHS, article_page

    return [article_page(f"기사 {i}", PARAGRAPHS * (1 + i % 4)).encode() for i in range(8)]


def page_index(path: str, count: int) -> int:
    return int.from_bytes(hashlib.sha256(path.encode()).digest()[:4], "big") % count


def serve(conn: Connection, items: int) -> None:
    """The farm: /{prefix}{n}.xml for any n, /page/{prefix}{n}/{i} for the pages."""
    pages = load_pages()
    last_modified = email.utils.formatdate(EPOCH, usegmt=True)
    cache: dict[str, tuple[bytes, str]] = {}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path.startswith("/page/"):
                body = pages[page_index(path, len(pages))]
                self._send(200, body, {"Content-Type": "text/html; charset=utf-8"})
                return
            name = path.strip("/").removesuffix(".xml")
            prefix = name.rstrip("0123456789")
            if path.endswith(".xml") and name[len(prefix) :].isdigit():
                with lock:
                    found = cache.get(name)
                if found is None:
                    port = self.server.server_address[1]
                    body = feed_xml(port, prefix, int(name[len(prefix) :]), items)
                    found = (body, '"' + hashlib.sha256(body).hexdigest()[:16] + '"')
                    with lock:
                        cache[name] = found
                body, etag = found
                if self.headers.get("If-None-Match") == etag or (
                    self.headers.get("If-None-Match") is None
                    and self.headers.get("If-Modified-Since") == last_modified
                ):
                    self._send(304, b"", {"ETag": etag, "Last-Modified": last_modified})
                    return
                self._send(
                    200,
                    body,
                    {
                        "Content-Type": "application/rss+xml; charset=utf-8",
                        "ETag": etag,
                        "Last-Modified": last_modified,
                    },
                )
                return
            self._send(404, b"not found", {"Content-Type": "text/plain"})

        do_HEAD = do_GET

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 256

    server = Server(("127.0.0.1", 0), Handler)
    conn.send(server.server_address[1])
    server.serve_forever()


# -- running and measuring a whole process ----------------------------------------------------


@dataclass(frozen=True)
class Run:
    wall: float
    cpu: float
    peak_rss: int
    code: int
    output: str


def measure(cmd: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None) -> Run:
    """Run ``cmd``: its wall time, the CPU of it and its children, the tree's peak RSS."""
    cpu_before = _children_cpu()
    started = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=cwd,
        start_new_session=True,
    )
    peak = 0
    chunks: list[bytes] = []
    reader = threading.Thread(target=lambda: chunks.append(proc.stdout.read()))  # type: ignore[union-attr]
    reader.start()
    tree_cpu = 0.0
    while proc.poll() is None:
        peak = max(peak, rss_bytes(proc.pid))
        tree_cpu = max(tree_cpu, cpu_seconds(proc.pid))
        time.sleep(0.05)
    wall = time.perf_counter() - started
    reader.join()
    output = b"".join(chunks).decode(errors="replace")
    # Runs are sequential: what the reaped children spent since the start is this one's.
    # That misses the extraction workers (the fork server's children, which the command does
    # not wait for), so the tree sampled while it ran counts too: the larger of the two.
    cpu = max(_children_cpu() - cpu_before, tree_cpu)
    return Run(wall, cpu, peak, proc.returncode, output)


def _children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def aggregator_command() -> list[str]:
    found = Path(sys.executable).parent / "aggregator"
    if found.exists():
        return [str(found)]
    return [sys.executable, "-m", "aggregator"]


def aggregator_config(path: Path, database: str, urls: list[str], *, full_text: bool) -> None:
    """The shipped config.yaml with the farm's feeds and a fresh database."""
    shipped = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))
    shipped["database"] = database
    shipped["fetch"] = {
        **shipped.get("fetch", {}),
        "allow_private_networks": True,
        "per_host_limit": WORKERS,
        "concurrency": WORKERS,
    }
    shipped["logging"] = {**shipped.get("logging", {}), "level": "warning"}
    shipped["feeds"] = [{"url": url, "full_text": full_text} for url in urls]
    path.write_text(yaml.safe_dump(shipped, allow_unicode=True), encoding="utf-8")


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "AGGREGATOR_DATABASE_URL"}


def run_aggregator(
    work: Path, name: str, database: str, urls: list[str], *, full_text: bool
) -> Run:
    config = work / f"{name}.yaml"
    aggregator_config(config, database, urls, full_text=full_text)
    return measure([*aggregator_command(), "--config", str(config), "poll"], env=clean_env())


def stored_entries(database: Path) -> int:
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT count(*) FROM entries").fetchone()[0])
    finally:
        conn.close()


def empty_articles(database: Path) -> tuple[int, int]:
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        total, empty = conn.execute(
            "SELECT count(*), sum(CASE WHEN text_source IN ('feed', 'none') OR length(text) < 200 "
            "THEN 1 ELSE 0 END) FROM articles"
        ).fetchone()
        return int(total), int(empty or 0)
    finally:
        conn.close()


# -- the peers --------------------------------------------------------------------------------


def find_newsboat() -> tuple[str | None, str]:
    found = shutil.which("newsboat")
    if found:
        return found, ""
    if os.geteuid() != 0:
        return None, "newsboat is not installed (Debian: apt-get install newsboat)"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "--no-install-recommends", "newsboat"]
    done = subprocess.run(install, capture_output=True, env=env, check=False)
    if done.returncode != 0:  # a fresh machine's package lists may be stale
        subprocess.run(["apt-get", "update", "-qq"], capture_output=True, env=env, check=False)
        done = subprocess.run(install, capture_output=True, env=env, check=False)
    if done.returncode != 0:
        return None, "apt-get install newsboat failed: " + done.stderr.decode()[-300:]
    found = shutil.which("newsboat")
    return (found, "") if found else (None, "newsboat still not on PATH after apt-get")


def run_newsboat(binary: str, work: Path, urls: list[str]) -> tuple[Run, int]:
    """``newsboat -x reload`` with reload-threads 8 on the cache ``work/newsboat.db``."""
    home = work / "newsboat-home"
    home.mkdir(exist_ok=True)
    (work / "newsboat.urls").write_text("\n".join(urls) + "\n", encoding="utf-8")
    (work / "newsboat.conf").write_text(f"reload-threads {WORKERS}\n", encoding="utf-8")
    cache = work / "newsboat.db"
    env = {**os.environ, "HOME": str(home), "LANG": "C.UTF-8", "TERM": "dumb"}
    run = measure(
        [
            binary,
            "-x",
            "reload",
            "-u",
            str(work / "newsboat.urls"),
            "-c",
            str(cache),
            "-C",
            str(work / "newsboat.conf"),
        ],
        env=env,
    )
    conn = sqlite3.connect(f"file:{cache}?mode=ro", uri=True)
    try:
        items = int(conn.execute("SELECT count(*) FROM rss_item").fetchone()[0])
    finally:
        conn.close()
    return run, items


READER_SCRIPT = textwrap.dedent(
    """
    import sys
    from reader import make_reader
    db, urls_file, workers = sys.argv[1], sys.argv[2], int(sys.argv[3])
    reader = make_reader(db)
    for url in open(urls_file, encoding="utf-8").read().split():
        reader.add_feed(url, exist_ok=True)
    reader.update_feeds(workers=workers)
    print("entries", reader.get_entry_counts().total)
    """
)


def find_reader() -> tuple[Path | None, str]:
    venv = CACHE / "reader-venv"
    python = venv / "bin" / "python"
    if python.exists():
        check = subprocess.run(
            [str(python), "-c", "import reader, sgmllib"], capture_output=True, check=False
        )
        if check.returncode == 0:
            return python, ""
    CACHE.mkdir(parents=True, exist_ok=True)
    made = subprocess.run(
        [sys.executable, "-m", "venv", "--clear", str(venv)], capture_output=True, check=False
    )
    if made.returncode != 0:
        return None, "could not make a virtualenv for reader: " + made.stderr.decode()[-300:]
    done = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", *READER_SPECS],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        return None, f"pip install {' '.join(READER_SPECS)} failed: " + done.stderr.decode()[-300:]
    return python, ""


def run_reader(python: Path, work: Path, urls: list[str], database: Path) -> tuple[Run, int]:
    script = work / "reader_update.py"
    script.write_text(READER_SCRIPT, encoding="utf-8")
    urls_file = work / "reader.urls"
    urls_file.write_text("\n".join(urls) + "\n", encoding="utf-8")
    run = measure([str(python), str(script), str(database), str(urls_file), str(WORKERS)])
    entries = 0
    for line in run.output.splitlines():
        if line.startswith("entries "):
            entries = int(line.split()[1])
    return run, entries


def reader_version(python: Path) -> str:
    done = subprocess.run(
        [str(python), "-c", "import reader; print(reader.__version__)"],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() or "?"


# -- the extraction bound ----------------------------------------------------------------------


def extraction_bound(pages: list[bytes], urls: list[str]) -> tuple[float, int]:
    """Σ single-process extraction time of these pages (one each, as the poll fetches them)
    divided by the cores, and how many came out empty."""
    from aggregator.ingest.extract.article import extract_article

    extract_article(pages[0], urls[0])  # imports and first-call set-up are not per page
    spent = 0.0
    empty = 0
    for page, url in zip(pages, urls, strict=True):
        started = time.process_time()
        result = extract_article(page, url)
        spent += time.process_time() - started
        text = getattr(result, "text", "") or ""
        empty += len(text) < 200
    return spent / (os.cpu_count() or 1), empty


# -- PostgreSQL for the scale run ---------------------------------------------------------------


def postgres_database(base_url: str, name: str) -> tuple[str, Any]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(base_url).set(database=name).render_as_string(hide_password=False)

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url, drop


def postgres_entries(url: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM entries")).scalar_one())
    finally:
        engine.dispose()


# -- the report ----------------------------------------------------------------------------------


def ms_per(seconds: float, count: int) -> str:
    return f"{1000 * seconds / max(1, count):.2f} ms"


PLURAL = {"entry": "entries"}


def row(label: str, run: Run | None, count: int, unit: str, skip: str = "") -> None:
    if run is None:
        print(f"  {label:<28} skipped: {skip}")
        return
    status = "" if run.code == 0 else f"  EXIT {run.code}: {run.output.strip()[-300:]}"
    print(
        f"  {label:<28} {run.wall:7.2f} s wall  {run.cpu:7.2f} s CPU  "
        f"({ms_per(run.cpu, count)} CPU/{unit}, {count:,} {PLURAL.get(unit, unit + 's')})  "
        f"peak {run.peak_rss / 1_048_576:5.0f} MiB{status}"
    )


def ratio(label: str, ours: Run, theirs: Run | None) -> None:
    if theirs is not None and theirs.wall > 0:
        print(f"    aggregator / {label}: {ours.wall / theirs.wall:.2f}x wall")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--full-text-feeds", type=int, default=20)
    parser.add_argument("--scale", action="store_true", help="Also 2,000 x 50 cold, both backends")
    parser.add_argument("--scale-feeds", type=int, default=2000)
    parser.add_argument("--scale-items", type=int, default=50)
    parser.add_argument(
        "--postgres",
        default=os.environ.get("AGGREGATOR_TEST_POSTGRES_URL"),
        help="A PostgreSQL server URL for the scale run (a database is made and dropped)",
    )
    args = parser.parse_args()
    compile_package(REPO / "aggregator")

    work = Path(tempfile.mkdtemp(prefix="aggregator-bench-peers-", dir="/tmp"))
    parent, child = multiprocessing.Pipe()
    farms: list[multiprocessing.Process] = []

    def farm(items: int) -> int:
        proc = multiprocessing.Process(target=serve, args=(child, items), daemon=True)
        proc.start()
        farms.append(proc)
        return int(parent.recv())

    try:
        port = farm(args.items)
        base = f"http://127.0.0.1:{port}"
        cold_urls = [f"{base}/c{i}.xml" for i in range(args.feeds)]
        entries = args.feeds * args.items
        newsboat, newsboat_why = find_newsboat()
        reader_python, reader_why = find_reader()
        print(
            f"farm: {args.feeds} feeds x {args.items} items on 127.0.0.1:{port}; "
            f"{os.cpu_count()} cores; aggregator (shipped config.yaml, {WORKERS} connections); "
            + (
                subprocess.run([newsboat, "--version"], capture_output=True, text=True)
                .stdout.splitlines()[0]
                .split(" - ")[0]
                if newsboat
                else "newsboat skipped"
            )
            + f" (reload-threads {WORKERS}); "
            + (f"reader {reader_version(reader_python)}" if reader_python else "reader skipped")
            + f" (workers={WORKERS})"
        )

        database = work / "aggregator.db"
        # Start-up: the same command, its imports, config, database and model, on one feed
        # that answers 304 (polled once before, so that this run has nothing to store).
        startup_db = f"sqlite:///{work / 'startup.db'}"
        run_aggregator(work, "startup", startup_db, [f"{base}/w0.xml"], full_text=False)
        startup = run_aggregator(work, "startup", startup_db, [f"{base}/w0.xml"], full_text=False)
        cold = run_aggregator(work, "cold", f"sqlite:///{database}", cold_urls, full_text=False)
        cold_count = stored_entries(database) if database.exists() else 0
        warm = run_aggregator(work, "warm", f"sqlite:///{database}", cold_urls, full_text=False)
        nb_run = nb_items = None
        if newsboat:
            nb_run, nb_items = run_newsboat(newsboat, work, cold_urls)
        rd_run = rd_entries = None
        if reader_python:
            rd_run, rd_entries = run_reader(reader_python, work, cold_urls, work / "reader.sqlite")

        print(f"cold poll, {entries:,} entries, no full text (whole processes):")
        row("aggregator poll", cold, cold_count, "entry")
        row("newsboat -x reload", nb_run, nb_items or 0, "entry", newsboat_why)
        row("reader update_feeds", rd_run, rd_entries or 0, "entry", reader_why)
        ratio("newsboat", cold, nb_run)
        ratio("reader", cold, rd_run)
        print(f"warm poll, {args.feeds} unchanged feeds (304):")
        row("aggregator poll", warm, args.feeds, "feed")
        row("start-up (1 feed, 304)", startup, 1, "run")
        print(f"    beyond start-up: {max(0.0, warm.wall - startup.wall):.2f} s")

        if args.full_text_feeds:
            full_text_rows(work, base, args.full_text_feeds, args.items)
        if args.scale:
            scale_rows(work, farm, args)
    finally:
        for proc in farms:
            proc.terminate()
        shutil.rmtree(work, ignore_errors=True)


def full_text_rows(work: Path, base: str, feeds: int, items: int) -> None:
    """The full-text poll beside the extraction bound measured on the same pages."""
    urls = [f"{base}/t{i}.xml" for i in range(feeds)]
    database = work / "fulltext.db"
    full = run_aggregator(work, "fulltext", f"sqlite:///{database}", urls, full_text=True)
    pages = load_pages()
    page_urls = [f"{base}/page/t{f}/{i}" for f in range(feeds) for i in range(items)]
    served = [pages[page_index(u.removeprefix(base), len(pages))] for u in page_urls]
    bound, bound_empty = extraction_bound(served, page_urls)
    total, empty = empty_articles(database) if database.exists() else (0, 0)
    print(f"full text, {feeds} feeds x {items} items ({len(served)} pages):")
    row("aggregator poll", full, total, "article")
    print(
        f"    extraction bound (Σ extraction CPU / {os.cpu_count()} cores): {bound:.2f} s "
        f"({bound_empty} pages empty by extraction alone); poll / bound: "
        f"{full.wall / max(bound, 1e-9):.2f}x; stored articles without page text: "
        f"{empty} of {total}"
    )


def scale_rows(work: Path, farm: Callable[[int], int], args: argparse.Namespace) -> None:
    """aggregator alone, cold, on many feeds: SQLite, then PostgreSQL where there is one."""
    port = farm(args.scale_items)
    urls = [f"http://127.0.0.1:{port}/s{i}.xml" for i in range(args.scale_feeds)]
    entries = args.scale_feeds * args.scale_items
    print(
        f"scale, {args.scale_feeds:,} feeds x {args.scale_items} items ({entries:,} entries) cold:"
    )
    database = work / "scale.db"
    run = run_aggregator(work, "scale-sqlite", f"sqlite:///{database}", urls, full_text=False)
    row("aggregator, SQLite", run, stored_entries(database) if database.exists() else 0, "entry")
    if not args.postgres:
        row("aggregator, PostgreSQL", None, 0, "entry", "no --postgres URL")
        return
    url, drop = postgres_database(args.postgres, f"aggregator_bench_{os.getpid()}")
    try:
        run = run_aggregator(work, "scale-postgres", url, urls, full_text=False)
        row("aggregator, PostgreSQL", run, postgres_entries(url), "entry")
    finally:
        drop()


if __name__ == "__main__":
    main()
