#pragma once

/*
 * syncpub: publishes documents and map items to Twilio Sync, latest value
 * wins. Each object has at most one write in flight; a newer value replaces a
 * pending one (superseded, counted); writes to one container (a document, or
 * a map and all its items) are capped at writes_per_second; If-Match with the
 * known revision, create on 404, re-read on 412; failed writes are retried
 * with backoff (429/5xx/timeouts, Retry-After honoured) until written or
 * superseded. Payloads over 16 KiB are refused at set time (-E2BIG), never
 * sent. Memory is bounded by the number of objects, not the update rate.
 */

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

struct syncpub;
struct http_async;
struct twilio;
struct metrics;

struct syncpub_options {
	double writes_per_second;     /* per container; default 10 */
	int64_t (*now_ms)(void *arg); /* monotonic ms, injectable; NULL = real */
	void *clock_arg;
};

/* All pointers borrowed; they must outlive the publisher. */
struct syncpub *syncpub_new(struct event_base *base, struct http_async *client,
			    const struct twilio *tw, const char *service_sid,
			    const struct syncpub_options *options, struct metrics *metrics);
/* Cancels writes in flight. NULL-safe. */
void syncpub_free(struct syncpub *sp);

/* Sets the document's data (a JSON object text, copied). 0, or -E2BIG / -EINVAL. */
int syncpub_set_document(struct syncpub *sp, const char *unique_name, const char *json, size_t len);
/* Sets a map item (map created on first use). 0, or -E2BIG / -EINVAL. */
int syncpub_set_map_item(struct syncpub *sp, const char *map_name, const char *key,
			 const char *json, size_t len);
/* Removes a map item (latest wins against a pending set). */
void syncpub_remove_map_item(struct syncpub *sp, const char *map_name, const char *key);
/* Objects with a value not yet confirmed written. 0 means converged. */
size_t syncpub_pending(const struct syncpub *sp);
