"""The streaming stage: broker launcher, producer, event-time aggregator, Lambda-shaped handlers, runner.

Path of one transaction: producer -> `transactions` -> aggregator (10-minute window per card,
aggregates to `cc-agg-fg`) -> `features` -> scoring handler (1-week features from
`cc-agg-batch-fg`, ratios, InvokeEndpoint) -> `decisions`. Malformed input goes to `dead-letter`.

Modules: `broker` (tansu launcher, topics), `kafka_clients` (clients per backend), `records`
(message formats and validation), `window` (event-time windows), `aggregator`, `ingest` and
`scoring` (stage cores), `msk` (Lambda event payloads), `handlers` (the Lambda functions),
`runner` (exactly-once batches from Kafka), `pipeline` (preparation, both stages in threads),
`producer`, `demo`, `load`, `views` (notebook display); `python -m fraudkit.streaming` is the CLI.
"""

# How long a runner's batch gathers records after its first one (Lambda's MaximumBatchingWindowInSeconds, which
# is 500 ms on Kafka event source mappings unless set). Locally none: the stages take what has arrived, since at
# 1,000 tx/s a 15 ms window cut the CPU per transaction by about a tenth and added 34 ms to the median latency
# (docs/performance.md).
DEFAULT_BATCHING_WINDOW_MS = 0

# A replay batches up to 40 ms per request (Kafka's linger.ms), as a busy payment gateway would. The wait
# counts in the measured latency (from send() on). Each request becomes one batch for every stage after it:
# one fetch, one produce, one BatchGetRecord and one InvokeEndpoint, whatever its size, and tansu stores it
# as one object that its later fetches list. At 1,000 tx/s, 40 ms instead of 20 cut the CPU per transaction
# by 30% for 10 ms more at the median and 10-15 ms more at p99 (docs/performance.md); `--linger-ms` changes it.
REPLAY_LINGER_MS = 40
