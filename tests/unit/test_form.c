/*
 * Unit tests for common/form.c: parsing (limits, escapes, repeated keys,
 * malformed input), lookups, form_set, and encoding.
 */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "form.h"
#include "xmalloc.h"

/* Parses a NUL-terminated string with the given limits; the form or NULL. */
static int
parse_str(const char *s, const struct form_limits *limits, struct form **f_out, char **cause)
{
	*f_out = NULL;
	*cause = NULL;
	return form_parse(s, strlen(s), limits, f_out, cause);
}

/* Asserts that s fails with want and a cause that contains needle. */
static void
assert_parse_fails(const char *s, const struct form_limits *limits, int want, const char *needle)
{
	struct form *f = NULL;
	char *cause = NULL;

	assert_int_equal(parse_str(s, limits, &f, &cause), want);
	assert_null(f);
	assert_non_null(cause);
	assert_non_null(strstr(cause, needle));
	free(cause);
}

static void
test_form_parses_pairs_in_order(void **state)
{
	struct form *f = NULL;
	char *cause = NULL;

	assert_int_equal(parse_str("TaskSid=WT1&EventType=task.created", NULL, &f, &cause), 0);
	assert_int_equal(form_count(f), 2);
	assert_string_equal(form_key(f, 0), "TaskSid");
	assert_string_equal(form_value(f, 0), "WT1");
	assert_string_equal(form_key(f, 1), "EventType");
	assert_string_equal(form_value(f, 1), "task.created");
	assert_string_equal(form_get(f, "EventType"), "task.created");
	form_free(f);
}

static void
test_form_plus_is_space(void **state)
{
	struct form *f = NULL;
	char *cause = NULL;

	assert_int_equal(parse_str("a+b=c+d+", NULL, &f, &cause), 0);
	assert_string_equal(form_key(f, 0), "a b");
	assert_string_equal(form_value(f, 0), "c d ");
	form_free(f);
}

static void
test_form_decodes_percent_escapes_of_either_case(void **state)
{
	struct form *f = NULL;
	char *cause = NULL;

	assert_int_equal(parse_str("k%3d=%7B%22a%22%3a1%7d%2B%C3%A9", NULL, &f, &cause), 0);
	assert_string_equal(form_key(f, 0), "k=");
	assert_string_equal(form_value(f, 0), "{\"a\":1}+\xc3\xa9");
	form_free(f);
}

static void
test_form_keeps_repeated_keys_in_order(void **state)
{
	struct form *f = NULL;
	char *cause = NULL;

	assert_int_equal(parse_str("t=1&x=0&t=2&t=3", NULL, &f, &cause), 0);
	assert_int_equal(form_get_count(f, "t"), 3);
	assert_string_equal(form_get(f, "t"), "1");
	assert_string_equal(form_get_nth(f, "t", 0), "1");
	assert_string_equal(form_get_nth(f, "t", 1), "2");
	assert_string_equal(form_get_nth(f, "t", 2), "3");
	assert_null(form_get_nth(f, "t", 3));
	assert_int_equal(form_get_count(f, "x"), 1);
	assert_int_equal(form_get_count(f, "absent"), 0);
	form_free(f);
}

static void
test_form_key_without_equals_has_empty_value(void **state)
{
	struct form *f = NULL;
	char *cause = NULL;

	assert_int_equal(parse_str("flag&a=1&other", NULL, &f, &cause), 0);
	assert_int_equal(form_count(f), 3);
	assert_string_equal(form_key(f, 0), "flag");
	assert_string_equal(form_value(f, 0), "");
	assert_true(form_has(f, "other"));
	assert_string_equal(form_get(f, "other"), "");
	form_free(f);
}

static void
test_form_value_keeps_later_equals_signs(void **state)
{
	struct form *f = NULL;
	char *cause = NULL;

	assert_int_equal(parse_str("expr=a=b==c&=v", NULL, &f, &cause), 0);
	assert_string_equal(form_get(f, "expr"), "a=b==c");
	assert_string_equal(form_key(f, 1), "");
	assert_string_equal(form_value(f, 1), "v");
	form_free(f);
}

static void
test_form_skips_empty_segments(void **state)
{
	struct form *f = NULL;
	char *cause = NULL;

	assert_int_equal(parse_str("&&a=1&&b=2&", NULL, &f, &cause), 0);
	assert_int_equal(form_count(f), 2);
	assert_string_equal(form_get(f, "a"), "1");
	assert_string_equal(form_get(f, "b"), "2");
	form_free(f);
}

static void
test_form_empty_input_gives_empty_form(void **state)
{
	struct form *f = NULL;
	char *cause = NULL;

	assert_int_equal(form_parse(NULL, 0, NULL, &f, &cause), 0);
	assert_non_null(f);
	assert_int_equal(form_count(f), 0);
	assert_null(form_get(f, "a"));
	assert_false(form_has(f, "a"));
	form_free(f);
	f = NULL;
	assert_int_equal(parse_str("", NULL, &f, &cause), 0);
	assert_int_equal(form_count(f), 0);
	assert_null(cause);
	form_free(f);
}

static void
test_form_reads_only_len_bytes(void **state)
{
	const char text[] = "a=1&b=2";
	struct form *f = NULL;
	char *cause = NULL;

	assert_int_equal(form_parse(text, 3, NULL, &f, &cause), 0);
	assert_int_equal(form_count(f), 1);
	assert_string_equal(form_get(f, "a"), "1");
	assert_false(form_has(f, "b"));
	form_free(f);
}

static void
test_form_rejects_truncated_escape(void **state)
{
	assert_parse_fails("a=%", NULL, -EINVAL, "pair 1: truncated %-escape in value");
	assert_parse_fails("a=%4", NULL, -EINVAL, "truncated");
	assert_parse_fails("ok=1&b%=x", NULL, -EINVAL, "pair 2: truncated %-escape in key");
}

static void
test_form_rejects_truncated_escape_before_next_pair(void **state)
{
	/* "%4&" must not borrow the '&' as a hex digit or cross into the next pair */
	assert_parse_fails("a=%4&b=1", NULL, -EINVAL, "pair 1");
	assert_parse_fails("a=%&b=1", NULL, -EINVAL, "truncated");
}

static void
test_form_rejects_bad_escape(void **state)
{
	assert_parse_fails("a=%zz", NULL, -EINVAL, "pair 1: bad %-escape in value");
	assert_parse_fails("a=%4g", NULL, -EINVAL, "bad %-escape");
	assert_parse_fails("a=% 1", NULL, -EINVAL, "bad %-escape");
	assert_parse_fails("x=1&%g0=1", NULL, -EINVAL, "pair 2: bad %-escape in key");
}

static void
test_form_rejects_percent_00(void **state)
{
	assert_parse_fails("a=x%00y", NULL, -EINVAL, "%00");
	assert_parse_fails("a%00=1", NULL, -EINVAL, "in key");
}

static void
test_form_rejects_raw_nul_byte(void **state)
{
	const char text[] = "a=x\0y";
	struct form *f = NULL;
	char *cause = NULL;

	assert_int_equal(form_parse(text, sizeof(text) - 1, NULL, &f, &cause), -EINVAL);
	assert_null(f);
	assert_non_null(strstr(cause, "NUL"));
	free(cause);
}

static void
test_form_accepts_arbitrary_high_bytes(void **state)
{
	const char text[] = "\xff\xfe=\x80\x01\x7f";
	struct form *f = NULL;
	char *cause = NULL;

	assert_int_equal(form_parse(text, sizeof(text) - 1, NULL, &f, &cause), 0);
	assert_string_equal(form_key(f, 0), "\xff\xfe");
	assert_string_equal(form_value(f, 0), "\x80\x01\x7f");
	form_free(f);
}

static void
test_form_rejects_oversized_body(void **state)
{
	struct form_limits lim = {
		.max_bytes = 8, .max_pairs = 10, .max_key_bytes = 8, .max_value_bytes = 8
	};
	struct form *f = NULL;
	char *cause = NULL;

	assert_int_equal(parse_str("a=1&b=234", &lim, &f, &cause), -E2BIG);
	assert_null(f);
	assert_non_null(strstr(cause, "9 bytes"));
	free(cause);
	/* exactly at the limit is fine */
	assert_int_equal(parse_str("a=1&b=23", &lim, &f, &cause), 0);
	form_free(f);
}

static void
test_form_rejects_too_many_pairs(void **state)
{
	struct form_limits lim = {
		.max_bytes = 100, .max_pairs = 3, .max_key_bytes = 8, .max_value_bytes = 8
	};
	struct form *f = NULL;
	char *cause = NULL;

	assert_parse_fails("a=1&b=2&c=3&d=4", &lim, -E2BIG, "more than 3 pairs");
	/* empty segments do not count as pairs */
	assert_int_equal(parse_str("a=1&&&b=2&&c=3&", &lim, &f, &cause), 0);
	assert_int_equal(form_count(f), 3);
	form_free(f);
}

static void
test_form_rejects_oversized_key(void **state)
{
	struct form_limits lim = {
		.max_bytes = 100, .max_pairs = 10, .max_key_bytes = 4, .max_value_bytes = 100
	};
	struct form *f = NULL;
	char *cause = NULL;

	assert_parse_fails("a=1&abcde=1", &lim, -E2BIG, "pair 2: key longer than 4 bytes");
	/* the limit applies after decoding: 4 escaped bytes are 4 bytes */
	assert_int_equal(parse_str("%41%42%43%44=1", &lim, &f, &cause), 0);
	assert_string_equal(form_key(f, 0), "ABCD");
	form_free(f);
}

static void
test_form_rejects_oversized_value(void **state)
{
	struct form_limits lim = {
		.max_bytes = 100, .max_pairs = 10, .max_key_bytes = 100, .max_value_bytes = 3
	};
	struct form *f = NULL;
	char *cause = NULL;

	assert_parse_fails("a=1234", &lim, -E2BIG, "pair 1: value longer than 3 bytes");
	assert_int_equal(parse_str("a=%31+3", &lim, &f, &cause), 0);
	assert_string_equal(form_get(f, "a"), "1 3");
	form_free(f);
}

static void
test_form_rejects_invalid_limits(void **state)
{
	struct form_limits lim = {
		.max_bytes = 0, .max_pairs = 10, .max_key_bytes = 10, .max_value_bytes = 10
	};

	assert_parse_fails("a=1", &lim, -EINVAL, "invalid");
	lim.max_bytes = 10;
	lim.max_pairs = 0;
	assert_parse_fails("a=1", &lim, -EINVAL, "invalid");
}

static void
test_form_parse_failure_without_cause_out(void **state)
{
	struct form *f = NULL;

	assert_int_equal(form_parse("a=%zz", 5, NULL, &f, NULL), -EINVAL);
	assert_null(f);
}

static void
test_form_default_limits_are_as_documented(void **state)
{
	assert_int_equal(form_default_limits.max_bytes, 64 * 1024);
	assert_int_equal(form_default_limits.max_pairs, 512);
	assert_int_equal(form_default_limits.max_key_bytes, 256);
	assert_int_equal(form_default_limits.max_value_bytes, 16 * 1024);
}

static void
test_form_parse_of_large_body_is_linear(void **state)
{
	/* 512 pairs of 100-byte values: well within limits, parsed in one pass */
	struct buf b;
	struct form *f = NULL;
	char *cause = NULL;

	buf_init(&b);
	for (int i = 0; i < 512; i++)
		buf_printf(&b, "%sk%d=%0100d", i == 0 ? "" : "&", i, i);
	assert_int_equal(form_parse(b.data, b.len, NULL, &f, &cause), 0);
	assert_int_equal(form_count(f), 512);
	assert_string_equal(form_key(f, 511), "k511");
	assert_int_equal(strlen(form_value(f, 511)), 100);
	form_free(f);
	buf_clear(&b);
}

static void
test_form_set_replaces_all_and_keeps_position(void **state)
{
	struct form *f = form_new();

	form_add(f, "a", "1");
	form_add(f, "t", "x");
	form_add(f, "b", "2");
	form_add(f, "t", "y");
	form_set(f, "t", "z");
	assert_int_equal(form_count(f), 3);
	assert_string_equal(form_key(f, 1), "t");
	assert_string_equal(form_value(f, 1), "z");
	assert_string_equal(form_key(f, 2), "b");
	assert_int_equal(form_get_count(f, "t"), 1);
	form_set(f, "new", "v");
	assert_int_equal(form_count(f), 4);
	assert_string_equal(form_key(f, 3), "new");
	form_free(f);
}

/* A parsed form's strings share one block; form_set and form_add still work on it (ASan). */
static void
test_form_set_and_add_on_a_parsed_form(void **state)
{
	struct form *f = NULL;
	const char *text = "a=1&t=x&b=%32&t=y&&k";

	assert_int_equal(form_parse(text, strlen(text), NULL, &f, NULL), 0);
	assert_int_equal(form_count(f), 5);
	assert_string_equal(form_value(f, 2), "2");
	assert_string_equal(form_key(f, 4), "k");
	assert_string_equal(form_value(f, 4), "");
	form_set(f, "t", "z");
	form_set(f, "a", "one");
	form_add(f, "c", "3");
	assert_int_equal(form_count(f), 5);
	assert_string_equal(form_value(f, 0), "one");
	assert_string_equal(form_value(f, 1), "z");
	assert_string_equal(form_key(f, 2), "b");
	assert_string_equal(form_value(f, 4), "3");
	form_free(f);
}

static void
test_form_add_copies_strings(void **state)
{
	struct form *f = form_new();
	char key[] = "k";
	char value[] = "v";

	form_add(f, key, value);
	key[0] = 'X';
	value[0] = 'Y';
	assert_string_equal(form_key(f, 0), "k");
	assert_string_equal(form_value(f, 0), "v");
	form_free(f);
}

static void
test_form_add_int_formats_decimal(void **state)
{
	struct form *f = form_new();

	form_add_int(f, "n", -9223372036854775807LL - 1);
	form_add_int(f, "m", 42);
	assert_string_equal(form_get(f, "n"), "-9223372036854775808");
	assert_string_equal(form_get(f, "m"), "42");
	form_free(f);
}

static void
test_form_key_and_value_out_of_range_are_null(void **state)
{
	struct form *f = form_new();

	form_add(f, "a", "1");
	assert_null(form_key(f, 1));
	assert_null(form_value(f, 5));
	form_free(f);
}

static void
test_form_free_accepts_null(void **state)
{
	form_free(NULL);
}

static void
test_form_encode_joins_pairs_in_order(void **state)
{
	struct form *f = form_new();
	char *s;

	form_add(f, "To", "+15551234567");
	form_add(f, "Body", "hi there & bye");
	form_add(f, "To", "a/b?c=d");
	s = form_encode(f);
	assert_string_equal(s, "To=%2B15551234567&Body=hi+there+%26+bye&To=a%2Fb%3Fc%3Dd");
	free(s);
	form_free(f);
}

static void
test_form_encode_empty_form_is_empty_string(void **state)
{
	struct form *f = form_new();
	char *s = form_encode(f);

	assert_string_equal(s, "");
	free(s);
	form_free(f);
}

static void
test_form_encode_component_keeps_unreserved_only(void **state)
{
	struct buf b;

	buf_init(&b);
	form_encode_component(&b, "AZaz09-._~ !*'()\xc3\xa9\x01\x7f\xff");
	assert_string_equal(b.data, "AZaz09-._~+%21%2A%27%28%29%C3%A9%01%7F%FF");
	buf_clear(&b);
}

static void
test_form_encode_component_appends(void **state)
{
	struct buf b;

	buf_init(&b);
	buf_puts(&b, "x=");
	form_encode_component(&b, "a b");
	form_encode_component(&b, "");
	assert_string_equal(b.data, "x=a+b");
	buf_clear(&b);
}

static void
test_form_encode_path_component_uses_percent_20(void **state)
{
	struct buf b;

	buf_init(&b);
	form_encode_path_component(&b, "My List/1+2 ~x");
	assert_string_equal(b.data, "My%20List%2F1%2B2%20~x");
	buf_clear(&b);
}

static void
test_form_encode_then_parse_round_trips(void **state)
{
	struct form *f = form_new();
	struct form *g = NULL;
	char *cause = NULL;
	char *s;

	form_add(f, "", "");
	form_add(f, "k & =", "v+%\xc3\xa9\n");
	form_add(f, "k & =", "");
	form_add(f, "plain", "x");
	s = form_encode(f);
	assert_int_equal(form_parse(s, strlen(s), NULL, &g, &cause), 0);
	assert_int_equal(form_count(g), form_count(f));
	for (size_t i = 0; i < form_count(f); i++) {
		assert_string_equal(form_key(g, i), form_key(f, i));
		assert_string_equal(form_value(g, i), form_value(f, i));
	}
	free(s);
	form_free(f);
	form_free(g);
}

static void
test_form_decode_path_component_keeps_plus_and_decodes_escapes(void **state)
{
	const char in[] = "/v1/Services/IS1/Documents/My%20Doc+x%2Fy";
	char out[sizeof(in)];

	assert_int_equal(form_decode_path_component(in, strlen(in), out), 0);
	assert_string_equal(out, "/v1/Services/IS1/Documents/My Doc+x/y");
	/* only the first len bytes are read */
	assert_int_equal(form_decode_path_component("abc%41", 3, out), 0);
	assert_string_equal(out, "abc");
	assert_int_equal(form_decode_path_component("", 0, out), 0);
	assert_string_equal(out, "");
}

static void
test_form_decode_path_component_rejects_bad_escapes(void **state)
{
	static const char *const bad[] = { "%", "%4", "a%zz", "%00", "x%0" };
	char out[16];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(form_decode_path_component(bad[i], strlen(bad[i]), out), -EINVAL);
	assert_int_equal(form_decode_path_component("a\0b", 3, out), -EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_form_decode_path_component_keeps_plus_and_decodes_escapes),
		cmocka_unit_test(test_form_decode_path_component_rejects_bad_escapes),
		cmocka_unit_test(test_form_parses_pairs_in_order),
		cmocka_unit_test(test_form_plus_is_space),
		cmocka_unit_test(test_form_decodes_percent_escapes_of_either_case),
		cmocka_unit_test(test_form_keeps_repeated_keys_in_order),
		cmocka_unit_test(test_form_key_without_equals_has_empty_value),
		cmocka_unit_test(test_form_value_keeps_later_equals_signs),
		cmocka_unit_test(test_form_skips_empty_segments),
		cmocka_unit_test(test_form_empty_input_gives_empty_form),
		cmocka_unit_test(test_form_reads_only_len_bytes),
		cmocka_unit_test(test_form_rejects_truncated_escape),
		cmocka_unit_test(test_form_rejects_truncated_escape_before_next_pair),
		cmocka_unit_test(test_form_rejects_bad_escape),
		cmocka_unit_test(test_form_rejects_percent_00),
		cmocka_unit_test(test_form_rejects_raw_nul_byte),
		cmocka_unit_test(test_form_accepts_arbitrary_high_bytes),
		cmocka_unit_test(test_form_rejects_oversized_body),
		cmocka_unit_test(test_form_rejects_too_many_pairs),
		cmocka_unit_test(test_form_rejects_oversized_key),
		cmocka_unit_test(test_form_rejects_oversized_value),
		cmocka_unit_test(test_form_rejects_invalid_limits),
		cmocka_unit_test(test_form_parse_failure_without_cause_out),
		cmocka_unit_test(test_form_default_limits_are_as_documented),
		cmocka_unit_test(test_form_parse_of_large_body_is_linear),
		cmocka_unit_test(test_form_set_replaces_all_and_keeps_position),
		cmocka_unit_test(test_form_set_and_add_on_a_parsed_form),
		cmocka_unit_test(test_form_add_copies_strings),
		cmocka_unit_test(test_form_add_int_formats_decimal),
		cmocka_unit_test(test_form_key_and_value_out_of_range_are_null),
		cmocka_unit_test(test_form_free_accepts_null),
		cmocka_unit_test(test_form_encode_joins_pairs_in_order),
		cmocka_unit_test(test_form_encode_empty_form_is_empty_string),
		cmocka_unit_test(test_form_encode_component_keeps_unreserved_only),
		cmocka_unit_test(test_form_encode_component_appends),
		cmocka_unit_test(test_form_encode_path_component_uses_percent_20),
		cmocka_unit_test(test_form_encode_then_parse_round_trips),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
