/*
 * Unit tests for common/json: parsing, typed getters (0 / -ENOENT / -EINVAL),
 * limits and depth bombs, and exact generator output.
 */

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json.h"

/* Parses a NUL-terminated literal with default limits; fails the test on error. */
static struct json_doc *
parse_ok(const char *text)
{
	struct json_doc *doc = NULL;
	char *cause = NULL;
	int r = json_parse(text, strlen(text), NULL, &doc, &cause);

	if (r != 0)
		fail_msg("parse of %s failed: %d %s", text, r, cause != NULL ? cause : "");
	assert_null(cause);
	assert_non_null(doc);
	return doc;
}

/* Generates v with a fresh generator and compares with want. */
static void
assert_regen(const struct json_value *v, const char *want)
{
	struct json_gen *g = json_gen_new();
	size_t len = 0;
	char *out;

	json_gen_value(g, v);
	out = json_gen_steal(g, &len);
	assert_string_equal(out, want);
	assert_int_equal(len, strlen(want));
	free(out);
	json_gen_free(g);
}

static void
test_json_parses_object_and_members(void **state)
{
	struct json_doc *doc = parse_ok("{\"sid\":\"WT1\",\"n\":3,\"ok\":true,\"x\":null,"
					"\"a\":[1,2],\"o\":{\"k\":\"v\"}}");
	const struct json_value *root = json_doc_root(doc);

	assert_true(json_is_object(root));
	assert_int_equal(json_object_len(root), 6);
	assert_string_equal(json_object_key(root, 0), "sid");
	assert_string_equal(json_string(json_object_at(root, 0)), "WT1");
	assert_null(json_object_key(root, 6));
	assert_null(json_object_at(root, 6));
	assert_int_equal(json_type(json_get(root, "n")), JSON_NUMBER);
	assert_int_equal(json_type(json_get(root, "ok")), JSON_BOOL);
	assert_int_equal(json_type(json_get(root, "x")), JSON_NULL);
	assert_int_equal(json_type(json_get(root, "a")), JSON_ARRAY);
	assert_int_equal(json_type(json_get(root, "o")), JSON_OBJECT);
	assert_int_equal(json_type(json_get(root, "sid")), JSON_STRING);
	assert_null(json_get(root, "missing"));
	assert_null(json_get(json_get(root, "a"), "k"));
	assert_string_equal(json_string(json_path(root, "o", "k")), "v");
	assert_null(json_path(root, "o", "nope"));
	assert_null(json_path(root, "sid", "deeper"));
	/* A NULL key ends the path (old calls with a sentinel still read the same). */
	assert_string_equal(json_string(json_path(root, "o", "k", NULL)), "v");
	assert_true(json_bool(json_get(root, "ok")));
	assert_false(json_bool(json_get(root, "n")));
	json_doc_free(doc);
}

static void
test_json_parses_arrays(void **state)
{
	struct json_doc *doc = parse_ok("[10, \"s\", [], {}, false]");
	const struct json_value *root = json_doc_root(doc);
	int64_t n = 0;

	assert_true(json_is_array(root));
	assert_false(json_is_object(root));
	assert_int_equal(json_array_len(root), 5);
	assert_int_equal(json_int64(json_array_at(root, 0), &n), 0);
	assert_int_equal(n, 10);
	assert_string_equal(json_string(json_array_at(root, 1)), "s");
	assert_int_equal(json_array_len(json_array_at(root, 2)), 0);
	assert_int_equal(json_object_len(json_array_at(root, 3)), 0);
	assert_null(json_array_at(root, 5));
	assert_int_equal(json_array_len(json_array_at(root, 1)), 0);
	json_doc_free(doc);
}

static void
test_json_parses_scalars_at_top_level(void **state)
{
	struct json_doc *doc = parse_ok("\"top\"");

	assert_string_equal(json_string(json_doc_root(doc)), "top");
	json_doc_free(doc);
	doc = parse_ok("  42 ");
	assert_int_equal(json_type(json_doc_root(doc)), JSON_NUMBER);
	json_doc_free(doc);
}

static void
test_json_null_value_is_absent_everywhere(void **state)
{
	int64_t n = 7;
	double d = 7;

	assert_int_equal(json_type(NULL), JSON_NULL);
	assert_false(json_is_object(NULL));
	assert_null(json_get(NULL, "k"));
	assert_null(json_string(NULL));
	assert_false(json_bool(NULL));
	assert_int_equal(json_int64(NULL, &n), -ENOENT);
	assert_int_equal(json_double(NULL, &d), -ENOENT);
	assert_int_equal(json_array_len(NULL), 0);
	assert_null(json_array_at(NULL, 0));
	assert_int_equal(json_object_len(NULL), 0);
	assert_null(json_object_key(NULL, 0));
	assert_null(json_doc_root(NULL));
	assert_int_equal(n, 7);
	json_doc_free(NULL);
}

static void
test_json_numbers(void **state)
{
	struct json_doc *doc = parse_ok("{\"i\":-12,\"big\":9223372036854775807,"
					"\"min\":-9223372036854775808,\"d\":1.5,\"e\":1e3,"
					"\"huge\":1e999,\"over\":18446744073709551616,\"f\":3.0,"
					"\"tiny\":5e-324}");
	const struct json_value *root = json_doc_root(doc);
	int64_t n = 0;
	double d = 0;

	assert_int_equal(json_get_int64(root, "i", &n), 0);
	assert_int_equal(n, -12);
	assert_int_equal(json_get_int64(root, "big", &n), 0);
	assert_true(n == INT64_MAX);
	assert_int_equal(json_get_int64(root, "min", &n), 0);
	assert_true(n == INT64_MIN);
	assert_int_equal(json_get_int64(root, "e", &n), 0);
	assert_int_equal(n, 1000);
	assert_int_equal(json_get_int64(root, "f", &n), 0);
	assert_int_equal(n, 3);
	n = 99;
	assert_int_equal(json_get_int64(root, "d", &n), -EINVAL);
	assert_int_equal(json_get_int64(root, "over", &n), -EINVAL);
	assert_int_equal(json_get_int64(root, "huge", &n), -EINVAL);
	assert_int_equal(n, 99);
	assert_int_equal(json_get_double(root, "d", &d), 0);
	assert_true(d == 1.5);
	assert_int_equal(json_get_double(root, "i", &d), 0);
	assert_true(d == -12.0);
	assert_int_equal(json_get_double(root, "over", &d), 0);
	assert_true(d == 18446744073709551616.0);
	assert_int_equal(json_get_double(root, "huge", &d), -EINVAL);
	assert_int_equal(json_get_double(root, "tiny", &d), 0);
	assert_true(d == 5e-324);
	json_doc_free(doc);
}

static void
test_json_numeric_strings(void **state)
{
	struct json_doc *doc = parse_ok("{\"count\":\"12\",\"neg\":\"-3\",\"frac\":\"2.5\","
					"\"word\":\"twelve\",\"space\":\" 1\",\"plus\":\"+1\","
					"\"empty\":\"\",\"over\":\"9223372036854775808\","
					"\"min\":\"-9223372036854775808\",\"inf\":\"inf\","
					"\"hex\":\"0x10\",\"exp\":\"1e2\"}");
	const struct json_value *root = json_doc_root(doc);
	int64_t n = 0;
	double d = 0;

	assert_int_equal(json_get_int64(root, "count", &n), 0);
	assert_int_equal(n, 12);
	assert_int_equal(json_get_int64(root, "neg", &n), 0);
	assert_int_equal(n, -3);
	assert_int_equal(json_get_int64(root, "min", &n), 0);
	assert_true(n == INT64_MIN);
	assert_int_equal(json_get_int64(root, "frac", &n), -EINVAL);
	assert_int_equal(json_get_int64(root, "word", &n), -EINVAL);
	assert_int_equal(json_get_int64(root, "space", &n), -EINVAL);
	assert_int_equal(json_get_int64(root, "plus", &n), -EINVAL);
	assert_int_equal(json_get_int64(root, "empty", &n), -EINVAL);
	assert_int_equal(json_get_int64(root, "over", &n), -EINVAL);
	assert_int_equal(json_get_double(root, "frac", &d), 0);
	assert_true(d == 2.5);
	assert_int_equal(json_get_double(root, "exp", &d), 0);
	assert_true(d == 100.0);
	assert_int_equal(json_get_double(root, "count", &d), 0);
	assert_true(d == 12.0);
	assert_int_equal(json_get_double(root, "inf", &d), -EINVAL);
	assert_int_equal(json_get_double(root, "hex", &d), -EINVAL);
	assert_int_equal(json_get_double(root, "space", &d), -EINVAL);
	assert_int_equal(json_get_double(root, "word", &d), -EINVAL);
	json_doc_free(doc);
}

static void
test_json_getters_distinguish_absent_null_and_wrong_type(void **state)
{
	struct json_doc *doc = parse_ok("{\"s\":\"x\",\"n\":1,\"b\":false,\"z\":null,\"o\":{}}");
	const struct json_value *root = json_doc_root(doc);
	const char *s = "untouched";
	int64_t n = 5;
	double d = 5;
	bool b = true;

	assert_int_equal(json_get_string(root, "s", &s), 0);
	assert_string_equal(s, "x");
	assert_int_equal(json_get_bool(root, "b", &b), 0);
	assert_false(b);

	assert_int_equal(json_get_string(root, "absent", &s), -ENOENT);
	assert_int_equal(json_get_int64(root, "absent", &n), -ENOENT);
	assert_int_equal(json_get_double(root, "absent", &d), -ENOENT);
	assert_int_equal(json_get_bool(root, "absent", &b), -ENOENT);

	assert_int_equal(json_get_string(root, "z", &s), -ENOENT);
	assert_int_equal(json_get_int64(root, "z", &n), -ENOENT);
	assert_int_equal(json_get_double(root, "z", &d), -ENOENT);
	assert_int_equal(json_get_bool(root, "z", &b), -ENOENT);

	assert_int_equal(json_get_string(root, "n", &s), -EINVAL);
	assert_int_equal(json_get_int64(root, "b", &n), -EINVAL);
	assert_int_equal(json_get_int64(root, "o", &n), -EINVAL);
	assert_int_equal(json_get_double(root, "b", &d), -EINVAL);
	assert_int_equal(json_get_bool(root, "s", &b), -EINVAL);
	assert_int_equal(json_get_bool(root, "n", &b), -EINVAL);

	/* not an object: nothing to find */
	assert_int_equal(json_get_string(json_get(root, "s"), "k", &s), -ENOENT);
	assert_int_equal(json_get_string(NULL, "k", &s), -ENOENT);

	assert_string_equal(s, "x");
	assert_int_equal(n, 5);
	assert_true(d == 5);
	assert_false(b);
	json_doc_free(doc);
}

static void
test_json_duplicate_keys_first_wins(void **state)
{
	struct json_doc *doc = parse_ok("{\"k\":1,\"k\":2}");
	int64_t n = 0;

	assert_int_equal(json_get_int64(json_doc_root(doc), "k", &n), 0);
	assert_int_equal(n, 1);
	json_doc_free(doc);
}

static void
test_json_parses_unicode_escapes(void **state)
{
	struct json_doc *doc = parse_ok("[\"caf\\u00e9\",\"\\ud83d\\ude00\",\"\xe2\x82\xac\","
					"\"a\\\"b\\\\c\\/d\\n\"]");
	const struct json_value *root = json_doc_root(doc);

	assert_string_equal(json_string(json_array_at(root, 0)), "caf\xc3\xa9");
	assert_string_equal(json_string(json_array_at(root, 1)), "\xf0\x9f\x98\x80");
	assert_string_equal(json_string(json_array_at(root, 2)), "\xe2\x82\xac");
	assert_string_equal(json_string(json_array_at(root, 3)), "a\"b\\c/d\n");
	json_doc_free(doc);
}

static void
test_json_parse_needs_no_nul_terminator(void **state)
{
	const char text[] = { '{', '"', 'a', '"', ':', '1', '}', 'X' };
	struct json_doc *doc = NULL;
	int64_t n = 0;

	assert_int_equal(json_parse(text, 7, NULL, &doc, NULL), 0);
	assert_int_equal(json_get_int64(json_doc_root(doc), "a", &n), 0);
	assert_int_equal(n, 1);
	json_doc_free(doc);
}

/* Expects json_parse to fail with r and a non-empty cause containing needle. */
static void
assert_parse_fails(const char *text, size_t len, const struct json_limits *limits, int r,
		   const char *needle)
{
	struct json_doc *doc = NULL;
	char *cause = NULL;

	assert_int_equal(json_parse(text, len, limits, &doc, &cause), r);
	assert_null(doc);
	assert_non_null(cause);
	if (strstr(cause, needle) == NULL)
		fail_msg("cause '%s' lacks '%s'", cause, needle);
	assert_null(strchr(cause, '\n'));
	free(cause);
	/* a NULL cause_out is allowed */
	assert_int_equal(json_parse(text, len, limits, &doc, NULL), r);
}

static void
test_json_rejects_invalid_json_with_cause(void **state)
{
	assert_parse_fails("{\"a\":", 5, NULL, -EINVAL, "invalid JSON");
	assert_parse_fails("[1,2,x]", 7, NULL, -EINVAL, "invalid JSON");
	assert_parse_fails("{} []", 5, NULL, -EINVAL, "trailing garbage");
	assert_parse_fails("", 0, NULL, -EINVAL, "invalid JSON");
	assert_parse_fails("{'a':1}", 7, NULL, -EINVAL, "invalid JSON");
	assert_parse_fails("[1,]", 4, NULL, -EINVAL, "invalid JSON");
	assert_parse_fails("\"a\x01\"", 4, NULL, -EINVAL, "invalid JSON");
	assert_parse_fails("\"\xff\"", 3, NULL, -EINVAL, "invalid JSON");
}

static void
test_json_rejects_comments_and_nul(void **state)
{
	assert_parse_fails("[1 /* c */]", 11, NULL, -EINVAL, "comment");
	assert_parse_fails("// c\n[1]", 8, NULL, -EINVAL, "comment");
	/* a comment hiding closing brackets must not fool the depth count */
	assert_parse_fails("[/*]]]*/[]]", 11, NULL, -EINVAL, "comment");
	assert_parse_fails("[1]\0garbage", 11, NULL, -EINVAL, "NUL byte");
}

static void
test_json_size_limit(void **state)
{
	struct json_limits limits = { .max_bytes = 8, .max_depth = 4 };
	struct json_doc *doc = NULL;

	assert_parse_fails("[1,2,3,4,5]", 11, &limits, -E2BIG, "too large");
	assert_int_equal(json_parse("[1,2,34]", 8, &limits, &doc, NULL), 0);
	json_doc_free(doc);
}

static void
test_json_depth_limit(void **state)
{
	struct json_limits limits = { .max_bytes = 1024, .max_depth = 3 };
	struct json_doc *doc = NULL;

	assert_int_equal(json_parse("[[{\"a\":1}]]", 11, &limits, &doc, NULL), 0);
	json_doc_free(doc);
	assert_parse_fails("[[{\"a\":[]}]]", 12, &limits, -EINVAL, "nesting deeper than 3");
	/* brackets inside strings do not count */
	assert_int_equal(json_parse("[\"[[[[\\\"[[[\"]", 13, &limits, &doc, NULL), 0);
	json_doc_free(doc);
	limits.max_depth = 0;
	assert_parse_fails("[]", 2, &limits, -EINVAL, "nesting");
	assert_int_equal(json_parse("1", 1, &limits, &doc, NULL), 0);
	json_doc_free(doc);
}

static void
test_json_depth_bomb_rejected(void **state)
{
	size_t n = 100000;
	char *bomb = malloc(2 * n);
	struct json_limits huge = { .max_bytes = SIZE_MAX, .max_depth = UINT32_MAX };

	assert_non_null(bomb);
	memset(bomb, '[', n);
	memset(bomb + n, ']', n);
	assert_parse_fails(bomb, 2 * n, NULL, -EINVAL, "nesting deeper than 64");
	/* an absurd limit is lowered to JSON_MAX_DEPTH */
	assert_parse_fails(bomb, 2 * n, &huge, -EINVAL, "nesting deeper than 100");
	assert_false(json_is_valid(bomb, 2 * n));
	memset(bomb, '{', n);
	assert_parse_fails(bomb, n, NULL, -EINVAL, "nesting");
	free(bomb);
}

static void
test_json_is_valid(void **state)
{
	assert_true(json_is_valid("{\"a\":[1,true,null]}", 19));
	assert_true(json_is_valid("\"x\"", 3));
	assert_false(json_is_valid("{\"a\":}", 6));
	assert_false(json_is_valid("", 0));
	assert_false(json_is_valid("1 2", 3));
}

static void
test_json_gen_exact_output(void **state)
{
	struct json_gen *g = json_gen_new();
	const char *text;
	size_t len = 0;

	json_gen_object_open(g);
	json_gen_kv_string(g, "sid", "WT1");
	json_gen_kv_int(g, "n", -42);
	json_gen_kv_double(g, "d", 0.5);
	json_gen_kv_bool(g, "t", true);
	json_gen_kv_bool(g, "f", false);
	json_gen_kv_null(g, "z");
	json_gen_kv_string(g, "s", NULL);
	json_gen_key(g, "a");
	json_gen_array_open(g);
	json_gen_int(g, INT64_MAX);
	json_gen_int(g, INT64_MIN);
	json_gen_string_len(g, "abc", 2);
	json_gen_array_open(g);
	json_gen_array_close(g);
	json_gen_object_open(g);
	json_gen_object_close(g);
	json_gen_array_close(g);
	json_gen_kv_string(g, "url", "https://x.io/a/b");
	json_gen_object_close(g);
	text = json_gen_text(g, &len);
	assert_string_equal(text,
			    "{\"sid\":\"WT1\",\"n\":-42,\"d\":0.5,\"t\":true,\"f\":false,"
			    "\"z\":null,\"s\":null,\"a\":[9223372036854775807,"
			    "-9223372036854775808,\"ab\",[],{}],\"url\":\"https://x.io/a/b\"}");
	assert_int_equal(len, strlen(text));
	json_gen_free(g);
}

static void
test_json_gen_reset_reuses_generator(void **state)
{
	struct json_gen *g = json_gen_new();
	size_t len = 99;

	assert_string_equal(json_gen_text(g, &len), "");
	assert_int_equal(len, 0);
	json_gen_array_open(g);
	json_gen_int(g, 1);
	json_gen_array_close(g);
	assert_string_equal(json_gen_text(g, NULL), "[1]");
	json_gen_reset(g);
	json_gen_object_open(g);
	json_gen_kv_int(g, "a", 2);
	json_gen_object_close(g);
	assert_string_equal(json_gen_text(g, NULL), "{\"a\":2}");
	/* reset in the middle of a document */
	json_gen_reset(g);
	json_gen_array_open(g);
	json_gen_object_open(g);
	json_gen_reset(g);
	json_gen_string(g, "x");
	assert_string_equal(json_gen_text(g, NULL), "\"x\"");
	json_gen_free(g);
	json_gen_free(NULL);
}

static void
test_json_gen_steal_resets(void **state)
{
	struct json_gen *g = json_gen_new();
	char *a;
	char *b;

	json_gen_int(g, 7);
	a = json_gen_steal(g, NULL);
	json_gen_bool(g, true);
	b = json_gen_steal(g, NULL);
	assert_string_equal(a, "7");
	assert_string_equal(b, "true");
	free(a);
	free(b);
	json_gen_free(g);
}

/* One double through the generator. */
static void
assert_gen_double(double d, const char *want)
{
	struct json_gen *g = json_gen_new();

	json_gen_double(g, d);
	assert_string_equal(json_gen_text(g, NULL), want);
	json_gen_free(g);
}

static void
test_json_gen_doubles(void **state)
{
	assert_gen_double(3.0, "3");
	assert_gen_double(-2.0, "-2");
	assert_gen_double(0.0, "0");
	assert_gen_double(-0.0, "-0");
	assert_gen_double(0.1, "0.1");
	assert_gen_double(1.0 / 3.0, "0.3333333333333333");
	assert_gen_double(1e300, "1e+300");
	assert_gen_double(0.1 + 0.2, "0.30000000000000004");
	assert_gen_double(1e21, "1e+21");
	assert_gen_double(123456.789, "123456.789");
	assert_gen_double(9007199254740993.0, "9007199254740992");
	assert_gen_double(NAN, "null");
	assert_gen_double(INFINITY, "null");
	assert_gen_double(-INFINITY, "null");
}

static void
test_json_gen_doubles_round_trip(void **state)
{
	const double values[] = { 0.1,
				  0.2 + 0.1,
				  1.0 / 3.0,
				  2.0 / 3.0,
				  1e-300,
				  5e-324,
				  1.7976931348623157e308,
				  123456789.123456789,
				  -4.35,
				  1e15 + 0.5 };

	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		struct json_gen *g = json_gen_new();
		struct json_doc *doc = NULL;
		const char *text;
		size_t len;
		double d = 0;

		json_gen_double(g, values[i]);
		text = json_gen_text(g, &len);
		assert_int_equal(json_parse(text, len, NULL, &doc, NULL), 0);
		assert_int_equal(json_double(json_doc_root(doc), &d), 0);
		if (d != values[i])
			fail_msg("%s does not read back as %.17g", text, values[i]);
		json_doc_free(doc);
		json_gen_free(g);
	}
}

static void
test_json_gen_escapes_strings(void **state)
{
	struct json_gen *g = json_gen_new();

	json_gen_array_open(g);
	json_gen_string(g, "q\"b\\s/");
	json_gen_string(g, "\n\r\t\b\f\x01\x1f\x7f");
	json_gen_string_len(g, "a\0b", 3);
	json_gen_string(g, "caf\xc3\xa9 \xf0\x9f\x98\x80");
	json_gen_array_close(g);
	assert_string_equal(json_gen_text(g, NULL),
			    "[\"q\\\"b\\\\s/\",\"\\n\\r\\t\\b\\f\\u0001\\u001F\x7f\","
			    "\"a\\u0000b\",\"caf\xc3\xa9 \xf0\x9f\x98\x80\"]");
	json_gen_free(g);
}

static void
test_json_gen_replaces_invalid_utf8(void **state)
{
	static const struct {
		const char *in;
		const char *out;
	} cases[] = {
		{ "a\xff"
		  "b",
		  "\"a\xef\xbf\xbd"
		  "b\"" },
		{ "\xc0\xaf", "\"\xef\xbf\xbd\xef\xbf\xbd\"" },			/* overlong '/' */
		{ "\xed\xa0\x80", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"" }, /* surrogate */
		{ "\xf4\x90\x80\x80",
		  "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"" }, /* > U+10FFFF */
		{ "x\xe2\x82", "\"x\xef\xbf\xbd\xef\xbf\xbd\"" },	    /* truncated */
		{ "\xe2\x82\xac\x80", "\"\xe2\x82\xac\xef\xbf\xbd\"" },	    /* lone continuation */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct json_gen *g = json_gen_new();
		const char *text;
		size_t len;

		json_gen_string(g, cases[i].in);
		text = json_gen_text(g, &len);
		assert_string_equal(text, cases[i].out);
		assert_true(json_is_valid(text, len));
		json_gen_free(g);
	}
}

static void
test_json_gen_invalid_utf8_key_keeps_document_valid(void **state)
{
	struct json_gen *g = json_gen_new();
	const char *text;
	size_t len;

	json_gen_object_open(g);
	json_gen_kv_string(g, "k\xfe", "v\xc3");
	json_gen_kv_int(g, "n", 1);
	json_gen_object_close(g);
	text = json_gen_text(g, &len);
	assert_string_equal(text, "{\"k\xef\xbf\xbd\":\"v\xef\xbf\xbd\",\"n\":1}");
	assert_true(json_is_valid(text, len));
	json_gen_free(g);
}

static void
test_json_gen_value_round_trip(void **state)
{
	const char *text = "{\"a\":[1,-2.5,1e999,18446744073709551616,\"s\\u0001\\\"/\",true,"
			   "false,null,{}],\"b\":{\"c\":[[]]},\"\xc3\xa9\":\"\xe2\x82\xac\"}";
	struct json_doc *doc = parse_ok(text);

	/* numbers keep their exact text, also beyond int64 and double */
	assert_regen(json_doc_root(doc),
		     "{\"a\":[1,-2.5,1e999,18446744073709551616,\"s\\u0001\\\"/\",true,false,"
		     "null,{}],\"b\":{\"c\":[[]]},\"\xc3\xa9\":\"\xe2\x82\xac\"}");
	assert_regen(json_get(json_doc_root(doc), "b"), "{\"c\":[[]]}");
	assert_regen(NULL, "null");
	json_doc_free(doc);
}

static void
test_json_gen_value_inside_object(void **state)
{
	struct json_doc *doc = parse_ok("[1,{\"x\":2}]");
	struct json_gen *g = json_gen_new();

	json_gen_object_open(g);
	json_gen_key(g, "data");
	json_gen_value(g, json_doc_root(doc));
	json_gen_kv_int(g, "after", 3);
	json_gen_object_close(g);
	assert_string_equal(json_gen_text(g, NULL), "{\"data\":[1,{\"x\":2}],\"after\":3}");
	json_gen_free(g);
	json_doc_free(doc);
}

static void
test_json_gen_raw(void **state)
{
	struct json_gen *g = json_gen_new();
	const char raw[] = "{ \"k\" : [ 1 , 2 ] }trailing";

	json_gen_object_open(g);
	json_gen_key(g, "data");
	assert_int_equal(json_gen_raw(g, raw, 19), 0);
	json_gen_key(g, "bad");
	assert_int_equal(json_gen_raw(g, "{\"k\":", 5), -EINVAL);
	assert_int_equal(json_gen_raw(g, "[1] [2]", 7), -EINVAL);
	assert_int_equal(json_gen_raw(g, "", 0), -EINVAL);
	/* nothing was written for the failures: the key still awaits a value */
	json_gen_null(g);
	json_gen_object_close(g);
	assert_string_equal(json_gen_text(g, NULL), "{\"data\":{\"k\":[1,2]},\"bad\":null}");
	json_gen_free(g);
}

static void
test_json_gen_verbatim_embeds_cached_fragments_with_separators(void **state)
{
	struct json_gen *g = json_gen_new();
	struct json_gen *frag = json_gen_new();
	struct json_doc *doc = NULL;
	const char *text;
	size_t len = 0;
	char *cached;

	json_gen_object_open(frag);
	json_gen_kv_string(frag, "sid", "WK1");
	json_gen_object_close(frag);
	cached = json_gen_steal(frag, &len);

	json_gen_object_open(g);
	json_gen_key(g, "workers");
	json_gen_array_open(g);
	json_gen_verbatim(g, cached, len);
	json_gen_verbatim(g, cached, len);
	json_gen_array_close(g);
	json_gen_kv_int(g, "n", 2);
	json_gen_object_close(g);
	assert_string_equal(json_gen_text(g, NULL),
			    "{\"workers\":[{\"sid\":\"WK1\"},{\"sid\":\"WK1\"}],\"n\":2}");
	/* the result is one valid document */
	text = json_gen_text(g, &len);
	assert_int_equal(json_parse(text, len, NULL, &doc, NULL), 0);
	json_doc_free(doc);
	free(cached);
	json_gen_free(frag);
	json_gen_free(g);
}

static void
test_json_gen_raw_respects_generator_depth(void **state)
{
	struct json_gen *g = json_gen_new();
	char deep[2 * JSON_MAX_DEPTH + 1];

	memset(deep, '[', JSON_MAX_DEPTH);
	memset(deep + JSON_MAX_DEPTH, ']', JSON_MAX_DEPTH);
	deep[2 * JSON_MAX_DEPTH] = '\0';
	assert_int_equal(json_gen_raw(g, deep, 2 * JSON_MAX_DEPTH), 0);
	json_gen_reset(g);
	for (int i = 0; i < 40; i++)
		json_gen_array_open(g);
	/* 40 + 100 would exceed yajl's generator depth: refused, not asserted */
	assert_int_equal(json_gen_raw(g, deep, 2 * JSON_MAX_DEPTH), -EINVAL);
	json_gen_free(g);
}

static void
test_json_quote(void **state)
{
	char *q = json_quote("he said \"hi\"\n");

	assert_string_equal(q, "\"he said \\\"hi\\\"\\n\"");
	free(q);
	q = json_quote(NULL);
	assert_string_equal(q, "null");
	free(q);
	q = json_quote("bad\x80");
	assert_string_equal(q, "\"bad\xef\xbf\xbd\"");
	free(q);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_parses_object_and_members),
		cmocka_unit_test(test_json_parses_arrays),
		cmocka_unit_test(test_json_parses_scalars_at_top_level),
		cmocka_unit_test(test_json_null_value_is_absent_everywhere),
		cmocka_unit_test(test_json_numbers),
		cmocka_unit_test(test_json_numeric_strings),
		cmocka_unit_test(test_json_getters_distinguish_absent_null_and_wrong_type),
		cmocka_unit_test(test_json_duplicate_keys_first_wins),
		cmocka_unit_test(test_json_parses_unicode_escapes),
		cmocka_unit_test(test_json_parse_needs_no_nul_terminator),
		cmocka_unit_test(test_json_rejects_invalid_json_with_cause),
		cmocka_unit_test(test_json_rejects_comments_and_nul),
		cmocka_unit_test(test_json_size_limit),
		cmocka_unit_test(test_json_depth_limit),
		cmocka_unit_test(test_json_depth_bomb_rejected),
		cmocka_unit_test(test_json_is_valid),
		cmocka_unit_test(test_json_gen_exact_output),
		cmocka_unit_test(test_json_gen_reset_reuses_generator),
		cmocka_unit_test(test_json_gen_steal_resets),
		cmocka_unit_test(test_json_gen_doubles),
		cmocka_unit_test(test_json_gen_doubles_round_trip),
		cmocka_unit_test(test_json_gen_escapes_strings),
		cmocka_unit_test(test_json_gen_replaces_invalid_utf8),
		cmocka_unit_test(test_json_gen_invalid_utf8_key_keeps_document_valid),
		cmocka_unit_test(test_json_gen_value_round_trip),
		cmocka_unit_test(test_json_gen_value_inside_object),
		cmocka_unit_test(test_json_gen_raw),
		cmocka_unit_test(test_json_gen_verbatim_embeds_cached_fragments_with_separators),
		cmocka_unit_test(test_json_gen_raw_respects_generator_depth),
		cmocka_unit_test(test_json_quote),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
