#pragma once

/*
 * backfill: the restart replay. The per-agent "today" counters (offered,
 * accepted, rejected, timed out, handled, handle time) exist only in the
 * model, which a restart empties; the workspace KPIs survive because they
 * are TaskRouter's own statistics. So before the first rebuild, trhubd reads
 * TaskRouter's Events resource (twilio-api.md 3.8) from the start of the
 * operational day to now and applies every event through the same path as
 * a webhook: the REST record becomes the callback's form (backfill_event_form),
 * tr_event_parse types it, model_apply_event applies it. The model's
 * per-event de-duplication (by Sid) and per-reservation counting flags make
 * an event seen twice (replayed, then delivered by webhook) count once.
 *
 * One run: GET the workspace (its name is a callback field the Events
 * records lack), then GET Events?StartDate=..&EndDate=..&PageSize=1000, pages followed
 * through next_page_url (at most BACKFILL_MAX_PAGES), each request retried
 * per the twilio retry policy. Pages that come oldest first are applied as
 * they arrive (memory: one page); Twilio does not promise an order, so the
 * first record older than one applied switches to keeping the rest, sorted
 * by time and applied at the end. Bounded by a
 * page cap and a time cap: what was fetched when a cap is hit, or when a
 * request fails for good, is still applied, and the result says so (the
 * daemon then warns in the log and in /readyz).
 *
 * Webhooks that arrive while the replay runs are held (backfill_defer) and
 * applied right after the replayed events, so an event never overtakes the
 * older events of its reservation.
 *
 * The state file (backfill_state_*) remembers the last event applied (its
 * Sid and time), written atomically; at start it says whether this is a
 * first start and, after the replay, whether the replay reached that event.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "sid.h"
#include "twilio.h"

struct backfill;
struct model;
struct form;
struct json_value;
struct http_async;
struct metrics;
struct tr_event;

#define BACKFILL_PAGE_SIZE	    "1000"
#define BACKFILL_MAX_PAGES	    200u
#define BACKFILL_DEFAULT_TIMEOUT_MS 60000
#define BACKFILL_MAX_DEFERRED	    100000u
#define BACKFILL_STATE_FILE	    "trhubd.state"

struct backfill_options {
	int64_t start_ms;		  /* StartDate (Unix ms, inclusive) */
	int64_t end_ms;			  /* EndDate; -1: none (TaskRouter's now) */
	int64_t timeout_ms;		  /* the whole run; 0: BACKFILL_DEFAULT_TIMEOUT_MS */
	unsigned max_pages;		  /* 0: BACKFILL_MAX_PAGES */
	struct twilio_retry_policy retry; /* zero fields: twilio defaults */
	const char *expect_sid; /* the last event applied before the restart, or NULL (copied) */
};

struct backfill_result {
	int error;	    /* 0, -ETIMEDOUT (time cap), -E2BIG (page cap), -EIO (fetch failed) */
	const char *reason; /* NULL on success, else why (borrowed for the call) */
	size_t pages;
	size_t requests; /* retries included */
	size_t fetched;	 /* records read */
	size_t invalid;	 /* records that are not a TaskRouter event trhubd can type */
	size_t applied;	 /* model_apply_event: MODEL_APPLIED */
	size_t stale;	 /* MODEL_STALE_EVENT (already known) */
	size_t ignored;	 /* MODEL_IGNORED */
	size_t deferred; /* webhooks held during the run, applied after the callback */
	int64_t fetch_ms;
	int64_t apply_ms;
	int64_t last_ms;      /* time of the newest replayed event, -1: none */
	const char *last_sid; /* its Sid (borrowed for the call), or NULL */
	bool expect_found;    /* options.expect_sid was among the replayed events */
};

/*
 * Called once the replayed events are applied, before the webhooks held
 * meanwhile are (right after this returns). It must not free bf.
 */
typedef void backfill_done_cb(const struct backfill_result *result, void *arg);

/* All pointers are borrowed and must outlive bf. */
struct backfill *backfill_new(struct event_base *base, struct http_async *client,
			      const struct twilio *tw, const char *workspace_sid,
			      struct model *model, const struct backfill_options *options,
			      struct metrics *metrics);
/* Cancels a run in flight (the done callback does not run) and frees. NULL-safe. */
void backfill_free(struct backfill *bf);
/*
 * Starts the run; done is called once from the event loop when it ends
 * (never from inside this call). Returns 0 or -EALREADY.
 */
int backfill_start(struct backfill *bf, backfill_done_cb *done, void *arg);
bool backfill_running(const struct backfill *bf);
/*
 * Holds a webhook event that arrived during the run (its fields are
 * copied); it is applied after the replayed events. Returns false when bf
 * is not running or BACKFILL_MAX_DEFERRED are held (apply it now).
 */
bool backfill_defer(struct backfill *bf, const struct tr_event *ev);

/*
 * One Events record (twilio-api.md 3.8) as the event callback's form
 * (twilio-api.md 6): EventType, Sid, ResourceType, ResourceSid,
 * TimestampMs (event_date_ms, when present), Timestamp (Unix seconds, from
 * event_date_ms or event_date), WorkspaceSid, AccountSid, EventDescription,
 * WorkspaceName (workspace_name, which the record does not carry: the
 * workspace's friendly_name, read first; NULL: left out), and every event_data key
 * turned from snake_case into the callback's CamelCase (task_queue_sid ->
 * TaskQueueSid); numbers and booleans as text, objects and arrays as JSON
 * text, nulls left out. out must be empty. Returns 0, or -EINVAL for a
 * record that is not an object or has no event_type.
 */
int backfill_event_form(const struct json_value *rec, const char *workspace_name, struct form *out);
/* "task_queue_sid" -> "TaskQueueSid" into out (cap bytes). False when it does not fit. */
bool backfill_camel(const char *snake, char *out, size_t cap);

/*
 * The state file: "trhubd-state 1\nlast_event_sid EV...\nlast_event_ms N\n".
 * load returns 0, -ENOENT (no file: a first start) or -EINVAL (corrupt),
 * or another negative errno; *cause_out (may be NULL) gets an allocated
 * text on failure. save writes path.tmp, fsyncs it, renames it over path
 * and fsyncs the directory; returns 0 or a negative errno.
 */
int backfill_state_load(const char *path, char sid_out[SID_LEN + 1], int64_t *ms_out,
			char **cause_out);
int backfill_state_save(const char *path, const char *sid, int64_t ms, char **cause_out);

/*
 * The state keeper: loads the state file at creation (a missing or corrupt
 * one is logged and means a first start), then every BACKFILL_STATE_SAVE_MS
 * hands the newest event of the model's ring, when it changed, to a writer
 * thread (the loop never waits for fsync). backfill_keeper_flush (at stop)
 * posts the newest and waits for the writer. path NULL: no file, no thread.
 */
#define BACKFILL_STATE_SAVE_MS 2000

struct backfill_keeper;
struct backfill_keeper *backfill_keeper_new(struct event_base *base, struct model *model,
					    const char *path);
void backfill_keeper_free(struct backfill_keeper *k);
void backfill_keeper_flush(struct backfill_keeper *k);
/* The last event of the previous run (from the file): its Sid, or NULL on a first start. */
const char *backfill_keeper_prev_sid(const struct backfill_keeper *k, int64_t *ms_out);
