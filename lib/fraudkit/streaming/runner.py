"""Feed a pipeline stage from Kafka in batches, the way Lambda's event source mapping does, exactly once.

The runner polls a batch (up to `batch_size` records, gathered for up to `batching_window_ms` after the
first: Lambda's MaximumBatchingWindowInSeconds), hands it to the stage,
writes the outputs of input partition p to partition p of their topics (p modulo the topic's partition
count, when a topic has fewer: see `output_partition`) and waits until the broker acknowledged them.
Fetching and writing run on librdkafka; topic ids and partition counts come from kafka-python's admin
client. Checkpoints are written at most every `checkpoint_interval_ms` (and when the input goes idle
or the runner stops), not after every batch: the stage's state grows with the cards it holds, and
rewriting it per batch cost more than the batch. Before a checkpoint the runner waits
until the stage's own durable effects (feature-store writes, which the stage may merge across
batches) are done; then it checkpoints each partition: the next input offset, the end offsets of its
output partitions, the ids of the topics those offsets belong to and the stage's state, in one file
written atomically (`state_dir/streaming/checkpoints/<stage>-<topic>-<p>.json`). A checkpoint is only
written after everything before it is durable, so an older checkpoint just means a longer
(deduplicated) replay. Offsets are tracked by the runner itself (consumer-group joins are slow on
tansu and not needed with one runner per stage; a lock file keeps it to one).

After a crash the runner restores the last checkpoint and replays from its offset. Outputs of the
replayed records that already reached the broker before the crash are recognised by their
`fraudkit-src` header and not written again, so no transaction is lost or counted twice. The header
names the stage, its input topic and that topic's id, the input partition and offset and the
output's sequence number: two stages writing to one topic (both write dead letters) never take each
other's outputs for their own. Feature-store puts replayed this way are idempotent.

Offsets mean something only within one incarnation of a topic, and the kit's broker keeps topics in
memory: a restart recreates them empty, under new topic ids. A checkpoint taken on an earlier
incarnation of the input topic is therefore not resumed from: the runner starts at the new topic's
first offset, keeps the stage's state (a transaction seen before is still a duplicate), and reports
how many records the old topic held that were never processed. A broker that restarts or moves while
the runner runs is noticed (a connection failure that the consumer reports, after which the input's
topic id is compared before the next batch is handled; new bootstrap servers) and handled the same way,
without a manual step.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import itertools
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol, cast

import confluent_kafka
import orjson
from kafka import TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import KafkaError, OffsetOutOfRangeError, RetriableError

from fraudkit.config import Settings, SettingsError
from fraudkit.streaming import DEFAULT_BATCHING_WINDOW_MS
from fraudkit.streaming.kafka_clients import (
    as_consumer_record,
    make_admin,
    make_consumer,
    make_output_producer,
    make_stage_consumer,
    read_to_high_watermarks,
    topic_layout,
)

SOURCE_HEADER = "fraudkit-src"
# while idle, how often the runner checks that its broker and topics are still the ones it recovered on
BROKER_CHECK_INTERVAL_S = 1.0
TOPICS_WAIT_S = 10.0  # how long a (re)connecting runner waits for its topics to be created
RECONNECT_BACKOFF_S = (0.2, 0.5, 1.0, 2.0)
FLUSH_TIMEOUT_S = 60.0
FETCH_WAIT_MS = 20  # how long the broker may hold a fetch that finds no records
log = logging.getLogger(__name__)


class RunnerBusy(RuntimeError):
    """Another runner of the same stage reads the same topic from the same state directory."""


class BrokerChanged(RuntimeError):
    """The broker the runner recovered on is gone, moved or has recreated a topic."""


class OutputsNotDelivered(RuntimeError):
    """The broker did not acknowledge every output of a batch in time (it went away, or a partition did)."""


# what makes the runner reconnect and recover instead of failing: the broker went away or changed
RECONNECT_ERRORS = (
    RetriableError, OffsetOutOfRangeError, BrokerChanged, OutputsNotDelivered, LookupError, SettingsError, OSError,
)
# delivery errors that no reconnect cures: the runner stops with them instead of replaying forever
PERMANENT_DELIVERY_ERRORS = frozenset({
    confluent_kafka.KafkaError.MSG_SIZE_TOO_LARGE, confluent_kafka.KafkaError.INVALID_MSG_SIZE,
    confluent_kafka.KafkaError.INVALID_RECORD, confluent_kafka.KafkaError._INVALID_ARG,
    confluent_kafka.KafkaError.TOPIC_AUTHORIZATION_FAILED, confluent_kafka.KafkaError.CLUSTER_AUTHORIZATION_FAILED,
})


@dataclass(frozen=True)
class Output:
    """One message a stage wants written: to `topic`, in the partition of its input record."""

    topic: str
    partition: int
    key: bytes | None
    value: bytes
    src_offset: int
    seq: int


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
    # by output topic: the end of the partition this input partition writes to (Runner.output_partition)
    output_ends: dict[str, int] = field(default_factory=dict)
    # outputs already on the broker beyond the checkpoint (written before a crash)
    already_written: set[bytes] = field(default_factory=set)
    # the input's high watermark as last seen: what an unexpected new topic incarnation lost
    seen_end: int = 0


class CheckpointStore:
    """One JSON file per (stage, input partition), replaced atomically, and the stage's lock file."""

    def __init__(self, directory: Path, stage: str, topic: str) -> None:
        self.directory = directory
        self.stage = stage
        self.topic = topic
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

    def lock(self) -> IO[str]:
        """Hold the stage's lock until the returned file is closed: two runners of one stage would
        both write its outputs and overwrite each other's checkpoints. The OS releases it when the
        holder dies, so a killed runner never blocks its successor."""
        self.directory.mkdir(parents=True, exist_ok=True)
        handle = open(self.directory / f"{self.prefix}.lock", "a+")  # noqa: SIM115 (held for the runner's life)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise RunnerBusy(
                f"another {self.stage} runner (pid {holder}) already reads {self.topic!r} with the checkpoints in "
                f"{self.directory}: stop it first, or give this one its own --state-dir"
            ) from None
        handle.truncate(0)
        handle.write(str(os.getpid()))
        handle.flush()
        return handle


def checkpoint_dir(settings: Settings) -> Path:
    return Path(settings.state_dir) / "streaming" / "checkpoints"


def _reachable(bootstrap_servers: str, timeout_s: float = 1.0) -> bool:
    """Whether any bootstrap server accepts a TCP connection (kafka-python waits 30 s to say no)."""
    for server in bootstrap_servers.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s):
                return True
        except (OSError, ValueError):
            continue
    return False


def _warn_about_partition_counts(stage: str, input_topic: str, inputs: int, outputs: dict[str, int]) -> None:
    """Topics of one pipeline that disagree on their partition count were not all made by `create_topics`:
    a broker that auto-creates topics (tansu always does, Kafka by default) makes one with its own default
    count when a client asks for its metadata first, for example a stage reconnecting to a broker restarted
    at the same address. The runner still works (`Runner.output_partition`); say why the layout changed."""
    odd = {topic: count for topic, count in outputs.items() if count != inputs}
    if odd:
        log.warning(
            "%s: input topic %s has %d partition(s) but %s; a broker that auto-creates topics made some of them "
            "before the kit did (delete and recreate the topics to restore the layout). Outputs of input "
            "partition p go to partition p modulo each topic's count.",
            stage, input_topic, inputs, ", ".join(f"{topic} has {count}" for topic, count in sorted(odd.items())),
        )


class Runner:
    """Drives one stage over every partition of its input topic until stopped."""

    def __init__(
        self,
        settings: Settings,
        stage: Stage,
        batch_size: int = 500,
        batching_window_ms: int = DEFAULT_BATCHING_WINDOW_MS,
        checkpoints: CheckpointStore | None = None,
        checkpoint_interval_ms: int = 1000,
    ) -> None:
        self.settings = settings
        self.stage = stage
        self.batch_size = batch_size
        self.batching_window_s = batching_window_ms / 1000
        self.checkpoints = checkpoints or CheckpointStore(checkpoint_dir(settings), stage.name, stage.input_topic)
        self._lock = self.checkpoints.lock()
        self.progress: dict[int, PartitionProgress] = {}
        self.processed = 0
        self.batches = 0  # non-empty polls handled: per-batch costs (client calls, requests) follow this count
        self.lost_records = 0  # input records a recreated topic dropped before this stage read them
        self.recovered = False
        self.checkpoint_interval_s = checkpoint_interval_ms / 1000
        self._next_checkpoint = 0.0
        self._next_broker_check = 0.0
        self._unsaved: set[int] = set()  # partitions processed beyond their last checkpoint
        # set by the consumer when a broker connection failed: the next batch may come from a restarted broker
        self._connection_failed = False
        self._clients: list[Any] = []
        try:
            self._connect()
        except BaseException:
            self._close_clients()
            self._lock.close()
            raise

    def _connect(self) -> None:
        """Clients for the broker the settings name now, and the ids of the stage's topics there.

        The hot path (fetching the input, writing outputs) runs on librdkafka, which costs a tenth of
        kafka-python's Python per batch; topic ids and partition counts come from kafka-python's admin
        client, since librdkafka's Python binding does not expose topic ids in its metadata."""
        self._close_clients()
        self.bootstrap_servers = self.settings.kafka_bootstrap_servers
        self.admin = make_admin(self.settings, client_id=f"fraudkit-{self.stage.name}")
        self._clients.append(self.admin)
        topics = (self.stage.input_topic, *self.stage.output_topics)
        layout = self._wait_for_topics(topics)
        self.partitions = [TopicPartition(self.stage.input_topic, p) for p in range(layout[self.stage.input_topic][1])]
        self.output_counts = {topic: layout[topic][1] for topic in self.stage.output_topics}
        _warn_about_partition_counts(self.stage.name, self.stage.input_topic, len(self.partitions), self.output_counts)
        self.topic_ids = {topic: layout[topic][0] for topic in topics}
        self._connection_failed = False
        self.consumer = make_stage_consumer(self.settings, FETCH_WAIT_MS, log, self._note_connection_failure)
        self._clients.append(self.consumer)
        self.producer = make_output_producer(self.settings, FLUSH_TIMEOUT_S, log)
        self._clients.append(self.producer)
        input_id = self.topic_ids[self.stage.input_topic]
        self._markers = {
            tp.partition: f"{self.stage.name}|{self.stage.input_topic}|{input_id}|{tp.partition}|".encode()
            for tp in self.partitions
        }

    def output_partition(self, topic: str, input_partition: int) -> int:
        """Where the outputs of `input_partition` go in `topic`: the same partition when the pipeline's topics
        agree on their count (as `broker.create_topics` makes them), else that partition modulo `topic`'s count.
        A card's records stay in one ordered log either way."""
        return input_partition % self.output_counts[topic]

    def _layout(self, topics: tuple[str, ...]) -> dict[str, tuple[str | None, int]]:
        try:
            return topic_layout(self.admin, topics)
        except KafkaError as problem:  # the broker went away again: the caller reconnects
            raise BrokerChanged(f"could not read the topics' metadata: {problem!r}") from problem

    def _wait_for_topics(self, topics: tuple[str, ...]) -> dict[str, tuple[str | None, int]]:
        deadline = time.monotonic() + TOPICS_WAIT_S
        while True:
            layout = self._layout(topics)
            missing = [topic for topic in topics if topic not in layout]
            if not missing:
                return layout
            if time.monotonic() > deadline:
                raise LookupError(f"Kafka topic(s) {missing} do not exist: create them with create_topics(settings)")
            time.sleep(0.1)

    def _note_connection_failure(self) -> None:
        self._connection_failed = True

    def _input_recreated(self) -> bool:
        """Whether the input topic is gone or has another id than at connect time (an output topic that was
        recreated only makes the next recovery read more: its checkpointed ends are kept with the old id)."""
        found = self._layout((self.stage.input_topic,)).get(self.stage.input_topic)
        return found is None or found[0] != self.topic_ids[self.stage.input_topic]

    def _cached_end(self, partition: int) -> int | None:
        """The input partition's high watermark as the last fetch reported it (None before any fetch)."""
        _low, high = self.consumer.get_watermark_offsets(
            confluent_kafka.TopicPartition(self.stage.input_topic, partition), cached=True
        )
        return high if high >= 0 else None

    def _poll(self) -> dict[int, list[ConsumerRecord]]:
        """The next batch by input partition, in offset order: nothing when no record came within a few fetch
        waits, else the first record and what arrives within the batching window after it (up to the batch
        size). Raises BrokerChanged before returning records that a restarted broker's new topic may hold."""
        first = self.consumer.poll(FETCH_WAIT_MS * 5 / 1000)
        messages = [] if first is None else [first, *self.consumer.consume(self.batch_size - 1, self.batching_window_s)]
        if self._connection_failed:  # set while polling, by librdkafka's log, before it returns such records
            self._connection_failed = False
            if self._input_recreated():
                raise BrokerChanged(f"topic {self.stage.input_topic!r} was recreated")
        batch: dict[int, list[ConsumerRecord]] = {}
        for message in messages:
            error = message.error()
            if error is not None:
                if error.fatal():
                    raise confluent_kafka.KafkaException(error)
                raise BrokerChanged(f"reading {message.topic()} [{message.partition()}]: {error.str()}")
            record = as_consumer_record(message)
            batch.setdefault(record.partition, []).append(record)
        return dict(sorted(batch.items()))

    def recover(self) -> None:
        """Restore checkpoints, seek, and learn which outputs of the replay are already written."""
        input_topic = self.stage.input_topic
        for tp in self.partitions:
            saved = self.checkpoints.load(tp.partition)
            progress = PartitionProgress()
            if saved is not None:
                self.stage.restore(tp.partition, saved["state"])
                saved_ids = saved.get("topic_ids", {})
                if saved_ids.get(input_topic) == self.topic_ids[input_topic]:
                    progress.next_offset = saved["next_offset"]
                    progress.seen_end = saved.get("seen_end", 0)
                else:
                    self._report_recreated_input(tp, saved, self.progress.get(tp.partition))
                progress.output_ends = {
                    topic: end for topic, end in saved["output_ends"].items()
                    if saved_ids.get(topic) == self.topic_ids.get(topic)
                }
            self.progress[tp.partition] = progress
        self._read_written_since_checkpoints()
        self.consumer.assign([
            confluent_kafka.TopicPartition(tp.topic, tp.partition, self.progress[tp.partition].next_offset)
            for tp in self.partitions
        ])
        # every partition gets a checkpoint of the recovered position and topic ids at once: a later
        # recovery then always has a state to restore, and a new topic incarnation is reported once
        self._unsaved = {tp.partition for tp in self.partitions}
        self.save_checkpoints()
        self.recovered = True

    def _report_recreated_input(
        self, tp: TopicPartition, saved: dict[str, Any], running: PartitionProgress | None
    ) -> None:
        """Say what a new incarnation of the input topic cost: the old one's records never processed."""
        seen_end = max(saved.get("seen_end", 0), running.seen_end if running else 0)
        lost = max(seen_end - saved["next_offset"], 0)
        self.lost_records += lost
        log.warning(
            "%s: topic %s was recreated (a broker restart empties the kit's in-memory broker); the checkpoint at "
            "offset %d of the old topic no longer applies and the stage starts at the new topic's first record. "
            "%d record(s) the old topic held past that offset were never processed and are gone%s.",
            self.stage.name, tp, saved["next_offset"], lost,
            "" if running else " (at least: records that arrived while the stage was stopped are not known)",
        )

    def _read_written_since_checkpoints(self) -> None:
        """Collect this stage's source markers of outputs written after each partition's checkpointed ends."""
        # the input partitions whose outputs each output partition holds, and the earliest checkpointed end among them
        writers: dict[TopicPartition, list[int]] = {}
        for topic in self.stage.output_topics:
            for p in self.progress:
                writers.setdefault(TopicPartition(topic, self.output_partition(topic, p)), []).append(p)
        reader = make_consumer(self.settings)
        try:
            outputs = list(writers)
            reader.assign(outputs)
            for tp, inputs in writers.items():
                reader.seek(tp, min(self.progress[p].output_ends.get(tp.topic, 0) for p in inputs))
            for record in read_to_high_watermarks(reader, outputs):
                for p in writers[TopicPartition(record.topic, record.partition)]:
                    mine = self._markers[p]
                    self.progress[p].already_written.update(
                        value for key, value in record.headers if key == SOURCE_HEADER and value.startswith(mine)
                    )
        finally:
            reader.close()

    def run(self, stop: threading.Event, until_idle_s: float | None = None) -> int:
        """Process batches until `stop` is set (or nothing arrived for `until_idle_s`); returns records processed."""
        if not self.recovered:
            self.recover()
        idle_since = time.monotonic()
        while not stop.is_set():
            try:
                batch = self._poll()
                if not batch:
                    self.save_checkpoints()
                    self._check_broker()
                    if until_idle_s is not None and time.monotonic() - idle_since > until_idle_s:
                        break
                    continue
                idle_since = time.monotonic()
                self._process(batch)
                if time.monotonic() >= self._next_checkpoint:
                    self.save_checkpoints()
            except RECONNECT_ERRORS as problem:
                self._reconnect(stop, problem)
                idle_since = time.monotonic()
        # not on an error: a failed batch may have moved output ends past the inputs it committed
        self.save_checkpoints()
        return self.processed

    def _check_broker(self) -> None:
        """While idle, at most once per BROKER_CHECK_INTERVAL_S: raise BrokerChanged if the broker moved
        (new bootstrap servers: `services up` picks a new port), stopped answering, or recreated a topic."""
        if time.monotonic() < self._next_broker_check:
            return
        self._next_broker_check = time.monotonic() + BROKER_CHECK_INTERVAL_S
        if self.settings.kafka_bootstrap_servers != self.bootstrap_servers:
            raise BrokerChanged(f"the broker moved from {self.bootstrap_servers} to {self.settings.kafka_bootstrap_servers}")
        if not _reachable(self.bootstrap_servers):
            raise BrokerChanged(f"the broker at {self.bootstrap_servers} does not answer")
        if self._input_recreated():
            raise BrokerChanged(f"topic {self.stage.input_topic!r} was recreated")

    def _reconnect(self, stop: threading.Event, problem: BaseException) -> None:
        """Drop the clients and what was processed since the last checkpoint, then connect and recover
        again, retrying until the broker and the stage's topics are back (or `stop` is set)."""
        log.warning("%s: %s; reconnecting and recovering from the last checkpoint", self.stage.name, problem)
        self._unsaved.clear()  # the stage's state may hold a failed batch: recover() restores the checkpoint
        for tp in self.partitions:
            end = self._cached_end(tp.partition)
            progress = self.progress.get(tp.partition)
            if end is not None and progress is not None:
                progress.seen_end = max(progress.seen_end, end)
        self._close_clients()
        for attempt in itertools.count():
            if stop.wait(RECONNECT_BACKOFF_S[min(attempt, len(RECONNECT_BACKOFF_S) - 1)]):
                return
            try:
                if not _reachable(self.settings.kafka_bootstrap_servers):
                    continue
                self._connect()
                self.recover()
                log.warning("%s: recovered on %s", self.stage.name, self.bootstrap_servers)
                return
            except RECONNECT_ERRORS as again:
                log.info("%s: not yet: %s", self.stage.name, again)
                self._close_clients()

    def save_checkpoints(self) -> None:
        """Checkpoint every partition processed since its last checkpoint, once the stage's effects are durable."""
        if self._unsaved:
            self.stage.settle()
        for partition in sorted(self._unsaved):
            progress = self.progress[partition]
            progress.seen_end = max(progress.seen_end, self._cached_end(partition) or 0)
            self.checkpoints.save(
                partition,
                {"next_offset": progress.next_offset, "output_ends": progress.output_ends,
                 "topic_ids": self.topic_ids, "seen_end": progress.seen_end,
                 "state": self.stage.snapshot(partition)},
            )
        self._unsaved.clear()
        self._next_checkpoint = time.monotonic() + self.checkpoint_interval_s

    def _process(self, batch: dict[int, list[ConsumerRecord]]) -> None:
        # (input partition, error, delivered message) per output, filled by flush()
        acknowledged: list[tuple[int, confluent_kafka.KafkaError | None, confluent_kafka.Message]] = []

        def acknowledge(partition: int, error: confluent_kafka.KafkaError | None, message: confluent_kafka.Message) -> None:
            acknowledged.append((partition, error, message))

        sent = 0
        for output in self.stage.process(batch):
            progress = self.progress[output.partition]
            marker = self._markers[output.partition] + b"%d|%d" % (output.src_offset, output.seq)
            if marker in progress.already_written:
                continue
            self.producer.produce(
                output.topic, value=output.value, key=output.key,
                partition=self.output_partition(output.topic, output.partition), headers=[(SOURCE_HEADER, marker)],
                on_delivery=functools.partial(acknowledge, output.partition),
            )
            sent += 1
        if self.producer.flush(FLUSH_TIMEOUT_S) or len(acknowledged) < sent:
            raise OutputsNotDelivered(f"{sent - len(acknowledged)} output(s) unacknowledged after {FLUSH_TIMEOUT_S:.0f} s")
        for partition, error, message in acknowledged:
            if error is not None:
                if error.fatal() or error.code() in PERMANENT_DELIVERY_ERRORS:
                    raise confluent_kafka.KafkaException(error)
                raise OutputsNotDelivered(f"writing to {message.topic()} failed: {error.str()}")
            ends = self.progress[partition].output_ends
            topic, offset = cast(str, message.topic()), cast(int, message.offset())  # set on every delivered message
            ends[topic] = max(ends.get(topic, 0), offset + 1)
        for partition, records in batch.items():
            self.progress[partition].next_offset = records[-1].offset + 1
            self._unsaved.add(partition)
            self.processed += len(records)
        self.batches += 1

    def _close_clients(self) -> None:
        for client in self._clients:
            if isinstance(client, confluent_kafka.Producer):
                client.purge()  # outputs still queued belong to a batch that recovery replays
                client.flush(0)
            else:
                with contextlib.suppress(KafkaError, confluent_kafka.KafkaException, OSError, RuntimeError):
                    client.close()
        self._clients.clear()

    def close(self) -> None:
        self._close_clients()
        self._lock.close()
