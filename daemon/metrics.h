#pragma once

/*
 * metrics: counters and histograms for GET /metrics (Prometheus text format
 * 0.0.4). Names are fixed here; label values are bounded sets (event types,
 * endpoints, status classes), never user input.
 */

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"

struct metrics;

struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);

/* Webhooks */
void metrics_event_received(struct metrics *m, const char *event_type); /* type label bounded */
void metrics_webhook_rejected(struct metrics *m, int http_status);
void metrics_webhook_latency(struct metrics *m, double seconds);
/* Twilio REST */
void metrics_twilio_request(struct metrics *m, const char *endpoint, long http_status);
void metrics_twilio_retry(struct metrics *m, const char *endpoint);
/* Stats */
void metrics_stats_refresh(struct metrics *m, bool ok);
void metrics_stats_coalesced(struct metrics *m);
/* Sync */
void metrics_sync_write(struct metrics *m, const char *object, long http_status);
void metrics_sync_superseded(struct metrics *m, const char *object);
/* SSE */
void metrics_sse_clients(struct metrics *m, int delta);
void metrics_sse_dropped(struct metrics *m);
/* sync_lease: 1 while this instance holds the writer lease, else 0 (absent until first set). */
void metrics_lease_holder(struct metrics *m, bool holder);

/* Appends the Prometheus text exposition. */
void metrics_render(const struct metrics *m, struct buf *out);
