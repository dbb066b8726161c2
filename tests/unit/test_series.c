/* series: today's per-minute samples for the charts (daemon/series.h). */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "json.h"
#include "series.h"

#define MIN 60000LL
#define T0  1796515200000LL /* a minute boundary */

static void
note(struct series *s, const char *json, int64_t now_ms)
{
	series_note(s, json, strlen(json), now_ms);
}

static struct json_doc *
render(const struct series *s)
{
	struct json_gen *g = json_gen_new();
	struct json_doc *doc = NULL;
	size_t len = 0;
	const char *text;

	series_json(s, g);
	text = json_gen_text(g, &len);
	assert_int_equal(json_parse(text, len, NULL, &doc, NULL), 0);
	json_gen_free(g);
	return doc;
}

static void
test_series_one_point_per_minute_last_wins(void **state)
{
	struct series *s = series_new(0);
	struct json_doc *doc;
	const struct json_value *v;
	int64_t n = 0;
	double d = 0;

	note(s,
	     "{\"startTime\":\"D1\",\"pendingTasks\":2,\"reservedTasks\":1,"
	     "\"availableWorkers\":4,\"serviceLevel\":90}",
	     T0 + 1000);
	note(s,
	     "{\"startTime\":\"D1\",\"pendingTasks\":5,\"reservedTasks\":0,"
	     "\"availableWorkers\":3,\"serviceLevel\":85.5}",
	     T0 + 59000);
	note(s,
	     "{\"startTime\":\"D1\",\"pendingTasks\":1,\"availableWorkers\":2,"
	     "\"serviceLevel\":null}",
	     T0 + MIN);
	assert_int_equal(series_count(s), 2);
	doc = render(s);
	v = json_doc_root(doc);
	assert_int_equal(json_int64(json_array_at(json_get(v, "minuteMs"), 0), &n), 0);
	assert_int_equal(n, T0);
	assert_int_equal(json_int64(json_array_at(json_get(v, "minuteMs"), 1), &n), 0);
	assert_int_equal(n, T0 + MIN);
	assert_int_equal(json_double(json_array_at(json_get(v, "waiting"), 0), &d), 0);
	assert_true(d == 5);
	assert_int_equal(json_double(json_array_at(json_get(v, "availableWorkers"), 0), &d), 0);
	assert_true(d == 3);
	assert_int_equal(json_double(json_array_at(json_get(v, "serviceLevel"), 0), &d), 0);
	assert_true(d == 85.5);
	/* no sample is null, never 0 */
	assert_int_equal(json_type(json_array_at(json_get(v, "serviceLevel"), 1)), JSON_NULL);
	json_doc_free(doc);
	series_free(s);
}

/* Refreshes come ten times a second; a minute's value is taken at most every 5 s. */
static void
test_series_notes_at_most_every_interval(void **state)
{
	struct series *s = series_new(0);
	struct json_doc *doc;
	double d = 0;

	note(s, "{\"startTime\":\"D1\",\"pendingTasks\":1}", T0 + 1000);
	note(s, "{\"startTime\":\"D1\",\"pendingTasks\":2}", T0 + 2000); /* too soon */
	doc = render(s);
	assert_int_equal(json_double(json_array_at(json_get(json_doc_root(doc), "waiting"), 0), &d),
			 0);
	assert_true(d == 1);
	json_doc_free(doc);
	note(s, "{\"startTime\":\"D1\",\"pendingTasks\":3}", T0 + 1000 + SERIES_NOTE_INTERVAL_MS);
	/* a new minute is always noted */
	note(s, "{\"startTime\":\"D1\",\"pendingTasks\":4}", T0 + MIN);
	doc = render(s);
	assert_int_equal(json_double(json_array_at(json_get(json_doc_root(doc), "waiting"), 0), &d),
			 0);
	assert_true(d == 3);
	assert_int_equal(json_double(json_array_at(json_get(json_doc_root(doc), "waiting"), 1), &d),
			 0);
	assert_true(d == 4);
	json_doc_free(doc);
	series_free(s);
}

static void
test_series_is_bounded_and_keeps_the_newest(void **state)
{
	struct series *s = series_new(3);
	struct json_doc *doc;
	int64_t n = 0;

	for (int i = 0; i < 10; i++)
		note(s, "{\"startTime\":\"D1\",\"pendingTasks\":1}", T0 + i * MIN);
	assert_int_equal(series_count(s), 3);
	doc = render(s);
	assert_int_equal(json_int64(json_array_at(json_get(json_doc_root(doc), "minuteMs"), 0), &n),
			 0);
	assert_int_equal(n, T0 + 7 * MIN);
	json_doc_free(doc);
	series_free(s);
}

static void
test_series_new_day_starts_over(void **state)
{
	struct series *s = series_new(0);

	note(s, "{\"startTime\":\"D1\",\"pendingTasks\":1}", T0);
	note(s, "{\"startTime\":\"D1\",\"pendingTasks\":1}", T0 + MIN);
	note(s, "{\"startTime\":\"D2\",\"pendingTasks\":1}", T0 + 2 * MIN);
	assert_int_equal(series_count(s), 1);
	series_free(s);
}

static void
test_series_ignores_bad_documents_and_clock_going_back(void **state)
{
	struct series *s = series_new(0);

	note(s, "not json", T0);
	note(s, "[1,2]", T0);
	assert_int_equal(series_count(s), 0);
	note(s, "{\"startTime\":\"D1\",\"pendingTasks\":1}", T0 + 5 * MIN);
	note(s, "{\"startTime\":\"D1\",\"pendingTasks\":9}", T0 + 2 * MIN);
	assert_int_equal(series_count(s), 1);
	series_free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_series_one_point_per_minute_last_wins),
		cmocka_unit_test(test_series_notes_at_most_every_interval),
		cmocka_unit_test(test_series_is_bounded_and_keeps_the_newest),
		cmocka_unit_test(test_series_new_day_starts_over),
		cmocka_unit_test(test_series_ignores_bad_documents_and_clock_going_back),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
