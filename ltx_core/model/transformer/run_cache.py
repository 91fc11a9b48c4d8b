"""Values that stay the same for every step of a run, computed once.

A denoising run passes the same context and position arrays to the transformer at every step,
so what depends only on them (projected captions, RoPE tables, the text cross-attention keys
and values of each block) is cached by the identity of those arrays. Entries keep their key
arrays alive, so an identity is never reused while cached; the cache is bounded (least
recently used entries go first) and cleared when a pipeline finishes.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

import mlx.core as mx


class IdentityCache:
    def __init__(self, max_entries: int = 512):
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple, tuple[tuple, Any]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: tuple[mx.array | Hashable, ...], compute: Callable[[], Any]) -> Any:
        identity = tuple(id(part) if isinstance(part, mx.array) else part for part in key)
        entry = self._entries.get(identity)
        if entry is not None:
            self._entries.move_to_end(identity)
            self.hits += 1
            return entry[1]
        self.misses += 1
        value = compute()
        self._entries[identity] = (key, value)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        return value

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
