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
#include <stdint.h>

#include <event2/event.h>

struct stats;
struct model;
struct http_async;
struct twilio;
struct metrics;

/* Called after each successful refresh with the KPI document (borrowed). */
typedef void stats_publish_cb(const char *json, size_t len, void *arg);

struct stats_options {
	int64_t min_interval_ms;      /* default 1000 */
	int64_t max_interval_ms;      /* default 15000 */
	int sla_threshold_s;	      /* default service-level threshold */
	int day_start_minutes;	      /* local minutes after midnight */
	const char *timezone;	      /* NULL = UTC */
	int64_t (*now_ms)(void *arg); /* monotonic, injectable; NULL = real */
	void *clock_arg;
};

struct stats *stats_new(struct event_base *base, struct http_async *client, const struct twilio *tw,
			const char *workspace_sid, struct model *model,
			const struct stats_options *options, struct metrics *metrics);
void stats_free(struct stats *s);
void stats_set_publish(struct stats *s, stats_publish_cb *cb, void *arg);
/* Starts the max-interval timer and the first refresh. */
void stats_start(struct stats *s);
/* Something changed: a refresh will happen within min_interval_ms (coalesced). */
void stats_mark_dirty(struct stats *s);
