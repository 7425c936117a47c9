import gc

from fraudkit.heap import long_lived_objects_frozen


def _tracked(obj: object) -> bool:
    return any(candidate is obj for candidate in gc.get_objects())


def test_objects_alive_at_the_freeze_leave_the_collectors_generations_until_the_block_ends() -> None:
    kept = [[i] for i in range(1000)]  # lists are always tracked
    gc.unfreeze()
    with long_lived_objects_frozen():
        assert gc.get_freeze_count() >= len(kept)
        assert not any(_tracked(obj) for obj in kept[:10])
        later: list[list[int]] = [[]]
        assert _tracked(later)
    assert gc.get_freeze_count() == 0
    assert _tracked(kept[0])
