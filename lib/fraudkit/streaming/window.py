"""Per-card event-time windows with the batch semantics, computed one transaction at a time.

The window of a transaction at t is [t - width, t], both ends included, like Flink SQL's
`RANGE BETWEEN INTERVAL '10' MINUTE PRECEDING AND CURRENT ROW`: transactions of a card with the
same timestamp are peers and share one value.

A stream cannot know the future, so each transaction is emitted at once with the aggregate over
everything of its card seen so far in its window, and the state then corrects what it emitted
before: when a later peer (same timestamp) or a late event (out of order, within the allowed
lateness) lands in the window of an already emitted transaction, that transaction is emitted
again with the new value and a higher `revision`. The latest revision of every transaction equals
the batch output (the parity test checks this); decisions use revision 0 (a decision cannot wait
for the future), and the feature store converges because a re-put with the same event time
replaces the online row. Events older than the watermark (the partition's maximum event time minus
the allowed lateness) are rejected as too late rather than silently changing closed windows.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any

from fraudkit.streaming.records import MalformedRecord, Transaction

# one retained event of a card: [event_micros, tid, amount, revision]
Event = list[Any]


@dataclass(frozen=True)
class WindowValue:
    """The window aggregate of one transaction, and how many times it has been corrected."""

    tid: str
    cc_num: str
    amount: float
    event_micros: int
    count: int
    mean: float
    revision: int


def _time(event: Event) -> int:
    return int(event[0])


@dataclass
class CardWindows:
    """Window state of the cards of one partition."""

    width_micros: int
    lateness_micros: int
    max_event_micros: int | None = None
    cards: dict[str, list[Event]] = field(default_factory=dict)
    _swept_at: int | None = None

    @property
    def watermark(self) -> int | None:
        return None if self.max_event_micros is None else self.max_event_micros - self.lateness_micros

    def add(self, tx: Transaction) -> list[WindowValue]:
        """Insert `tx`; return its own value first, then corrections of earlier emitted transactions."""
        watermark = self.watermark
        if watermark is not None and tx.event_micros < watermark:
            raise MalformedRecord(
                f"event_time is {(watermark - tx.event_micros) / 1e6:.3f} s behind the watermark (too late)"
            )
        events = self.cards.setdefault(tx.cc_num, [])
        if any(event[1] == tx.tid for event in events):
            raise MalformedRecord(f"duplicate transaction id {tx.tid!r}")
        new: Event = [tx.event_micros, tx.tid, tx.amount, 0]
        bisect.insort(events, new, key=lambda e: (e[0], e[1]))
        self.max_event_micros = max(tx.event_micros, self.max_event_micros or tx.event_micros)
        values = [self._value(tx.cc_num, events, new)]
        # every earlier emitted transaction whose window [t', t' + width] now contains tx
        lo = bisect.bisect_left(events, tx.event_micros, key=_time)
        hi = bisect.bisect_right(events, tx.event_micros + self.width_micros, key=_time)
        for event in events[lo:hi]:
            if event is not new:
                event[3] += 1
                values.append(self._value(tx.cc_num, events, event))
        self._evict(tx.cc_num, events)
        return values

    def _value(self, cc_num: str, events: list[Event], event: Event) -> WindowValue:
        t = _time(event)
        lo = bisect.bisect_left(events, t - self.width_micros, key=_time)
        hi = bisect.bisect_right(events, t, key=_time)
        amounts = [e[2] for e in events[lo:hi]]
        return WindowValue(
            tid=event[1], cc_num=cc_num, amount=event[2], event_micros=t,
            count=len(amounts), mean=sum(amounts) / len(amounts), revision=event[3],
        )

    def _horizon(self) -> int | None:
        """Events before this can be in no future window (every future event is at or after the watermark)."""
        watermark = self.watermark
        return None if watermark is None else watermark - self.width_micros

    def _evict(self, cc_num: str, events: list[Event]) -> None:
        horizon = self._horizon()
        if horizon is None:
            return
        cut = bisect.bisect_left(events, horizon, key=_time)
        if cut:
            del events[:cut]
        # idle cards are swept once per window width of event time so the state stays bounded
        if self._swept_at is None or horizon - self._swept_at >= self.width_micros:
            self._swept_at = horizon
            for card in [c for c, evs in self.cards.items() if not evs or _time(evs[-1]) < horizon]:
                del self.cards[card]

    def snapshot(self) -> dict[str, Any]:
        """A JSON-able copy of the state (checkpointed with the input offset)."""
        return {"max_event_micros": self.max_event_micros, "swept_at": self._swept_at, "cards": self.cards}

    def restore(self, snapshot: dict[str, Any]) -> None:
        self.max_event_micros = snapshot["max_event_micros"]
        self._swept_at = snapshot["swept_at"]
        self.cards = {card: [list(e) for e in events] for card, events in snapshot["cards"].items()}
