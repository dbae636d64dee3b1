"""Scoring chunks in worker processes: at most a few chunks per worker are in flight at once and
results come back in input order as they arrive, so memory does not grow with the number of cases.
"""

from __future__ import annotations

import collections
import gc
import os
from itertools import islice
from typing import IO, TYPE_CHECKING, Iterator

from ..engine.ruleset.model import RuleSet
from ..engine.ruleset.load import load_rules
from .chunks import Chunk, ChunkResult, Digest, chain, chunks, score_chunk

if TYPE_CHECKING:
    from concurrent.futures import Executor, Future


CHUNKS_IN_FLIGHT_PER_JOB = 3
#: Workers beyond this many per core only wait for one: --jobs is capped there (the processes are
#: all started at once, each with the rules in memory).
WORKERS_PER_CORE = 4


# --------------------------------------------------------------------------- running


_WORKER_RULES: RuleSet | None = None


def _init_worker(rules_dir: str | None) -> None:
    global _WORKER_RULES
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the parent stops the run
    if _WORKER_RULES is None:  # inherited when forked; loaded when spawned
        _WORKER_RULES = load_rules(rules_dir, questionnaire=False)


def _work(chunk: Chunk, fmt: str, detail: bool, digest: Digest | None = None) -> ChunkResult:
    assert _WORKER_RULES is not None
    return score_chunk(_WORKER_RULES, chunk, fmt, detail, digest)


def score_stream(paths: list[str], ruleset: RuleSet, jobs: int = 1, stdin: IO[bytes] | None = None,
                 fmt: str = "jsonl", detail: bool = False, digest: Digest | None = None) -> Iterator[ChunkResult]:
    """Every chunk's results, in input order. `jobs` > 1 scores chunks in worker processes;
    `digest` (if given) summarises each chunk's rows where they are scored."""
    gc.freeze()  # the rules and schemas live all run: keep them out of every collection (workers inherit)
    work = chunks(paths, stdin, carry=jobs <= 1)
    first = list(islice(work, 2))
    if jobs <= 1 or len(first) < 2:  # one chunk: not worth starting processes
        for chunk in chain(first, work):
            yield score_chunk(ruleset, chunk, fmt, detail, digest)
        return
    import multiprocessing  # here: a run in one process starts without them (about 10 ms)
    from concurrent.futures import ProcessPoolExecutor

    jobs = min(jobs, WORKERS_PER_CORE * (os.cpu_count() or 1))  # `-j 20000` started 20,000 processes at once
    global _WORKER_RULES
    _WORKER_RULES = ruleset
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    pool = ProcessPoolExecutor(jobs, mp_context=context, initializer=_init_worker,
                               initargs=(str(ruleset.directory),))
    try:
        yield from _ordered(pool, chain(first, work), jobs * CHUNKS_IN_FLIGHT_PER_JOB, fmt, detail, digest)
    finally:  # stopped early (Ctrl-C, a closed pipe): drop the queued chunks instead of scoring them
        pool.shutdown(wait=True, cancel_futures=True)


def _ordered(pool: Executor, work: Iterator[Chunk], window: int, fmt: str, detail: bool,
             digest: Digest | None = None) -> Iterator[ChunkResult]:
    """Map chunks over the pool with at most `window` in flight, yielding in order."""
    in_flight: collections.deque[Future[ChunkResult]] = collections.deque()
    for chunk in work:
        in_flight.append(pool.submit(_work, chunk, fmt, detail, digest))
        if len(in_flight) >= window:
            yield in_flight.popleft().result()
    while in_flight:
        yield in_flight.popleft().result()
