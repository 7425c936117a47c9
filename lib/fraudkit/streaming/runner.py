"""Feed a pipeline stage from Kafka in batches, the way Lambda's event source mapping does, exactly once.

For each input partition p the runner polls a batch (up to `batch_size` records or `batch_window_ms`),
hands it to the stage, writes the stage's outputs to partition p of their topics, waits until the
broker acknowledged them, and only then checkpoints: the next input offset, the end offsets of its
output partitions and the stage's state, in one file written atomically
(`state_dir/streaming/checkpoints/<stage>-<topic>-<p>.json`). Offsets are tracked by the runner
itself (consumer-group joins are slow on tansu and not needed with one runner per stage).

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
    """One message a stage wants written: to `topic`, same partition as its input record."""

    topic: str
    key: bytes | None
    value: bytes
    src_offset: int
    seq: int

    @property
    def source(self) -> bytes:
        return f"{self.src_offset}:{self.seq}".encode()


class Stage(Protocol):
    """A pipeline step: turns a batch of one input partition into outputs (after its durable effects)."""

    name: str
    input_topic: str
    output_topics: tuple[str, ...]

    def process(self, partition: int, records: list[ConsumerRecord]) -> list[Output]: ...

    def settle(self) -> None:
        """Wait until the durable effects started by `process` are done (raise if one failed)."""

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

    def _recover(self) -> None:
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
            progress.already_written = self._written_since(tp.partition, progress.output_ends)
            self.progress[tp.partition] = progress
        self.consumer.assign(self.partitions)
        for tp in self.partitions:
            self.consumer.seek(tp, self.progress[tp.partition].next_offset)

    def _offset_exists(self, tp: TopicPartition, offset: int) -> bool:
        reader = make_consumer(self.settings)
        try:
            return record_at(reader, tp, offset)
        finally:
            reader.close()

    def _written_since(self, partition: int, output_ends: dict[str, int]) -> set[bytes]:
        """Source markers of the outputs written to `partition` after the checkpointed end offsets."""
        reader = make_consumer(self.settings)
        try:
            outputs = [TopicPartition(topic, partition) for topic in self.stage.output_topics]
            reader.assign(outputs)
            for tp in outputs:
                reader.seek(tp, output_ends.get(tp.topic, 0))
            return {value for record in drain(reader, idle_ms=500) for key, value in record.headers if key == SOURCE_HEADER}
        finally:
            reader.close()

    def run(self, stop: threading.Event, until_idle_s: float | None = None) -> int:
        """Process batches until `stop` is set (or nothing arrived for `until_idle_s`); returns records processed."""
        self._recover()
        idle_since = time.monotonic()
        while not stop.is_set():
            batch = self.consumer.poll(timeout_ms=self.batch_window_ms * 5, max_records=self.batch_size)
            if not batch:
                if until_idle_s is not None and time.monotonic() - idle_since > until_idle_s:
                    break
                continue
            idle_since = time.monotonic()
            for tp, records in sorted(batch.items(), key=lambda item: item[0].partition):
                self._process(tp.partition, records)
        return self.processed

    def _process(self, partition: int, records: list[ConsumerRecord]) -> None:
        progress = self.progress[partition]
        outputs = self.stage.process(partition, records)
        futures = []
        for output in outputs:
            if output.source in progress.already_written:
                continue
            futures.append(
                self.producer.send(
                    output.topic, key=output.key, value=output.value, partition=partition,
                    headers=[(SOURCE_HEADER, output.source)],
                )
            )
        self.producer.flush()
        self.stage.settle()
        for future in futures:
            metadata = future.get()
            progress.output_ends[metadata.topic] = max(progress.output_ends.get(metadata.topic, 0), metadata.offset + 1)
        progress.next_offset = records[-1].offset + 1
        self.checkpoints.save(
            partition,
            {"next_offset": progress.next_offset, "output_ends": progress.output_ends, "state": self.stage.snapshot(partition)},
        )
        self.processed += len(records)

    def close(self) -> None:
        self.consumer.close()
        self.producer.close()
