/*
 * Unit tests for tests/sim/sim_tr_expr.c, the TaskRouter expression parser
 * and evaluator the emulator routes with (grammar and semantics in
 * sim_tr_expr.h): syntax errors and their messages, operator precedence,
 * keywords in any case, HAS/CONTAINS/IN on arrays and strings, numbers,
 * missing and nested attributes, and the worker-field lookup callback.
 */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json.h"
#include "sim_tr_expr.h"
#include "xmalloc.h"

/* The attributes most tests evaluate against. */
static const char test_sim_tr_expr_attrs[] =
	"{\"skills\":[\"support\",\"sales\"],\"team\":\"blue\",\"level\":3,"
	"\"ratio\":0.5,\"vip\":true,\"nothing\":null,\"empty\":\"\",\"none\":[],"
	"\"langs\":[\"en\",\"de\"],\"Case\":\"upper\","
	"\"routing\":{\"skills\":[\"billing\"],\"location\":{\"city\":\"Berlin\"}}}";

static struct json_doc *
test_sim_tr_expr_doc(const char *text)
{
	struct json_doc *doc = NULL;

	assert_int_equal(json_parse(text, strlen(text), NULL, &doc, NULL), 0);
	return doc;
}

/* Parses text (must succeed) and evaluates it against attrs with lookup. */
static bool
test_sim_tr_expr_eval_with(const char *text, const char *attrs, sim_tr_expr_lookup_cb *lookup,
			   void *arg)
{
	struct json_doc *doc = attrs != NULL ? test_sim_tr_expr_doc(attrs) : NULL;
	struct sim_tr_expr *e = NULL;
	char *cause = NULL;
	bool result;

	if (sim_tr_expr_parse(text, &e, &cause) != 0)
		fail_msg("'%s' did not parse: %s", text, cause != NULL ? cause : "(no cause)");
	assert_null(cause);
	result = sim_tr_expr_eval(e, doc != NULL ? json_doc_root(doc) : NULL, lookup, arg);
	sim_tr_expr_free(e);
	json_doc_free(doc);
	return result;
}

static bool
test_sim_tr_expr_eval(const char *text)
{
	return test_sim_tr_expr_eval_with(text, test_sim_tr_expr_attrs, NULL, NULL);
}

/* Asserts that text is refused with -EINVAL and a cause containing want. */
static void
test_sim_tr_expr_refused(const char *text, const char *want)
{
	struct sim_tr_expr *e = NULL;
	char *cause = NULL;

	if (sim_tr_expr_parse(text, &e, &cause) == 0)
		fail_msg("'%s' parsed but should not", text);
	assert_null(e);
	assert_non_null(cause);
	if (strstr(cause, want) == NULL)
		fail_msg("'%s': cause '%s' lacks '%s'", text, cause, want);
	free(cause);
}

static void
test_sim_tr_expr_rejects_empty_and_blank(void **state)
{
	test_sim_tr_expr_refused("", "empty expression");
	test_sim_tr_expr_refused("   \t ", "empty expression");
}

static void
test_sim_tr_expr_rejects_syntax_errors_with_offset(void **state)
{
	test_sim_tr_expr_refused("team == \"blue", "unterminated string at offset 8");
	test_sim_tr_expr_refused("team # 1", "unexpected character at offset 5");
	test_sim_tr_expr_refused("(team == \"blue\"", "expected ')'");
	test_sim_tr_expr_refused("team == \"blue\")", "unexpected token at offset 14");
	test_sim_tr_expr_refused("team ==", "expected a value at end of expression");
	test_sim_tr_expr_refused("team == \"a\" AND", "expected a value");
	test_sim_tr_expr_refused("OR team == \"a\"", "unexpected keyword at offset 0");
	test_sim_tr_expr_refused("team NOT \"a\"", "expected IN after NOT");
	test_sim_tr_expr_refused("team IN [\"a\", \"b\"", "expected ',' or ']' at end");
	test_sim_tr_expr_refused("team IN [\"a\",", "expected a value at end");
	test_sim_tr_expr_refused("team IN [\"a\" \"b\"]", "expected ',' or ']'");
	test_sim_tr_expr_refused("team blue", "unexpected token");
	test_sim_tr_expr_refused("team & \"a\"", "unexpected character");
	test_sim_tr_expr_refused("()", "expected a value");
}

static void
test_sim_tr_expr_cause_out_may_be_null(void **state)
{
	struct sim_tr_expr *e = NULL;

	assert_int_equal(sim_tr_expr_parse("team ==", &e, NULL), -EINVAL);
	assert_null(e);
}

static void
test_sim_tr_expr_limits_nesting_depth(void **state)
{
	char deep[512];
	size_t i;
	size_t n = 200;

	/* 200 parentheses: refused, not a stack overflow. */
	for (i = 0; i < n; i++)
		deep[i] = '(';
	memcpy(deep + n, "1==1", 5);
	test_sim_tr_expr_refused(deep, "nested too deeply");
	/* 200 nested lists: refused the same way. */
	memcpy(deep, "team IN ", 8);
	for (i = 0; i < n; i++)
		deep[8 + i] = '[';
	deep[8 + n] = '\0';
	test_sim_tr_expr_refused(deep, "nested too deeply");
	/* 200 negations. */
	for (i = 0; i < n; i++)
		deep[i] = '!';
	memcpy(deep + n, "vip", 4);
	test_sim_tr_expr_refused(deep, "nested too deeply");
	/* Modest nesting is fine. */
	assert_true(test_sim_tr_expr_eval("((((team == \"blue\"))))"));
	assert_true(test_sim_tr_expr_eval("\"x\" IN [[\"x\"], \"x\"]"));
}

static void
test_sim_tr_expr_and_binds_tighter_than_or(void **state)
{
	/* (F AND F) OR T = T, whereas F AND (F OR T) would be F. */
	assert_true(test_sim_tr_expr_eval("1==2 AND 1==2 OR 1==1"));
	/* T OR (T AND F) = T, whereas (T OR T) AND F would be F. */
	assert_true(test_sim_tr_expr_eval("1==1 OR 1==1 AND 1==2"));
	/* Parentheses override it. */
	assert_false(test_sim_tr_expr_eval("(1==1 OR 1==1) AND 1==2"));
	assert_false(test_sim_tr_expr_eval("1==2 AND (1==2 OR 1==1)"));
}

static void
test_sim_tr_expr_not_binds_tightest(void **state)
{
	/* (NOT F) AND F = F, whereas NOT (F AND F) would be T. */
	assert_false(test_sim_tr_expr_eval("NOT 1==2 AND 1==2"));
	assert_true(test_sim_tr_expr_eval("NOT (1==2 AND 1==2)"));
	assert_true(test_sim_tr_expr_eval("!vip OR team == \"blue\""));
	assert_false(test_sim_tr_expr_eval("!vip"));
	assert_true(test_sim_tr_expr_eval("!!vip"));
}

static void
test_sim_tr_expr_symbol_operators_match_keywords(void **state)
{
	assert_true(test_sim_tr_expr_eval("team == \"blue\" && level == 3"));
	assert_false(test_sim_tr_expr_eval("team == \"red\" && level == 3"));
	assert_true(test_sim_tr_expr_eval("team == \"red\" || level == 3"));
	assert_true(test_sim_tr_expr_eval("team = \"blue\""));
}

static void
test_sim_tr_expr_keywords_are_case_insensitive(void **state)
{
	assert_true(test_sim_tr_expr_eval("skills HAS \"support\""));
	assert_true(test_sim_tr_expr_eval("skills has \"support\""));
	assert_true(test_sim_tr_expr_eval("skills HaS \"support\""));
	assert_true(test_sim_tr_expr_eval("team == \"blue\" and level == 3"));
	assert_true(test_sim_tr_expr_eval("team == \"red\" oR level == 3"));
	assert_true(test_sim_tr_expr_eval("not team == \"red\""));
	assert_true(test_sim_tr_expr_eval("team in [\"blue\"]"));
	assert_true(test_sim_tr_expr_eval("team Not In [\"red\"]"));
	assert_true(test_sim_tr_expr_eval("team contains \"lu\""));
	assert_true(test_sim_tr_expr_eval("vip == TRUE"));
	assert_true(test_sim_tr_expr_eval("nothing == NULL"));
}

static void
test_sim_tr_expr_attribute_names_are_case_sensitive(void **state)
{
	assert_true(test_sim_tr_expr_eval("Case == \"upper\""));
	assert_false(test_sim_tr_expr_eval("case == \"upper\""));
	assert_false(test_sim_tr_expr_eval("TEAM == \"blue\""));
}

static void
test_sim_tr_expr_has_on_arrays_is_membership(void **state)
{
	assert_true(test_sim_tr_expr_eval("skills HAS \"support\""));
	assert_true(test_sim_tr_expr_eval("skills HAS \"sales\""));
	assert_false(test_sim_tr_expr_eval("skills HAS \"billing\""));
	assert_false(test_sim_tr_expr_eval("skills HAS \"sup\""));
	assert_false(test_sim_tr_expr_eval("none HAS \"support\""));
	/* Values are case-sensitive. */
	assert_false(test_sim_tr_expr_eval("skills HAS \"Support\""));
}

static void
test_sim_tr_expr_has_on_strings_is_equality(void **state)
{
	assert_true(test_sim_tr_expr_eval("team HAS \"blue\""));
	assert_false(test_sim_tr_expr_eval("team HAS \"bl\""));
	assert_false(test_sim_tr_expr_eval("level HAS \"3\""));
}

static void
test_sim_tr_expr_contains_is_substring_or_membership(void **state)
{
	assert_true(test_sim_tr_expr_eval("team CONTAINS \"lu\""));
	assert_false(test_sim_tr_expr_eval("team CONTAINS \"red\""));
	assert_true(test_sim_tr_expr_eval("skills CONTAINS \"sales\""));
	assert_false(test_sim_tr_expr_eval("skills CONTAINS \"sal\""));
	assert_false(test_sim_tr_expr_eval("level CONTAINS 3"));
}

static void
test_sim_tr_expr_in_and_not_in(void **state)
{
	assert_true(test_sim_tr_expr_eval("team IN [\"red\", \"blue\"]"));
	assert_false(test_sim_tr_expr_eval("team IN [\"red\", \"green\"]"));
	assert_true(test_sim_tr_expr_eval("team NOT IN [\"red\", \"green\"]"));
	assert_false(test_sim_tr_expr_eval("team NOT IN [\"blue\"]"));
	/* An array on the left matches when any element is in the list. */
	assert_true(test_sim_tr_expr_eval("skills IN [\"billing\", \"sales\"]"));
	assert_false(test_sim_tr_expr_eval("skills IN [\"billing\"]"));
	assert_true(test_sim_tr_expr_eval("level IN [1, 2, 3]"));
	assert_false(test_sim_tr_expr_eval("level IN []"));
	/* An attribute array on the right works like a literal list. */
	assert_true(test_sim_tr_expr_eval("\"de\" IN langs"));
	assert_true(test_sim_tr_expr_eval("langs IN [\"de\"]"));
	/* A scalar on the right is plain equality. */
	assert_true(test_sim_tr_expr_eval("team IN \"blue\""));
}

static void
test_sim_tr_expr_numbers_compare_numerically(void **state)
{
	assert_true(test_sim_tr_expr_eval("1==1"));
	assert_false(test_sim_tr_expr_eval("1==2"));
	assert_true(test_sim_tr_expr_eval("1 != 2"));
	assert_true(test_sim_tr_expr_eval("level > 2"));
	assert_true(test_sim_tr_expr_eval("level >= 3"));
	assert_false(test_sim_tr_expr_eval("level < 3"));
	assert_true(test_sim_tr_expr_eval("level <= 3"));
	assert_true(test_sim_tr_expr_eval("level == 3.0"));
	assert_true(test_sim_tr_expr_eval("level > -1"));
	assert_true(test_sim_tr_expr_eval("ratio < 1"));
	assert_true(test_sim_tr_expr_eval("ratio == 0.5"));
	assert_true(test_sim_tr_expr_eval("10 > 9"));
	/* No coercion between numbers and strings: "10" < "9" as text, 10 > 9 as numbers. */
	assert_false(test_sim_tr_expr_eval("level == \"3\""));
	assert_false(test_sim_tr_expr_eval("level > \"2\""));
	assert_true(test_sim_tr_expr_eval("\"10\" < \"9\""));
}

static void
test_sim_tr_expr_bare_operands_are_truthy_values(void **state)
{
	assert_true(test_sim_tr_expr_eval("1"));
	assert_false(test_sim_tr_expr_eval("0"));
	assert_true(test_sim_tr_expr_eval("true"));
	assert_false(test_sim_tr_expr_eval("false"));
	assert_false(test_sim_tr_expr_eval("null"));
	assert_true(test_sim_tr_expr_eval("vip"));
	assert_true(test_sim_tr_expr_eval("team"));
	assert_false(test_sim_tr_expr_eval("empty"));
	assert_true(test_sim_tr_expr_eval("skills"));
	assert_false(test_sim_tr_expr_eval("none"));
	assert_true(test_sim_tr_expr_eval("routing"));
	assert_false(test_sim_tr_expr_eval("nothing"));
}

static void
test_sim_tr_expr_missing_attribute_is_false_except_not_equal(void **state)
{
	assert_false(test_sim_tr_expr_eval("missing == \"x\""));
	assert_true(test_sim_tr_expr_eval("missing != \"x\""));
	assert_false(test_sim_tr_expr_eval("missing HAS \"x\""));
	assert_false(test_sim_tr_expr_eval("missing CONTAINS \"x\""));
	assert_false(test_sim_tr_expr_eval("missing IN [\"x\"]"));
	assert_true(test_sim_tr_expr_eval("missing NOT IN [\"x\"]"));
	assert_false(test_sim_tr_expr_eval("missing > 1"));
	assert_false(test_sim_tr_expr_eval("missing"));
	assert_true(test_sim_tr_expr_eval("NOT missing == \"x\""));
	/* Null is a value, not a missing attribute. */
	assert_true(test_sim_tr_expr_eval("nothing == null"));
	assert_false(test_sim_tr_expr_eval("missing == null"));
}

static void
test_sim_tr_expr_nested_attributes_use_dotted_paths(void **state)
{
	assert_true(test_sim_tr_expr_eval("routing.skills HAS \"billing\""));
	assert_false(test_sim_tr_expr_eval("routing.skills HAS \"support\""));
	assert_true(test_sim_tr_expr_eval("routing.location.city == \"Berlin\""));
	/* A path through a non-object, or a segment that does not exist, is missing. */
	assert_false(test_sim_tr_expr_eval("team.name == \"blue\""));
	assert_true(test_sim_tr_expr_eval("team.name != \"blue\""));
	assert_false(test_sim_tr_expr_eval("routing.nowhere.city == \"Berlin\""));
	assert_false(test_sim_tr_expr_eval("routing..skills HAS \"billing\""));
}

static void
test_sim_tr_expr_strings_take_either_quote_and_escapes(void **state)
{
	assert_true(test_sim_tr_expr_eval("team == 'blue'"));
	assert_true(
		test_sim_tr_expr_eval_with("q == \"a\\\"b\"", "{\"q\":\"a\\\"b\"}", NULL, NULL));
	assert_true(test_sim_tr_expr_eval_with("q == 'it\\'s'", "{\"q\":\"it's\"}", NULL, NULL));
	assert_true(test_sim_tr_expr_eval_with("q == \"it's\"", "{\"q\":\"it's\"}", NULL, NULL));
}

static void
test_sim_tr_expr_booleans_and_null(void **state)
{
	assert_true(test_sim_tr_expr_eval("vip == true"));
	assert_false(test_sim_tr_expr_eval("vip == false"));
	assert_true(test_sim_tr_expr_eval("vip != false"));
	assert_false(test_sim_tr_expr_eval("vip == \"true\""));
	assert_false(test_sim_tr_expr_eval("vip == 1"));
}

/* Worker fields offered to the evaluator when the attributes lack a name. */
static const char *
test_sim_tr_expr_lookup(void *arg, const char *name)
{
	int *calls = arg;

	(*calls)++;
	if (strcmp(name, "activity_name") == 0)
		return "Available";
	if (strcmp(name, "team") == 0)
		return "from-lookup";
	return NULL;
}

static void
test_sim_tr_expr_lookup_fills_names_absent_from_attributes(void **state)
{
	int calls = 0;

	assert_true(test_sim_tr_expr_eval_with("activity_name == \"Available\"",
					       test_sim_tr_expr_attrs, test_sim_tr_expr_lookup,
					       &calls));
	assert_int_equal(calls, 1);
	/* Attributes win over the lookup, which is not asked then. */
	calls = 0;
	assert_true(test_sim_tr_expr_eval_with("team == \"blue\"", test_sim_tr_expr_attrs,
					       test_sim_tr_expr_lookup, &calls));
	assert_int_equal(calls, 0);
	/* Unknown to both: missing. */
	assert_false(test_sim_tr_expr_eval_with("other == \"x\"", test_sim_tr_expr_attrs,
						test_sim_tr_expr_lookup, &calls));
	/* Without attributes at all, the lookup still answers. */
	assert_true(test_sim_tr_expr_eval_with("activity_name == \"Available\" AND 1==1", NULL,
					       test_sim_tr_expr_lookup, &calls));
}

static void
test_sim_tr_expr_eval_tolerates_null_expression_and_attributes(void **state)
{
	struct sim_tr_expr *e = NULL;

	assert_false(sim_tr_expr_eval(NULL, NULL, NULL, NULL));
	assert_int_equal(sim_tr_expr_parse("team == \"blue\"", &e, NULL), 0);
	assert_false(sim_tr_expr_eval(e, NULL, NULL, NULL));
	sim_tr_expr_free(e);
	sim_tr_expr_free(NULL);
	assert_true(test_sim_tr_expr_eval_with("1==1", NULL, NULL, NULL));
}

static void
test_sim_tr_expr_typical_queue_expressions(void **state)
{
	/* Shapes used by trhub's queues and by the Twilio docs. */
	assert_true(test_sim_tr_expr_eval("skills HAS \"support\" AND level >= 2"));
	assert_true(test_sim_tr_expr_eval("(skills HAS \"billing\" OR skills HAS \"sales\") "
					  "AND team IN [\"blue\", \"red\"]"));
	assert_true(test_sim_tr_expr_eval("  1 == 1  "));
	assert_true(test_sim_tr_expr_eval("routing.location.city IN [\"Berlin\", \"Paris\"]"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sim_tr_expr_rejects_empty_and_blank),
		cmocka_unit_test(test_sim_tr_expr_rejects_syntax_errors_with_offset),
		cmocka_unit_test(test_sim_tr_expr_cause_out_may_be_null),
		cmocka_unit_test(test_sim_tr_expr_limits_nesting_depth),
		cmocka_unit_test(test_sim_tr_expr_and_binds_tighter_than_or),
		cmocka_unit_test(test_sim_tr_expr_not_binds_tightest),
		cmocka_unit_test(test_sim_tr_expr_symbol_operators_match_keywords),
		cmocka_unit_test(test_sim_tr_expr_keywords_are_case_insensitive),
		cmocka_unit_test(test_sim_tr_expr_attribute_names_are_case_sensitive),
		cmocka_unit_test(test_sim_tr_expr_has_on_arrays_is_membership),
		cmocka_unit_test(test_sim_tr_expr_has_on_strings_is_equality),
		cmocka_unit_test(test_sim_tr_expr_contains_is_substring_or_membership),
		cmocka_unit_test(test_sim_tr_expr_in_and_not_in),
		cmocka_unit_test(test_sim_tr_expr_numbers_compare_numerically),
		cmocka_unit_test(test_sim_tr_expr_bare_operands_are_truthy_values),
		cmocka_unit_test(test_sim_tr_expr_missing_attribute_is_false_except_not_equal),
		cmocka_unit_test(test_sim_tr_expr_nested_attributes_use_dotted_paths),
		cmocka_unit_test(test_sim_tr_expr_strings_take_either_quote_and_escapes),
		cmocka_unit_test(test_sim_tr_expr_booleans_and_null),
		cmocka_unit_test(test_sim_tr_expr_lookup_fills_names_absent_from_attributes),
		cmocka_unit_test(test_sim_tr_expr_eval_tolerates_null_expression_and_attributes),
		cmocka_unit_test(test_sim_tr_expr_typical_queue_expressions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
