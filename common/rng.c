/*
 * rng: xoshiro256** (Blackman and Vigna, "Scrambled linear pseudorandom
 * number generators", 2018) with its state expanded from a 64-bit seed by
 * splitmix64, as the authors recommend.
 *
 * Invariants: the state is never all zero (xoshiro's one fixed point);
 * splitmix64 cannot produce four zero words in a row, and rng_seed_random
 * re-seeds through splitmix64 if getrandom(2) ever hands back zeros. The
 * generator is not cryptographic and must not be used for secrets.
 */

#include <sys/random.h>

#include <errno.h>
#include <stdbool.h>

#include "log.h"
#include "rng.h"

static uint64_t
rng_rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* One splitmix64 step: advances *x and returns the next output. */
static uint64_t
rng_splitmix64(uint64_t *x)
{
	uint64_t z;

	*x += 0x9e3779b97f4a7c15ull;
	z = *x;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/**
 * rng_seed() - seed deterministically
 * @r: generator to seed (caller's storage)
 * @seed: any value; the same seed always gives the same stream
 */
void
rng_seed(struct rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = rng_splitmix64(&seed);
}

/**
 * rng_seed_random() - seed from the kernel's random source
 * @r: generator to seed (caller's storage)
 *
 * Uses getrandom(2), which blocks only until the kernel pool is initialised
 * at early boot. A kernel without getrandom(2) is a startup failure (fatal).
 */
void
rng_seed_random(struct rng *r)
{
	unsigned char *p = (unsigned char *)r->s;
	size_t have = 0;
	bool zero = true;

	while (have < sizeof(r->s)) {
		ssize_t n = getrandom(p + have, sizeof(r->s) - have, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			fatal("getrandom");
		}
		have += (size_t)n;
	}
	for (int i = 0; i < 4; i++)
		zero = zero && r->s[i] == 0;
	if (zero)
		rng_seed(r, 0);
}

/**
 * rng_next() - next 64 random bits
 * @r: a seeded generator
 *
 * Return: the next xoshiro256** output.
 */
uint64_t
rng_next(struct rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rng_rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rng_rotl(s[3], 45);
	return result;
}

/**
 * rng_below() - uniform integer in [0, bound)
 * @r: a seeded generator
 * @bound: exclusive upper bound, > 0 (0 returns 0 without using the generator)
 *
 * Rejects raw outputs below 2^64 mod bound, so the remaining range is a whole
 * multiple of bound and the result has no modulo bias. Each try succeeds with
 * probability > 1/2, so the expected number of draws is below 2.
 */
uint64_t
rng_below(struct rng *r, uint64_t bound)
{
	uint64_t threshold;
	uint64_t x;

	if (bound == 0)
		return 0;
	/* (2^64 - bound) mod bound == 2^64 mod bound */
	threshold = (0 - bound) % bound;
	do {
		x = rng_next(r);
	} while (x < threshold);
	return x % bound;
}

/**
 * rng_range() - uniform integer in [lo, hi]
 * @r: a seeded generator
 * @lo: inclusive lower bound
 * @hi: inclusive upper bound, >= lo (when hi < lo, lo is returned)
 *
 * Works across the whole int64_t range, INT64_MIN..INT64_MAX included.
 */
int64_t
rng_range(struct rng *r, int64_t lo, int64_t hi)
{
	uint64_t span;
	uint64_t x;

	if (hi <= lo)
		return lo;
	span = (uint64_t)hi - (uint64_t)lo;
	x = span == UINT64_MAX ? rng_next(r) : rng_below(r, span + 1);
	/* unsigned wrap-around is defined; the conversion back is modular on gcc and clang */
	return (int64_t)((uint64_t)lo + x);
}

/**
 * rng_double() - uniform double in [0, 1)
 * @r: a seeded generator
 *
 * Uses the top 53 bits, so every result is a multiple of 2^-53.
 */
double
rng_double(struct rng *r)
{
	return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}
