/*
 * num: the strict whole-string integer parser.
 */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "num.h"

static void
test_num_parses_whole_decimal_integers(void **state)
{
	int64_t v = 0;

	assert_int_equal(num_parse_i64("0", INT64_MIN, INT64_MAX, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(num_parse_i64("1700000000123", INT64_MIN, INT64_MAX, &v), 0);
	assert_int_equal(v, 1700000000123LL);
	assert_int_equal(num_parse_i64("-42", INT64_MIN, INT64_MAX, &v), 0);
	assert_int_equal(v, -42);
	assert_int_equal(num_parse_i64("007", INT64_MIN, INT64_MAX, &v), 0);
	assert_int_equal(v, 7);
	assert_int_equal(num_parse_i64("9223372036854775807", INT64_MIN, INT64_MAX, &v), 0);
	assert_int_equal(v, INT64_MAX);
	assert_int_equal(num_parse_i64("-9223372036854775808", INT64_MIN, INT64_MAX, &v), 0);
	assert_true(v == INT64_MIN);
}

static void
test_num_rejects_anything_but_sign_and_digits(void **state)
{
	static const char *const bad[] = {
		"", "-", "+5", " 5", "5 ", "\t5", "5x", "0x10", "1e3", "1.5", "--1", "5\n", "٣",
	};
	int64_t v = 99;

	assert_int_equal(num_parse_i64(NULL, INT64_MIN, INT64_MAX, &v), -EINVAL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(num_parse_i64(bad[i], INT64_MIN, INT64_MAX, &v), -EINVAL);
	/* *out untouched on failure */
	assert_int_equal(v, 99);
}

static void
test_num_range_and_overflow_are_erange(void **state)
{
	int64_t v = 99;

	assert_int_equal(num_parse_i64("9223372036854775808", INT64_MIN, INT64_MAX, &v), -ERANGE);
	assert_int_equal(num_parse_i64("-9223372036854775809", INT64_MIN, INT64_MAX, &v), -ERANGE);
	assert_int_equal(num_parse_i64("11", 0, 10, &v), -ERANGE);
	assert_int_equal(num_parse_i64("-1", 0, 10, &v), -ERANGE);
	assert_int_equal(v, 99);
	assert_int_equal(num_parse_i64("10", 0, 10, &v), 0);
	assert_int_equal(v, 10);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_num_parses_whole_decimal_integers),
		cmocka_unit_test(test_num_rejects_anything_but_sign_and_digits),
		cmocka_unit_test(test_num_range_and_overflow_are_erange),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
