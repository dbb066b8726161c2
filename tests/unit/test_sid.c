/*
 * Unit tests for common/sid.c: shape checks, prefix checks and formatting.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sid.h"

#define GOOD_TASK "WT0123456789abcdef0123456789ABCDEF"

static void
test_sid_accepts_matching_prefix_and_mixed_case_hex(void **state)
{
	assert_int_equal(strlen(GOOD_TASK), SID_LEN);
	assert_true(sid_is_valid(GOOD_TASK, "WT"));
	assert_true(sid_has_shape(GOOD_TASK));
}

static void
test_sid_rejects_other_prefix(void **state)
{
	assert_false(sid_is_valid(GOOD_TASK, "WK"));
	assert_false(sid_is_valid(GOOD_TASK, "TW"));
}

static void
test_sid_rejects_malformed_prefix_argument(void **state)
{
	assert_false(sid_is_valid(GOOD_TASK, "W"));
	assert_false(sid_is_valid(GOOD_TASK, "WTX"));
	assert_false(sid_is_valid(GOOD_TASK, "wt"));
	assert_false(sid_is_valid(GOOD_TASK, ""));
	assert_false(sid_is_valid(GOOD_TASK, NULL));
}

static void
test_sid_rejects_wrong_length(void **state)
{
	assert_false(sid_has_shape("WT0123456789abcdef0123456789abcde"));
	assert_false(sid_has_shape("WT0123456789abcdef0123456789abcdef0"));
	assert_false(sid_has_shape("WT"));
	assert_false(sid_has_shape(""));
}

static void
test_sid_rejects_non_hex_digit(void **state)
{
	assert_false(sid_has_shape("WT0123456789abcdef0123456789abcdeg"));
	assert_false(sid_has_shape("WT0123456789abcdef 123456789abcdef"));
	assert_false(sid_is_valid("WT0123456789abcdef0123456789abcde\xff", "WT"));
}

static void
test_sid_rejects_lower_case_or_digit_prefix(void **state)
{
	assert_false(sid_has_shape("wt0123456789abcdef0123456789abcdef"));
	assert_false(sid_has_shape("W10123456789abcdef0123456789abcdef"));
	assert_false(sid_is_valid("wT0123456789abcdef0123456789abcdef", "WT"));
}

static void
test_sid_rejects_null(void **state)
{
	assert_false(sid_has_shape(NULL));
	assert_false(sid_is_valid(NULL, "WT"));
}

static void
test_sid_format_writes_prefix_and_lower_hex(void **state)
{
	char out[SID_LEN + 1];

	memset(out, 'x', sizeof(out));
	sid_format(out, "WK", 0x0123456789ABCDEFull, 0xFEDCBA9876543210ull);
	assert_string_equal(out, "WK0123456789abcdeffedcba9876543210");
	assert_true(sid_is_valid(out, "WK"));
}

static void
test_sid_format_zero_pads(void **state)
{
	char out[SID_LEN + 1];

	sid_format(out, "WR", 0, 1);
	assert_string_equal(out, "WR00000000000000000000000000000001");
	assert_int_equal(strlen(out), SID_LEN);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sid_accepts_matching_prefix_and_mixed_case_hex),
		cmocka_unit_test(test_sid_rejects_other_prefix),
		cmocka_unit_test(test_sid_rejects_malformed_prefix_argument),
		cmocka_unit_test(test_sid_rejects_wrong_length),
		cmocka_unit_test(test_sid_rejects_non_hex_digit),
		cmocka_unit_test(test_sid_rejects_lower_case_or_digit_prefix),
		cmocka_unit_test(test_sid_rejects_null),
		cmocka_unit_test(test_sid_format_writes_prefix_and_lower_hex),
		cmocka_unit_test(test_sid_format_zero_pads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
