#pragma once

/*
 * events: ingest of Twilio's signed webhooks, POST /taskrouter_event
 * (TaskRouter event callbacks, twilio-api.md section 6) and POST
 * /taskrouter_recording_callback (a recording URL for a task).
 *
 * The module does no HTTP I/O: server.c's pipeline hands it the request
 * (target, X-Twilio-Signature, content type, body) for the signature step
 * (events_verify), answers 204 or the refusal, and then gives the verified
 * parameters to events_accept. That split keeps every check a pure
 * function of its inputs (events_check), testable without a socket.
 *
 * Checks, in order, each refusal changing nothing:
 *   413  body over body_max_bytes
 *   400  body not a form (or, for application/json, not a JSON object)
 *   403  X-Twilio-Signature missing or not matching public_url + target
 *        (port variants accepted, signature.h); JSON bodies are checked
 *        against bodySHA256 in the query (signature_verify_body)
 *   400  a parameter repeated (Twilio never repeats one; the signature
 *        covers the sorted values, so a reordering would change the event)
 *   400  a TaskRouter event the model could not apply (tr_event_parse: no or
 *        malformed EventType, no Timestamp/TimestampMs or one that is not a
 *        date, a SID with the wrong prefix, a non-integer version or
 *        priority, an unknown TaskAssignmentStatus, a resource event
 *        without its resource's SID); a recording callback without
 *        RecordingUrl or TaskSid (form or query), or with a malformed
 *        Timestamp
 *   403  replay: Timestamp/TimestampMs older than max_age_ms, or more than
 *        max_future_ms ahead of now (exact duplicates inside the window are
 *        accepted: the model ignores them)
 *
 * So every webhook is parsed exactly once, here, into a typed event
 * (tr_event.h) before Twilio gets its 204: what is acknowledged is applied.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct events;
struct events_webhook;
struct tr_event;
struct metrics;

enum events_kind {
	EVENTS_NONE,	   /* not a webhook (a route table's other rows); refused */
	EVENTS_TASKROUTER, /* POST /taskrouter_event */
	EVENTS_RECORDING,  /* POST /taskrouter_recording_callback */
};

/* Refusals carry the HTTP status they are answered with. */
enum events_verdict {
	EVENTS_OK = 0,
	EVENTS_BAD_REQUEST = 400,
	EVENTS_FORBIDDEN = 403,
	EVENTS_TOO_LARGE = 413,
};

/* Defaults of struct events_options (0 fields take them). */
#define EVENTS_DEFAULT_BODY_MAX_BYTES (64 * 1024)
#define EVENTS_DEFAULT_MAX_AGE_MS     (5 * 60 * 1000)
#define EVENTS_DEFAULT_MAX_FUTURE_MS  (5 * 60 * 1000)

/* What the checks need; every pointer is borrowed for the call. */
struct events_check_config {
	const char *auth_token; /* the account's Auth Token (HMAC key) */
	const char *public_url; /* absolute, no trailing '/' (config public_url) */
	size_t body_max_bytes;
	int64_t max_age_ms;    /* < 0: no replay window */
	int64_t max_future_ms; /* < 0: no limit ahead */
};

/* One webhook request as received; every pointer is borrowed for the call. */
struct events_request {
	enum events_kind kind;
	const char *target;	  /* request-target: path and query exactly as sent */
	const char *signature;	  /* X-Twilio-Signature, or NULL when absent */
	const char *content_type; /* Content-Type, or NULL */
	const char *body;	  /* need not be NUL-terminated */
	size_t body_len;
};

/**
 * events_check() - every webhook check, as a pure function
 * @cfg: keys and limits.
 * @rq: the request.
 * @now_ms: wall-clock time, Unix milliseconds, for the replay window.
 * @webhook_out: on EVENTS_OK, the verified and parsed webhook (the caller
 *	owns it: events_webhook_free); untouched otherwise.
 * @reason_out: on a refusal, a static text naming the failed check (safe to
 *	log and to send as the error detail: it holds no input); may be NULL.
 *
 * Returns EVENTS_OK or the refusal's enum events_verdict.
 */
int events_check(const struct events_check_config *cfg, const struct events_request *rq,
		 int64_t now_ms, struct events_webhook **webhook_out, const char **reason_out);

/* NULL-safe. */
void events_webhook_free(struct events_webhook *w);
/* The typed TaskRouter event of w (owned by w), or NULL for a recording callback. */
const struct tr_event *events_webhook_event(const struct events_webhook *w);

/*
 * Applies a verified TaskRouter event (daemon.c wires it to
 * model_apply_event). event is borrowed for the call. Returns what
 * model_apply_event returns.
 */
typedef int events_apply_cb(const struct tr_event *event, void *arg);
/*
 * Stores a verified recording callback's RecordingUrl for its task
 * (daemon.c wires it to model_set_recording). Strings are borrowed for the
 * call.
 */
typedef int events_recording_cb(const char *task_sid, const char *recording_url, void *arg);

struct events_options {
	const char *auth_token;		    /* copied; wiped on free */
	const char *public_url;		    /* copied */
	size_t body_max_bytes;		    /* 0: EVENTS_DEFAULT_BODY_MAX_BYTES */
	int64_t max_age_ms;		    /* 0: EVENTS_DEFAULT_MAX_AGE_MS; < 0: no window */
	int64_t max_future_ms;		    /* 0: EVENTS_DEFAULT_MAX_FUTURE_MS; < 0: no limit */
	int64_t (*now_ms)(void *clock_arg); /* wall clock, Unix ms; NULL = real */
	void *clock_arg;
};

/*
 * options is copied (strings too); metrics is borrowed and must outlive the
 * object (NULL: not counted). The caller owns the result (events_free).
 */
struct events *events_new(const struct events_options *options, struct metrics *metrics);
/* Wipes the token and frees. NULL-safe. */
void events_free(struct events *ev);
/*
 * Sets where verified TaskRouter events and recording URLs go (until set,
 * they are only counted); either callback may be NULL.
 */
void events_set_apply(struct events *ev, events_apply_cb *apply, events_recording_cb *recording,
		      void *arg);
/* Replaces token, public URL and limits (SIGHUP reload). options is copied. */
void events_reconfigure(struct events *ev, const struct events_options *options);

/*
 * The pipeline's signature step: events_check with ev's configuration and
 * clock. A refusal is counted (metrics_webhook_rejected) and logged at
 * debug level under --trace=events. Same returns and outputs as
 * events_check.
 */
int events_verify(struct events *ev, const struct events_request *rq,
		  struct events_webhook **webhook_out, const char **reason_out);

/*
 * The handler step, after the 204 went out: a TaskRouter event is counted
 * by type and applied; a recording callback hands RecordingUrl and its
 * task to the recording callback. webhook is borrowed for the call. Never fails: everything that
 * could go wrong was refused by events_verify.
 */
void events_accept(struct events *ev, const struct events_webhook *webhook);
