/*
 * Unit tests for daemon/stats.c: the coalescing state machine driven by an
 * injected clock, a fake timer and a fake transport (the options seams):
 * many changes give one fetch, never two fetches closer than min_interval,
 * a fetch at least every max_interval, failures retry later (Retry-After
 * honoured), changes during a fetch give exactly one follow-up; and a
 * successful refresh stores and publishes the KPI document with the
 * request carrying today's StartDate and the SplitByWaitTime thresholds.
 */

#include <sys/socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/util.h>

#include "form.h"
#include "http.h"
#include "http_async.h"
#include "json.h"
#include "model.h"
#include "stats.h"
#include "tr_event.h"
#include "twilio.h"

#define WQ1 "WQ00000000000000000000000000000001"
/* 2024-05-10T12:00:00Z */
#define WALL0 1715342400000LL

struct fixture {
	struct model *m;
	struct stats *s;
	int64_t now;	  /* monotonic ms */
	int64_t due;	  /* timer due time, -1 when disarmed */
	int64_t fetch_at; /* when the last fetch started */
	int fetches;
	int cancels;
	int fail_start; /* next fetch start fails */
	int publishes;
	char ws_url[512];
	char q_url[512];
	char published[4096];
};

/* Parses f as the event ingest does and applies it to m. */
static int
apply_form(struct model *m, const struct form *f)
{
	struct tr_event ev;
	int r = tr_event_parse(f, &ev, NULL);

	if (r < 0)
		return r;
	r = model_apply_event(m, &ev);
	tr_event_clear(&ev);
	return r;
}

static int64_t
fake_now(void *arg)
{
	return ((struct fixture *)arg)->now;
}

static int64_t
fake_wall(void *arg)
{
	return WALL0 + ((struct fixture *)arg)->now;
}

static void
fake_timer(void *arg, int64_t delay_ms)
{
	struct fixture *fx = arg;

	fx->due = delay_ms < 0 ? -1 : fx->now + delay_ms;
}

static int
fake_fetch(void *arg, struct stats *s, const char *ws_url, const char *q_url)
{
	struct fixture *fx = arg;

	if (fx->fail_start > 0) {
		fx->fail_start--;
		return -EIO;
	}
	fx->fetches++;
	fx->fetch_at = fx->now;
	(void)snprintf(fx->ws_url, sizeof(fx->ws_url), "%s", ws_url);
	(void)snprintf(fx->q_url, sizeof(fx->q_url), "%s", q_url);
	return 0;
}

static void
fake_cancel(void *arg, struct stats *s)
{
	((struct fixture *)arg)->cancels++;
}

static void
on_publish(const char *json, size_t len, void *arg)
{
	struct fixture *fx = arg;

	fx->publishes++;
	(void)snprintf(fx->published, sizeof(fx->published), "%.*s", (int)len, json);
}

static int
threshold_for(void *arg, const char *sid, const char *name)
{
	return name != NULL && strcmp(name, "Support") == 0 ? 30 : 20;
}

static const int split[] = { 30, 20, 30 };

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	struct stats_options o = {
		.min_interval_ms = 1000,
		.max_interval_ms = 15000,
		.sla_threshold_s = 20,
		.day_start_minutes = 8 * 60,
		.timezone = "UTC",
		.now_ms = fake_now,
		.wall_ms = fake_wall,
		.split_thresholds_s = split,
		.n_split_thresholds = 3,
		.sla_threshold_for = threshold_for,
		.fetch = fake_fetch,
		.fetch_cancel = fake_cancel,
		.timer_arm = fake_timer,
	};
	struct model_options mo = { .now_ms = fake_wall };

	o.clock_arg = fx;
	o.fetch_arg = fx;
	o.timer_arg = fx;
	mo.clock_arg = fx;
	fx->due = -1;
	fx->m = model_new(&mo);
	fx->s = stats_new(NULL, NULL, NULL, "WS00000000000000000000000000000001", fx->m, &o, NULL);
	stats_set_publish(fx->s, on_publish, fx);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	stats_free(fx->s);
	model_free(fx->m);
	free(fx);
	return 0;
}

/* Moves the clock to now + ms, firing the timer when it comes due on the way. */
static void
advance(struct fixture *fx, int64_t ms)
{
	int64_t end = fx->now + ms;

	while (fx->due >= 0 && fx->due <= end) {
		if (fx->due > fx->now)
			fx->now = fx->due;
		fx->due = -1;
		stats_on_timer(fx->s);
	}
	fx->now = end;
}

static void
complete_ok(struct fixture *fx)
{
	static const char ws[] =
		"{\"realtime\":{\"total_tasks\":2,\"total_workers\":1,"
		"\"tasks_by_status\":{\"pending\":2},"
		"\"activity_statistics\":[{\"friendly_name\":\"Available\",\"workers\":1}]},"
		"\"cumulative\":{\"reservations_accepted\":4,\"tasks_canceled\":0,"
		"\"split_by_wait_time\":{\"20\":{\"below\":{\"reservations_accepted\":3}}}}}";
	static const char q[] = "{\"task_queue_sid\":\"" WQ1 "\",\"realtime\":{},"
				"\"cumulative\":{\"reservations_accepted\":2,"
				"\"split_by_wait_time\":{\"30\":{\"below\":"
				"{\"reservations_accepted\":2}}}}}";
	struct json_doc *wsd = NULL;
	struct json_doc *qd = NULL;
	const struct json_value *items[1];
	struct stats_fetch_result r = { .ok = true, .status = 200, .retry_after_s = -1 };

	assert_int_equal(json_parse(ws, strlen(ws), NULL, &wsd, NULL), 0);
	assert_int_equal(json_parse(q, strlen(q), NULL, &qd, NULL), 0);
	items[0] = json_doc_root(qd);
	r.workspace = json_doc_root(wsd);
	r.queues = items;
	r.nqueues = 1;
	stats_fetch_complete(fx->s, &r);
	json_doc_free(wsd);
	json_doc_free(qd);
}

static void
complete_fail(struct fixture *fx, long status, long retry_after_s)
{
	struct stats_fetch_result r = { .ok = false,
					.status = status,
					.retry_after_s = retry_after_s };

	stats_fetch_complete(fx->s, &r);
}

static void
test_stats_start_fetches_at_once_with_today_and_thresholds(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(stats_get_state(fx->s), STATS_IDLE);
	stats_mark_dirty(fx->s); /* before start: nothing happens */
	assert_int_equal(fx->due, -1);
	stats_start(fx->s);
	advance(fx, 0);
	assert_int_equal(fx->fetches, 1);
	assert_int_equal(stats_get_state(fx->s), STATS_IN_FLIGHT);
	/* 12:00 UTC with day_start 08:00 UTC: today began at 08:00. */
	assert_non_null(strstr(fx->ws_url, "/Statistics?StartDate=2024-05-10T08%3A00%3A00Z"));
	assert_non_null(strstr(fx->ws_url, "SplitByWaitTime=20%2C30"));
	assert_null(strstr(fx->ws_url, "PageSize"));
	assert_non_null(strstr(fx->q_url, "/TaskQueues/Statistics?"));
	assert_non_null(strstr(fx->q_url, "PageSize=1000"));
	assert_non_null(strstr(fx->q_url, "SplitByWaitTime=20%2C30"));
}

static void
test_stats_many_changes_give_one_fetch(void **state)
{
	struct fixture *fx = *state;

	stats_start(fx->s);
	advance(fx, 0);
	complete_ok(fx);
	assert_int_equal(stats_get_state(fx->s), STATS_IDLE);
	advance(fx, 100);
	for (int i = 0; i < 1000; i++)
		stats_mark_dirty(fx->s);
	assert_int_equal(stats_get_state(fx->s), STATS_DIRTY);
	advance(fx, 899); /* t = 999: min_interval since the last start not yet over */
	assert_int_equal(fx->fetches, 1);
	advance(fx, 1);
	assert_int_equal(fx->fetches, 2);
	complete_ok(fx);
	advance(fx, 5000);
	assert_int_equal(fx->fetches, 2);
}

static void
test_stats_refreshes_at_least_every_max_interval(void **state)
{
	struct fixture *fx = *state;

	stats_start(fx->s);
	advance(fx, 0);
	advance(fx, 300);
	complete_ok(fx);
	advance(fx, 14699); /* t = 14999 */
	assert_int_equal(fx->fetches, 1);
	advance(fx, 1);
	assert_int_equal(fx->fetches, 2);
	complete_ok(fx);
	advance(fx, 15000);
	assert_int_equal(fx->fetches, 3);
}

static void
test_stats_changes_during_a_fetch_give_one_follow_up(void **state)
{
	struct fixture *fx = *state;

	stats_start(fx->s);
	advance(fx, 0);
	for (int i = 0; i < 50; i++) {
		advance(fx, 10);
		stats_mark_dirty(fx->s);
	}
	assert_int_equal(fx->fetches, 1); /* never two in flight */
	complete_ok(fx);		  /* t = 500 */
	assert_int_equal(stats_get_state(fx->s), STATS_COOLING);
	advance(fx, 499);
	assert_int_equal(fx->fetches, 1);
	advance(fx, 1); /* t = 1000 */
	assert_int_equal(fx->fetches, 2);
	complete_ok(fx);
	assert_int_equal(stats_get_state(fx->s), STATS_IDLE);
	advance(fx, 10000);
	assert_int_equal(fx->fetches, 2);
}

static void
test_stats_failure_retries_later_never_sooner_than_min(void **state)
{
	struct fixture *fx = *state;
	stats_start(fx->s);
	advance(fx, 0);
	for (int i = 0; i < 6; i++) {
		advance(fx, 100);
		complete_fail(fx, 503, -1);
		assert_int_equal(stats_get_state(fx->s), STATS_COOLING);
		assert_true(fx->due >= fx->fetch_at + 1000);
		assert_true(fx->due <= fx->now + 15000);
		/* The backoff grows: at least half of min_interval * 2^(failures - 1). */
		if (i >= 3)
			assert_true(fx->due - fx->now >= 4000);
		/* Changes while cooling down do not bring the retry forward. */
		stats_mark_dirty(fx->s);
		advance(fx, 20000);
		assert_int_equal(fx->fetches, i + 2);
	}
	complete_ok(fx);
	assert_int_equal(stats_get_state(fx->s), STATS_IDLE);
	assert_int_equal(fx->publishes, 1);
}

static void
test_stats_retry_after_is_honoured(void **state)
{
	struct fixture *fx = *state;

	stats_start(fx->s);
	advance(fx, 0);
	complete_fail(fx, 429, 30);
	assert_true(fx->due >= 30000);
	advance(fx, 29999);
	assert_int_equal(fx->fetches, 1);
	advance(fx, 1);
	assert_int_equal(fx->fetches, 2);
}

static void
test_stats_fetch_that_cannot_start_is_a_failure(void **state)
{
	struct fixture *fx = *state;

	fx->fail_start = 1;
	stats_start(fx->s);
	advance(fx, 0);
	assert_int_equal(fx->fetches, 0);
	assert_int_equal(stats_get_state(fx->s), STATS_COOLING);
	advance(fx, 20000);
	assert_int_equal(fx->fetches, 1);
}

static void
test_stats_success_stores_and_publishes_kpis(void **state)
{
	struct fixture *fx = *state;
	struct form *f = form_new();
	struct json_doc *doc = NULL;
	const struct json_value *q;
	const char *stored;
	size_t len = 0;
	double sl = 0;

	/* The model knows the queue name (per-queue threshold) and the activities. */
	form_add(f, "EventType", "task-queue.created");
	form_add(f, "TaskQueueSid", WQ1);
	form_add(f, "TaskQueueName", "Support");
	form_add(f, "TimestampMs", "1");
	assert_int_equal(apply_form(fx->m, f), MODEL_APPLIED);
	form_free(f);
	f = form_new();
	form_add(f, "EventType", "activity.created");
	form_add(f, "ActivitySid", "WA00000000000000000000000000000005");
	form_add(f, "ActivityName", "Wrap Up");
	form_add(f, "TimestampMs", "1");
	assert_int_equal(apply_form(fx->m, f), MODEL_APPLIED);
	form_free(f);

	stats_start(fx->s);
	advance(fx, 0);
	complete_ok(fx);
	assert_int_equal(fx->publishes, 1);
	stored = model_stats_json(fx->m, &len);
	assert_non_null(stored);
	assert_string_equal(stored, fx->published);
	assert_int_equal(json_parse(stored, len, NULL, &doc, NULL), 0);
	assert_int_equal(json_get_double(json_doc_root(doc), "serviceLevel", &sl), 0);
	assert_true(sl > 74.9 && sl < 75.1);
	assert_non_null(json_get(json_doc_root(doc), "activityWrapUpWorkers"));
	assert_non_null(json_get(json_doc_root(doc), "activityAvailableWorkers"));
	q = json_array_at(json_get(json_doc_root(doc), "queues"), 0);
	assert_string_equal(json_string(json_get(q, "name")), "Support");
	assert_int_equal(json_get_double(q, "serviceLevel", &sl), 0);
	assert_true(sl > 99.9);
	json_doc_free(doc);
}

static void
test_stats_free_while_in_flight_cancels(void **state)
{
	struct fixture *fx = *state;

	stats_start(fx->s);
	advance(fx, 0);
	assert_int_equal(stats_get_state(fx->s), STATS_IN_FLIGHT);
	stats_free(fx->s);
	fx->s = NULL;
	assert_int_equal(fx->cancels, 1);
}

static void
test_stats_request_rate_is_bounded_by_intervals(void **state)
{
	struct fixture *fx = *state;

	/* 1,000 changes per second for 30 s, each fetch taking 200 ms. */
	stats_start(fx->s);
	for (int ms = 0; ms < 30000; ms++) {
		advance(fx, 1);
		stats_mark_dirty(fx->s);
		if (stats_get_state(fx->s) == STATS_IN_FLIGHT && ms % 200 == 199)
			complete_ok(fx);
	}
	/* One fetch per min_interval at most: 30 s / 1 s, plus the first. */
	assert_true(fx->fetches <= 31);
	assert_true(fx->fetches >= 25);
}

/* ---- the default transport against an in-process evhttp server ---- */

struct server {
	struct event_base *base;
	struct evhttp *http;
	int port;
	int status; /* answer for every request */
	int requests;
	int published;
	char last_auth[128];
};

static void
server_cb(struct evhttp_request *req, void *arg)
{
	struct server *sv = arg;
	struct evbuffer *out = evbuffer_new();
	const char *uri = evhttp_request_get_uri(req);
	const char *auth =
		evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");

	sv->requests++;
	(void)snprintf(sv->last_auth, sizeof(sv->last_auth), "%s", auth != NULL ? auth : "");
	if (sv->status != 200) {
		evbuffer_add_printf(out, "{\"code\":20429,\"message\":\"Too many\",\"status\":%d}",
				    sv->status);
	} else if (strstr(uri, "/TaskQueues/Statistics") != NULL &&
		   strstr(uri, "PageToken") == NULL) {
		evbuffer_add_printf(
			out,
			"{\"task_queues_statistics\":[{\"task_queue_sid\":\"" WQ1 "\","
			"\"realtime\":{\"tasks_by_status\":{\"pending\":1}},\"cumulative\":{}}],"
			"\"meta\":{\"key\":\"task_queues_statistics\",\"page\":0,\"page_size\":1,"
			"\"next_page_url\":\"http://127.0.0.1:%d/v1/Workspaces/"
			"WS00000000000000000000000000000001/TaskQueues/Statistics?PageSize=1&"
			"PageToken=PA1\"}}",
			sv->port);
	} else if (strstr(uri, "/TaskQueues/Statistics") != NULL) {
		evbuffer_add_printf(
			out,
			"{\"task_queues_statistics\":[{\"task_queue_sid\":"
			"\"WQ00000000000000000000000000000002\",\"realtime\":{},\"cumulative\":{}}]"
			","
			"\"meta\":{\"key\":\"task_queues_statistics\",\"next_page_url\":null}}");
	} else {
		evbuffer_add_printf(out, "{\"realtime\":{\"total_tasks\":7},\"cumulative\":{}}");
	}
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "application/json");
	if (sv->status == 429)
		evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "2");
	evhttp_send_reply(req, sv->status, "X", out);
	evbuffer_free(out);
}

static void
server_publish(const char *json, size_t len, void *arg)
{
	struct server *sv = arg;

	sv->published++;
	event_base_loopbreak(sv->base);
}

static void
server_deadline(evutil_socket_t fd, short what, void *arg)
{
	event_base_loopbreak(arg);
}

static void
test_stats_default_transport_fetches_all_pages(void **state)
{
	struct server sv = { .status = 200 };
	struct evhttp_bound_socket *bound;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct http_async *client;
	struct twilio *tw = NULL;
	struct model *m;
	struct stats *s;
	struct event *deadline;
	struct timeval five = { 5, 0 };
	struct timeval short_wait = { 0, 300000 };
	char url[64];
	struct twilio_client_config cfg = {
		.account_sid = "AC00000000000000000000000000000001",
		.auth_token = "secret",
	};
	struct stats_options o = { .min_interval_ms = 50, .max_interval_ms = 100000 };
	const char *doc;

	assert_int_equal(http_global_init(), 0);
	sv.base = event_base_new();
	sv.http = evhttp_new(sv.base);
	bound = evhttp_bind_socket_with_handle(sv.http, "127.0.0.1", 0);
	assert_non_null(bound);
	assert_int_equal(
		getsockname(evhttp_bound_socket_get_fd(bound), (struct sockaddr *)&ss, &sl), 0);
	sv.port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	evhttp_set_gencb(sv.http, server_cb, &sv);
	(void)snprintf(url, sizeof(url), "http://127.0.0.1:%d", sv.port);
	cfg.base_url = url;
	assert_int_equal(twilio_new(&cfg, &tw, NULL), 0);
	client = http_async_new(sv.base, NULL);
	m = model_new(NULL);
	s = stats_new(sv.base, client, tw, "WS00000000000000000000000000000001", m, &o, NULL);
	stats_set_publish(s, server_publish, &sv);
	deadline = evtimer_new(sv.base, server_deadline, sv.base);
	assert_int_equal(evtimer_add(deadline, &five), 0);

	stats_start(s);
	assert_int_equal(event_base_dispatch(sv.base), 0);
	assert_int_equal(sv.published, 1);
	assert_int_equal(sv.requests, 3); /* workspace + two queue pages */
	assert_non_null(strstr(sv.last_auth, "Basic "));
	doc = model_stats_json(m, NULL);
	assert_non_null(strstr(doc, "\"totalTasks\":7"));
	assert_non_null(strstr(doc, "\"queuesTotal\":2"));
	assert_int_equal(stats_get_state(s), STATS_IDLE);

	/* Failures: the next refresh meets a 429 and the machine cools down. */
	sv.status = 429;
	stats_mark_dirty(s);
	assert_int_equal(evtimer_add(deadline, &short_wait), 0);
	assert_int_equal(event_base_dispatch(sv.base), 0);
	assert_int_equal(sv.published, 1);
	assert_int_equal(stats_get_state(s), STATS_COOLING);

	stats_free(s);
	model_free(m);
	event_free(deadline);
	http_async_free(client);
	twilio_free(tw);
	evhttp_free(sv.http);
	event_base_free(sv.base);
	http_global_cleanup();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(test_stats_start_fetches_at_once_with_today_and_thresholds),
		T(test_stats_many_changes_give_one_fetch),
		T(test_stats_refreshes_at_least_every_max_interval),
		T(test_stats_changes_during_a_fetch_give_one_follow_up),
		T(test_stats_failure_retries_later_never_sooner_than_min),
		T(test_stats_retry_after_is_honoured),
		T(test_stats_fetch_that_cannot_start_is_a_failure),
		T(test_stats_success_stores_and_publishes_kpis),
		T(test_stats_free_while_in_flight_cancels),
		T(test_stats_request_rate_is_bounded_by_intervals),
#undef T
		cmocka_unit_test(test_stats_default_transport_fetches_all_pages),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
