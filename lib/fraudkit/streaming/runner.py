"""Feed a pipeline stage from Kafka in batches, the way Lambda's event source mapping does, exactly once.

The runner polls a batch (up to `batch_size` records or `batch_window_ms`), hands it to the stage,
writes the outputs of input partition p to partition p of their topics and waits until the broker
acknowledged them. Checkpoints are written at most every `checkpoint_interval_ms` (and when the
input goes idle or the runner stops), not after every batch: the stage's state grows with the cards
it holds, and rewriting it per batch cost more than the batch. Before a checkpoint the runner waits
until the stage's own durable effects (feature-store writes, which the stage may merge across
batches) are done; then it checkpoints each partition: the next input offset, the end offsets of its
output partitions and the stage's state, in one file written atomically
(`state_dir/streaming/checkpoints/<stage>-<topic>-<p>.json`). A checkpoint is only written after
everything before it is durable, so an older checkpoint just means a longer (deduplicated) replay.
Offsets are tracked by the runner itself (consumer-group joins are slow on tansu and not needed
with one runner per stage).

After a crash the runner restores the last checkpoint and replays from its offset. Outputs of the
replayed records that already reached the broker before the crash are recognised by their
`fraudkit-src` header (input offset and output sequence number) and not written again, so no
transaction is lost or counted twice. Feature-store puts replayed this way are idempotent.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import orjson
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

from fraudkit.config import Settings
from fraudkit.streaming.kafka_clients import drain, make_consumer, make_producer, partitions_of, record_at

SOURCE_HEADER = "fraudkit-src"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Output:
    """One message a stage wants written: to `topic`, in the partition of its input record."""

    topic: str
    partition: int
    key: bytes | None
    value: bytes
    src_offset: int
    seq: int

    @property
    def source(self) -> bytes:
        return f"{self.src_offset}:{self.seq}".encode()


class Stage(Protocol):
    """A pipeline step: turns one poll's records (by input partition) into outputs.

    Handling every partition of a poll at once lets a stage make one feature-store write, one
    BatchGetRecord round and one InvokeEndpoint call per poll, as one Lambda invocation would.
    """

    name: str
    input_topic: str
    output_topics: tuple[str, ...]

    def process(self, batch: dict[int, list[ConsumerRecord]]) -> list[Output]: ...

    def settle(self) -> None:
        """Wait until the durable effects started by `process` so far are done (raise if one failed);
        called before each checkpoint, not after every batch."""

    def snapshot(self, partition: int) -> Any: ...

    def restore(self, partition: int, snapshot: Any) -> None: ...


@dataclass
class PartitionProgress:
    """What the runner knows about one input partition."""

    next_offset: int = 0
    output_ends: dict[str, int] = field(default_factory=dict)
    # outputs already on the broker beyond the checkpoint (written before a crash)
    already_written: set[bytes] = field(default_factory=set)


class CheckpointStore:
    """One JSON file per (stage, input partition), replaced atomically."""

    def __init__(self, directory: Path, stage: str, topic: str) -> None:
        self.directory = directory
        self.prefix = f"{stage}-{topic}"

    def path(self, partition: int) -> Path:
        return self.directory / f"{self.prefix}-{partition}.json"

    def load(self, partition: int) -> dict[str, Any] | None:
        try:
            loaded = orjson.loads(self.path(partition).read_bytes())
        except (OSError, orjson.JSONDecodeError):
            return None
        return loaded if isinstance(loaded, dict) else None

    def save(self, partition: int, checkpoint: dict[str, Any]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        target = self.path(partition)
        partial = target.with_name(target.name + ".partial")
        partial.write_bytes(orjson.dumps(checkpoint))
        os.replace(partial, target)


def checkpoint_dir(settings: Settings) -> Path:
    return Path(settings.state_dir) / "streaming" / "checkpoints"


class Runner:
    """Drives one stage over every partition of its input topic until stopped."""

    def __init__(
        self,
        settings: Settings,
        stage: Stage,
        batch_size: int = 500,
        batch_window_ms: int = 20,
        checkpoints: CheckpointStore | None = None,
        checkpoint_interval_ms: int = 1000,
    ) -> None:
        self.settings = settings
        self.stage = stage
        self.batch_size = batch_size
        self.batch_window_ms = batch_window_ms
        self.checkpoints = checkpoints or CheckpointStore(checkpoint_dir(settings), stage.name, stage.input_topic)
        self.consumer: KafkaConsumer = make_consumer(settings, max_poll_records=batch_size, fetch_max_wait_ms=batch_window_ms)
        # each batch ends with flush(), so lingering costs no latency; it saves kafka-python one sender
        # wake-up per message, which dominated the stage's CPU time
        self.producer: KafkaProducer = make_producer(settings, linger_ms=1000, batch_size=1 << 20)
        self.partitions = partitions_of(self.consumer, stage.input_topic)
        self.progress: dict[int, PartitionProgress] = {}
        self.processed = 0
        self.recovered = False
        self.checkpoint_interval_s = checkpoint_interval_ms / 1000
        self._next_checkpoint = 0.0
        self._unsaved: set[int] = set()  # partitions processed beyond their last checkpoint

    def recover(self) -> None:
        """Restore checkpoints, seek, and learn which outputs of the replay are already written."""
        for tp in self.partitions:
            saved = self.checkpoints.load(tp.partition)
            if saved is not None and saved["next_offset"] > 0 and not self._offset_exists(tp, saved["next_offset"] - 1):
                log.warning("the checkpoint of %s points past the topic's records (recreated topic?): starting over", tp)
                saved = None
            progress = PartitionProgress()
            if saved is not None:
                progress.next_offset = saved["next_offset"]
                progress.output_ends = dict(saved["output_ends"])
                self.stage.restore(tp.partition, saved["state"])
            self.progress[tp.partition] = progress
        self._read_written_since_checkpoints()
        self.consumer.assign(self.partitions)
        for tp in self.partitions:
            self.consumer.seek(tp, self.progress[tp.partition].next_offset)
        self.recovered = True

    def _offset_exists(self, tp: TopicPartition, offset: int) -> bool:
        reader = make_consumer(self.settings)
        try:
            return record_at(reader, tp, offset)
        finally:
            reader.close()

    def _read_written_since_checkpoints(self) -> None:
        """Collect the source markers of outputs written after each partition's checkpointed end offsets."""
        reader = make_consumer(self.settings)
        try:
            outputs = [TopicPartition(topic, p) for p in self.progress for topic in self.stage.output_topics]
            reader.assign(outputs)
            for tp in outputs:
                reader.seek(tp, self.progress[tp.partition].output_ends.get(tp.topic, 0))
            for record in drain(reader, idle_ms=500):
                markers = (value for key, value in record.headers if key == SOURCE_HEADER)
                self.progress[record.partition].already_written.update(markers)
        finally:
            reader.close()

    def run(self, stop: threading.Event, until_idle_s: float | None = None) -> int:
        """Process batches until `stop` is set (or nothing arrived for `until_idle_s`); returns records processed."""
        if not self.recovered:
            self.recover()
        idle_since = time.monotonic()
        while not stop.is_set():
            batch = self.consumer.poll(timeout_ms=self.batch_window_ms * 5, max_records=self.batch_size)
            if not batch:
                self.save_checkpoints()
                if until_idle_s is not None and time.monotonic() - idle_since > until_idle_s:
                    break
                continue
            idle_since = time.monotonic()
            self._process({tp.partition: records for tp, records in sorted(batch.items(), key=lambda i: i[0].partition)})
            if time.monotonic() >= self._next_checkpoint:
                self.save_checkpoints()
        # not on an error: a failed batch may have moved output ends past the inputs it committed
        self.save_checkpoints()
        return self.processed

    def save_checkpoints(self) -> None:
        """Checkpoint every partition processed since its last checkpoint, once the stage's effects are durable."""
        if self._unsaved:
            self.stage.settle()
        for partition in sorted(self._unsaved):
            progress = self.progress[partition]
            self.checkpoints.save(
                partition,
                {"next_offset": progress.next_offset, "output_ends": progress.output_ends,
                 "state": self.stage.snapshot(partition)},
            )
        self._unsaved.clear()
        self._next_checkpoint = time.monotonic() + self.checkpoint_interval_s

    def _process(self, batch: dict[int, list[ConsumerRecord]]) -> None:
        futures = []
        for output in self.stage.process(batch):
            if output.source in self.progress[output.partition].already_written:
                continue
            future = self.producer.send(
                output.topic, key=output.key, value=output.value, partition=output.partition,
                headers=[(SOURCE_HEADER, output.source)],
            )
            futures.append((output.partition, future))
        self.producer.flush()
        for partition, future in futures:
            ends = self.progress[partition].output_ends
            metadata = future.get()
            ends[metadata.topic] = max(ends.get(metadata.topic, 0), metadata.offset + 1)
        for partition, records in batch.items():
            self.progress[partition].next_offset = records[-1].offset + 1
            self._unsaved.add(partition)
            self.processed += len(records)

    def close(self) -> None:
        self.consumer.close()
        self.producer.close()
