"""Outbox relay: publishes committed outbox rows to Kafka, keyed by case id, in outbox order.

- Wakes on LISTEN/NOTIFY from the outbox trigger; polls once a second as a fallback.
- One active relay at a time (a PostgreSQL advisory lock): two relays could reorder one case's events.
- At-least-once: a row is marked published only after the broker acknowledged it; a crash in
  between re-publishes it and consumers skip what they already processed.
- Re-seeds a broker that lost its data (the embedded Tansu is memory-only): Kafka offsets never go
  backwards, so an end offset below the highest one the relay saw means the log was lost. Published
  rows are kept for ``outbox_retention_hours`` and are published again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Sequence

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from prometheus_client import Counter, Gauge, Histogram

from schemas.topics import ALL_TOPICS
from services.db.pool import connect, create_pool
from services.messaging.topics import ensure_topics
from services.settings import BrokerSettings

log = logging.getLogger(__name__)

LOCK_KEY = "gridcase.outbox-relay"
CHANNEL = "gridcase_outbox"

PUBLISHED = Counter("gridcase_outbox_published_total", "Outbox rows published to Kafka")
RESEEDS = Counter("gridcase_outbox_reseeds_total", "Times a broker that lost its data was re-seeded")
CHECKS = Counter(
    "gridcase_outbox_broker_checks_total", "Checks of the broker's logs against what was published"
)
LAG = Gauge("gridcase_outbox_unpublished", "Outbox rows waiting to be published")
LEADER = Gauge("gridcase_outbox_relay_active", "1 while this relay holds the relay lock")
BATCH_SECONDS = Histogram("gridcase_outbox_batch_seconds", "Time to publish one outbox batch")


def broker_lost_data(published_high: dict[int, int], end_offsets: dict[int, int]) -> bool:
    """True if a partition we published to has an empty log: the broker lost its data.

    Kafka's end offsets never go backwards, so ``end <= high`` would be the sharper test, but Tansu
    reports the end offset as (base offset of the last batch + 1), which is below the last record's
    offset whenever a batch held several records. An empty log is the signal both brokers give. A
    restart that is followed by new publishing is caught earlier, by produce offsets going backwards.
    """
    return any(high >= 0 and end_offsets.get(p, 0) == 0 for p, high in published_high.items())


class BrokerReset(Exception):
    """The broker's log is behind what we published: it lost its data."""


class OutboxRelay:
    def __init__(self, settings: BrokerSettings) -> None:
        self.settings = settings
        self._wake = asyncio.Event()
        self._high: dict[tuple[str, int], int] = {}
        self.ready = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set; restarts its loop with back-off on broker or database errors."""
        failures = 0
        while not stop.is_set():
            try:
                await self._run_once(stop)
                failures = 0
            except Exception as exc:  # the relay must outlive any single failure
                failures += 1
                self.ready.clear()
                delay = min(30.0, 0.5 * 2 ** min(failures, 6)) * (0.5 + random.random() / 2)
                log.warning("relay error (%s: %s); retrying in %.1fs", type(exc).__name__, exc, delay)
                LEADER.set(0)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)

    async def _run_once(self, stop: asyncio.Event) -> None:
        s = self.settings
        lock_conn = await connect(s.database_url)
        try:
            while not await lock_conn.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", LOCK_KEY):
                log.info("another relay is active; standing by")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 2.0)
                if stop.is_set():
                    return
            LEADER.set(1)
            await lock_conn.add_listener(CHANNEL, lambda *_: self._wake.set())
            pool = await create_pool(s.database_url, min_size=1, max_size=2)
            producer = AIOKafkaProducer(
                bootstrap_servers=s.kafka_bootstrap,
                client_id="gridcase-relay",
                acks="all",
                enable_idempotence=s.kafka_idempotent,
                linger_ms=2,
            )
            await producer.start()
            try:
                await ensure_topics(s)
                await self._load_high(pool)
                await self._check_broker(pool)
                self.ready.set()
                await self._loop(pool, producer, lock_conn, stop)
            finally:
                await producer.stop()
                await pool.close()
        finally:
            LEADER.set(0)
            await lock_conn.close()

    async def _loop(
        self,
        pool: asyncpg.Pool,
        producer: AIOKafkaProducer,
        lock_conn: asyncpg.Connection,
        stop: asyncio.Event,
    ) -> None:
        last_check = time.monotonic()
        last_prune = 0.0
        last_lag = 0.0
        while not stop.is_set():
            if lock_conn.is_closed():
                raise ConnectionError("lost the relay lock connection")
            self._wake.clear()
            try:
                published = await self._publish_batch(pool, producer)
            except BrokerReset:
                await self._reseed(pool)
                continue
            if published:
                continue  # drain before sleeping
            now = time.monotonic()
            if now - last_check > 5:
                last_check = now
                await self._check_broker(pool)
            if now - last_prune > 60:
                last_prune = now
                await self._prune(pool)
            if now - last_lag > 2:
                last_lag = now
                LAG.set(await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL"))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 1.0)

    async def _publish_batch(self, pool: asyncpg.Pool, producer: AIOKafkaProducer) -> int:
        rows = await pool.fetch(
            "SELECT id, topic, key, value, headers FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT $1",
            self.settings.relay_batch_size,
        )
        if not rows:
            return 0
        started = time.perf_counter()
        futures = [
            await producer.send(
                r["topic"],
                value=r["value"],
                key=r["key"].encode(),
                headers=[(k, str(v).encode()) for k, v in r["headers"].items()],
            )
            for r in rows
        ]
        results = await asyncio.gather(*futures)
        if any(md.offset < self._high.get((md.topic, md.partition), -1) for md in results):
            raise BrokerReset
        touched: dict[tuple[str, int], int] = {}
        for md in results:
            tp = (md.topic, md.partition)
            self._high[tp] = touched[tp] = max(self._high.get(tp, -1), md.offset)
        await self._mark_published(pool, [r["id"] for r in rows], touched)
        PUBLISHED.inc(len(rows))
        BATCH_SECONDS.observe(time.perf_counter() - started)
        return len(rows)

    async def _mark_published(
        self, pool: asyncpg.Pool, ids: Sequence[int], highs: dict[tuple[str, int], int]
    ) -> None:
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "UPDATE outbox SET published_at = clock_timestamp() WHERE id = ANY($1::bigint[])", ids
            )
            touched = list(highs.items())  # only this batch's partitions: fewer row updates
            await conn.execute(
                "INSERT INTO relay_offsets (topic, partition, high_offset, updated_at) "
                "SELECT t, p, o, now() FROM unnest($1::text[], $2::int[], $3::bigint[]) AS u(t, p, o) "
                "ON CONFLICT (topic, partition) DO UPDATE SET high_offset = "
                "GREATEST(relay_offsets.high_offset, EXCLUDED.high_offset), updated_at = now()",
                [t for (t, _), _ in touched],
                [p for (_, p), _ in touched],
                [o for _, o in touched],
            )

    async def _load_high(self, pool: asyncpg.Pool) -> None:
        rows = await pool.fetch("SELECT topic, partition, high_offset FROM relay_offsets")
        self._high = {(r["topic"], r["partition"]): r["high_offset"] for r in rows}

    async def _check_broker(self, pool: asyncpg.Pool) -> None:
        """Compare the broker's end offsets with what we published; re-seed if it lost data."""
        if not self._high:
            return
        consumer = AIOKafkaConsumer(bootstrap_servers=self.settings.kafka_bootstrap, enable_auto_commit=False)
        await consumer.start()
        try:
            lost = False
            for topic in ALL_TOPICS:
                known = {p: o for (t, p), o in self._high.items() if t == topic}
                if not known:
                    continue
                partitions = consumer.partitions_for_topic(topic)
                if not partitions:
                    await consumer._client.force_metadata_update()
                    partitions = consumer.partitions_for_topic(topic)
                if not partitions:
                    lost = True
                    break
                ends = await consumer.end_offsets([TopicPartition(topic, p) for p in partitions])
                if broker_lost_data(known, {tp.partition: end for tp, end in ends.items()}):
                    lost = True
                    break
        finally:
            await consumer.stop()
        CHECKS.inc()
        if lost:
            await self._reseed(pool)

    async def _reseed(self, pool: asyncpg.Pool) -> None:
        RESEEDS.inc()
        async with pool.acquire() as conn, conn.transaction():
            n = await conn.fetchval(
                "WITH r AS (UPDATE outbox SET published_at = NULL WHERE published_at IS NOT NULL "
                "AND created_at > now() - make_interval(hours => $1) RETURNING 1) SELECT count(*) FROM r",
                self.settings.outbox_retention_hours,
            )
            await conn.execute("DELETE FROM relay_offsets")
        self._high = {}
        log.warning("broker lost its data: re-publishing %s retained outbox rows", n)
        await ensure_topics(self.settings)

    async def _prune(self, pool: asyncpg.Pool) -> None:
        await pool.execute(
            "DELETE FROM outbox WHERE published_at IS NOT NULL AND created_at < now() - make_interval(hours => $1)",
            self.settings.outbox_retention_hours,
        )
