/*
 * Unit tests for common/rng.c. Known-answer tests use the published
 * splitmix64 and xoshiro256** reference outputs; distribution tests use
 * fixed seeds so they are deterministic.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "rng.h"

static void
test_rng_seed_expands_with_splitmix64(void **state)
{
	struct rng r;

	/* splitmix64 reference outputs for seed 0 */
	rng_seed(&r, 0);
	assert_true(r.s[0] == 0xe220a8397b1dcdafull);
	assert_true(r.s[1] == 0x6e789e6aa1b965f4ull);
	assert_true(r.s[2] == 0x06c45d188009454full);
	assert_true(r.s[3] == 0xf88bb8a8724c81ecull);
}

static void
test_rng_next_matches_xoshiro256starstar_reference(void **state)
{
	struct rng r = { .s = { 1, 2, 3, 4 } };

	assert_true(rng_next(&r) == 11520u);
	assert_true(rng_next(&r) == 0u);
	assert_true(rng_next(&r) == 1509978240u);
	assert_true(rng_next(&r) == 1215971899390074240ull);
}

static void
test_rng_same_seed_gives_same_stream(void **state)
{
	struct rng a;
	struct rng b;

	rng_seed(&a, 42);
	rng_seed(&b, 42);
	for (int i = 0; i < 100; i++)
		assert_true(rng_next(&a) == rng_next(&b));
}

static void
test_rng_seed_42_known_answer(void **state)
{
	struct rng r;

	rng_seed(&r, 42);
	assert_true(rng_next(&r) == 0x15780b2e0c2ec716ull);
	assert_true(rng_next(&r) == 0x6104d9866d113a7eull);
	assert_true(rng_next(&r) == 0xae17533239e499a1ull);
}

static void
test_rng_different_seeds_differ(void **state)
{
	struct rng a;
	struct rng b;

	rng_seed(&a, 1);
	rng_seed(&b, 2);
	assert_true(rng_next(&a) != rng_next(&b));
}

static void
test_rng_seed_random_gives_distinct_nonzero_states(void **state)
{
	struct rng a;
	struct rng b;

	rng_seed_random(&a);
	rng_seed_random(&b);
	assert_true((a.s[0] | a.s[1] | a.s[2] | a.s[3]) != 0);
	assert_memory_not_equal(a.s, b.s, sizeof(a.s));
}

static void
test_rng_below_stays_in_bound(void **state)
{
	static const uint64_t bounds[] = { 1, 2, 3, 7, 1000, (1ull << 63) + 1, UINT64_MAX };
	struct rng r;

	rng_seed(&r, 7);
	for (size_t b = 0; b < sizeof(bounds) / sizeof(bounds[0]); b++) {
		for (int i = 0; i < 2000; i++)
			assert_true(rng_below(&r, bounds[b]) < bounds[b]);
	}
}

static void
test_rng_below_one_is_always_zero(void **state)
{
	struct rng r;

	rng_seed(&r, 3);
	for (int i = 0; i < 100; i++)
		assert_true(rng_below(&r, 1) == 0);
}

static void
test_rng_below_is_roughly_uniform(void **state)
{
	enum { BOUND = 6, DRAWS = 60000 };
	unsigned counts[BOUND] = { 0 };
	struct rng r;

	rng_seed(&r, 12345);
	for (int i = 0; i < DRAWS; i++)
		counts[rng_below(&r, BOUND)]++;
	/* expected 10000 each; 4 sigma is about 365 */
	for (int i = 0; i < BOUND; i++) {
		assert_in_range(counts[i], 10000 - 400, 10000 + 400);
	}
}

static void
test_rng_below_has_no_modulo_bias_for_large_bound(void **state)
{
	/*
	 * With bound = 2^63 + 2^62 (3/4 of the range), x % bound over raw 64-bit
	 * output lands in the low third of [0, bound) twice as often as it should
	 * (1/2 instead of 1/3). Rejection sampling must give about 1/3.
	 */
	const uint64_t bound = (1ull << 63) + (1ull << 62);
	const uint64_t third = bound / 3;
	unsigned low = 0;
	struct rng r;

	rng_seed(&r, 99);
	for (int i = 0; i < 30000; i++) {
		if (rng_below(&r, bound) < third)
			low++;
	}
	assert_in_range(low, 10000 - 400, 10000 + 400);
}

static void
test_rng_range_is_inclusive(void **state)
{
	bool seen[5] = { false };
	struct rng r;

	rng_seed(&r, 5);
	for (int i = 0; i < 1000; i++) {
		int64_t v = rng_range(&r, -2, 2);

		assert_true(v >= -2 && v <= 2);
		seen[v + 2] = true;
	}
	for (int i = 0; i < 5; i++)
		assert_true(seen[i]);
}

static void
test_rng_range_handles_full_int64_span(void **state)
{
	struct rng r;
	bool neg = false;
	bool pos = false;

	rng_seed(&r, 8);
	for (int i = 0; i < 200; i++) {
		int64_t v = rng_range(&r, INT64_MIN, INT64_MAX);

		neg = neg || v < 0;
		pos = pos || v > 0;
	}
	assert_true(neg && pos);
}

static void
test_rng_range_single_value(void **state)
{
	struct rng r;

	rng_seed(&r, 9);
	assert_true(rng_range(&r, INT64_MAX, INT64_MAX) == INT64_MAX);
	assert_true(rng_range(&r, -17, -17) == -17);
}

static void
test_rng_double_in_unit_interval(void **state)
{
	struct rng r;
	double sum = 0;

	rng_seed(&r, 11);
	for (int i = 0; i < 10000; i++) {
		double d = rng_double(&r);

		assert_true(d >= 0.0 && d < 1.0);
		sum += d;
	}
	/* mean of 10000 uniforms: sd about 0.003 */
	assert_true(sum / 10000 > 0.48 && sum / 10000 < 0.52);
}

static void
test_rng_double_is_multiple_of_2_pow_minus_53(void **state)
{
	struct rng a;
	struct rng b;

	rng_seed(&a, 13);
	rng_seed(&b, 13);
	for (int i = 0; i < 1000; i++) {
		double d = rng_double(&a);

		/* exactly the top 53 bits of the raw output, scaled */
		assert_true(d * 9007199254740992.0 == (double)(rng_next(&b) >> 11));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rng_seed_expands_with_splitmix64),
		cmocka_unit_test(test_rng_next_matches_xoshiro256starstar_reference),
		cmocka_unit_test(test_rng_same_seed_gives_same_stream),
		cmocka_unit_test(test_rng_seed_42_known_answer),
		cmocka_unit_test(test_rng_different_seeds_differ),
		cmocka_unit_test(test_rng_seed_random_gives_distinct_nonzero_states),
		cmocka_unit_test(test_rng_below_stays_in_bound),
		cmocka_unit_test(test_rng_below_one_is_always_zero),
		cmocka_unit_test(test_rng_below_is_roughly_uniform),
		cmocka_unit_test(test_rng_below_has_no_modulo_bias_for_large_bound),
		cmocka_unit_test(test_rng_range_is_inclusive),
		cmocka_unit_test(test_rng_range_handles_full_int64_span),
		cmocka_unit_test(test_rng_range_single_value),
		cmocka_unit_test(test_rng_double_in_unit_interval),
		cmocka_unit_test(test_rng_double_is_multiple_of_2_pow_minus_53),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
