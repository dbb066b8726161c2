/*
 * rebuild: one run = a set of list fetches feeding model_upsert_*.
 *
 * Every HTTP request of a run is a struct rebuild_req on the run's list.
 * A request is in exactly one of three places: waiting in the transport
 * (handle set), waiting for a retry (retry timer pending), or queued for a
 * reservation slot (neither). Its page callback upserts the records, then
 * either follows next_page_url with the same request object or frees it.
 * The run ends when the list is empty: success if nothing failed.
 *
 * Reservations are fetched per task (Tasks/{WT}/Reservations) for tasks the
 * task pages reported as reserved, assigned or wrapping, at most
 * max_parallel at a time, after their task was upserted, so the model always
 * has the task a reservation names.
 *
 * Failure: the first request that fails for good (not retryable, or out of
 * attempts) cancels the rest of the run; the model keeps what it had
 * (upserts so far are real data) and is not swept. Completion callbacks of
 * cancelled requests never run (transport contract), so nothing touches a
 * freed request.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "date.h"
#include "form.h"
#include "http_async.h"
#include "log.h"
#include "metrics.h"
#include "model.h"
#include "queue.h"
#include "rebuild.h"
#include "rng.h"
#include "sid.h"
#include "task_status.h"
#include "twilio.h"
#include "xmalloc.h"

#define REBUILD_DEFAULT_PARALLEL 16u
#define REBUILD_PAGE_SIZE	 "200"
#define REBUILD_MAX_PAGES	 1000u

enum rebuild_kind {
	REBUILD_WORKSPACE,
	REBUILD_ACTIVITIES,
	REBUILD_WORKFLOWS,
	REBUILD_QUEUES,
	REBUILD_WORKERS,
	REBUILD_TASKS,
	REBUILD_RESERVATIONS,
};

struct rebuild_req {
	struct rebuild *rb;
	enum rebuild_kind kind;
	char *url;
	void *handle; /* transport handle while in flight */
	struct event *retry_timer;
	unsigned attempts; /* tries of the current page */
	unsigned pages;
	LIST_ENTRY(rebuild_req) entry;
};

struct rebuild {
	struct event_base *base;
	struct http_async *client;
	const struct twilio *tw;
	char *workspace_sid;
	struct model *model;
	struct metrics *metrics;
	struct rebuild_options o;
	struct rebuild_transport transport;
	struct rng rng;
	struct event *timer; /* next run */

	bool running;
	bool initial;
	bool failed;
	char *reason;
	size_t requests;
	size_t skipped; /* records the model refused */
	LIST_HEAD(, rebuild_req) reqs;
	/* Tasks whose reservations are still to be fetched (FIFO of SIDs). */
	char (*res_queue)[SID_LEN + 1];
	size_t res_head;
	size_t res_count;
	size_t res_cap;
	size_t res_total;
	unsigned res_in_flight;

	rebuild_done_cb *done;
	rebuild_status_cb *status;
	void *cb_arg;
};

static const char *
rebuild_kind_name(enum rebuild_kind kind)
{
	switch (kind) {
	case REBUILD_WORKSPACE:
		return "workspace";
	case REBUILD_ACTIVITIES:
		return "activities";
	case REBUILD_WORKFLOWS:
		return "workflows";
	case REBUILD_QUEUES:
		return "task_queues";
	case REBUILD_WORKERS:
		return "workers";
	case REBUILD_TASKS:
		return "tasks";
	case REBUILD_RESERVATIONS:
		return "reservations";
	}
	return "?";
}

static const char *
rebuild_list_key(enum rebuild_kind kind)
{
	switch (kind) {
	case REBUILD_WORKSPACE:
		return NULL;
	case REBUILD_ACTIVITIES:
		return "activities";
	case REBUILD_WORKFLOWS:
		return "workflows";
	case REBUILD_QUEUES:
		return "task_queues";
	case REBUILD_WORKERS:
		return "workers";
	case REBUILD_TASKS:
		return "tasks";
	case REBUILD_RESERVATIONS:
		return "reservations";
	}
	return NULL;
}

/* ------------------------------------------------------------------ */
/* the default transport */

static void *
rebuild_http_start(void *arg, const char *url, rebuild_response_cb *cb, void *cb_arg)
{
	struct rebuild *rb = arg;
	struct http_request_spec spec;
	struct http_async_request *req;
	char *cause = NULL;

	twilio_request_spec_init(rb->tw, &spec, HTTP_GET, url);
	req = http_async_start(rb->client, &spec, cb, cb_arg, &cause);
	if (req == NULL) {
		log_warning("rebuild: cannot start request: %s", cause != NULL ? cause : "?");
		free(cause);
	}
	return req;
}

static void
rebuild_http_cancel(void *arg, void *handle)
{
	http_async_cancel(handle);
}

/* ------------------------------------------------------------------ */
/* requests */

static void
rebuild_status(struct rebuild *rb)
{
	char text[160];

	if (rb->status == NULL)
		return;
	if (rb->res_total > 0)
		(void)snprintf(text, sizeof(text),
			       "rebuilding model: %zu tasks, %zu workers, reservations of %zu/%zu "
			       "tasks",
			       model_task_count(rb->model), model_worker_count(rb->model),
			       rb->res_total - rb->res_count - rb->res_in_flight, rb->res_total);
	else
		(void)snprintf(text, sizeof(text), "rebuilding model: %zu tasks, %zu workers",
			       model_task_count(rb->model), model_worker_count(rb->model));
	rb->status(text, rb->cb_arg);
}

static void
rebuild_req_free(struct rebuild_req *req)
{
	if (req == NULL)
		return;
	if (req->handle != NULL)
		req->rb->transport.cancel(req->rb->transport.arg, req->handle);
	if (req->retry_timer != NULL)
		event_free(req->retry_timer);
	LIST_REMOVE(req, entry);
	if (req->kind == REBUILD_RESERVATIONS && req->rb->res_in_flight > 0)
		req->rb->res_in_flight--;
	free(req->url);
	free(req);
}

static void rebuild_response_cb_fn(const struct http_response *resp, void *arg);

/* Sends the request's current URL. Returns 0 or -EIO when the transport refused. */
static int
rebuild_req_send(struct rebuild_req *req)
{
	struct rebuild *rb = req->rb;

	req->attempts++;
	rb->requests++;
	req->handle = rb->transport.start(rb->transport.arg, req->url, rebuild_response_cb_fn, req);
	return req->handle != NULL ? 0 : -EIO;
}

static void rebuild_fail(struct rebuild *rb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void rebuild_maybe_finish(struct rebuild *rb);

static struct rebuild_req *
rebuild_req_new(struct rebuild *rb, enum rebuild_kind kind, char *url)
{
	struct rebuild_req *req = xcalloc(1, sizeof(*req));

	req->rb = rb;
	req->kind = kind;
	req->url = url;
	LIST_INSERT_HEAD(&rb->reqs, req, entry);
	return req;
}

/* Adds a request for url (taken) with query params and sends it. */
static void
rebuild_add(struct rebuild *rb, enum rebuild_kind kind, char *base_url, const struct form *query)
{
	struct rebuild_req *req;
	char *url;

	if (base_url == NULL) {
		rebuild_fail(rb, "cannot build the %s URL", rebuild_kind_name(kind));
		return;
	}
	url = twilio_url_with_query(base_url, query);
	free(base_url);
	req = rebuild_req_new(rb, kind, url);
	if (kind == REBUILD_RESERVATIONS)
		rb->res_in_flight++;
	if (rebuild_req_send(req) < 0)
		rebuild_fail(rb, "cannot start the %s request", rebuild_kind_name(kind));
}

/* Starts reservation fetches while slots are free. */
static void
rebuild_pump_reservations(struct rebuild *rb)
{
	struct form *q = form_new();

	form_add(q, "PageSize", REBUILD_PAGE_SIZE);
	while (!rb->failed && rb->res_count > 0 && rb->res_in_flight < rb->o.max_parallel) {
		const char *wt = rb->res_queue[rb->res_head];

		rb->res_head = (rb->res_head + 1) % rb->res_cap;
		rb->res_count--;
		rebuild_add(rb, REBUILD_RESERVATIONS,
			    twilio_url_task_reservations(rb->tw, rb->workspace_sid, wt), q);
	}
	form_free(q);
}

static void
rebuild_queue_reservations(struct rebuild *rb, const char *task_sid)
{
	if (rb->res_count == rb->res_cap) {
		size_t cap = rb->res_cap > 0 ? rb->res_cap * 2 : 256;
		char(*q)[SID_LEN + 1] = xcalloc(cap, sizeof(*q));

		for (size_t i = 0; i < rb->res_count; i++)
			memcpy(q[i], rb->res_queue[(rb->res_head + i) % rb->res_cap], sizeof(q[i]));
		free(rb->res_queue);
		rb->res_queue = q;
		rb->res_head = 0;
		rb->res_cap = cap;
	}
	memcpy(rb->res_queue[(rb->res_head + rb->res_count) % rb->res_cap], task_sid, SID_LEN);
	rb->res_queue[(rb->res_head + rb->res_count) % rb->res_cap][SID_LEN] = '\0';
	rb->res_count++;
	rb->res_total++;
}

/* ------------------------------------------------------------------ */
/* REST JSON -> the model's typed records */

static const char *
rebuild_str(const struct json_value *o, const char *key)
{
	const char *s = NULL;

	return json_get_string(o, key, &s) == 0 ? s : NULL;
}

/* An ISO-8601 date field in Unix ms, -1 when absent or unreadable. */
static int64_t
rebuild_date(const struct json_value *o, const char *key)
{
	int64_t ms = -1;

	if (date_parse_iso(rebuild_str(o, key), DATE_ISO_STRICT, &ms) != 0)
		return -1;
	return ms;
}

/* A boolean field as 0 or 1, -1 when absent. */
static int
rebuild_bool(const struct json_value *o, const char *key)
{
	bool b = false;

	return json_get_bool(o, key, &b) == 0 ? (int)b : -1;
}

void
rebuild_read_workspace(const struct json_value *o, struct model_rest_workspace *out)
{
	out->sid = rebuild_str(o, "sid");
	out->friendly_name = rebuild_str(o, "friendly_name");
	out->default_activity_sid = rebuild_str(o, "default_activity_sid");
	out->timeout_activity_sid = rebuild_str(o, "timeout_activity_sid");
}

void
rebuild_read_activity(const struct json_value *o, struct model_rest_activity *out)
{
	out->sid = rebuild_str(o, "sid");
	out->friendly_name = rebuild_str(o, "friendly_name");
	out->available = rebuild_bool(o, "available");
}

void
rebuild_read_queue(const struct json_value *o, struct model_rest_queue *out)
{
	out->sid = rebuild_str(o, "sid");
	out->friendly_name = rebuild_str(o, "friendly_name");
	out->target_workers = rebuild_str(o, "target_workers");
}

void
rebuild_read_workflow(const struct json_value *o, struct model_rest_workflow *out)
{
	out->sid = rebuild_str(o, "sid");
	if (json_get_int64(o, "task_reservation_timeout", &out->task_reservation_timeout) != 0)
		out->task_reservation_timeout = 0;
}

void
rebuild_read_worker(const struct json_value *o, struct model_rest_worker *out)
{
	out->sid = rebuild_str(o, "sid");
	out->friendly_name = rebuild_str(o, "friendly_name");
	out->attributes = rebuild_str(o, "attributes");
	out->activity_sid = rebuild_str(o, "activity_sid");
	out->activity_name = rebuild_str(o, "activity_name");
	out->updated_ms = rebuild_date(o, "date_updated");
	out->status_changed_ms = rebuild_date(o, "date_status_changed");
	out->available = rebuild_bool(o, "available");
}

void
rebuild_read_task(const struct json_value *o, struct model_rest_task *out)
{
	out->sid = rebuild_str(o, "sid");
	out->assignment_status = rebuild_str(o, "assignment_status");
	out->queue_sid = rebuild_str(o, "task_queue_sid");
	out->queue_name = rebuild_str(o, "task_queue_friendly_name");
	out->workflow_sid = rebuild_str(o, "workflow_sid");
	out->channel = rebuild_str(o, "task_channel_unique_name");
	out->attributes = rebuild_str(o, "attributes");
	out->created_ms = rebuild_date(o, "date_created");
	out->updated_ms = rebuild_date(o, "date_updated");
	out->queue_entered_ms = rebuild_date(o, "task_queue_entered_date");
	out->has_priority = json_get_int64(o, "priority", &out->priority) == 0;
}

void
rebuild_read_reservation(const struct json_value *o, struct model_rest_reservation *out)
{
	out->sid = rebuild_str(o, "sid");
	out->task_sid = rebuild_str(o, "task_sid");
	out->worker_sid = rebuild_str(o, "worker_sid");
	out->worker_name = rebuild_str(o, "worker_name");
	out->status = rebuild_str(o, "reservation_status");
	out->created_ms = rebuild_date(o, "date_created");
	out->updated_ms = rebuild_date(o, "date_updated");
}

static int
rebuild_upsert(struct rebuild *rb, enum rebuild_kind kind, const struct json_value *rec)
{
	union {
		struct model_rest_workspace workspace;
		struct model_rest_activity activity;
		struct model_rest_queue queue;
		struct model_rest_workflow workflow;
		struct model_rest_worker worker;
		struct model_rest_task task;
		struct model_rest_reservation reservation;
	} u;
	int status;
	int r = -EINVAL;

	memset(&u, 0, sizeof(u));
	switch (kind) {
	case REBUILD_WORKSPACE:
		rebuild_read_workspace(rec, &u.workspace);
		r = model_upsert_workspace(rb->model, &u.workspace);
		break;
	case REBUILD_ACTIVITIES:
		rebuild_read_activity(rec, &u.activity);
		r = model_upsert_activity(rb->model, &u.activity);
		break;
	case REBUILD_QUEUES:
		rebuild_read_queue(rec, &u.queue);
		r = model_upsert_queue(rb->model, &u.queue);
		break;
	case REBUILD_WORKFLOWS:
		rebuild_read_workflow(rec, &u.workflow);
		r = model_upsert_workflow(rb->model, &u.workflow);
		break;
	case REBUILD_WORKERS:
		rebuild_read_worker(rec, &u.worker);
		r = model_upsert_worker(rb->model, &u.worker);
		break;
	case REBUILD_TASKS:
		rebuild_read_task(rec, &u.task);
		r = model_upsert_task(rb->model, &u.task);
		status = task_status_parse(u.task.assignment_status);
		/* reserved, assigned and wrapping tasks hold reservations */
		if (r == 0 && task_status_is_open(status) && status != TASK_STATUS_PENDING)
			rebuild_queue_reservations(rb, u.task.sid);
		break;
	case REBUILD_RESERVATIONS:
		rebuild_read_reservation(rec, &u.reservation);
		r = model_upsert_reservation(rb->model, &u.reservation);
		break;
	}
	return r;
}

/* Handles one successful page; returns the next page URL (owned by page) or NULL. */
static int
rebuild_page(struct rebuild_req *req, const struct http_response *resp, char **next_out)
{
	struct rebuild *rb = req->rb;
	struct twilio_page *page = NULL;
	struct json_doc *doc = NULL;
	char *cause = NULL;
	int r;

	*next_out = NULL;
	if (req->kind == REBUILD_WORKSPACE) {
		r = json_parse(resp->body, resp->body_len, NULL, &doc, &cause);
		if (r == 0 && rebuild_upsert(rb, req->kind, json_doc_root(doc)) != 0)
			r = -EINVAL;
		if (r != 0)
			rebuild_fail(rb, "workspace: %s",
				     cause != NULL ? cause : "not a workspace");
		json_doc_free(doc);
		free(cause);
		return r;
	}
	r = twilio_page_parse(rb->tw, rebuild_list_key(req->kind), resp->body, resp->body_len,
			      &page, &cause);
	if (r != 0) {
		rebuild_fail(rb, "%s: %s", rebuild_kind_name(req->kind),
			     cause != NULL ? cause : "bad page");
		free(cause);
		return r;
	}
	for (size_t i = 0; i < twilio_page_count(page); i++) {
		if (rebuild_upsert(rb, req->kind, twilio_page_record(page, i)) != 0) {
			if (rb->skipped++ < 5)
				log_warning("rebuild: %s: skipped a malformed record",
					    rebuild_kind_name(req->kind));
		}
	}
	if (twilio_page_next_url(page) != NULL)
		*next_out = xstrdup(twilio_page_next_url(page));
	twilio_page_free(page);
	return 0;
}

static void
rebuild_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct rebuild_req *req = arg;

	if (rebuild_req_send(req) < 0)
		rebuild_fail(req->rb, "cannot restart the %s request",
			     rebuild_kind_name(req->kind));
}

static void
rebuild_response_cb_fn(const struct http_response *resp, void *arg)
{
	struct rebuild_req *req = arg;
	struct rebuild *rb = req->rb;
	long delay_ms = 0;
	char *next = NULL;

	req->handle = NULL;
	if (rb->metrics != NULL)
		metrics_twilio_request(rb->metrics, rebuild_kind_name(req->kind), resp->status);
	if (!twilio_response_ok(resp)) {
		struct twilio_error err;

		if (twilio_retry_next(&rb->o.retry, resp, req->attempts, &rb->rng, &delay_ms)) {
			struct timeval tv = { .tv_sec = delay_ms / 1000,
					      .tv_usec = (delay_ms % 1000) * 1000 };

			if (rb->metrics != NULL)
				metrics_twilio_retry(rb->metrics, rebuild_kind_name(req->kind));
			log_warning("rebuild: %s: HTTP %ld (%s), retrying in %ld ms",
				    rebuild_kind_name(req->kind), resp->status,
				    http_outcome_name(resp->outcome), delay_ms);
			if (req->retry_timer == NULL)
				req->retry_timer = evtimer_new(rb->base, rebuild_retry_cb, req);
			if (req->retry_timer == NULL || evtimer_add(req->retry_timer, &tv) != 0)
				rebuild_fail(rb, "cannot arm a retry timer");
			return;
		}
		twilio_error_init(&err);
		(void)twilio_error_parse(resp, &err); /* fallbacks are filled in any case */
		rebuild_fail(rb, "%s: HTTP %ld, Twilio error %ld: %s", rebuild_kind_name(req->kind),
			     resp->status, err.code, err.message);
		twilio_error_clear(&err);
		return;
	}
	if (rebuild_page(req, resp, &next) != 0)
		return;
	if (req->kind == REBUILD_TASKS || req->kind == REBUILD_WORKERS)
		rebuild_status(rb);
	rebuild_pump_reservations(rb);
	if (next != NULL && ++req->pages >= REBUILD_MAX_PAGES) {
		free(next);
		/* Stopping here would sweep what the unread pages hold. */
		rebuild_fail(rb, "%s: more than %u pages", rebuild_kind_name(req->kind),
			     REBUILD_MAX_PAGES);
		return;
	}
	if (next != NULL) {
		free(req->url);
		req->url = next;
		req->attempts = 0;
		if (rebuild_req_send(req) < 0)
			rebuild_fail(rb, "cannot start the next %s page",
				     rebuild_kind_name(req->kind));
		return;
	}
	free(next);
	rebuild_req_free(req);
	rebuild_pump_reservations(rb);
	rebuild_maybe_finish(rb);
}

/* ------------------------------------------------------------------ */
/* runs */

static void
rebuild_schedule(struct rebuild *rb, int seconds)
{
	struct timeval tv = { .tv_sec = seconds, .tv_usec = 0 };

	if (seconds <= 0 || rb->timer == NULL)
		return;
	if (evtimer_add(rb->timer, &tv) != 0)
		log_err("rebuild: cannot arm the reconciliation timer");
}

void
rebuild_reconfigure(struct rebuild *rb, int reconcile_interval_s)
{
	rb->o.reconcile_interval_s = reconcile_interval_s < 0 ? 0 : reconcile_interval_s;
	if (rb->running || !model_is_built(rb->model) || rb->timer == NULL)
		return; /* the run in progress (or the retry) schedules with the new value */
	(void)evtimer_del(rb->timer);
	rebuild_schedule(rb, rb->o.reconcile_interval_s);
}

/* Ends the run: reports it and schedules the next one. */
static void
rebuild_end(struct rebuild *rb)
{
	struct rebuild_result res = {
		.initial = rb->initial,
		.error = rb->failed ? -EIO : 0,
		.reason = rb->failed ? rb->reason : NULL,
		.requests = rb->requests,
	};

	if (rb->failed)
		model_rebuild_abort(rb->model);
	else
		model_rebuild_end(rb->model);
	res.tasks = model_task_count(rb->model);
	res.workers = model_worker_count(rb->model);
	rb->running = false;
	if (rb->failed) {
		log_warning("rebuild: %s failed after %zu requests: %s",
			    rb->initial ? "initial rebuild" : "reconciliation", rb->requests,
			    rb->reason);
		rebuild_schedule(rb, model_is_built(rb->model) ? rb->o.reconcile_interval_s
							       : REBUILD_RETRY_S);
	} else {
		log_info("rebuild: %s done: %zu tasks, %zu workers, %zu requests",
			 rb->initial ? "initial rebuild" : "reconciliation", res.tasks, res.workers,
			 rb->requests);
		rebuild_schedule(rb, rb->o.reconcile_interval_s);
	}
	rb->initial = false;
	if (rb->done != NULL)
		rb->done(&res, rb->cb_arg);
	free(rb->reason);
	rb->reason = NULL;
}

static void
rebuild_maybe_finish(struct rebuild *rb)
{
	if (rb->running && LIST_EMPTY(&rb->reqs) && (rb->res_count == 0 || rb->failed))
		rebuild_end(rb);
}

/* Records the first failure and cancels the rest of the run. */
static void
rebuild_fail(struct rebuild *rb, const char *fmt, ...)
{
	va_list ap;

	if (!rb->failed) {
		rb->failed = true;
		va_start(ap, fmt);
		rb->reason = xvasprintf(fmt, ap);
		va_end(ap);
	}
	while (!LIST_EMPTY(&rb->reqs))
		rebuild_req_free(LIST_FIRST(&rb->reqs));
	rb->res_count = 0;
	rebuild_maybe_finish(rb);
}

static void
rebuild_run(struct rebuild *rb)
{
	struct form *page = form_new();
	struct form *tasks = form_new();

	rb->running = true;
	rb->failed = false;
	rb->requests = 0;
	rb->skipped = 0;
	rb->res_head = 0;
	rb->res_count = 0;
	rb->res_total = 0;
	rb->res_in_flight = 0;
	model_rebuild_begin(rb->model);
	rebuild_status(rb);
	form_add(page, "PageSize", REBUILD_PAGE_SIZE);
	form_add(tasks, "AssignmentStatus", "pending");
	form_add(tasks, "AssignmentStatus", "reserved");
	form_add(tasks, "AssignmentStatus", "assigned");
	form_add(tasks, "AssignmentStatus", "wrapping");
	form_add(tasks, "PageSize", REBUILD_PAGE_SIZE);
	rebuild_add(rb, REBUILD_WORKSPACE, twilio_url_workspace(rb->tw, rb->workspace_sid), NULL);
	if (!rb->failed)
		rebuild_add(rb, REBUILD_ACTIVITIES,
			    twilio_url_activities(rb->tw, rb->workspace_sid), page);
	if (!rb->failed)
		rebuild_add(rb, REBUILD_WORKFLOWS, twilio_url_workflows(rb->tw, rb->workspace_sid),
			    page);
	if (!rb->failed)
		rebuild_add(rb, REBUILD_QUEUES, twilio_url_task_queues(rb->tw, rb->workspace_sid),
			    page);
	if (!rb->failed)
		rebuild_add(rb, REBUILD_WORKERS, twilio_url_workers(rb->tw, rb->workspace_sid),
			    page);
	if (!rb->failed)
		rebuild_add(rb, REBUILD_TASKS, twilio_url_tasks(rb->tw, rb->workspace_sid), tasks);
	form_free(page);
	form_free(tasks);
}

/* The run starts from the loop, so the done callback never fires inside rebuild_start. */
static void
rebuild_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct rebuild *rb = arg;

	if (!rb->running)
		rebuild_run(rb);
}

static int
rebuild_kick(struct rebuild *rb)
{
	struct timeval now = { 0, 0 };

	if (rb->running)
		return -EALREADY;
	if (evtimer_add(rb->timer, &now) != 0)
		return -EIO;
	return 0;
}

int
rebuild_start(struct rebuild *rb)
{
	rb->initial = true;
	return rebuild_kick(rb);
}

int
rebuild_reconcile_now(struct rebuild *rb)
{
	return rebuild_kick(rb);
}

bool
rebuild_is_running(const struct rebuild *rb)
{
	return rb->running;
}

void
rebuild_set_callbacks(struct rebuild *rb, rebuild_done_cb *done, rebuild_status_cb *status,
		      void *arg)
{
	rb->done = done;
	rb->status = status;
	rb->cb_arg = arg;
}

struct rebuild *
rebuild_new(struct event_base *base, struct http_async *client, const struct twilio *tw,
	    const char *workspace_sid, struct model *model, const struct rebuild_options *options,
	    struct metrics *metrics)
{
	struct rebuild *rb = xcalloc(1, sizeof(*rb));

	if (options != NULL)
		rb->o = *options;
	if (rb->o.max_parallel == 0)
		rb->o.max_parallel = REBUILD_DEFAULT_PARALLEL;
	if (rb->o.reconcile_interval_s < 0)
		rb->o.reconcile_interval_s = 0;
	if (rb->o.transport != NULL) {
		rb->transport = *rb->o.transport;
	} else {
		rb->transport.start = rebuild_http_start;
		rb->transport.cancel = rebuild_http_cancel;
		rb->transport.arg = rb;
	}
	rb->o.transport = NULL;
	rb->base = base;
	rb->client = client;
	rb->tw = tw;
	rb->workspace_sid = xstrdup(workspace_sid);
	rb->model = model;
	rb->metrics = metrics;
	rng_seed_random(&rb->rng);
	LIST_INIT(&rb->reqs);
	rb->timer = evtimer_new(base, rebuild_timer_cb, rb);
	if (rb->timer == NULL)
		fatalx("rebuild: cannot create the reconciliation timer");
	return rb;
}

void
rebuild_free(struct rebuild *rb)
{
	if (rb == NULL)
		return;
	event_free(rb->timer);
	rb->done = NULL;
	rb->status = NULL;
	while (!LIST_EMPTY(&rb->reqs))
		rebuild_req_free(LIST_FIRST(&rb->reqs));
	if (rb->running)
		model_rebuild_abort(rb->model);
	free(rb->res_queue);
	free(rb->reason);
	free(rb->workspace_sid);
	free(rb);
}
