/*
 * Unit tests for daemon/kpi.c: the seed dashboard's keys, SL%, ASA and
 * abandonment from statistics documents shaped like shared/twilio-api.md
 * 3.7 (counts as numbers or strings, fields absent), every activity as a
 * key, queue ordering, and the 16 KiB bound.
 */

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "json.h"
#include "kpi.h"
#include "xmalloc.h"

#define WQ1 "WQ00000000000000000000000000000001"
#define WQ2 "WQ00000000000000000000000000000002"

static const char workspace_stats[] =
	"{\"account_sid\":\"AC00000000000000000000000000000001\","
	"\"workspace_sid\":\"WS00000000000000000000000000000001\","
	"\"url\":\"https://taskrouter.twilio.com/v1/Workspaces/WS00000000000000000000000000000001/"
	"Statistics\","
	"\"realtime\":{\"activity_statistics\":["
	"{\"sid\":\"WA00000000000000000000000000000001\",\"friendly_name\":\"Offline\","
	"\"workers\":3},"
	"{\"sid\":\"WA00000000000000000000000000000002\",\"friendly_name\":\"Available\","
	"\"workers\":\"2\"},"
	"{\"sid\":\"WA00000000000000000000000000000003\",\"friendly_name\":\"On Break\","
	"\"workers\":1}],"
	"\"longest_task_waiting_age\":42,"
	"\"longest_task_waiting_sid\":\"WT00000000000000000000000000000007\","
	"\"tasks_by_priority\":{\"0\":6},"
	"\"tasks_by_status\":{\"pending\":\"3\",\"reserved\":1,\"assigned\":2,\"wrapping\":0,"
	"\"completed\":5},"
	"\"total_tasks\":6,\"total_workers\":\"6\"},"
	"\"cumulative\":{\"avg_task_acceptance_time\":\"12.5\","
	"\"start_time\":\"2024-05-09T22:00:00Z\",\"end_time\":\"2024-05-10T12:00:00Z\","
	"\"reservations_created\":20,\"reservations_accepted\":16,\"reservations_rejected\":2,"
	"\"reservations_timed_out\":2,\"reservations_canceled\":0,\"reservations_rescinded\":0,"
	"\"tasks_created\":20,\"tasks_canceled\":4,\"tasks_completed\":14,\"tasks_deleted\":0,"
	"\"tasks_moved\":0,\"tasks_timed_out_in_workflow\":0,"
	"\"wait_duration_until_accepted\":{\"avg\":9.0,\"min\":1,\"max\":40,\"total\":144},"
	"\"wait_duration_until_canceled\":{\"avg\":30,\"min\":5,\"max\":60,\"total\":120},"
	"\"split_by_wait_time\":{\"20\":{\"above\":{\"tasks_canceled\":3,"
	"\"reservations_accepted\":4},\"below\":{\"tasks_canceled\":1,"
	"\"reservations_accepted\":12}}}}}";

static const char queue1_stats[] =
	"{\"account_sid\":\"AC00000000000000000000000000000001\","
	"\"task_queue_sid\":\"" WQ1 "\","
	"\"realtime\":{\"total_available_workers\":2,\"total_eligible_workers\":5,"
	"\"longest_relative_task_age_in_queue\":30,\"longest_task_waiting_age\":50,"
	"\"tasks_by_status\":{\"pending\":2,\"reserved\":1,\"assigned\":0,\"wrapping\":0}},"
	"\"cumulative\":{\"tasks_entered\":10,\"tasks_canceled\":\"1\","
	"\"reservations_accepted\":9,\"avg_task_acceptance_time\":11,"
	"\"wait_duration_in_queue_until_accepted\":{\"avg\":7.25},"
	"\"wait_duration_until_accepted\":{\"avg\":8},"
	"\"split_by_wait_time\":{\"30\":{\"below\":{\"reservations_accepted\":8,"
	"\"tasks_canceled\":0},\"above\":{\"reservations_accepted\":1,\"tasks_canceled\":1}}}}}";

/* Quiet queue: fields absent, strings where numbers are expected. */
static const char queue2_stats[] = "{\"task_queue_sid\":\"" WQ2 "\","
				   "\"realtime\":{\"tasks_by_status\":{\"pending\":\"0\"}},"
				   "\"cumulative\":{}}";

struct docs {
	struct json_doc *ws;
	struct json_doc *q1;
	struct json_doc *q2;
	struct kpi_queue queues[2];
	struct kpi_input in;
};

static const char *const activities[] = { "Offline", "Available", "On Break", "Lunch Time" };

static struct json_doc *
parse(const char *text)
{
	struct json_doc *doc = NULL;

	assert_int_equal(json_parse(text, strlen(text), NULL, &doc, NULL), 0);
	return doc;
}

static void
docs_init(struct docs *d)
{
	memset(d, 0, sizeof(*d));
	d->ws = parse(workspace_stats);
	d->q1 = parse(queue1_stats);
	d->q2 = parse(queue2_stats);
	d->queues[0] = (struct kpi_queue){
		.sid = WQ2, .name = "Quiet", .sla_threshold_s = 20, .stats = json_doc_root(d->q2)
	};
	d->queues[1] = (struct kpi_queue){
		.sid = WQ1, .name = "Support", .sla_threshold_s = 30, .stats = json_doc_root(d->q1)
	};
	d->in.workspace = json_doc_root(d->ws);
	d->in.queues = d->queues;
	d->in.nqueues = 2;
	d->in.activity_names = activities;
	d->in.nactivities = 4;
	d->in.sla_threshold_s = 20;
	d->in.refreshed_at_ms = 1715342400000LL;
}

static void
docs_clear(struct docs *d)
{
	json_doc_free(d->ws);
	json_doc_free(d->q1);
	json_doc_free(d->q2);
}

static struct json_doc *
kpi(const struct kpi_input *in, size_t *len_out)
{
	size_t len = 0;
	char *text = kpi_document(in, &len);
	struct json_doc *doc = NULL;

	assert_int_equal(json_parse(text, len, NULL, &doc, NULL), 0);
	free(text);
	if (len_out != NULL)
		*len_out = len;
	return doc;
}

static int64_t
int_of(const struct json_value *o, const char *key)
{
	int64_t n = -12345;

	assert_int_equal(json_get_int64(o, key, &n), 0);
	return n;
}

static double
num_of(const struct json_value *o, const char *key)
{
	double d = NAN;

	assert_int_equal(json_get_double(o, key, &d), 0);
	return d;
}

static void
test_kpi_keeps_the_seed_keys(void **state)
{
	struct docs d;
	struct json_doc *doc;
	const struct json_value *v;

	docs_init(&d);
	doc = kpi(&d.in, NULL);
	v = json_doc_root(doc);
	assert_int_equal(int_of(v, "totalTasks"), 6);
	assert_int_equal(int_of(v, "totalWorkers"), 6);
	assert_int_equal(int_of(v, "pendingTasks"), 3);
	assert_int_equal(int_of(v, "reservedTasks"), 1);
	assert_int_equal(int_of(v, "assignedTasks"), 2);
	assert_int_equal(int_of(v, "wrappingTasks"), 0);
	assert_int_equal(int_of(v, "completedTasks"), 5);
	assert_int_equal(int_of(v, "activityOfflineWorkers"), 3);
	assert_int_equal(int_of(v, "activityAvailableWorkers"), 2);
	assert_int_equal(int_of(v, "activityOnBreakWorkers"), 1);
	assert_true(fabs(num_of(v, "avgTaskAcceptanceTime") - 12.5) < 1e-9);
	assert_string_equal(json_string(json_get(v, "startTime")), "2024-05-09T22:00:00Z");
	assert_string_equal(json_string(json_get(v, "endTime")), "2024-05-10T12:00:00Z");
	json_doc_free(doc);
	docs_clear(&d);
}

static void
test_kpi_every_activity_becomes_a_key(void **state)
{
	struct docs d;
	struct json_doc *doc;
	const struct json_value *v;

	docs_init(&d);
	doc = kpi(&d.in, NULL);
	v = json_doc_root(doc);
	/* An activity nobody is in still has its key. */
	assert_int_equal(int_of(v, "activityLunchTimeWorkers"), 0);
	assert_int_equal(int_of(json_get(v, "workersByActivity"), "On Break"), 1);
	assert_int_equal(int_of(json_get(v, "workersByActivity"), "Lunch Time"), 0);
	json_doc_free(doc);
	docs_clear(&d);
}

static void
test_kpi_activity_key_drops_white_space(void **state)
{
	char *k = kpi_activity_key("On\tBreak Now");

	assert_string_equal(k, "activityOnBreakNowWorkers");
	free(k);
	k = kpi_activity_key("Idle");
	assert_string_equal(k, "activityIdleWorkers");
	free(k);
}

static void
test_kpi_workspace_service_level_asa_abandonment(void **state)
{
	struct docs d;
	struct json_doc *doc;
	const struct json_value *v;

	docs_init(&d);
	doc = kpi(&d.in, NULL);
	v = json_doc_root(doc);
	/* 12 answered within 20 s of 16 answered + 4 abandoned. */
	assert_true(fabs(num_of(v, "serviceLevel") - 60.0) < 1e-9);
	assert_true(fabs(num_of(v, "asa") - 9.0) < 1e-9);
	assert_int_equal(int_of(v, "abandoned"), 4);
	assert_true(fabs(num_of(v, "abandonmentRate") - 20.0) < 1e-9);
	assert_int_equal(int_of(v, "longestWaitingAge"), 42);
	assert_string_equal(json_string(json_get(v, "longestWaitingSid")),
			    "WT00000000000000000000000000000007");
	assert_int_equal(int_of(v, "slThresholdS"), 20);
	assert_string_equal(json_string(json_get(v, "refreshedAt")), "2024-05-10T12:00:00Z");
	json_doc_free(doc);
	docs_clear(&d);
}

/* An agent's stream gets the same numbers but no caller's task SID. */
static void
test_kpi_agents_view_names_no_task(void **state)
{
	struct docs d;
	struct json_doc *doc;
	const struct json_value *v;

	docs_init(&d);
	d.in.for_workers = true;
	doc = kpi(&d.in, NULL);
	v = json_doc_root(doc);
	assert_int_equal(int_of(v, "longestWaitingAge"), 42);
	assert_non_null(json_get(v, "longestWaitingSid"));
	assert_null(json_string(json_get(v, "longestWaitingSid")));
	json_doc_free(doc);
	docs_clear(&d);
}

static void
test_kpi_queue_kpis_use_their_own_threshold(void **state)
{
	struct docs d;
	struct json_doc *doc;
	const struct json_value *queues;
	const struct json_value *q;

	docs_init(&d);
	doc = kpi(&d.in, NULL);
	queues = json_get(json_doc_root(doc), "queues");
	assert_int_equal(json_array_len(queues), 2);
	/* Busiest first: Support has 3 waiting. */
	q = json_array_at(queues, 0);
	assert_string_equal(json_string(json_get(q, "sid")), WQ1);
	assert_string_equal(json_string(json_get(q, "name")), "Support");
	assert_int_equal(int_of(q, "slThreshold"), 30);
	assert_true(fabs(num_of(q, "serviceLevel") - 80.0) < 1e-9);
	/* From queue entry, rounded to 0.1 s. */
	assert_true(fabs(num_of(q, "asa") - 7.3) < 1e-9);
	assert_int_equal(int_of(q, "abandoned"), 1);
	assert_true(fabs(num_of(q, "abandonmentRate") - 10.0) < 1e-9);
	assert_int_equal(int_of(q, "waiting"), 3);
	assert_int_equal(int_of(q, "longestWaiting"), 30);
	assert_int_equal(int_of(q, "availableWorkers"), 2);
	assert_int_equal(int_of(q, "eligibleWorkers"), 5);

	q = json_array_at(queues, 1);
	assert_string_equal(json_string(json_get(q, "sid")), WQ2);
	assert_int_equal(json_type(json_get(q, "serviceLevel")), JSON_NULL);
	assert_int_equal(json_type(json_get(q, "asa")), JSON_NULL);
	assert_int_equal(json_type(json_get(q, "abandonmentRate")), JSON_NULL);
	assert_int_equal(int_of(q, "waiting"), 0);
	assert_int_equal(int_of(json_doc_root(doc), "queuesTotal"), 2);
	assert_false(json_bool(json_get(json_doc_root(doc), "queuesTruncated")));
	json_doc_free(doc);
	docs_clear(&d);
}

static void
test_kpi_threshold_not_split_gives_null(void **state)
{
	struct docs d;
	struct json_doc *doc;

	docs_init(&d);
	d.in.sla_threshold_s = 45;
	doc = kpi(&d.in, NULL);
	assert_int_equal(json_type(json_get(json_doc_root(doc), "serviceLevel")), JSON_NULL);
	json_doc_free(doc);
	docs_clear(&d);
}

static void
test_kpi_empty_statistics_still_have_every_key(void **state)
{
	struct kpi_input in = { 0 };
	struct json_doc *empty = parse("{}");
	struct json_doc *doc;
	const struct json_value *v;
	static const char *const keys[] = {
		"totalTasks",
		"totalWorkers",
		"pendingTasks",
		"reservedTasks",
		"assignedTasks",
		"wrappingTasks",
		"avgTaskAcceptanceTime",
		"startTime",
		"endTime",
		"serviceLevel",
		"asa",
		"abandonmentRate",
		"refreshedAt",
		"queues",
		"longestWaitingAge",
		"longestWaitingSid",
		"abandoned",
		"workersByActivity",
	};

	in.workspace = json_doc_root(empty);
	in.sla_threshold_s = 20;
	doc = kpi(&in, NULL);
	v = json_doc_root(doc);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (json_get(v, keys[i]) == NULL)
			fail_msg("key %s missing", keys[i]);
	}
	assert_int_equal(int_of(v, "pendingTasks"), 0);
	assert_int_equal(json_type(json_get(v, "serviceLevel")), JSON_NULL);
	assert_int_equal(json_array_len(json_get(v, "queues")), 0);
	json_doc_free(doc);
	json_doc_free(empty);
}

/* Flex's short abandons: callers who hung up within S seconds leave the denominator. */
static void
test_kpi_short_abandons_leave_the_service_level(void **state)
{
	struct kpi_input in = { 0 };
	struct json_doc *ws =
		parse("{\"cumulative\":{\"reservations_accepted\":16,\"tasks_canceled\":4,"
		      "\"split_by_wait_time\":{\"20\":{\"below\":{\"reservations_accepted\":12,"
		      "\"tasks_canceled\":3},\"above\":{\"reservations_accepted\":4,"
		      "\"tasks_canceled\":1}},\"5\":{\"below\":{\"reservations_accepted\":6,"
		      "\"tasks_canceled\":2},\"above\":{\"reservations_accepted\":10,"
		      "\"tasks_canceled\":2}}}}}");
	struct json_doc *doc;
	const struct json_value *v;

	in.workspace = json_doc_root(ws);
	in.sla_threshold_s = 20;
	/* off: 12 / (16 + 4) */
	doc = kpi(&in, NULL);
	v = json_doc_root(doc);
	assert_true(fabs(num_of(v, "serviceLevel") - 60.0) < 1e-9);
	assert_int_equal(json_type(json_get(v, "shortAbandonS")), JSON_NULL);
	json_doc_free(doc);
	/* 5 s: the 2 callers gone within 5 s do not count: 12 / (16 + 4 - 2) */
	in.short_abandon_s = 5;
	doc = kpi(&in, NULL);
	v = json_doc_root(doc);
	assert_true(fabs(num_of(v, "serviceLevel") - 66.7) < 1e-9);
	assert_int_equal(int_of(v, "shortAbandonS"), 5);
	assert_int_equal(int_of(v, "shortAbandoned"), 2);
	json_doc_free(doc);
	/* a threshold TaskRouter did not split: the rule is not applied, and says so */
	in.short_abandon_s = 7;
	doc = kpi(&in, NULL);
	v = json_doc_root(doc);
	assert_true(fabs(num_of(v, "serviceLevel") - 60.0) < 1e-9);
	assert_int_equal(json_type(json_get(v, "shortAbandonS")), JSON_NULL);
	json_doc_free(doc);
	json_doc_free(ws);
}

/* The queue called name in the KPI document doc; fails the test when there is none. */
static const struct json_value *
queue_named(const struct json_value *doc, const char *name)
{
	const struct json_value *qs = json_get(doc, "queues");

	for (size_t i = 0; i < json_array_len(qs); i++) {
		const char *n = json_string(json_get(json_array_at(qs, i), "name"));

		if (n != NULL && strcmp(n, name) == 0)
			return json_array_at(qs, i);
	}
	fail_msg("no queue %s in the document", name);
	return NULL;
}

/*
 * Per-queue short abandons: each queue applies its own rule (its
 * short_abandon_s.<queue>), the workspace its own, on the same TaskRouter
 * split; a queue that turns the rule off keeps every abandon in.
 */
static void
test_kpi_short_abandons_per_queue(void **state)
{
	static const char cum[] =
		"\"cumulative\":{\"reservations_accepted\":16,\"tasks_canceled\":4,"
		"\"split_by_wait_time\":{\"20\":{\"below\":{\"reservations_accepted\":12,"
		"\"tasks_canceled\":3},\"above\":{\"reservations_accepted\":4,"
		"\"tasks_canceled\":1}},\"5\":{\"below\":{\"reservations_accepted\":6,"
		"\"tasks_canceled\":2},\"above\":{\"reservations_accepted\":10,"
		"\"tasks_canceled\":2}}}}";
	char *text = xasprintf("{%s}", cum);
	char *q1 = xasprintf("{\"task_queue_sid\":\"" WQ1 "\",%s}", cum);
	char *q2 = xasprintf("{\"task_queue_sid\":\"" WQ2 "\",%s}", cum);
	struct json_doc *ws = parse(text);
	struct json_doc *d1 = parse(q1);
	struct json_doc *d2 = parse(q2);
	struct kpi_queue queues[2] = {
		{ .sid = WQ1,
		  .name = "Sales",
		  .sla_threshold_s = 20,
		  .short_abandon_s = 5,
		  .stats = json_doc_root(d1) },
		{ .sid = WQ2,
		  .name = "Support",
		  .sla_threshold_s = 20,
		  .short_abandon_s = 0,
		  .stats = json_doc_root(d2) },
	};
	struct kpi_input in = { 0 };
	struct json_doc *doc;
	const struct json_value *v;
	const struct json_value *q;

	in.workspace = json_doc_root(ws);
	in.queues = queues;
	in.nqueues = 2;
	in.sla_threshold_s = 20;
	/* the workspace off, Sales on: only Sales leaves its 2 short abandons out */
	doc = kpi(&in, NULL);
	v = json_doc_root(doc);
	assert_true(fabs(num_of(v, "serviceLevel") - 60.0) < 1e-9);
	assert_int_equal(json_type(json_get(v, "shortAbandonS")), JSON_NULL);
	q = queue_named(v, "Sales");
	assert_true(fabs(num_of(q, "serviceLevel") - 66.7) < 1e-9); /* 12 / (16 + 4 - 2) */
	assert_int_equal(int_of(q, "shortAbandonS"), 5);
	assert_int_equal(int_of(q, "shortAbandoned"), 2);
	q = queue_named(v, "Support");
	assert_true(fabs(num_of(q, "serviceLevel") - 60.0) < 1e-9); /* 12 / (16 + 4) */
	assert_int_equal(json_type(json_get(q, "shortAbandonS")), JSON_NULL);
	assert_int_equal(json_type(json_get(q, "shortAbandoned")), JSON_NULL);
	json_doc_free(doc);
	/* the workspace on, Support off by its override: Support counts every abandon */
	in.short_abandon_s = 5;
	doc = kpi(&in, NULL);
	v = json_doc_root(doc);
	assert_true(fabs(num_of(v, "serviceLevel") - 66.7) < 1e-9);
	assert_int_equal(int_of(v, "shortAbandonS"), 5);
	q = queue_named(v, "Support");
	assert_true(fabs(num_of(q, "serviceLevel") - 60.0) < 1e-9);
	assert_int_equal(json_type(json_get(q, "shortAbandonS")), JSON_NULL);
	json_doc_free(doc);
	json_doc_free(ws);
	json_doc_free(d1);
	json_doc_free(d2);
	free(text);
	free(q1);
	free(q2);
}

/* TaskRouter reports averages of 0 when nothing was answered: no sample, not 0 s. */
static void
test_kpi_no_answered_call_gives_null_averages(void **state)
{
	struct kpi_input in = { 0 };
	struct json_doc *ws =
		parse("{\"realtime\":{\"total_available_workers\":3},"
		      "\"cumulative\":{\"reservations_accepted\":0,\"tasks_canceled\":2,"
		      "\"avg_task_acceptance_time\":0,"
		      "\"wait_duration_until_accepted\":{\"avg\":0,\"min\":0,\"max\":0}}}");
	struct json_doc *doc;
	const struct json_value *v;

	in.workspace = json_doc_root(ws);
	in.sla_threshold_s = 20;
	doc = kpi(&in, NULL);
	v = json_doc_root(doc);
	assert_int_equal(json_type(json_get(v, "asa")), JSON_NULL);
	assert_int_equal(json_type(json_get(v, "avgTaskAcceptanceTime")), JSON_NULL);
	assert_int_equal(int_of(v, "availableWorkers"), 3);
	json_doc_free(doc);
	json_doc_free(ws);
}

static void
test_kpi_wrong_types_do_not_break_it(void **state)
{
	struct kpi_input in = { 0 };
	struct json_doc *odd = parse(
		"{\"realtime\":{\"tasks_by_status\":[1,2],\"activity_statistics\":{\"a\":1},"
		"\"total_tasks\":\"many\",\"total_workers\":2.0},"
		"\"cumulative\":{\"split_by_wait_time\":{\"20\":\"x\"},\"tasks_canceled\":null}}");
	struct json_doc *doc;

	in.workspace = json_doc_root(odd);
	in.sla_threshold_s = 20;
	doc = kpi(&in, NULL);
	assert_int_equal(int_of(json_doc_root(doc), "totalTasks"), 0);
	assert_int_equal(int_of(json_doc_root(doc), "totalWorkers"), 2);
	json_doc_free(doc);
	json_doc_free(odd);
}

static void
test_kpi_fifty_queues_fit_in_16k(void **state)
{
	struct docs d;
	struct kpi_queue queues[200];
	char names[200][80];
	char sids[200][40];
	struct json_doc *doc;
	size_t len = 0;

	docs_init(&d);
	for (int i = 0; i < 200; i++) {
		(void)snprintf(sids[i], sizeof(sids[i]), "WQ%032d", i + 1);
		(void)snprintf(names[i], sizeof(names[i]),
			       "A rather long queue name for a team, number %03d, really long", i);
		queues[i] = (struct kpi_queue){ .sid = sids[i],
						.name = names[i],
						.sla_threshold_s = 30,
						.stats = json_doc_root(d.q1) };
	}
	d.in.queues = queues;
	d.in.nqueues = 50;
	doc = kpi(&d.in, &len);
	assert_true(len <= KPI_MAX_BYTES);
	assert_int_equal(int_of(json_doc_root(doc), "queuesTotal"), 50);
	assert_int_equal(json_array_len(json_get(json_doc_root(doc), "queues")),
			 KPI_DEFAULT_MAX_QUEUES);
	assert_true(json_bool(json_get(json_doc_root(doc), "queuesTruncated")));
	json_doc_free(doc);

	/* A larger cap than fits: the document shrinks the list until it fits. */
	d.in.nqueues = 200;
	d.in.max_queues = 200;
	doc = kpi(&d.in, &len);
	assert_true(len <= KPI_MAX_BYTES);
	assert_true(json_array_len(json_get(json_doc_root(doc), "queues")) < 200);
	assert_true(json_array_len(json_get(json_doc_root(doc), "queues")) > 0);
	json_doc_free(doc);
	docs_clear(&d);
}

static void
test_kpi_long_names_are_cut_at_utf8_boundary(void **state)
{
	struct docs d;
	struct json_doc *doc;
	struct buf name;
	const char *got;

	docs_init(&d);
	buf_init(&name);
	for (int i = 0; i < 40; i++)
		buf_puts(&name, "\xc3\xa9"); /* 80 bytes of "é" */
	d.queues[1].name = name.data;
	doc = kpi(&d.in, NULL);
	got = json_string(
		json_get(json_array_at(json_get(json_doc_root(doc), "queues"), 0), "name"));
	assert_int_equal(strlen(got), KPI_MAX_NAME_BYTES);
	assert_null(strstr(got, "\xef\xbf\xbd")); /* no replacement character */
	json_doc_free(doc);
	buf_clear(&name);
	docs_clear(&d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kpi_keeps_the_seed_keys),
		cmocka_unit_test(test_kpi_every_activity_becomes_a_key),
		cmocka_unit_test(test_kpi_activity_key_drops_white_space),
		cmocka_unit_test(test_kpi_agents_view_names_no_task),
		cmocka_unit_test(test_kpi_workspace_service_level_asa_abandonment),
		cmocka_unit_test(test_kpi_no_answered_call_gives_null_averages),
		cmocka_unit_test(test_kpi_short_abandons_leave_the_service_level),
		cmocka_unit_test(test_kpi_short_abandons_per_queue),
		cmocka_unit_test(test_kpi_queue_kpis_use_their_own_threshold),
		cmocka_unit_test(test_kpi_threshold_not_split_gives_null),
		cmocka_unit_test(test_kpi_empty_statistics_still_have_every_key),
		cmocka_unit_test(test_kpi_wrong_types_do_not_break_it),
		cmocka_unit_test(test_kpi_fifty_queues_fit_in_16k),
		cmocka_unit_test(test_kpi_long_names_are_cut_at_utf8_boundary),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
