"""When does the relay decide the broker lost its data (and re-seed it from the outbox)?"""

from __future__ import annotations

from services.messaging.relay import broker_lost_data


def test_intact_log_is_not_lost_even_with_tansus_batch_end_offsets() -> None:
    # We published offsets up to 29 on partition 0 in three batches; Tansu reports end offset 21.
    assert not broker_lost_data({0: 29, 1: 4}, {0: 21, 1: 5})


def test_empty_or_missing_partition_we_published_to_means_lost() -> None:
    assert broker_lost_data({0: 29, 1: 4}, {0: 0, 1: 0})
    assert broker_lost_data({0: 29}, {})


def test_partitions_we_never_published_to_do_not_count() -> None:
    assert not broker_lost_data({0: 3}, {0: 4, 1: 0, 2: 0})
