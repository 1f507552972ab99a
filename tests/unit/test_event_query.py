"""The listing's cache key: one key per listing, whatever the spelling."""

from ticketmania.listings import EventQuery


def test_distinct_listing_queries_never_share_a_key():
    one = EventQuery(q="x&loc=y")
    other = EventQuery(q="x", location="y&loc=")
    assert one.cache_key() != other.cache_key()
    assert EventQuery(q=" Jazz ").cache_key() == EventQuery(q="jazz").cache_key()
