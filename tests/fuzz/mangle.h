/* What both fuzz harnesses (fuzz_core.c, fuzz_worker.c) mangle sealed datagrams with: a seeded xorshift
 * generator and one random mutation of a buffer of n bytes with room for cap: a bit flip, a cut, bytes
 * overwritten inside a 16-byte window, the first 16 bytes (a header) overwritten, bytes appended; or none. */
#ifndef TAPLIANCE_FUZZ_MANGLE_H
#define TAPLIANCE_FUZZ_MANGLE_H

#include <stddef.h>
#include <stdint.h>

static uint64_t rng_state = 1; /* the harness seeds it (never 0) */

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static size_t mangle(uint8_t *b, size_t n, size_t cap)
{
    switch (rnd() % 6) {
    case 0:
        if (n)
            b[rnd() % n] ^= (uint8_t)(1u << (rnd() % 8));
        return n;
    case 1:
        return n ? (size_t)(rnd() % n) : 0;
    case 2:
        if (n > 16) {
            size_t o = rnd() % (n - 16);
            for (int i = 0; i < 4; i++)
                b[o + (rnd() % 16)] = (uint8_t)rnd();
        }
        return n;
    case 3: {
        size_t extra = rnd() % 64;
        for (size_t i = n; i < n + extra && i < cap; i++)
            b[i] = (uint8_t)rnd();
        return n + extra < cap ? n + extra : cap;
    }
    case 4:
        for (size_t i = 0; i < 16 && i < n; i++)
            b[i] = (uint8_t)rnd();
        return n;
    default:
        return n;
    }
}

#endif
