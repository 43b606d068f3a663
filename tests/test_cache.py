"""The machine's cache sizes: read where Linux says, defaults where it does not."""
from __future__ import annotations

import pytest

from strategies import cache


def test_sizes_are_positive_and_grow_with_the_level():
    sizes = [cache.cache_bytes(level) for level in (1, 2, 3)]
    assert all(s > 0 for s in sizes) and sizes == sorted(sizes)


def test_defaults_where_the_machine_does_not_say(monkeypatch, tmp_path):
    monkeypatch.setattr(cache, "_SYSFS", tmp_path / "absent")
    cache.cache_bytes.cache_clear()
    try:
        assert [cache.cache_bytes(level) for level in (1, 2, 3)] == [cache.DEFAULT_CACHE_BYTES[lv] for lv in (1, 2, 3)]
    finally:
        cache.cache_bytes.cache_clear()


@pytest.mark.parametrize("text,size", [("512K", 524288), ("32M", 33554432), ("1024", 1024)])
def test_sysfs_sizes_parse(text, size):
    assert cache._parse_size(text) == size


def test_a_bad_level_is_named():
    with pytest.raises(ValueError, match="cache level must be 1, 2 or 3; got 4"):
        cache.cache_bytes(4)
