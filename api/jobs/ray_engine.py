"""The ``ray`` engine of bulk jobs: the same job as ``local``, on a Ray cluster (or a local Ray instance).

One ``ray.data`` dataset per job runs ``map_batches`` on a pool of actors
(``ActorPoolStrategy(size=options.workers)``, one CPU and one torch thread
each); each actor loads the model once in ``__init__``, as
``api.jobs.bulk._load_worker`` does for a local worker, and keeps it for the
whole job.

The documents reach Ray in bounded chunks: a feeder thread in the driver reads
the job's batches (which journals unreadable inputs on the way) and puts chunks
of about ``CHUNK_DOCS`` documents into a small queue; the dataset's only read
task takes them from there. Each of the job's batches travels as one row (see
``_chunks``), so the actors classify exactly the batches the local engine
would, and the prediction rows come back as JSON strings (the journal's own
format): the outputs are the local engine's. Rows are yielded to ``run_bulk``
as each batch completes and journaled there: a killed job started again
resumes like one of the local engine. The inputs are read as Ray consumes them
(the queue holds ``QUEUED_CHUNKS``, Ray Data's backpressure bounds what waits
in the object store), so memory does not grow with the size of the submission.

``options.ray_address`` joins an existing cluster (``auto``, ``HOST:6379`` or
``ray://HOST:10001``); without it a local instance starts and stops with the
job (no dashboard, no network access needed). See docs/bulk.md.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from pathlib import Path

from api.jobs.bulk import BulkOptions, _rows
from classifier.documents import SourceDocument

__all__ = ["CHUNK_DOCS", "ray_engine"]

CHUNK_DOCS = 256  # documents per chunk handed to Ray
QUEUED_CHUNKS = 2  # chunks waiting in the queue at most, besides those being classified
_END = "__end__"
OFFLINE = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE")


def _doc(d: SourceDocument) -> dict:
    return {"id": d.id, "text": d.text, "source": d.source, "format": d.format, "metadata": d.metadata}


def _chunks(batches: Iterable[list[SourceDocument]], size: int) -> Iterator[list[dict]]:
    """The job's batches, ``size`` documents or a few more at a time; one row per batch, its documents as JSON.

    A batch stays one row because Ray Data cuts and joins blocks as it likes, while the model's
    int8 dynamic quantization makes a document's probabilities depend a little on the other
    documents of its batch: classifying exactly the job's batches gives the local engine's outputs.
    """
    chunk: list[dict] = []
    count = 0
    for batch in batches:
        chunk.append({"docs": json.dumps([_doc(d) for d in batch], ensure_ascii=False)})
        count += len(batch)
        if count >= size:
            yield chunk
            chunk, count = [], 0
    if chunk:
        yield chunk


class Classifier:
    """A Ray actor's work: the model, loaded once per actor, applied to each batch of documents."""

    def __init__(self, options: dict, threads: int = 1) -> None:
        import torch

        from classifier.pipeline import Pipeline

        torch.set_num_threads(threads)
        self.pipeline = Pipeline.load(
            Path(options["model"]),
            int8=options["int8"],
            extract=options["extract"],
            explain=options["explain"],
            backend=options.get("backend", "torch"),
        )

    def __call__(self, batch):
        """Rows of job batches in, one row per document out: its prediction row as JSON."""
        import pyarrow as pa

        out: list[str] = []
        for docs in batch.column("docs").to_pylist():
            documents = [
                SourceDocument(d["id"], d["text"], d["source"], d["format"], d["metadata"]) for d in json.loads(docs)
            ]
            out += [json.dumps(row, ensure_ascii=False) for row in _rows(self.pipeline, documents)]
        return pa.table({"row": pa.array(out, pa.large_string())})


def _feed_source(feed):
    """A ray.data datasource with one read task that yields the chunks put into ``feed`` until the end mark."""
    import pyarrow as pa
    from ray.data.block import BlockMetadata
    from ray.data.datasource import Datasource, ReadTask

    def read() -> Iterator[pa.Table]:
        while True:
            chunk = feed.get()
            if chunk == _END:
                return
            yield pa.Table.from_pylist(chunk, schema=pa.schema([("docs", pa.large_string())]))

    class Feed(Datasource):
        def estimate_inmemory_data_size(self) -> int | None:
            return None

        def get_read_tasks(self, parallelism: int, per_task_row_limit: int | None = None, data_context=None):
            metadata = BlockMetadata(num_rows=None, size_bytes=None, input_files=None, exec_stats=None)
            return [ReadTask(read, metadata)]

    return Feed()


def _connect(options: BulkOptions) -> bool:
    """Join the cluster at ``options.ray_address`` or start a local instance; True if this call started Ray."""
    import ray

    if ray.is_initialized():
        return False
    offline = {k: os.environ[k] for k in OFFLINE if k in os.environ}
    runtime_env = {"env_vars": offline} if offline else None
    if options.ray_address:
        ray.init(address=options.ray_address, log_to_driver=False, runtime_env=runtime_env)
    else:
        ray.init(
            num_cpus=max(options.workers, os.cpu_count() or 1),
            include_dashboard=False,
            log_to_driver=False,
            runtime_env=runtime_env,
        )
    return True


def _feeder(batches, feed, stop: threading.Event, failure: list[BaseException]) -> None:
    """Thread: put the job's chunks into the queue, then the end mark (also after a failure, so Ray finishes)."""
    from ray.util.queue import Full

    def put(item) -> bool:
        while not stop.is_set():
            try:
                feed.put(item, timeout=0.5)
                return True
            except Full:
                continue
        return False

    try:
        for chunk in _chunks(batches, CHUNK_DOCS):
            if not put(chunk):
                return
    except BaseException as exc:  # reading the inputs failed: the job fails in the driver, as with the local engine
        failure.append(exc)
    put(_END)


def ray_engine(options: BulkOptions, batches: Iterable[list[SourceDocument]]) -> Iterator[list[dict]]:
    """Prediction rows for ``batches``, computed on Ray actors, yielded a completed batch at a time."""
    import ray
    from ray.util.queue import Queue

    started = _connect(options)
    stop, failure = threading.Event(), []
    feeder = None
    try:
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False
        context.print_on_execution_start = False
        feed = Queue(maxsize=QUEUED_CHUNKS, actor_options={"num_cpus": 0})
        feeder = threading.Thread(target=_feeder, args=(batches, feed, stop, failure), daemon=True)
        feeder.start()
        # The read task only waits on the queue: no CPU of its own, so every CPU can run an actor.
        dataset = ray.data.read_datasource(_feed_source(feed), num_cpus=0).map_batches(
            Classifier,
            fn_constructor_kwargs={"options": asdict(options), "threads": 1},
            batch_size=1,  # one job batch (options.batch_size documents) per call
            batch_format="pyarrow",
            compute=ray.data.ActorPoolStrategy(size=options.workers),  # `concurrency=` before Ray 2.51
            num_cpus=1,
        )
        for block in dataset.iter_batches(batch_size=None, batch_format="pyarrow"):
            rows = [json.loads(text) for text in block.column("row").to_pylist()]
            if rows:
                yield rows
        if failure:
            raise failure[0]
    finally:
        stop.set()
        if feeder is not None:
            feeder.join(timeout=5)
        if started:
            ray.shutdown()
