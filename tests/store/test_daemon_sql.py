"""Claims and leases: what lets several daemons share feeds without polling one twice."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from aggregator.store.sql import SqlStore

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)


@pytest.fixture
def store(db_url: str) -> Iterator[SqlStore]:
    s = SqlStore.open(db_url)
    yield s
    s.close()


def feeds(store: SqlStore, *urls: str) -> dict[str, int]:
    store.sync_feeds([(u, None) for u in urls], NOW)
    store.set_active_feeds(list(urls))
    ids = {}
    for url in urls:
        state = store.feed_state(url)
        assert state is not None
        ids[url] = state.id
    return ids


def claim(store: SqlStore, owner: str, now: datetime, **kwargs: object) -> set[str]:
    options: dict[str, object] = {"limit": 10, "lease": LEASE, "per_host": 10} | kwargs
    return {c.url for c in store.claim_due(owner, now, **options)}  # type: ignore[arg-type]


def test_a_leased_feed_is_not_claimed_by_another_until_the_lease_lapses(store: SqlStore) -> None:
    feeds(store, "https://a.example/rss", "https://b.example/rss")
    assert claim(store, "one", NOW) == {"https://a.example/rss", "https://b.example/rss"}
    assert claim(store, "two", NOW + LEASE / 2) == set()
    assert claim(store, "two", NOW + LEASE + timedelta(seconds=1)) == {
        "https://a.example/rss",
        "https://b.example/rss",
    }


def test_an_extended_lease_holds_and_a_released_one_frees_at_once(store: SqlStore) -> None:
    ids = feeds(store, "https://a.example/rss", "https://b.example/rss")
    claim(store, "one", NOW)
    store.extend_leases("one", [ids["https://a.example/rss"]], NOW + 2 * LEASE)
    # Another owner's extension changes nothing.
    store.extend_leases("two", [ids["https://b.example/rss"]], NOW + 2 * LEASE)
    assert claim(store, "two", NOW + LEASE + timedelta(seconds=1)) == {"https://b.example/rss"}
    assert store.release_leases("one", [ids["https://a.example/rss"]]) == 1
    assert claim(store, "three", NOW + LEASE + timedelta(seconds=2)) == {"https://a.example/rss"}


def test_a_feed_in_flight_is_never_claimed_again_by_its_poller(store: SqlStore) -> None:
    # The lease lapsed while the poll ran (a late tick): the poller must not start it twice,
    # though another instance may take it over.
    ids = feeds(store, "https://a.example/rss", "https://b.example/rss")
    claim(store, "one", NOW)
    later = NOW + LEASE + timedelta(seconds=1)
    polling = [ids["https://a.example/rss"]]
    assert claim(store, "one", later, in_flight=polling) == {"https://b.example/rss"}


def test_per_host_limit_counts_the_hosts_already_busy(store: SqlStore) -> None:
    feeds(store, "https://a.example/1", "https://a.example/2", "https://a.example/3")
    assert len(claim(store, "one", NOW, per_host=2, busy_hosts={"a.example": 1})) == 1


def test_the_startup_spread_never_overwrites_a_feed_another_instance_just_polled(
    store: SqlStore, db_url: str
) -> None:
    if db_url.startswith("sqlite"):
        pytest.skip("one daemon per SQLite file (an OS lock): no other instance to race with")
    ids = feeds(store, "https://a.example/rss", "https://b.example/rss")
    other = SqlStore.open(db_url)
    polled_next = NOW + timedelta(seconds=300)

    def pick(_when: datetime | None, _interval: timedelta) -> datetime:
        # Between the spread's read and its write, another daemon claims feed a and, its
        # poll done, stores its next check.
        if not claimed:
            claimed.extend(claim(other, "other", NOW))
            with other._write() as session:
                from sqlalchemy import update

                from aggregator.store.tables import FeedRow

                session.execute(
                    update(FeedRow)
                    .where(FeedRow.id == ids["https://a.example/rss"])
                    .values(next_check_at=polled_next, lease_owner=None, lease_until=None)
                )
        return NOW + timedelta(seconds=1)

    claimed: list[str] = []
    try:
        spread = store.spread_overdue(NOW, pick)
    finally:
        other.close()
    assert claimed, "the race was not staged"
    state = store.feed_state("https://a.example/rss")
    assert state is not None and state.next_check_at == polled_next
    assert spread < 2


def test_each_instance_claims_its_own_share_first_and_the_rest_once_overdue(
    store: SqlStore,
) -> None:
    urls = [f"https://h{i}.example/rss" for i in range(6)]
    ids = feeds(store, *urls)
    mine = {u for u in urls if ids[u] % 2 == 0}
    # Never polled (next check unset): anyone may take it, as on a first start.
    assert claim(store, "one", NOW, share=(0, 2), grace=timedelta(seconds=30)) == set(urls)
    due = NOW + timedelta(minutes=5)
    with store._write() as session:
        from sqlalchemy import update

        from aggregator.store.tables import FeedRow

        session.execute(
            update(FeedRow).values(next_check_at=due, lease_owner=None, lease_until=None)
        )
    # Just due: only this instance's own share.
    assert claim(store, "one", due, share=(0, 2), grace=timedelta(seconds=30)) == mine
    assert claim(store, "two", due, share=(1, 2), grace=timedelta(seconds=30)) == set(urls) - mine
    # The others' feeds too once they have been due for the grace (their home is busy or dead).
    store.release_leases(None)
    late = due + timedelta(seconds=31)
    assert claim(store, "one", late, share=(0, 2), grace=timedelta(seconds=30)) == set(urls)
    # Alone (a share of one, or none), every due feed at once.
    store.release_leases(None)
    assert claim(store, "two", due, share=(0, 1)) == set(urls)
