"""The feature hash of the backbone's categorical fields (docs/FORMAT.md, "The feature hash")."""

FNV_OFFSET_BASIS = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3
MASK64 = (1 << 64) - 1


def fnv1a64(field: str, value: str, seed: int = 0) -> int:
    """FNV-1a 64 of the UTF-8 bytes of ``"<field>=<value>"``, from the offset basis XOR seed."""
    state = FNV_OFFSET_BASIS ^ (seed & MASK64)
    for byte in f"{field}={value}".encode("utf-8"):
        state = ((state ^ byte) * FNV_PRIME) & MASK64
    return state


def bucket(field: str, value: str, buckets: int, seed: int = 0) -> int:
    """The embedding row of ``value`` in ``field``'s table: ``fnv1a64 % buckets``."""
    return fnv1a64(field, value, seed) % max(1, buckets)
