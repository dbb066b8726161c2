#pragma once

/*
 * Small deterministic PRNG (xoshiro256**) for jitter, the emulator's SIDs and
 * its traffic generator. Not for secrets: session ids and CSRF tokens come
 * from getrandom(2) in the modules that need them.
 */

#include <stdint.h>

struct rng {
	uint64_t s[4];
};

/* Seeds from a 64-bit value (splitmix64 expansion); the same seed gives the same stream. */
void rng_seed(struct rng *r, uint64_t seed);
/* Seeds from getrandom(2). */
void rng_seed_random(struct rng *r);
uint64_t rng_next(struct rng *r);
/* Uniform in [0, bound) without modulo bias; bound > 0. */
uint64_t rng_below(struct rng *r, uint64_t bound);
/* Uniform in [lo, hi] (inclusive); lo <= hi. */
int64_t rng_range(struct rng *r, int64_t lo, int64_t hi);
/* Uniform in [0, 1). */
double rng_double(struct rng *r);
