#pragma once

/*
 * stream: Server-Sent Events to browsers (GET /api/stream). A client gets a
 * snapshot on connect (event "snapshot"), then "stats", "event", "task",
 * "worker", "reservation" messages, each with an id so Last-Event-ID resumes
 * from the model's event ring (older ids get a fresh snapshot). Heartbeat
 * comments keep proxies from closing idle streams. A client whose unsent
 * output exceeds the cap is dropped, never buffered without bound. The number
 * of clients is capped (503 beyond). All clients together may hold at most
 * budget_bytes of unsent messages (shared ones counted once); the slowest
 * are dropped first, and freed memory is handed back to the system a
 * moment after clients leave (malloc_trim).
 *
 * Batches: a client that asks for /api/stream?batch=1 (the dashboard) gets,
 * instead of one message per change, "batch" messages: data is a JSON array
 * of [type, id, data] items, each what the one message would have been
 * (type, its id or 0, its JSON), in the order they happened, except that an
 * item superseded by a later one of the same batch (the same key,
 * stream_broadcast_keyed: a task's earlier state) is left out. A batch goes at
 * the end of the loop turn when the previous one went batch_ms ago or more,
 * else batch_ms after it. Every batch has an id (increasing, starting at the
 * wall clock in microseconds at start), the full snapshot names the batch
 * its state ends with ("batchId"), and the last batches (up to 1,024 and
 * 2 MiB) are kept: a batched client that reconnects with lastEventId (or
 * Last-Event-ID) set to a batch id they still cover gets the batches after
 * it (no snapshot), else a fresh snapshot. Either way nothing is missing and
 * nothing comes twice. Worker clients are never batched.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <event2/http.h>

struct stream;
struct model;
struct metrics;

struct stream_options {
	size_t max_clients;	   /* default 256 */
	size_t max_buffered_bytes; /* per client; default 1 MiB */
	int heartbeat_s;	   /* default 15 */
	/* A client whose socket accepts no byte for this long is closed; default 60. */
	int write_timeout_s;
	/* A batched client gets at most one "batch" message per this many ms; default 25. */
	int batch_ms;
	/*
	 * Memory every message alive may take, each counted once however many
	 * clients hold it, plus what each queued reference costs (about 1 KiB);
	 * over it, the clients furthest behind are dropped. Default 32 MiB.
	 */
	size_t budget_bytes;
};

/*
 * Whether a message concerns the worker worker_sid (a worker client's
 * filter). Called during stream_broadcast_for, once per filtered client.
 */
typedef bool stream_audience_cb(const char *worker_sid, void *arg);

/* The reconnection delay sent to every client ("retry:" field). */
#define STREAM_RETRY_MS 2000
/* Recent ring events included in a snapshot ("events", oldest first). */
#define STREAM_SNAPSHOT_EVENTS 50

/*
 * Creates the stream and starts its heartbeat timer. base, model and metrics
 * (may be NULL) are borrowed and must outlive the stream; options may be NULL.
 */
struct stream *stream_new(struct event_base *base, struct model *model,
			  const struct stream_options *options, struct metrics *metrics);
/*
 * Closes every client connection at once (no close callback of ours runs
 * afterwards) and frees. Call it before evhttp_free or after, not from a
 * stream or evhttp callback. NULL-safe.
 */
void stream_free(struct stream *st);
/*
 * Where snapshots read the latest statistics document: cb returns it (owned
 * by its source, valid for the call) with its length, or NULL before the
 * first refresh. Until set, a snapshot's "stats" is null.
 */
typedef const char *stream_stats_cb(void *arg, bool for_worker, size_t *len_out);
void stream_set_stats(struct stream *st, stream_stats_cb *cb, void *arg);
/*
 * Takes over an evhttp request for GET /api/stream: from here on the stream
 * owns the reply and watches the connection (it replaces the connection's
 * close callback). Replies 503 JSON when max_clients are connected.
 * Otherwise sends "retry:", then either the events after Last-Event-ID (the
 * header, or the lastEventId query parameter for EventSource polyfills) when
 * the model's ring still holds all of them, or a "snapshot" event: one JSON
 * object {"last_event_id", "stats", "workspace", "tasks", "workers",
 * "queues", "activities", "events"} with the ring's newest sequence as its
 * id. Replayed events are "event" messages with their ring sequence as id,
 * which is also what callers must use when broadcasting ring events so that
 * resuming works.
 */
void stream_attach(struct stream *st, struct evhttp_request *req);
/*
 * stream_attach for a worker's session: the client gets only messages whose
 * audience includes worker_sid (stream_broadcast_for), and its snapshot
 * carries only its own worker and the tasks it holds a reservation for, no
 * queues and no recent events; Last-Event-ID does not replay (a fresh
 * snapshot instead). worker_sid is copied; NULL is stream_attach.
 */
void stream_attach_worker(struct stream *st, struct evhttp_request *req, const char *worker_sid);
/*
 * Sends "event: type\nid: id\ndata: json\n\n" to every client; id 0 = none.
 * json (len bytes, only read during the call) is split into one "data:"
 * line per line; type must be a short word without CR or LF (else nothing is
 * sent). The message is formatted once and shared by reference between the
 * clients' output buffers. A client whose unsent output already exceeds
 * max_buffered_bytes is dropped instead (counted in metrics).
 */
void stream_broadcast(struct stream *st, const char *type, uint64_t id, const char *json,
		      size_t len);
/*
 * stream_broadcast that also reaches the worker clients for whom
 * audience(worker_sid, arg) is true (stream_broadcast reaches only the
 * clients without a worker filter); stream_audience_all reaches everyone.
 * Every broadcast also marks the shared snapshot stale.
 */
void stream_broadcast_for(struct stream *st, stream_audience_cb *audience, void *arg,
			  const char *type, uint64_t id, const char *json, size_t len);
bool stream_audience_all(const char *worker_sid, void *arg);
/* What the batched clients get of a broadcast (stream_broadcast_keyed). */
struct stream_batched {
	/*
	 * NULL: none. In the pending batch, this item supersedes the earlier
	 * items with the same key, which are left out of it (a record's latest
	 * state, "task:<sid>", makes its earlier states in the same batch
	 * redundant). The unbatched clients get every message.
	 */
	const char *key;
	/* The item's data for them (len bytes); NULL: the message's own. */
	const char *json;
	size_t len;
};
/* stream_broadcast_for, and what the batched clients get of it (b NULL: the same). */
void stream_broadcast_keyed(struct stream *st, stream_audience_cb *audience, void *arg,
			    const char *type, uint64_t id, const char *json, size_t len,
			    const struct stream_batched *b);
/* Live clients that get batches (a message for them is worth building). */
size_t stream_batched_clients(const struct stream *st);
/*
 * Sends a message built for one worker (its own view of a task) to the
 * clients filtered to that worker, and to no one else: the unfiltered
 * clients get the full version of the same change from stream_broadcast_for.
 */
void stream_broadcast_worker(struct stream *st, const char *type, uint64_t id, const char *json,
			     size_t len, const char *worker_sid);
/*
 * Sends one message to every client with a worker filter (each agent page)
 * and to no one else: the agents' version of a message whose full version
 * went to the unfiltered clients through stream_broadcast.
 */
void stream_broadcast_workers(struct stream *st, const char *type, uint64_t id, const char *json,
			      size_t len);
/* Live clients filtered to this worker (its open agent pages), for presence. */
size_t stream_worker_clients(const struct stream *st, const char *worker_sid);
/*
 * The model changed: the shared snapshot is rebuilt for the next client
 * that needs one (it is built at most once per change, and shared by
 * reference between every client that gets it). With no batched client
 * connected, the batch id also moves on (nobody gets this change in a
 * batch, so nobody may resume across it). NULL-safe.
 */
void stream_invalidate(struct stream *st);
struct json_gen;
/*
 * Writes extra keys into every full (unfiltered) snapshot object, after
 * "events" (trhubd's per-minute "series"); arg is borrowed. Whatever the
 * callback writes must change only together with a broadcast (which marks
 * the shared snapshot stale): the series changes with each "stats" message.
 */
typedef void stream_snapshot_extra_cb(struct json_gen *g, void *arg);
void stream_set_snapshot_extra(struct stream *st, stream_snapshot_extra_cb *cb, void *arg);
/* Connected clients (dropped ones no longer count). */
size_t stream_client_count(const struct stream *st);
/*
 * The event id a reconnecting client resumes after: the Last-Event-ID header
 * value if there is one (NULL: absent), else the lastEventId parameter of the
 * query string (NULL: none). Decimal digits only, at most 20 and within
 * uint64_t; 0 when absent or unusable (the client then gets a snapshot).
 * *batched (unless NULL): the query asks for batches (batch=1).
 */
uint64_t stream_event_id_parse(const char *header, const char *query, bool *batched);
