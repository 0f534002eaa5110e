/* rng.h: the one pseudo-random generator of the engine tests: xorshift64*
 * (Vigna) with a per-binary state each test seeds with a fixed value, so a
 * run is reproducible and a failure can be replayed. Include once per test
 * binary; the state is the test's to set (rng_state = SEED). */
#ifndef TESTS_RNG_H
#define TESTS_RNG_H

#include <stdint.h>

static uint64_t rng_state;

/* The next 64 random bits. */
static inline uint64_t rng_next(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1DULL;
}

/* The next 32 random bits (the high half, the better one). */
static inline uint32_t rng_next_u32(void)
{
    return (uint32_t)(rng_next() >> 32);
}

/* A float in [-1, 1), 23 random bits. */
static inline float rng_unit(void)
{
    return (float)((double)(rng_next() >> 40) / (double)(1u << 23) - 1.0);
}

#endif
