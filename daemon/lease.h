#pragma once

/*
 * lease: which of several trhubd instances writes to Sync (sync_lease,
 * doc/scaling.md). The lease is one Sync document,
 *   {"holder": <instance id>, "until": <ms since the epoch>}
 * with a document TTL of twice the lease time (garbage collection only:
 * Sync's expiry is approximate, so "until" decides, never the TTL).
 *
 *   standby --GET every ttl/3: absent--> create (UniqueName)  201 -> holder
 *                                         409: another won, stay standby
 *           --GET: "until" passed (or names us)--> update with If-Match on
 *                                         the revision read  200 -> holder
 *                                         412: another won, stay standby
 *   holder  --every ttl/3--> update with If-Match on the last revision:
 *                                         200: renewed; 412/409: lost -> standby
 *                                         404: gone -> create
 *           --no renewal for 3/4 ttl (Sync unreachable, slow)--> standby
 *             (self-fence: it stops writing a quarter of the lease before
 *             a standby may take it, the margin for clock skew and latency)
 *           --lease_release (clean stop, after its own Sync writes ended)-->
 *             update with If-Match on the last revision, "until" 0: a standby
 *             takes it at its next check instead of after the lease time;
 *             412 or no answer: nothing released, the standby waits for "until"
 *
 * Only one instance can win a given revision (If-Match) or create the
 * document (unique name), so two holders overlap only by clock skew beyond
 * that margin. The callback tells the daemon to open or close syncpub's
 * write gate.
 */

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>

struct lease;
struct http_async;
struct twilio;
struct metrics;
struct json_gen;

struct lease_options {
	const char *service_sid; /* IS... */
	const char *name;	 /* the document's unique name */
	const char *instance_id; /* NULL or "": hostname-pid */
	int ttl_s;		 /* lease time, >= 3 */
};

/* Called when this instance becomes holder (true) or stops being it (false). */
typedef void lease_change_cb(bool holder, void *arg);

/* All pointers are borrowed (strings of options are copied); metrics may be NULL. */
struct lease *lease_new(struct event_base *base, struct http_async *client, const struct twilio *tw,
			const struct lease_options *options, struct metrics *metrics);
/* Cancels the request in flight (no callback runs) and frees. NULL-safe. */
void lease_free(struct lease *l);
void lease_set_callback(struct lease *l, lease_change_cb *cb, void *arg);
/* Starts competing for the lease (the first check runs at once). Idempotent. */
void lease_start(struct lease *l);
/* Called once when a release started by lease_release completed (released or not). */
typedef void lease_released_cb(bool released, void *arg);

/*
 * Stops competing and, when this instance holds the lease, gives it up: one
 * conditional update (If-Match on its revision) marks it expired, bounded by
 * timeout_ms. The caller must have stopped its own Sync writes first (none in
 * flight), else they could overlap the next holder's. Returns true when the
 * release request is under way (cb follows), false when there is nothing to
 * release (standby, revision unknown, request refused): cb is never called.
 */
bool lease_release(struct lease *l, long timeout_ms, lease_released_cb *cb, void *arg);
/* True while this instance may write to Sync. A NULL lease (sync_lease off) holds. */
bool lease_is_holder(const struct lease *l);
const char *lease_instance_id(const struct lease *l);
/* {"role": "holder"|"standby", "instance": ..., "holder": <last seen or null>}. */
void lease_json(const struct lease *l, struct json_gen *g);
