#pragma once

/*
 * rebuild: fills the model from the TaskRouter REST API, at start (before
 * READY=1) and then periodically (reconciliation repairs drift from missed
 * callbacks). One run fetches, in parallel through curl multi: the
 * workspace, its activities, task queues and workers, the open tasks
 * (AssignmentStatus pending, reserved, assigned, wrapping), and then the
 * reservations of every reserved/assigned/wrapping task with bounded
 * concurrency. Lists are followed page by page (PageSize=1000). Each request
 * is retried per the twilio retry policy (429, 5xx, timeouts; Retry-After
 * honoured) on libevent timers; a request that still fails ends the run: the
 * model keeps what it had (model_rebuild_abort) and the run reports the
 * failure, which at start means degraded mode. A successful run ends with
 * model_rebuild_end (what Twilio no longer lists is removed).
 *
 * Runs never overlap. After a run, the next one is scheduled after
 * reconcile_interval_s, or after REBUILD_RETRY_S when the run failed and the
 * model was never built.
 */

#include <stdbool.h>
#include <stddef.h>

#include <event2/event.h>

#include "http.h"
#include "twilio.h"

struct rebuild;
struct model;
struct json_value;
struct model_rest_workspace;
struct model_rest_activity;
struct model_rest_queue;
struct model_rest_workflow;
struct model_rest_worker;
struct model_rest_task;
struct model_rest_reservation;
struct http_async;
struct metrics;

/* A failed initial rebuild is retried this soon (the model is empty meanwhile). */
#define REBUILD_RETRY_S 30

struct rebuild_result {
	bool initial;	    /* the first run since rebuild_new */
	int error;	    /* 0, or a negative errno */
	const char *reason; /* NULL on success, else why (for logs, STATUS= and /readyz) */
	size_t tasks;	    /* model counts after the run */
	size_t workers;
	size_t requests; /* HTTP requests the run made, retries included */
};

/* Called once at the end of every run, from the event loop. result is borrowed. */
typedef void rebuild_done_cb(const struct rebuild_result *result, void *arg);
/* Progress for sd_notify STATUS= ("rebuilding model: 412 tasks"); text is borrowed. */
typedef void rebuild_status_cb(const char *text, void *arg);

/*
 * Transport seam (tests). start begins a GET of url (borrowed for the call)
 * and returns a handle, then calls cb exactly once from the event loop,
 * never from inside start, unless cancelled; NULL means refused (the
 * request fails). cancel guarantees cb will not run.
 */
typedef void rebuild_response_cb(const struct http_response *resp, void *cb_arg);
struct rebuild_transport {
	void *(*start)(void *arg, const char *url, rebuild_response_cb *cb, void *cb_arg);
	void (*cancel)(void *arg, void *handle);
	void *arg;
};

struct rebuild_options {
	int reconcile_interval_s;		   /* 0: no periodic reconciliation */
	unsigned max_parallel;			   /* reservation fetches in flight; 0: 16 */
	struct twilio_retry_policy retry;	   /* zero fields: twilio defaults */
	const struct rebuild_transport *transport; /* NULL: http_async (copied) */
};

/*
 * All pointers are borrowed and must outlive the object (client may be NULL
 * with a transport seam; tw is used for URLs). options may be NULL.
 */
struct rebuild *rebuild_new(struct event_base *base, struct http_async *client,
			    const struct twilio *tw, const char *workspace_sid, struct model *model,
			    const struct rebuild_options *options, struct metrics *metrics);
/* Cancels a run in flight (no done callback) and the timers. NULL-safe. */
void rebuild_free(struct rebuild *rb);

/*
 * Twilio's REST list records (twilio-api.md 3) as the model's typed
 * records; out borrows rec's strings. Absent fields come out NULL / -1.
 */
void rebuild_read_workspace(const struct json_value *rec, struct model_rest_workspace *out);
void rebuild_read_activity(const struct json_value *rec, struct model_rest_activity *out);
void rebuild_read_queue(const struct json_value *rec, struct model_rest_queue *out);
void rebuild_read_workflow(const struct json_value *rec, struct model_rest_workflow *out);
void rebuild_read_worker(const struct json_value *rec, struct model_rest_worker *out);
void rebuild_read_task(const struct json_value *rec, struct model_rest_task *out);
void rebuild_read_reservation(const struct json_value *rec, struct model_rest_reservation *out);
/*
 * Applies a reloaded reconcile_interval_s (0: never): the next
 * reconciliation is due that long from now, or after the run in progress.
 */
void rebuild_reconfigure(struct rebuild *rb, int reconcile_interval_s);
void rebuild_set_callbacks(struct rebuild *rb, rebuild_done_cb *done, rebuild_status_cb *status,
			   void *arg);
/*
 * Starts the initial run now. Returns 0, or -EALREADY when a run is in
 * flight. The done callback fires when it ends, never from inside this call.
 */
int rebuild_start(struct rebuild *rb);
/* Starts a reconciliation run now unless one is running (then -EALREADY). */
int rebuild_reconcile_now(struct rebuild *rb);
bool rebuild_is_running(const struct rebuild *rb);
