"""The streaming stage: broker launcher, producer, event-time aggregator, Lambda-shaped handlers, runner.

Path of one transaction: producer -> `transactions` -> aggregator (10-minute window per card,
PutRecord to `cc-agg-fg`) -> `features` -> scoring handler (1-week features from `cc-agg-batch-fg`,
ratios, InvokeEndpoint) -> `decisions`. Malformed input goes to `dead-letter` with the reason.
"""
