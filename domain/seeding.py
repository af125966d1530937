"""Seeding many random streams at once: the generators numpy's SeedSequence would seed, bit for bit.

Mixing a SeedSequence costs several times what the PCG64 it seeds costs, and the simulator makes a
few streams per source. The mixing here is that of numpy's SeedSequence
(numpy/random/bit_generator.pyx, whose output numpy keeps stable across versions), done for the
streams of a whole batch in one numpy pass. Tests check it against SeedSequence.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
from numpy.random.bit_generator import ISeedSequence

__all__ = ["stream_states", "seed_states", "generator_from_state"]

# SeedSequence's constants (numpy/random/bit_generator.pyx).
_MASK32 = 0xFFFFFFFF
_POOL_SIZE = 4
_INIT_A, _MULT_A, _INIT_B, _MULT_B = 0x43B0D7E5, 0x931E8875, 0x8B51F9DD, 0x58F38DED
_MIX_MULT_L, _MIX_MULT_R = 0xCA01F9DD, 0x4973F715


class _GeneratedState(ISeedSequence):
    """A seed sequence whose state is already generated: PCG64 asks it for four 64-bit words and gets them."""

    def __init__(self, state: np.ndarray):
        self.state = state

    def generate_state(self, n_words: int, dtype=np.uint32) -> np.ndarray:
        if n_words != 4 or np.dtype(dtype) != np.uint64:
            raise ValueError("holds the state of one PCG64 only (4 words of 64 bits)")
        return self.state


def _words(value: int) -> list[int]:
    # An int as SeedSequence reads it: its 32-bit words, least significant first (0 is one word).
    words = [value & _MASK32]
    while value := value >> 32:
        words.append(value & _MASK32)
    return words


def stream_states(base_seed: int, seeds: Iterable[int], keys: Sequence[tuple[int, int]]) -> dict:
    """Return ``SeedSequence([base_seed, seed], spawn_key=key).generate_state(4, np.uint64)`` by (seed, *key).

    Only seeds whose entropy fits SeedSequence's pool (every seed below 2**64 with the simulation seeds
    allowed) are computed; the keys' words must be below 2**32.

    Parameters
    ----------
    base_seed : int
        The first entropy word(s), shared by every stream (the simulation's seed).
    seeds : iterable of int
        Non-negative per-source seeds.
    keys : sequence of tuple of int
        Spawn keys of the streams of each seed.

    Returns
    -------
    dict
        ``(seed, *key)`` -> the four 64-bit words that seed a PCG64 (see :func:`generator_from_state`);
        seeds whose entropy does not fit the pool are left out.
    """
    runs = {}
    for seed in seeds:
        run = _words(base_seed) + _words(seed)
        if len(run) <= _POOL_SIZE:
            # SeedSequence pads its entropy with zeros to the pool size before appending the spawn key.
            runs[seed] = run + [0] * (_POOL_SIZE - len(run))
    if not runs or not keys:
        return {}
    key_words = np.array(keys, dtype=np.uint32)
    entropy = np.concatenate([np.repeat(np.array(list(runs.values()), dtype=np.uint32), len(keys), axis=0),
                              np.tile(key_words, (len(runs), 1))], axis=1)
    states = _generate_states(entropy)
    return dict(zip([(seed, *key) for seed in runs for key in keys], states))


def _generate_states(entropy: np.ndarray) -> np.ndarray:
    # SeedSequence.mix_entropy then generate_state(4, np.uint64), on uint32 columns (each row one sequence;
    # at least the pool size of words). The hash constant runs through the same values for every row.
    hash_const = _INIT_A

    def hashmix(value: np.ndarray) -> np.ndarray:
        nonlocal hash_const
        value = value ^ hash_const
        hash_const = hash_const * _MULT_A & _MASK32
        value = value * hash_const
        return value ^ (value >> 16)

    def mix(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        result = _MIX_MULT_L * x - _MIX_MULT_R * y
        return result ^ (result >> 16)

    pool = [hashmix(entropy[:, i]) for i in range(_POOL_SIZE)]
    for source in range(_POOL_SIZE):
        for target in range(_POOL_SIZE):
            if source != target:
                pool[target] = mix(pool[target], hashmix(pool[source]))
    for source in range(_POOL_SIZE, entropy.shape[1]):
        for target in range(_POOL_SIZE):
            pool[target] = mix(pool[target], hashmix(entropy[:, source]))
    hash_const, words = _INIT_B, []
    for i in range(2 * 4):
        value = pool[i % _POOL_SIZE] ^ hash_const
        hash_const = hash_const * _MULT_B & _MASK32
        value = value * hash_const
        words.append(value ^ (value >> 16))
    # Pairs of 32-bit words, little-endian, make the 64-bit words.
    return np.stack(words, axis=1).astype("<u4").view("<u8").astype(np.uint64)


def seed_states(seeds: Sequence[int]) -> np.ndarray:
    """Return ``SeedSequence(seed).generate_state(4, np.uint64)`` of each seed, one row per seed.

    What ``numpy.random.PCG64(seed)`` starts from, for seeds below 2**64: their entropy is their two
    32-bit words (least significant first; a seed below 2**32 has a zero second word, the same padding
    SeedSequence adds) and zeros to the size of the pool.

    Parameters
    ----------
    seeds : sequence of int
        Seeds, each in [0, 2**64).

    Returns
    -------
    numpy.ndarray
        One row of four 64-bit words per seed (see :func:`generator_from_state`).
    """
    values = np.asarray(seeds, dtype=np.uint64).reshape(-1)
    entropy = np.zeros((values.size, _POOL_SIZE), dtype=np.uint32)
    entropy[:, 0] = values & np.uint64(_MASK32)
    entropy[:, 1] = values >> np.uint64(32)
    return _generate_states(entropy)


def generator_from_state(state: np.ndarray) -> np.random.Generator:
    """Return the PCG64 generator seeded with ``state`` (four 64-bit words from :func:`stream_states`).

    Parameters
    ----------
    state : numpy.ndarray
        The words a SeedSequence would have generated.

    Returns
    -------
    numpy.random.Generator
        The same generator as ``numpy.random.default_rng`` of that SeedSequence.
    """
    return np.random.Generator(np.random.PCG64(_GeneratedState(state)))
