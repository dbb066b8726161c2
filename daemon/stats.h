#pragma once

/*
 * stats: the coalescing statistics refresher (STYLE.md 6, DESIGN.md "Data
 * flow"). States: idle -> dirty -> in flight -> cooling down. At most one
 * refresh is in flight; a refresh starts no sooner than min_interval_ms after
 * the previous one started, and at least every max_interval_ms even without
 * events. One refresh fetches, in parallel through curl multi, the workspace
 * Statistics (realtime + cumulative since the configured start of "today",
 * SplitByWaitTime = the service-level thresholds) and the TaskQueues
 * statistics list, derives the KPIs of twilio-operations.md section 7, stores
 * the document in the model and hands it to the publish callback.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

struct stats;
struct model;
struct http_async;
struct twilio;
struct metrics;
struct json_value;

/* Called after each successful refresh with the KPI document (borrowed). */
typedef void stats_publish_cb(const char *json, size_t len, void *arg);

/* The coalescing state machine (STYLE.md 6), exposed for tests and /metrics. */
enum stats_state {
	STATS_IDLE,	 /* up to date; the max-interval timer is armed */
	STATS_DIRTY,	 /* something changed; a refresh starts when min_interval allows */
	STATS_IN_FLIGHT, /* one refresh running; changes meanwhile set a flag */
	STATS_COOLING,	 /* a follow-up (changes during the last one, or a retry) is scheduled */
};

/*
 * What one refresh fetched, handed to stats_fetch_complete. On success the
 * values are borrowed for the call: the workspace Statistics body and every
 * item of the TaskQueues/Statistics list (all pages). On failure, status is
 * the failing HTTP status (0 for a transport failure) and retry_after_s the
 * response's Retry-After (-1 when absent).
 */
struct stats_fetch_result {
	bool ok;
	long status;
	long retry_after_s;
	const struct json_value *workspace;
	const struct json_value *const *queues;
	size_t nqueues;
};

/*
 * Transport seam. Starts fetching the two URLs (borrowed for the call) and
 * returns 0, then calls stats_fetch_complete(s, ...) exactly once, later or
 * synchronously; or returns a negative errno without calling it (counted as
 * a failed refresh). cancel stops a fetch in flight so that it never
 * completes (stats_free).
 */
typedef int stats_fetch_fn(void *arg, struct stats *s, const char *workspace_url,
			   const char *queues_url);
typedef void stats_fetch_cancel_fn(void *arg, struct stats *s);

struct stats_options {
	int64_t min_interval_ms;      /* default 1000 */
	int64_t max_interval_ms;      /* default 15000 */
	int sla_threshold_s;	      /* default service-level threshold */
	int day_start_minutes;	      /* local minutes after midnight */
	const char *timezone;	      /* NULL = UTC */
	int64_t (*now_ms)(void *arg); /* monotonic, injectable; NULL = real */
	void *clock_arg;

	/* Additions (d2). Zero/NULL everywhere means the documented default. */
	const char *zoneinfo_dir;      /* NULL = /usr/share/zoneinfo */
	int64_t (*wall_ms)(void *arg); /* wall clock for StartDate; NULL = real; clock_arg */
	const int *split_thresholds_s; /* every per-queue threshold (copied) */
	size_t n_split_thresholds;     /* SplitByWaitTime = these plus sla_threshold_s */
	int (*sla_threshold_for)(void *arg, const char *queue_sid, const char *queue_name);
	void *sla_arg;	     /* per-queue threshold; NULL = sla_threshold_s */
	size_t max_queues;   /* queues in the document; 0 = KPI_DEFAULT_MAX_QUEUES */
	int short_abandon_s; /* 0: off; else also a SplitByWaitTime threshold */
	/* Per-queue short-abandon threshold (0: off there), with sla_arg; NULL =
	 * short_abandon_s. Every value it can return must be in split_thresholds_s. */
	int (*short_abandon_for)(void *arg, const char *queue_sid, const char *queue_name);
	stats_fetch_fn *fetch; /* NULL = http_async through client and tw */
	stats_fetch_cancel_fn *fetch_cancel;
	void *fetch_arg;
	/* Timer seam: NULL arms a libevent timer on base; else called with the delay
	 * (-1 = disarm) and the caller invokes stats_on_timer when it expires. */
	void (*timer_arm)(void *arg, int64_t delay_ms);
	void *timer_arg;
};

/*
 * All pointers are borrowed and must outlive the refresher; client and tw
 * may be NULL when options->fetch is set; base may be NULL when
 * options->timer_arm is set; metrics may be NULL. options is copied.
 */
struct stats *stats_new(struct event_base *base, struct http_async *client, const struct twilio *tw,
			const char *workspace_sid, struct model *model,
			const struct stats_options *options, struct metrics *metrics);
/* Cancels a refresh in flight (its completion never runs). NULL-safe. */
void stats_free(struct stats *s);
/*
 * Applies the live options of a reload (config keys stats_min_interval_ms,
 * stats_max_interval_ms, sla_threshold_s, short_abandon_s and their per-queue
 * overrides): the intervals, sla_threshold_s, short_abandon_s,
 * split_thresholds_s (copied), sla_threshold_for, short_abandon_for and
 * sla_arg. The other members are ignored. A started
 * refresher re-arms its timer for the new intervals and refreshes within
 * the new min_interval_ms, so the next document carries the new thresholds.
 */
void stats_reconfigure(struct stats *s, const struct stats_options *options);
void stats_set_publish(struct stats *s, stats_publish_cb *cb, void *arg);
/*
 * The latest statistics document (the JSON object /api/stats serves and
 * the publish callback got), owned by s and valid until the next refresh,
 * or NULL before the first one (and for s NULL).
 */
const char *stats_document(const struct stats *s, size_t *len_out);
/*
 * The same document as an agent's stream carries it: nothing in it names a
 * task (a worker sees no other worker's callers). Same lifetime.
 */
const char *stats_worker_document(const struct stats *s, size_t *len_out);
/* Starts the max-interval timer and the first refresh. */
void stats_start(struct stats *s);
/* Something changed: a refresh will happen within min_interval_ms (coalesced). */
void stats_mark_dirty(struct stats *s);

enum stats_state stats_get_state(const struct stats *s);
const char *stats_state_name(enum stats_state state);
/*
 * Completes the fetch started through the seam (see stats_fetch_fn). Must be
 * called exactly once per started fetch, with s in STATS_IN_FLIGHT.
 */
void stats_fetch_complete(struct stats *s, const struct stats_fetch_result *result);
/* The timer expired (timer seam only; the libevent timer calls it itself). */
void stats_on_timer(struct stats *s);
