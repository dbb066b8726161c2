/*
 * Unit tests for daemon/rebuild.c with a fake transport (the options seam)
 * that answers from a small route table: the initial rebuild fills the
 * model from every list (pages followed), reservations are fetched for
 * busy tasks with bounded concurrency, retryable errors are retried,
 * a final error ends the run without sweeping, reconciliation removes what
 * Twilio no longer lists, and freeing mid-run cancels everything.
 */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/event.h>

#include "buf.h"
#include "form.h"
#include "http.h"
#include "model.h"
#include "rebuild.h"
#include "tr_event.h"
#include "twilio.h"
#include "xmalloc.h"

#define BASE "http://127.0.0.1:9"
#define WS1  "WS00000000000000000000000000000001"
#define WK1  "WK00000000000000000000000000000001"

struct pending {
	char *url;
	rebuild_response_cb *cb;
	void *cb_arg;
	bool cancelled;
	struct pending *next;
};

struct fixture {
	struct event_base *base;
	struct event *deadline;
	struct twilio *tw;
	struct model *m;
	struct rebuild *rb;
	struct pending *queue; /* FIFO of requests waiting for an answer */
	int ntasks;	       /* open tasks the fake server lists */
	int skip_task;	       /* task number the server no longer lists, or -1 */
	int fail_left;	       /* answers of fail_status still to give for fail_path */
	int fail_status;
	const char *fail_path;
	int in_flight_res;
	int max_in_flight_res;
	int cancels;
	int requests;
	int dones;
	int statuses;
	struct rebuild_result last;
	char reason[256];
	char tasks_url[512];
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

static void *
fake_start(void *arg, const char *url, rebuild_response_cb *cb, void *cb_arg)
{
	struct fixture *fx = arg;
	struct pending *p = xcalloc(1, sizeof(*p));
	struct pending **pp = &fx->queue;

	p->url = xstrdup(url);
	p->cb = cb;
	p->cb_arg = cb_arg;
	while (*pp != NULL)
		pp = &(*pp)->next;
	*pp = p;
	fx->requests++;
	if (strstr(url, "/Reservations") != NULL) {
		fx->in_flight_res++;
		if (fx->in_flight_res > fx->max_in_flight_res)
			fx->max_in_flight_res = fx->in_flight_res;
	}
	if (strstr(url, "/Tasks?") != NULL)
		(void)snprintf(fx->tasks_url, sizeof(fx->tasks_url), "%s", url);
	return p;
}

static void
fake_cancel(void *arg, void *handle)
{
	struct fixture *fx = arg;
	struct pending *p = handle;

	p->cancelled = true;
	fx->cancels++;
	if (strstr(p->url, "/Reservations") != NULL)
		fx->in_flight_res--;
}

static const struct rebuild_transport fake_transport = {
	.start = fake_start,
	.cancel = fake_cancel,
};

static void
task_sid(char *out, size_t size, int i)
{
	(void)snprintf(out, size, "WT%032d", i);
}

/* Builds the answer for url into body; returns the HTTP status. */
static int
route(struct fixture *fx, const char *url, struct buf *body)
{
	const char *path = url + strlen(BASE);

	if (fx->fail_left > 0 && strstr(path, fx->fail_path) != NULL) {
		fx->fail_left--;
		buf_printf(body, "{\"code\":%d,\"message\":\"injected\",\"status\":%d}",
			   fx->fail_status, fx->fail_status);
		return fx->fail_status;
	}
	if (strcmp(path, "/v1/Workspaces/" WS1) == 0) {
		buf_puts(body, "{\"sid\":\"" WS1 "\",\"friendly_name\":\"Center\","
			       "\"default_activity_sid\":\"WA00000000000000000000000000000001\"}");
	} else if (strstr(path, "/Activities?") != NULL) {
		buf_puts(body, "{\"activities\":[{\"sid\":\"WA00000000000000000000000000000001\","
			       "\"friendly_name\":\"Offline\",\"available\":false},"
			       "{\"sid\":\"WA00000000000000000000000000000002\","
			       "\"friendly_name\":\"Available\",\"available\":true}],"
			       "\"meta\":{\"key\":\"activities\",\"next_page_url\":null}}");
	} else if (strstr(path, "/Workflows?") != NULL) {
		buf_puts(body, "{\"workflows\":[{\"sid\":\"WW00000000000000000000000000000001\","
			       "\"friendly_name\":\"Default\",\"task_reservation_timeout\":45}],"
			       "\"meta\":{\"key\":\"workflows\",\"next_page_url\":null}}");
	} else if (strstr(path, "/TaskQueues?") != NULL) {
		buf_puts(body, "{\"task_queues\":[{\"sid\":\"WQ00000000000000000000000000000001\","
			       "\"friendly_name\":\"Support\"}],"
			       "\"meta\":{\"key\":\"task_queues\",\"next_page_url\":null}}");
	} else if (strstr(path, "/Workers?") != NULL && strstr(path, "PageToken") == NULL) {
		buf_puts(body, "{\"workers\":[{\"sid\":\"" WK1 "\",\"friendly_name\":\"alice\","
			       "\"activity_sid\":\"WA00000000000000000000000000000002\","
			       "\"available\":true}],"
			       "\"meta\":{\"key\":\"workers\",\"next_page_url\":\"" BASE
			       "/v1/Workspaces/" WS1 "/Workers?PageSize=1000&PageToken=PA1\"}}");
	} else if (strstr(path, "/Workers?") != NULL) {
		buf_puts(body, "{\"workers\":[{\"sid\":\"WK00000000000000000000000000000002\","
			       "\"friendly_name\":\"bob\"}],"
			       "\"meta\":{\"key\":\"workers\",\"next_page_url\":null}}");
	} else if (strstr(path, "/Tasks?") != NULL) {
		buf_puts(body, "{\"tasks\":[");
		for (int i = 1, n = 0; i <= fx->ntasks; i++) {
			char sid[40];

			if (i == fx->skip_task)
				continue;
			task_sid(sid, sizeof(sid), i);
			buf_printf(body,
				   "%s{\"sid\":\"%s\",\"assignment_status\":\"%s\","
				   "\"task_queue_sid\":\"WQ00000000000000000000000000000001\","
				   "\"workflow_sid\":\"WW00000000000000000000000000000001\","
				   "\"attributes\":\"{}\"}",
				   n++ > 0 ? "," : "", sid, i % 2 == 0 ? "assigned" : "pending");
		}
		buf_puts(body, "],\"meta\":{\"key\":\"tasks\",\"next_page_url\":null}}");
	} else if (strstr(path, "/Reservations?") != NULL) {
		const char *wt = strstr(path, "/Tasks/") + 7;

		buf_printf(body,
			   "{\"reservations\":[{\"sid\":\"WR%.32s\",\"task_sid\":\"%.34s\","
			   "\"worker_sid\":\"" WK1 "\",\"reservation_status\":\"accepted\"},"
			   "{\"sid\":\"WR%.31sf\",\"task_sid\":\"%.34s\","
			   "\"worker_sid\":\"" WK1 "\",\"reservation_status\":\"rejected\"}],"
			   "\"meta\":{\"key\":\"reservations\",\"next_page_url\":null}}",
			   wt + 2, wt, wt + 2, wt);
	} else {
		buf_puts(body, "{\"code\":20404,\"message\":\"not found\",\"status\":404}");
		return 404;
	}
	return 200;
}

/* Answers the oldest pending request; false when none is pending. */
static bool
serve_one(struct fixture *fx)
{
	struct pending *p = fx->queue;
	struct http_response resp;
	struct buf body;

	if (p == NULL)
		return false;
	fx->queue = p->next;
	if (!p->cancelled) {
		if (strstr(p->url, "/Reservations") != NULL)
			fx->in_flight_res--;
		buf_init(&body);
		http_response_init(&resp);
		resp.outcome = HTTP_DONE;
		resp.status = route(fx, p->url, &body);
		resp.body = buf_steal(&body, &resp.body_len);
		p->cb(&resp, p->cb_arg);
		http_response_clear(&resp);
	}
	free(p->url);
	free(p);
	return true;
}

static void
on_done(const struct rebuild_result *r, void *arg)
{
	struct fixture *fx = arg;

	fx->dones++;
	fx->last = *r;
	(void)snprintf(fx->reason, sizeof(fx->reason), "%s", r->reason != NULL ? r->reason : "");
	fx->last.reason = NULL;
}

static void
on_status(const char *text, void *arg)
{
	struct fixture *fx = arg;

	assert_non_null(strstr(text, "rebuilding model: "));
	fx->statuses++;
}

static void
deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	fail_msg("rebuild did not finish in time");
}

/* Runs the loop and the fake server until the number of done callbacks reaches n. */
static void
run_until_done(struct fixture *fx, int n)
{
	struct timeval two = { 2, 0 };

	assert_int_equal(evtimer_add(fx->deadline, &two), 0);
	while (fx->dones < n) {
		if (!serve_one(fx))
			assert_true(event_base_loop(fx->base, EVLOOP_ONCE) >= 0);
	}
	assert_int_equal(evtimer_del(fx->deadline), 0);
}

static int
setup_with(void **state, unsigned max_parallel)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	struct twilio_client_config cfg = {
		.account_sid = "AC00000000000000000000000000000001",
		.auth_token = "token",
		.base_url = BASE,
	};
	struct rebuild_transport t = fake_transport;
	struct rebuild_options o = {
		.reconcile_interval_s = 0,
		.max_parallel = max_parallel,
		.retry = { .max_attempts = 4, .base_ms = 1, .max_ms = 2 },
		.transport = &t,
	};

	t.arg = fx;
	fx->skip_task = -1;
	fx->ntasks = 10;
	fx->base = event_base_new();
	fx->deadline = evtimer_new(fx->base, deadline_cb, fx);
	assert_int_equal(twilio_new(&cfg, &fx->tw, NULL), 0);
	fx->m = model_new(NULL);
	fx->rb = rebuild_new(fx->base, NULL, fx->tw, WS1, fx->m, &o, NULL);
	rebuild_set_callbacks(fx->rb, on_done, on_status, fx);
	*state = fx;
	return 0;
}

static int
setup(void **state)
{
	return setup_with(state, 0);
}

static int
setup_narrow(void **state)
{
	return setup_with(state, 3);
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	rebuild_free(fx->rb);
	while (fx->queue != NULL) {
		struct pending *p = fx->queue;

		fx->queue = p->next;
		free(p->url);
		free(p);
	}
	model_free(fx->m);
	twilio_free(fx->tw);
	event_free(fx->deadline);
	event_base_free(fx->base);
	free(fx);
	return 0;
}

static void
test_rebuild_initial_fills_the_model(void **state)
{
	struct fixture *fx = *state;
	char sid[40];

	assert_int_equal(rebuild_start(fx->rb), 0);
	assert_int_equal(rebuild_start(fx->rb), 0); /* not running yet: just re-kicked */
	assert_int_equal(fx->dones, 0);		    /* never from inside rebuild_start */
	run_until_done(fx, 1);
	assert_true(fx->last.initial);
	assert_int_equal(fx->last.error, 0);
	assert_true(model_is_built(fx->m));
	assert_false(rebuild_is_running(fx->rb));
	assert_int_equal(model_task_count(fx->m), 10);
	assert_int_equal(model_worker_count(fx->m), 2); /* both worker pages */
	assert_int_equal(fx->last.tasks, 10);
	assert_int_equal(fx->last.workers, 2);
	/* 6 lists, 1 extra worker page, 5 reservation lists for the assigned tasks. */
	assert_int_equal(fx->last.requests, 12);
	assert_int_equal(model_reservation_count(fx->m), 5); /* rejected ones are history */
	task_sid(sid, sizeof(sid), 2);
	assert_true(model_worker_on_task(fx->m, WK1, sid));
	assert_string_equal(model_task_status(fx->m, sid), "assigned");
	assert_string_equal(model_workspace_sid(fx->m), WS1);
	/* the workflow's reservation timeout is on its tasks (the agent page's countdown) */
	{
		struct json_gen *g = json_gen_new();
		size_t len = 0;

		model_task_json(fx->m, sid, g);
		assert_non_null(strstr(json_gen_text(g, &len), "\"reservationTimeoutS\":45"));
		json_gen_free(g);
	}
	assert_string_equal(model_queue_name(fx->m, "WQ00000000000000000000000000000001"),
			    "Support");
	assert_true(fx->statuses >= 2);
	assert_non_null(strstr(fx->tasks_url,
			       "/v1/Workspaces/" WS1 "/Tasks?AssignmentStatus=pending"
			       "&AssignmentStatus=reserved&AssignmentStatus=assigned"
			       "&AssignmentStatus=wrapping&PageSize=200"));
}

static void
test_rebuild_bounds_reservation_concurrency(void **state)
{
	struct fixture *fx = *state;

	fx->ntasks = 100;
	assert_int_equal(rebuild_start(fx->rb), 0);
	run_until_done(fx, 1);
	assert_int_equal(fx->last.error, 0);
	assert_int_equal(model_reservation_count(fx->m), 50);
	assert_true(fx->max_in_flight_res <= 3);
	assert_int_equal(fx->max_in_flight_res, 3);
}

static void
test_rebuild_retries_retryable_errors(void **state)
{
	struct fixture *fx = *state;

	fx->fail_path = "/Workers?";
	fx->fail_status = 503;
	fx->fail_left = 2;
	assert_int_equal(rebuild_start(fx->rb), 0);
	run_until_done(fx, 1);
	assert_int_equal(fx->last.error, 0);
	assert_int_equal(fx->last.requests, 14); /* 12 + two retries */
	assert_int_equal(model_worker_count(fx->m), 2);
}

static void
test_rebuild_final_error_fails_without_sweeping(void **state)
{
	struct fixture *fx = *state;
	struct form *f = form_new();

	/* Something the model knew before: a failed run must not remove it. */
	form_add(f, "EventType", "task.created");
	form_add(f, "TaskSid", "WT99999999999999999999999999999999");
	form_add(f, "TimestampMs", "1");
	assert_int_equal(apply_form(fx->m, f), MODEL_APPLIED);
	form_free(f);
	fx->fail_path = "/TaskQueues?";
	fx->fail_status = 404;
	fx->fail_left = 1;
	assert_int_equal(rebuild_start(fx->rb), 0);
	run_until_done(fx, 1);
	assert_int_equal(fx->last.error, -EIO);
	assert_non_null(strstr(fx->reason, "task_queues"));
	assert_non_null(strstr(fx->reason, "404"));
	assert_false(model_is_built(fx->m));
	/* The rest of the run was cancelled, not left to complete. */
	assert_true(fx->cancels >= 1);
	for (const struct pending *p = fx->queue; p != NULL; p = p->next)
		assert_true(p->cancelled);
	assert_string_equal(model_task_status(fx->m, "WT99999999999999999999999999999999"),
			    "pending");
	assert_false(rebuild_is_running(fx->rb));
}

static void
test_rebuild_gives_up_after_the_attempts(void **state)
{
	struct fixture *fx = *state;

	fx->fail_path = "/Activities?";
	fx->fail_status = 429;
	fx->fail_left = 100;
	assert_int_equal(rebuild_start(fx->rb), 0);
	run_until_done(fx, 1);
	assert_int_equal(fx->last.error, -EIO);
	assert_non_null(strstr(fx->reason, "activities"));
}

static void
test_rebuild_reconcile_removes_what_twilio_no_longer_lists(void **state)
{
	struct fixture *fx = *state;
	char sid[40];

	assert_int_equal(rebuild_start(fx->rb), 0);
	run_until_done(fx, 1);
	assert_int_equal(model_task_count(fx->m), 10);
	fx->skip_task = 4; /* completed while its events were missed */
	assert_int_equal(rebuild_reconcile_now(fx->rb), 0);
	run_until_done(fx, 2);
	assert_false(fx->last.initial);
	assert_int_equal(fx->last.error, 0);
	assert_int_equal(model_task_count(fx->m), 9);
	task_sid(sid, sizeof(sid), 4);
	assert_null(model_task_status(fx->m, sid));
	assert_int_equal(model_reservation_count(fx->m), 4);
}

static void
test_rebuild_free_mid_run_cancels(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(rebuild_start(fx->rb), 0);
	assert_true(event_base_loop(fx->base, EVLOOP_ONCE) >= 0); /* the run starts */
	assert_true(rebuild_is_running(fx->rb));
	assert_int_equal(rebuild_reconcile_now(fx->rb), -EALREADY);
	assert_true(serve_one(fx)); /* one answer, five still out */
	rebuild_free(fx->rb);
	fx->rb = NULL;
	assert_int_equal(fx->cancels, 5);
	assert_int_equal(fx->dones, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_rebuild_initial_fills_the_model, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_rebuild_bounds_reservation_concurrency,
						setup_narrow, teardown),
		cmocka_unit_test_setup_teardown(test_rebuild_retries_retryable_errors, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_rebuild_final_error_fails_without_sweeping,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_rebuild_gives_up_after_the_attempts, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_rebuild_reconcile_removes_what_twilio_no_longer_lists, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_rebuild_free_mid_run_cancels, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
