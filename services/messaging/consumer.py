"""Idempotent, at-least-once consumption of case events.

One subscriber per service (its own consumer group) reads the case-events topic in batches and:
- handles each event it cares about in a savepoint of one transaction per batch, and records the
  event id in ``processed_events`` in that same transaction, so a redelivered event is skipped;
- dead-letters (with the reason) a message it cannot parse or handle, instead of stopping;
- commits the Kafka offset only after the batch's transaction committed (manual ack);
- on an infrastructure error (database down, …) rewinds the batch and retries with capped,
  jittered back-off instead of spinning.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from aiokafka import ConsumerRecord
from aiokafka.errors import CommitFailedError, KafkaError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage
from prometheus_client import Counter, Histogram
from pydantic import ValidationError

from schemas.events import EventEnvelope
from schemas.topics import CASE_EVENTS
from services.messaging.deadletter import record_dead_letter
from services.settings import Settings

log = logging.getLogger(__name__)

Handler = Callable[[asyncpg.Connection, EventEnvelope], Awaitable[None]]
# Before a batch's events are handled one by one: work better done for all of them at once (reading
# the texts of a batch's reports in one pass). An optimisation only: if it fails, handlers do it alone.
Prepare = Callable[[asyncpg.Connection, Sequence[EventEnvelope]], Awaitable[None]]


@dataclass(frozen=True)
class HandlerTable:
    """A service's subscribers: one handler per event type, and an optional batch preparation."""

    handlers: Mapping[str, Handler]
    prepare: Prepare | None = None


PROCESSED = Counter("gridcase_events_processed_total", "Events handled", ["consumer", "type"])
SKIPPED = Counter("gridcase_events_duplicate_total", "Redelivered events skipped", ["consumer"])
RETRIES = Counter(
    "gridcase_consumer_retries_total", "Batches rewound after an infrastructure error", ["consumer"]
)
BATCH = Histogram("gridcase_consumer_batch_seconds", "Time to handle one batch", ["consumer"])

# Errors that say nothing about the message: retry the batch rather than dead-letter it.
INFRA_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
    asyncpg.AdminShutdownError,
)


async def _message_decoder(msg: KafkaMessage) -> Any:
    """Hand the handler the message itself: records are parsed one by one by us, so one bad message
    cannot fail the whole batch, and the handler needs no Context lookup (a thread hop per batch)."""
    return msg


class IdempotentConsumer:
    def __init__(
        self,
        *,
        name: str,
        pool: asyncpg.Pool,
        handlers: Mapping[str, Handler] | HandlerTable,
        settings: Settings,
    ) -> None:
        self.name = name
        self.pool = pool
        table = handlers if isinstance(handlers, HandlerTable) else HandlerTable(handlers)
        self.handlers = dict(table.handlers)
        self.prepare = table.prepare
        self.settings = settings
        self._failures = 0
        self._last_commit = 0.0
        # Called with the handled events after their transaction committed (e.g. to wake a worker).
        self.on_committed: Callable[[list[EventEnvelope]], object] | None = None

    def subscribe(self, broker: KafkaBroker) -> None:
        s = self.settings
        broker.subscriber(
            CASE_EVENTS,
            group_id=f"gridcase.{self.name}",
            batch=True,
            max_records=s.consumer_max_records,
            batch_timeout_ms=s.consumer_fetch_max_wait_ms,
            fetch_max_wait_ms=s.consumer_fetch_max_wait_ms,
            ack_policy=AckPolicy.MANUAL,
            auto_offset_reset="earliest",
            session_timeout_ms=s.consumer_session_timeout_ms,
            heartbeat_interval_ms=s.consumer_heartbeat_ms,
            decoder=_message_decoder,
            title=f"{self.name}:case-events",
            description=f"{self.name} consumes the case lifecycle events: {', '.join(sorted(self.handlers))}",
        )(self._on_batch)

    async def _on_batch(self, msg: Any) -> None:
        raw = msg.raw_message
        records: tuple[ConsumerRecord[Any, Any], ...] = raw if isinstance(raw, tuple) else (raw,)
        started = time.perf_counter()
        try:
            await self.process(records)
        except Exception as exc:
            # Infrastructure errors (and any bug outside the per-event savepoints): never let the
            # position move past unprocessed records; rewind and retry with back-off.
            if not isinstance(exc, INFRA_ERRORS):
                log.exception("%s: unexpected error handling a batch", self.name)
            await self._back_off(exc)
            await msg.nack()  # rewind to the first record of the batch
            return
        self._failures = 0
        # The work is durable in PostgreSQL, so committing the offset is only a bookmark: commit at most
        # every commit_interval_s (msg.ack() commits the whole position, covering skipped batches too).
        # A restart redelivers the batches since the last commit, and processed_events skips them.
        now = time.monotonic()
        if now - self._last_commit < self.settings.consumer_commit_interval_s:
            BATCH.labels(self.name).observe(time.perf_counter() - started)
            return
        self._last_commit = now
        try:
            await msg.ack()
        except (CommitFailedError, KafkaError) as exc:
            # Typically a rebalance moved the partition: the work is durable, and the new owner will
            # skip these events as already processed.
            log.warning("%s: offset commit failed (%s); redelivery will be deduplicated", self.name, exc)
        BATCH.labels(self.name).observe(time.perf_counter() - started)

    async def _back_off(self, exc: BaseException) -> None:
        self._failures += 1
        RETRIES.labels(self.name).inc()
        # Capped below max_poll_interval so a long outage never triggers a rebalance storm.
        delay = min(30.0, 0.2 * 2 ** min(self._failures, 8)) * (0.5 + random.random() / 2)
        log.warning("%s: %s: %s; retrying batch in %.1fs", self.name, type(exc).__name__, exc, delay)
        await asyncio.sleep(delay)

    async def process(self, records: tuple[ConsumerRecord[Any, Any], ...]) -> None:
        """Handle one batch durably. Public for tests of the handler logic."""
        parsed: list[tuple[ConsumerRecord[Any, Any], EventEnvelope]] = []
        broken: list[tuple[ConsumerRecord[Any, Any], str]] = []
        for record in records:
            try:
                envelope = EventEnvelope.model_validate_json(record.value or b"")
            except ValidationError as exc:
                broken.append((record, f"unparseable event: {exc.errors()[:3]}"))
                continue
            if envelope.type in self.handlers:
                parsed.append((record, envelope))
        if not parsed and not broken:
            return
        # Lock cases in one global order (case id) in every service, so two services' batches cannot
        # deadlock on each other's rows; the sort is stable, so one case's events keep their order.
        parsed.sort(key=lambda item: item[1].case_id)
        async with self.pool.acquire() as conn, conn.transaction():
            for record, reason in broken:
                await self._dead_letter(conn, record, reason)
            if not parsed:
                return
            seen = {
                r["event_id"]
                for r in await conn.fetch(
                    "SELECT event_id FROM processed_events WHERE consumer = $1 AND event_id = ANY($2::uuid[])",
                    self.name,
                    [e.event_id for _, e in parsed],
                )
            }
            fresh = [e for _, e in parsed if e.event_id not in seen]
            if self.prepare is not None and fresh:
                await self._prepare(conn, fresh)
            done: list[EventEnvelope] = []
            for record, envelope in parsed:
                if envelope.event_id in seen:
                    SKIPPED.labels(self.name).inc()
                    continue
                seen.add(envelope.event_id)
                try:
                    async with conn.transaction():  # savepoint: a failed event leaves the batch intact
                        await self.handlers[envelope.type](conn, envelope)
                except INFRA_ERRORS:
                    raise
                except Exception as exc:
                    log.exception(
                        "%s: dead-lettering event %s (%s)", self.name, envelope.event_id, envelope.type
                    )
                    await self._dead_letter(conn, record, f"{type(exc).__name__}: {exc}")
                    continue
                done.append(envelope)
            if done:
                await conn.executemany(
                    "INSERT INTO processed_events (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                    [(self.name, e.event_id) for e in done],
                )
        for envelope in done:
            PROCESSED.labels(self.name, envelope.type).inc()
        if done and self.on_committed is not None:
            self.on_committed(done)

    async def _prepare(self, conn: asyncpg.Connection, events: list[EventEnvelope]) -> None:
        assert self.prepare is not None
        try:
            async with conn.transaction():  # savepoint: a failure leaves the batch's transaction usable
                await self.prepare(conn, events)
        except INFRA_ERRORS:
            raise
        except Exception:
            log.exception("%s: preparing a batch failed; its events are handled one by one", self.name)

    async def _dead_letter(
        self, conn: asyncpg.Connection, record: ConsumerRecord[Any, Any], reason: str
    ) -> None:
        await record_dead_letter(
            conn,
            consumer=self.name,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key.decode(errors="replace") if record.key else None,
            value=record.value or b"",
            headers={k: v.decode(errors="replace") for k, v in (record.headers or ())},
            reason=reason,
        )
