#pragma once

/*
 * worker_api: tokens, the agent API and the supervisor actions (DESIGN.md
 * "HTTP surface"). Everything an agent does acts on the logged-in worker
 * only: its WK SID comes from the session (auth_worker_sid), never from the
 * request. Supervisor actions are logged as audit lines (notice) and sent
 * as "audit" stream events with who did them.
 *
 * Actions call Twilio through the daemon's async REST client and answer
 * when Twilio has: 200 with the result; Twilio refusing (a 4xx: reservation
 * no longer pending, going unavailable with a pending reservation) 409
 * {"error": "refused", "detail": Twilio's message, "twilioCode": n}; Twilio
 * unreachable or failing 502; Twilio rate limiting 503 with Retry-After.
 * Never a bare 500.
 *
 * Background duties: auto_complete_wrapping completes tasks entering
 * wrapping (after wrapping_complete_after_s), and presence sets an available
 * worker whose last agent page has been gone for agent_away_after_s to
 * agent_away_activity, rejecting a pending reservation first.
 */

#include <stdbool.h>

#include <event2/event.h>
#include <event2/http.h>

struct worker_api;
struct auth;
struct auth_session;
struct http_async;
struct model;
struct stream;
struct twilio;

struct worker_api_options {
	const char *account_sid;
	const char *auth_token;
	const char *api_key;
	const char *api_secret;
	const char *workspace_sid;
	const char *sync_service_sid;
	int token_ttl_s;
	bool auto_complete_wrapping;
	int wrapping_complete_after_s;
	int agent_away_after_s; /* 0: off */
	const char *agent_away_activity;
	const char *conference_from;		   /* NULL: not sent */
	int conference_timeout_s;		   /* 0: not sent */
	const char *conference_post_work_activity; /* name or SID; NULL: not sent */
	bool conference_end_on_exit;
	int presence_tick_ms; /* how often presence looks (default 1000) */
};

/*
 * Borrowed (must outlive the worker_api): base, http, twilio, model, auth,
 * stream; the strings in options are copied. The caller owns the result.
 */
struct worker_api *worker_api_new(struct event_base *base, struct http_async *http,
				  struct twilio *twilio, struct model *model, struct auth *auth,
				  struct stream *stream, const struct worker_api_options *options);
/* Applies a reloaded configuration (strings copied). */
void worker_api_reconfigure(struct worker_api *wa, const struct worker_api_options *options);
/*
 * Cancels requests in flight (their HTTP requests get no answer from us;
 * the server frees them), timers, and frees. NULL-safe.
 */
void worker_api_free(struct worker_api *wa);

/* The model says task sid changed (daemon listener): auto-completion of wrapping. */
void worker_api_task_changed(struct worker_api *wa, const char *task_sid);
/*
 * This instance became the one that writes to Twilio (start, or the Sync
 * lease won): every task already wrapping gets its auto-completion, due
 * wrapping_complete_after_s after the task's last change (at once when that
 * has passed). Tasks scheduled already keep their time.
 */
void worker_api_wrapups_resume(struct worker_api *wa);
/* Another instance writes now (lease lost): cancel every scheduled auto-completion. */
void worker_api_wrapups_drop(struct worker_api *wa);
/* A page of this worker attached to the stream (presence). */
void worker_api_worker_seen(struct worker_api *wa, const char *worker_sid);

/*
 * Route handlers. s is the caller's session (checked by the pipeline for
 * role and Origin). sid is the path's SID, already checked for its prefix.
 * Each answers exactly once, possibly after Twilio answered; the server has
 * released the connection to the worker_api for the handlers marked async.
 */
void worker_api_sync_token(struct worker_api *wa, struct evhttp_request *req,
			   const struct auth_session *s);
void worker_api_worker_token(struct worker_api *wa, struct evhttp_request *req,
			     const struct auth_session *s);
void worker_api_workspace(struct worker_api *wa, struct evhttp_request *req,
			  const struct auth_session *s);
/* async */
void worker_api_set_activity(struct worker_api *wa, struct evhttp_request *req,
			     const struct auth_session *s, const char *worker_sid);
void worker_api_reservation(struct worker_api *wa, struct evhttp_request *req,
			    const struct auth_session *s, const char *reservation_sid,
			    const char *action);
void worker_api_conference_end(struct worker_api *wa, struct evhttp_request *req,
			       const struct auth_session *s, const char *conference_sid);
void worker_api_task_update(struct worker_api *wa, struct evhttp_request *req,
			    const struct auth_session *s, const char *task_sid, const char *action);
