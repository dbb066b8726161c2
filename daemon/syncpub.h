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
 *
 * Two ways to give a value. syncpub_set_* hand the value itself (copied).
 * syncpub_mark_* only say "this object changed" and name a builder that
 * syncpub calls when a slot frees and the write is about to start: any
 * number of marks between two writes cost one build and one request, and
 * nothing is built for writes the rate cap would hold back anyway. This is
 * the only coalescing layer between the model and Sync (the daemon has no
 * timer of its own). An object is published one way or the other, not both.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

struct syncpub;
struct http_async;
struct twilio;
struct metrics;

/* Largest Data accepted (Sync's 16 KiB limit, error 54006). */
#define SYNCPUB_MAX_DATA_BYTES 16384
/* Longest unique name or map item key accepted (error 54302 / 54209 say 1-256). */
#define SYNCPUB_MAX_NAME_BYTES 256

struct syncpub_options {
	double writes_per_second;     /* per container; default 10 */
	int64_t (*now_ms)(void *arg); /* monotonic ms, injectable; NULL = real */
	void *clock_arg;
	/* Backoff after 429/5xx/timeouts (full jitter, Retry-After wins when longer). */
	long retry_base_ms; /* 0: TWILIO_RETRY_DEFAULT_BASE_MS */
	long retry_max_ms;  /* 0: TWILIO_RETRY_DEFAULT_MAX_MS */
	long probe_ms;	    /* recovery probe while backing off; 0: SYNCPUB_PROBE_MS (1 s) */
	uint64_t rng_seed;  /* backoff jitter; 0: seeded at random (tests fix it) */
};

/* Counters since syncpub_new, for tests and logs. */
struct syncpub_stats {
	uint64_t requests;   /* HTTP requests started (writes, creates, reads, deletes) */
	uint64_t builds;     /* builder calls (syncpub_mark_*), one per write at most */
	uint64_t written;    /* values confirmed written (or deleted) */
	uint64_t superseded; /* values replaced before they were confirmed */
	uint64_t retries;    /* backoffs after 429/5xx/timeouts/transport failures */
	uint64_t dropped;    /* values given up on a final error (400, 54006, 401...) */
};

/*
 * Creates a publisher. All pointers are borrowed and must outlive it;
 * service_sid is copied; options may be NULL (defaults); metrics may be NULL.
 * Writes go through client (requests are started from set calls' zero-delay
 * events and from completions, never synchronously inside a set).
 */
struct syncpub *syncpub_new(struct event_base *base, struct http_async *client,
			    const struct twilio *tw, const char *service_sid,
			    const struct syncpub_options *options, struct metrics *metrics);
/*
 * Cancels writes in flight synchronously (no callback runs afterwards) and
 * frees every record, including values not yet written. Must not be called
 * from an http_async completion. NULL-safe.
 */
void syncpub_free(struct syncpub *sp);

/*
 * Makes json (len bytes of a JSON object text, copied) the latest value of
 * the document unique_name; it is written as soon as the document's budget
 * allows and replaces any value not yet written. A value equal to the latest
 * one changes nothing. Returns 0, -E2BIG when len exceeds
 * SYNCPUB_MAX_DATA_BYTES (nothing is sent), or -EINVAL for an empty or
 * overlong name or json that is not one JSON object.
 */
int syncpub_set_document(struct syncpub *sp, const char *unique_name, const char *json, size_t len);
/*
 * The same for the item key of map map_name (the map is created when Sync
 * says it is missing). Writes of all items of one map share its budget and
 * are served first come, first served.
 */
int syncpub_set_map_item(struct syncpub *sp, const char *map_name, const char *key,
			 const char *json, size_t len);
/*
 * Makes "absent" the latest value of the item: it is deleted (404 counts as
 * deleted) and its record freed once confirmed, unless a newer set wins.
 * Invalid names are ignored.
 */
void syncpub_remove_map_item(struct syncpub *sp, const char *map_name, const char *key);
/*
 * Builds the current value of a marked object when its write is about to
 * start. name is the document's unique name or the map's name, key the item
 * key (NULL for a document). Returns true with *json_out / *len_out (one
 * JSON object; valid until the builder returns to syncpub, which copies
 * it), or false when the object does not exist any more: a map item is then
 * removed as by syncpub_remove_map_item (no request at all when Sync cannot
 * have it), a document keeps what Sync has. A value syncpub_set_* would
 * refuse is logged and not written. Called from syncpub's own events, never
 * inside a syncpub call; it must not call syncpub.
 */
typedef bool (*syncpub_build_fn)(void *arg, const char *name, const char *key,
				 const char **json_out, size_t *len_out);
/*
 * Marks document unique_name changed: build(arg, ...) gives its value when
 * the document's budget allows a write (the object counts as pending until
 * then). Marking an object already marked changes nothing but the builder.
 * Invalid names are ignored.
 */
void syncpub_mark_document(struct syncpub *sp, const char *unique_name, syncpub_build_fn build,
			   void *arg);
/* The same for the item key of map map_name (built when the map's budget allows). */
void syncpub_mark_map_item(struct syncpub *sp, const char *map_name, const char *key,
			   syncpub_build_fn build, void *arg);
/*
 * Reconciles map map_name with what was set here: lists its items (pages
 * through the map's write budget, transient failures retried) and deletes
 * every item whose key was never set nor removed through this publisher,
 * such as tasks that ended while the daemon was down. Call it once the
 * model rebuild has set the items of all open tasks. A call while a pass
 * runs is ignored; a running pass counts as pending.
 */
void syncpub_prune_map(struct syncpub *sp, const char *map_name);
/*
 * While paused no request starts (those in flight complete); sets, marks and
 * removes still record the latest values. Unpausing starts what waits, in
 * order: trhubd starts paused and unpauses once its model is rebuilt and the
 * tasks map's listing is queued, so no item is written before syncpub knows
 * whether the map exists. New publishers are not paused.
 */
void syncpub_set_paused(struct syncpub *sp, bool paused);
/*
 * The write gate (lease.c, one writer among several instances). A new
 * publisher is active. Inactive: every set, remove and prune call keeps its
 * latest value as usual, but no request starts (requests already in flight
 * finish); a removed item this publisher never wrote is forgotten rather
 * than kept for a DELETE. Active again: everything not confirmed is written
 * under the usual budget; the caller then calls syncpub_prune_map for each
 * map so items written by another instance for tasks that ended are
 * deleted. Idempotent.
 */
void syncpub_set_active(struct syncpub *sp, bool active);
/*
 * Objects with a value not yet confirmed written or marked and not yet built
 * (and running prune passes). 0 means converged.
 */
size_t syncpub_pending(const struct syncpub *sp);
/*
 * Requests started and not completed (writes, reads, listings, map creates;
 * not the probe reads sent while Sync fails, which syncpub_set_active(false)
 * cancels: nothing of them can land).
 */
size_t syncpub_inflight(const struct syncpub *sp);
void syncpub_get_stats(const struct syncpub *sp, struct syncpub_stats *out);
