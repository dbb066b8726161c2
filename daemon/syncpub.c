/*
 * syncpub: the latest-wins publisher of Twilio Sync documents and map items.
 *
 * Latest wins. Every Sync object (a document, or one item of a map) has one
 * record holding the latest value it should have (or "deleted" for a map
 * item that must go), and three generation numbers: desired (bumped by every
 * set that changes the value), in flight (the generation the running request
 * carries) and confirmed (the last generation Sync accepted, or that we gave
 * up on after a final error). A set never starts a second request for the
 * same object: while a write is in flight the new value simply replaces the
 * record's value (the value it replaces was not yet confirmed, so it is
 * counted as superseded) and is written when the running request completes.
 * 100 sets during one slow write therefore cost at most two writes, and
 * memory is one value per object whatever the update rate. A set equal to
 * the latest value changes nothing.
 *
 * Lazy values. syncpub_mark_* records only that an object changed and who
 * builds its value (dirty, counted pending like a new value). The builder
 * runs when the object reaches a free slot (syncpub_object_build, from the
 * pump), right before its request starts: marks that arrive while a write is
 * in flight, in backoff or queued behind the rate cap all become one build
 * and one request carrying the state of that moment. A builder that says
 * "gone" makes a map item a removal, which costs nothing when Sync cannot
 * have the item; a build equal to what Sync has costs nothing either. So
 * the request rate is the rate cap, and the CPU spent on values is one
 * build per request, whatever the event rate.
 *
 * Rate cap. Sync limits writes per object, and a map's items count against
 * their map (twilio-operations.md 2). Each container (a document, or a map
 * with all its items) has writes_per_second "slots": a slot is busy from the
 * moment a request starts until one window (1 s, longer below 1 write/s)
 * after it completed, and a request starts only on a free slot. Since Sync
 * handles a request somewhere between our start and our completion, no
 * window of that length can see more than the cap, whatever the network
 * latency. A request that got no answer (timeout, dropped connection) may
 * still reach Sync after we gave up, so its slot counts it as completing
 * SYNCPUB_LATE_MS later. Payloads of 10 KiB or more may only use two slots
 * (Sync allows them 2 writes/s). Objects waiting for a slot queue FIFO on
 * their container, so one busy map item cannot starve the others. Reads
 * (re-read after 412, fetch after 409, listings) take slots too, except the
 * probe reads and the one listing after an outage below (Sync limits reads
 * separately).
 *
 * Protocol (twilio-api.md 4): update with POST .../{name} and If-Match set to
 * the known revision (none when unknown, e.g. after a restart: the daemon is
 * the only writer, so it wins either way); 404 -> create; 409 on create -> read the
 * object to learn its revision, then update; 412 -> re-read the revision,
 * then update. 429, 5xx, timeouts and transport failures back off (full
 * jitter, Retry-After honoured, delay capped) and retry for as long as the
 * value is still wanted: never given up, only superseded. Any other error
 * (400, 54006, 401...) can never succeed for that value: it is logged once,
 * counted and dropped (the next set tries again). Deleting a map item is a
 * DELETE where 404 means already gone; the record is freed once the delete
 * is confirmed and no newer value arrived.
 *
 * Memory: a value's text is kept only until Sync confirmed it; then its
 * length and a 64-bit hash remain, which is enough to recognise a repeated
 * set of the same value. After a restart, items of tasks that ended while
 * the daemon was down are unknown here: syncpub_prune_map lists the map
 * (through the same slots) and schedules a delete for every key without a
 * record.
 *
 * Outage: reads only. A request that fails as in an outage (5xx, timeout,
 * dropped or refused connection; not a 429, which is about one object's
 * rate) makes the publisher "failing": from then on no write starts, in any
 * container, until Sync answers some request (syncpub_answered). A write
 * sent now would only be refused, or held by a latency outage until its
 * timeout (10 s); held when the outage ends, it would block its object until
 * then, and a held create of an item whose task then ended would force the
 * item's DELETE to wait until the create can no longer land. Instead a probe
 * read (GET of a document or a map, containers in turn) goes out at once
 * (unless one did less than SYNCPUB_PROBE_MS ago), then every
 * SYNCPUB_PROBE_MS, whether or not earlier probes are still held:
 * at most SYNCPUB_MAX_PROBES in flight (at the cap the second oldest is
 * cancelled; the oldest stays for a Sync merely slow). Reads take no write
 * slot (Sync limits reads apart). A held read that lands late changes
 * nothing, so when the outage ends no write of this publisher can be held
 * (except those sent before the first failure came back), and the first
 * probe sent after it, at most a probe interval later, is answered.
 *
 * Recovery. Backoff delays grow to retry_max_ms, so after an outage the
 * objects would come back one by one over up to that long. Instead, the
 * first answer (anything but 5xx/429: 404, 409, 412 too) resumes the writes
 * and ends every pending backoff at once, except an object's after a 429
 * (its own rate): the waiting objects, listings and map creates queue for
 * their slots, so the rate cap still holds while everything catches up.
 *
 * A document request sent before the outage was known and still held when
 * a later request already succeeded is cancelled and sent again on another
 * slot (its own slot stays counted until the held one could still land), if
 * a late landing cannot undo the newer write: an update with If-Match, a
 * create, a fetch.
 *
 * What an outage leaves behind. A write that failed in a way that proves
 * Sync did not apply it (connection refused, 429, 503, other 4xx) leaves the
 * item's "may exist in Sync" as it was, so a task created and ended during
 * the outage costs no request at all. A timeout or a dropped connection may
 * have been applied, up to SYNCPUB_LATE_MS after trhubd gave up: its
 * object's next request waits until then (late_until_ms; a DELETE sent
 * sooner could be overtaken by the late create), and such an item is
 * "uncertain". On recovery, a map with uncertain items is listed
 * once at once (syncpub_resolve), its items waiting for that listing: an
 * uncertain item it does not show needs no DELETE and is created directly,
 * unless its own request may still land (in flight, or within
 * SYNCPUB_LATE_MS of giving up); one it shows is updated with its revision
 * (no 409, fetch, update), or costs nothing when it holds the very value.
 * After the outage only the difference between Sync and the model is
 * written, one request per object, at the container's rate.
 *
 * Missing maps. Each map container knows whether its map exists (UNKNOWN,
 * EXISTS, MISSING, CREATING, BACKOFF). A 404 from the item listing, or a
 * 54200 / item-create 404, makes it MISSING: item writes stop, the container
 * itself creates the map once (POST .../Maps, through the same slots; 409
 * counts as created), and then every waiting item is created directly, one
 * request each, since a new map is empty. Removes of items of a missing map
 * need no request. While the map's existence is UNKNOWN and the startup
 * listing is queued or running, items wait for it, so a restart against a
 * missing map costs one listing, one map create and one create per item.
 *
 * States (one syncpub_enter_state, switches without default):
 *   IDLE            nothing to write (confirmed == desired), no request, not queued
 *   WAITING         something to write: queued for a slot, or in backoff
 *   WRITING         a request in flight for the latest value
 *   WRITING_PENDING a request in flight, and a newer value waits behind it
 *
 * Context: everything runs on the event loop. Requests are cancelled
 * synchronously by syncpub_free, so no callback ever sees a freed record.
 */

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "date.h"
#include "form.h"
#include "hmap.h"
#include "http.h"
#include "http_async.h"
#include "json.h"
#include "log.h"
#include "metrics.h"
#include "queue.h"
#include "rng.h"
#include "syncpub.h"
#include "twilio.h"
#include "xmalloc.h"

#define SYNCPUB_DEFAULT_WRITES_PER_SECOND 10.0
/* Highest cap honoured (slots are an array). */
#define SYNCPUB_MAX_SLOTS 1000
/* Payloads this large get at most two writes per window (Sync: 2 writes/s at >= 10 KiB). */
#define SYNCPUB_LARGE_DATA_BYTES (10 * 1024)
#define SYNCPUB_LARGE_DATA_SLOTS 2
/* Backoff attempts counted for the exponential part (the delay is capped long before). */
#define SYNCPUB_MAX_BACKOFF_ATTEMPTS 30u
/* Slot marker: a request is in flight on it. */
#define SYNCPUB_SLOT_BUSY INT64_MAX
/* Slot marker: never used. */
#define SYNCPUB_SLOT_FREE INT64_MIN
/* While Sync fails, one probe read (syncpub_probe_start) goes out this often. */
#define SYNCPUB_PROBE_MS 1000
/*
 * Probe reads in flight at most. A latency outage holds each until its
 * timeout; at the cap the second oldest is cancelled (a read allows it): the
 * oldest stays for a Sync that is merely slow, the newest are recent enough
 * to be answered soon after the outage ends. Few, since held requests keep
 * their connections (http_async allows 16 per host, shared with statistics).
 */
#define SYNCPUB_MAX_PROBES 4
/* Margin added to the window for timer and clock granularity. */
#define SYNCPUB_WINDOW_SLACK_MS 5
/*
 * A request we gave up on (timeout, dropped connection) may still reach Sync
 * after that: it is counted as landing up to this long after we gave up, for
 * its slot and before a listing may trust what it shows.
 */
#define SYNCPUB_LATE_MS 500
/*
 * A document request in flight that started this long before a request Sync
 * has answered is taken as held (an outage's latency): it is sent again at
 * once (syncpub_abort_stuck_documents) instead of waiting out its timeout.
 */
#define SYNCPUB_STUCK_MS 1000
/* prune_slot of a listing that runs outside the write slots (resolving). */
#define SYNCPUB_NO_SLOT SIZE_MAX

/* Sync error codes that steer the protocol. */
#define SYNCPUB_ERR_MAP_NOT_FOUND 54200

enum syncpub_state {
	SYNCPUB_IDLE,
	SYNCPUB_WAITING,
	SYNCPUB_WRITING,
	SYNCPUB_WRITING_PENDING,
};

enum syncpub_kind {
	SYNCPUB_DOCUMENT,
	SYNCPUB_MAP,
};

/* The next request an object needs. */
enum syncpub_op {
	SYNCPUB_OP_UPDATE, /* POST the object's URL with Data (If-Match when known) */
	SYNCPUB_OP_CREATE, /* POST the collection with UniqueName/Key and Data */
	SYNCPUB_OP_FETCH,  /* GET the object to learn its revision */
	SYNCPUB_OP_DELETE, /* DELETE the map item */
};

/* What a completed request means for its object. */
enum syncpub_result {
	SYNCPUB_RESULT_CONFIRMED, /* the in-flight value is written (or the item is gone) */
	SYNCPUB_RESULT_NEXT,	  /* another step is needed at once (create, re-read) */
	SYNCPUB_RESULT_RETRY,	  /* transient failure: back off, then the same step */
	SYNCPUB_RESULT_DROP,	  /* final failure for this value */
};

/* Listing a map to delete items nobody set (syncpub_prune_map). */
enum syncpub_prune_state {
	SYNCPUB_PRUNE_IDLE,
	SYNCPUB_PRUNE_QUEUED,  /* the next page waits for a slot */
	SYNCPUB_PRUNE_LISTING, /* a page request in flight */
	SYNCPUB_PRUNE_BACKOFF, /* after a transient failure */
};

/* Whether a map exists in Sync (syncpub_map_*). */
enum syncpub_map_state {
	SYNCPUB_MAP_UNKNOWN,  /* not learnt yet (documents stay here) */
	SYNCPUB_MAP_EXISTS,   /* a listing or an item request succeeded */
	SYNCPUB_MAP_MISSING,  /* Sync said so: items wait, the map create waits for a slot */
	SYNCPUB_MAP_CREATING, /* the map create in flight; items wait */
	SYNCPUB_MAP_BACKOFF,  /* after a transient failure of the create; items wait */
};

/* Items per listing page. */
#define SYNCPUB_PRUNE_PAGE_SIZE "100"

struct syncpub_object;
TAILQ_HEAD(syncpub_queue, syncpub_object);

struct syncpub_container {
	struct syncpub *sp;
	enum syncpub_kind kind;
	char *name;			  /* unique name of the document or map */
	struct hmap *objects;		  /* key ("" for a document) -> struct syncpub_object */
	struct syncpub_queue queue;	  /* objects waiting for a slot, FIFO */
	int64_t slots[SYNCPUB_MAX_SLOTS]; /* used up to nslots: BUSY, FREE or completion ms */
	size_t nslots;
	int64_t window_ms;
	struct event *pump_ev; /* starts queued requests (zero delay, or when a slot frees) */
	enum syncpub_prune_state prune_state;
	char *prune_url; /* the page to list next */
	struct http_async_request *prune_req;
	size_t prune_slot;
	size_t pruned; /* deletes scheduled by this pass */
	unsigned prune_failures;
	struct event *prune_ev; /* prune backoff timer */
	/*
	 * Every item of this map that exists in Sync has a record here: a full
	 * listing finished (items seen got `listed`), or the map did not exist.
	 * Only then can a remove of a never-written item skip its DELETE.
	 */
	bool contents_known;
	/*
	 * Some item request ended without an answer (timeout, dropped
	 * connection): Sync may or may not have applied it. On recovery a
	 * listing (resolving) settles which of those items exist, once nothing is
	 * in flight and uncertain_until_ms passed; items wait for it.
	 */
	bool uncertain;
	bool resolving;
	bool resolve_again;	  /* uncertain at recovery while a listing was in flight */
	int64_t prune_started_ms; /* of the listing's first page */
	int64_t prune_req_ms;	  /* of the listing page in flight */
	int64_t uncertain_until_ms;
	uint64_t prune_gen; /* of the running listing; items it saw carry it */
	enum syncpub_map_state map_state;
	struct http_async_request *map_req; /* the map create in flight */
	int64_t map_req_ms;		    /* when it started */
	size_t map_slot;
	unsigned map_failures;
	struct event *map_ev; /* map create backoff timer */
};

struct syncpub_object {
	struct syncpub_container *c;
	char *key; /* map item key; NULL for a document */
	enum syncpub_state state;
	enum syncpub_op next_op;
	enum syncpub_op op; /* of the request in flight */
	/*
	 * The latest value (NUL-terminated JSON object) while it is not yet
	 * confirmed; once Sync has it only its length and hash are kept, to
	 * recognise a set of the same value (memory stays small per item).
	 */
	char *data;
	size_t data_len;
	uint64_t data_hash;
	bool has_value; /* data_len and data_hash describe the latest value */
	bool deleted;	/* the latest value is "no such item" */
	uint64_t desired_gen;
	uint64_t inflight_gen;
	uint64_t confirmed_gen;
	bool counted_pending;
	char *revision; /* known revision, or NULL */
	struct http_async_request *req;
	size_t slot;
	int64_t started_ms;    /* of the request in flight */
	int64_t deadline_ms;   /* by when it lands at the latest (timeout + late), or 0 */
	int64_t late_until_ms; /* an unanswered write of it may land until then: the next waits */
	unsigned failures;     /* consecutive transient failures */
	bool error_logged;     /* a final error was logged since the last success */
	bool queued;
	bool written_once;   /* a write (create/update) was sent: the item may exist */
	bool written_before; /* written_once before the write in flight */
	bool listed;	     /* a prune listing saw the item in Sync */
	uint64_t seen_gen;   /* prune_gen of the last listing that saw the item */
	bool uncertain;	     /* a request of it got no answer, and nothing answered since */
	bool sync_known;     /* a listing showed Sync's value: sync_len, sync_hash */
	size_t sync_len;
	uint64_t sync_hash;
	bool throttled; /* the backoff pending follows a 429 (kept on recovery) */
	bool dirty;	/* marked: build's value is due (syncpub_object_build) */
	syncpub_build_fn build;
	void *build_arg;
	TAILQ_ENTRY(syncpub_object) qlink;
	struct event *retry_ev; /* backoff timer, created on first use */
};

/* A read sent while Sync fails, to learn that it answers again. */
struct syncpub_probe {
	struct syncpub *sp;
	struct syncpub_container *c; /* whose document or map it reads */
	struct http_async_request *req;
	int64_t started_ms;
};

struct syncpub {
	struct event_base *base;
	struct http_async *client;
	const struct twilio *tw;
	char *service_sid;
	struct metrics *metrics;
	double writes_per_second;
	struct timeval probe_tv; /* the recovery probe's interval (SYNCPUB_PROBE_MS) */
	int64_t (*now_ms)(void *arg);
	void *clock_arg;
	struct twilio_retry_policy retry;
	struct rng rng;
	struct hmap *containers; /* "d:name" / "m:name" -> struct syncpub_container */
	bool backoff_seen;	 /* some backoff timer was armed since the last recovery */
	/*
	 * A request failed as in an outage (5xx, timeout, transport; not 429)
	 * and none was answered since: no write starts, only probe reads.
	 */
	bool failing;
	struct event *probe_ev; /* sends a probe read every probe_tv while failing */
	int64_t last_probe_ms;	/* start of the last probe read, or INT64_MIN */
	size_t probe_pos;	/* containers are probed in turn (hmap position) */
	struct syncpub_probe probes[SYNCPUB_MAX_PROBES];
	size_t inflight; /* requests started and not completed (not the probe reads) */
	bool paused;	 /* syncpub_set_paused: no request starts */
	bool standby;	 /* syncpub_set_active(false): values kept, nothing sent */
	size_t npending;
	struct syncpub_stats stats;
};

static void syncpub_pump_cb(evutil_socket_t fd, short what, void *arg);
static void syncpub_retry_cb(evutil_socket_t fd, short what, void *arg);
static void syncpub_done_cb(const struct http_response *resp, void *arg);
static void syncpub_prune_start(struct syncpub_container *c, size_t slot);
static void syncpub_map_missing(struct syncpub_container *c);
static void syncpub_map_create_start(struct syncpub_container *c, size_t slot);
static bool syncpub_map_holds_items(struct syncpub_container *c);
static void syncpub_recovered(struct syncpub *sp);
static void syncpub_resolve(struct syncpub_container *c);
static void syncpub_kick_all(struct syncpub *sp);
static void syncpub_prune_enter_state(struct syncpub_container *c, enum syncpub_prune_state s);
static void syncpub_resolve_end(struct syncpub_container *c);
static char *syncpub_prune_first_url(const struct syncpub_container *c);
static bool syncpub_object_build(struct syncpub_object *o);
static bool syncpub_object_never_in_sync(const struct syncpub_object *o);
static int syncpub_check_data(const char *json, size_t len);
static bool syncpub_name_ok(const char *s);

static int64_t
syncpub_real_now_ms(void *arg)
{
	return date_monotonic_ms();
}

static int64_t
syncpub_now(const struct syncpub *sp)
{
	return sp->now_ms(sp->clock_arg);
}

static const char *
syncpub_state_name(enum syncpub_state s)
{
	switch (s) {
	case SYNCPUB_IDLE:
		return "idle";
	case SYNCPUB_WAITING:
		return "waiting";
	case SYNCPUB_WRITING:
		return "writing";
	case SYNCPUB_WRITING_PENDING:
		return "writing+pending";
	}
	return "?";
}

static const char *
syncpub_op_name(enum syncpub_op op)
{
	switch (op) {
	case SYNCPUB_OP_UPDATE:
		return "update";
	case SYNCPUB_OP_CREATE:
		return "create";
	case SYNCPUB_OP_FETCH:
		return "fetch";
	case SYNCPUB_OP_DELETE:
		return "delete";
	}
	return "?";
}

/* The object's key in its container's hmap: the item key, "" for a document. */
static const char *
syncpub_object_key(const struct syncpub_object *o)
{
	return o->key != NULL ? o->key : "";
}

/* Log lines name an object "document" or "map/key". */
#define SYNCPUB_OBJ_FMT	    "%s%s%s"
#define SYNCPUB_OBJ_ARGS(o) (o)->c->name, (o)->key != NULL ? "/" : "", syncpub_object_key(o)

static void
syncpub_enter_state(struct syncpub_object *o, enum syncpub_state s)
{
	if (o->state == s)
		return;
	log_trace(LOG_TRACE_SYNC, "sync " SYNCPUB_OBJ_FMT ": %s -> %s", SYNCPUB_OBJ_ARGS(o),
		  syncpub_state_name(o->state), syncpub_state_name(s));
	o->state = s;
}

/* Keeps sp->npending equal to the number of objects whose latest value is unconfirmed. */
static void
syncpub_object_note_pending(struct syncpub_object *o)
{
	struct syncpub *sp = o->c->sp;
	bool pending = o->desired_gen != o->confirmed_gen || o->dirty;

	if (pending && !o->counted_pending)
		sp->npending++;
	else if (!pending && o->counted_pending)
		sp->npending--;
	o->counted_pending = pending;
}

/* FNV-1a, 64 bits: recognises a repeated value after its text was released. */
static uint64_t
syncpub_hash(const char *data, size_t len)
{
	uint64_t h = 14695981039346656037ULL;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)data[i];
		h *= 1099511628211ULL;
	}
	return h;
}

/* Transient failures that prove Sync did not apply the request. */
static bool
syncpub_not_applied(const struct http_response *resp)
{
	if (resp->outcome == HTTP_CONNECT_FAILED)
		return true; /* nothing was sent */
	if (resp->outcome != HTTP_DONE)
		return false; /* a timeout or a dropped connection: maybe applied */
	/* Sync refused it (a 409 says the object exists, so it does not count) */
	return resp->status == 503 ||
	       (resp->status >= 400 && resp->status < 500 && resp->status != 409);
}

/* Some backoff timer is armed: recovery ends them all. */
static void
syncpub_backoff_seen(struct syncpub *sp)
{
	sp->backoff_seen = true;
}

/* Sync answered (anything but a refusal: 5xx, 429), so it serves again. */
static bool
syncpub_is_answer(const struct http_response *resp)
{
	return resp->outcome == HTTP_DONE && resp->status < 500 && resp->status != 429;
}

/* Arms the probe timer: at once, or a probe interval after the last probe read. */
static void
syncpub_probe_arm(struct syncpub *sp)
{
	int64_t interval = (int64_t)sp->probe_tv.tv_sec * 1000 + sp->probe_tv.tv_usec / 1000;
	int64_t wait = 0;
	struct timeval tv;

	if (evtimer_pending(sp->probe_ev, NULL))
		return;
	if (sp->last_probe_ms != INT64_MIN)
		wait = sp->last_probe_ms + interval - syncpub_now(sp);
	if (wait < 0)
		wait = 0;
	tv.tv_sec = (time_t)(wait / 1000);
	tv.tv_usec = (suseconds_t)(wait % 1000) * 1000;
	(void)evtimer_add(sp->probe_ev, &tv);
}

/*
 * A request of c failed as in an outage: from now on no write starts (one
 * sent now would be held or refused like it), only a probe read per probe
 * interval, until some request is answered (syncpub_answered).
 */
static void
syncpub_set_failing(struct syncpub *sp, const struct syncpub_container *c)
{
	if (sp->failing)
		return;
	sp->failing = true;
	log_trace(LOG_TRACE_SYNC, "sync: a %s request failed: only probe reads until Sync answers",
		  c->name);
	syncpub_probe_arm(sp);
}

/* Cancels the probe reads in flight (reads: nothing of them can land). */
static void
syncpub_probes_cancel(struct syncpub *sp)
{
	size_t i;

	for (i = 0; i < SYNCPUB_MAX_PROBES; i++) {
		if (sp->probes[i].req != NULL) {
			http_async_cancel(sp->probes[i].req);
			sp->probes[i].req = NULL;
		}
	}
}

static void
syncpub_container_kick(struct syncpub_container *c)
{
	static const struct timeval zero = { 0, 0 };

	if (!evtimer_pending(c->pump_ev, NULL))
		(void)evtimer_add(c->pump_ev, &zero); /* adding a timer only fails on bad input */
}

static void
syncpub_enqueue(struct syncpub_object *o)
{
	if (o->queued)
		return;
	TAILQ_INSERT_TAIL(&o->c->queue, o, qlink);
	o->queued = true;
	syncpub_container_kick(o->c);
}

static void
syncpub_object_free(struct syncpub_object *o)
{
	if (o == NULL)
		return;
	if (o->req != NULL) {
		http_async_cancel(o->req);
		o->c->sp->inflight--;
	}
	if (o->retry_ev != NULL)
		event_free(o->retry_ev);
	if (o->queued)
		TAILQ_REMOVE(&o->c->queue, o, qlink);
	if (o->counted_pending)
		o->c->sp->npending--;
	free(o->key);
	free(o->data);
	free(o->revision);
	free(o);
}

/* Unlinks a map item whose delete is confirmed and frees it. */
static void
syncpub_object_forget(struct syncpub_object *o)
{
	struct syncpub_container *c = o->c;

	(void)hmap_remove(c->objects, syncpub_object_key(o));
	syncpub_object_free(o);
}

static struct syncpub_container *
syncpub_container_get(struct syncpub *sp, enum syncpub_kind kind, const char *name)
{
	struct syncpub_container *c;
	char id[2 + SYNCPUB_MAX_NAME_BYTES + 1]; /* callers checked the name's length */
	double rate = sp->writes_per_second;
	size_t i;

	(void)snprintf(id, sizeof(id), "%c:%s", kind == SYNCPUB_DOCUMENT ? 'd' : 'm', name);
	c = hmap_get(sp->containers, id);
	if (c != NULL)
		return c;
	c = xcalloc(1, sizeof(*c));
	c->sp = sp;
	c->kind = kind;
	c->name = xstrdup(name);
	c->objects = hmap_new();
	TAILQ_INIT(&c->queue);
	/* At or above 1/s: floor(rate) per second; below: one per 1/rate seconds. */
	if (rate >= 1.0) {
		c->nslots = rate >= SYNCPUB_MAX_SLOTS ? SYNCPUB_MAX_SLOTS : (size_t)rate;
		c->window_ms = 1000;
	} else {
		c->nslots = 1;
		c->window_ms = (int64_t)(1000.0 / rate + 0.5);
	}
	c->window_ms += SYNCPUB_WINDOW_SLACK_MS;
	for (i = 0; i < c->nslots; i++)
		c->slots[i] = SYNCPUB_SLOT_FREE;
	c->pump_ev = evtimer_new(sp->base, syncpub_pump_cb, c);
	if (c->pump_ev == NULL)
		fatalx("syncpub: cannot create a timer");
	(void)hmap_put(sp->containers, id, c);
	log_trace(LOG_TRACE_SYNC, "sync %s %s: %zu writes per %" PRId64 " ms",
		  kind == SYNCPUB_DOCUMENT ? "document" : "map", name, c->nslots, c->window_ms);
	return c;
}

static void
syncpub_container_free(struct syncpub_container *c)
{
	size_t pos = 0;
	const char *key;
	void *value;

	if (c == NULL)
		return;
	event_free(c->pump_ev);
	if (c->map_req != NULL) {
		http_async_cancel(c->map_req);
		c->sp->inflight--;
	}
	if (c->map_ev != NULL)
		event_free(c->map_ev);
	if (c->prune_req != NULL) {
		http_async_cancel(c->prune_req);
		c->sp->inflight--;
	}
	if (c->prune_ev != NULL)
		event_free(c->prune_ev);
	free(c->prune_url);
	syncpub_prune_enter_state(c, SYNCPUB_PRUNE_IDLE);
	while (hmap_next(c->objects, &pos, &key, &value)) {
		(void)hmap_remove(c->objects, key);
		syncpub_object_free(value);
	}
	assert(TAILQ_EMPTY(&c->queue));
	hmap_free(c->objects);
	free(c->name);
	free(c);
}

static struct syncpub_object *
syncpub_object_get(struct syncpub_container *c, const char *key)
{
	struct syncpub_object *o = hmap_get(c->objects, key != NULL ? key : "");

	if (o != NULL)
		return o;
	o = xcalloc(1, sizeof(*o));
	o->c = c;
	o->key = key != NULL ? xstrdup(key) : NULL;
	o->state = SYNCPUB_IDLE;
	/*
	 * An item new to a map whose contents are known cannot exist yet: create
	 * it at once instead of an update answered 404 (a 409 still falls back
	 * to fetch and update).
	 */
	o->next_op =
		c->kind == SYNCPUB_MAP && c->contents_known ? SYNCPUB_OP_CREATE : SYNCPUB_OP_UPDATE;
	(void)hmap_put(c->objects, key != NULL ? key : "", o);
	return o;
}

/* True when the slot can take a request at now. */
static bool
syncpub_slot_is_free(const struct syncpub_container *c, size_t i, int64_t now)
{
	int64_t t = c->slots[i];

	if (t == SYNCPUB_SLOT_FREE)
		return true;
	if (t == SYNCPUB_SLOT_BUSY)
		return false;
	return t <= now - c->window_ms;
}

/*
 * Finds a slot for o (NULL: a listing page) at now. Returns true with *slot_out, or false with
 * *wait_ms_out the time until one frees (-1 when every slot is in flight: a
 * completion will pump again).
 */
static bool
syncpub_container_admit(const struct syncpub_container *c, const struct syncpub_object *o,
			int64_t now, size_t *slot_out, int64_t *wait_ms_out)
{
	size_t limit = c->nslots;
	size_t used = 0;
	size_t free_slot = SIZE_MAX;
	int64_t soonest = -1;
	size_t i;

	if (o != NULL && !o->deleted && o->data_len >= SYNCPUB_LARGE_DATA_BYTES &&
	    limit > SYNCPUB_LARGE_DATA_SLOTS)
		limit = SYNCPUB_LARGE_DATA_SLOTS;
	for (i = 0; i < c->nslots; i++) {
		if (syncpub_slot_is_free(c, i, now)) {
			if (free_slot == SIZE_MAX)
				free_slot = i;
			continue;
		}
		used++;
		if (c->slots[i] != SYNCPUB_SLOT_BUSY) {
			int64_t wait = c->slots[i] + c->window_ms - now;

			if (soonest < 0 || wait < soonest)
				soonest = wait;
		}
	}
	if (free_slot != SIZE_MAX && used < limit) {
		*slot_out = free_slot;
		return true;
	}
	*wait_ms_out = soonest;
	return false;
}

/* Appends "Data=<json>" and friends for op. */
static char *
syncpub_body(const struct syncpub_object *o, enum syncpub_op op)
{
	struct form *f = form_new();
	char *body;

	assert(op == SYNCPUB_OP_FETCH || op == SYNCPUB_OP_DELETE || o->data != NULL);
	switch (op) {
	case SYNCPUB_OP_UPDATE:
		form_add(f, "Data", o->data);
		break;
	case SYNCPUB_OP_CREATE:
		if (o->key != NULL)
			form_add(f, "Key", o->key);
		else
			form_add(f, "UniqueName", o->c->name);
		form_add(f, "Data", o->data);
		break;
	case SYNCPUB_OP_FETCH:
	case SYNCPUB_OP_DELETE:
		break;
	}
	body = form_encode(f);
	form_free(f);
	return body;
}

static char *
syncpub_url(const struct syncpub_object *o, enum syncpub_op op)
{
	const struct syncpub *sp = o->c->sp;
	const char *is = sp->service_sid;

	switch (op) {
	case SYNCPUB_OP_UPDATE:
	case SYNCPUB_OP_FETCH:
	case SYNCPUB_OP_DELETE:
		if (o->key != NULL)
			return twilio_url_sync_map_item(sp->tw, is, o->c->name, o->key);
		return twilio_url_sync_document(sp->tw, is, o->c->name);
	case SYNCPUB_OP_CREATE:
		if (o->key != NULL)
			return twilio_url_sync_map_items(sp->tw, is, o->c->name);
		return twilio_url_sync_documents(sp->tw, is);
	}
	return NULL;
}

static void syncpub_finish(struct syncpub_object *o, enum syncpub_result result,
			   enum syncpub_op next, const struct http_response *resp);

/*
 * Starts o's next request on slot. On a refused spec (which the validated
 * names make unreachable in practice) the value is dropped.
 */
static void
syncpub_start(struct syncpub_object *o, size_t slot)
{
	struct syncpub_container *c = o->c;
	struct syncpub *sp = c->sp;
	enum syncpub_op op = o->deleted ? SYNCPUB_OP_DELETE : o->next_op;
	struct http_request_spec spec;
	char *url = NULL;
	char *body = NULL;
	char *cause = NULL;

	o->sync_known = false; /* whatever happens now may change Sync's value */

	if (op == SYNCPUB_OP_DELETE && c->contents_known && syncpub_object_never_in_sync(o)) {
		/* Its writes were all refused since it was removed: Sync cannot have it. */
		o->op = op;
		o->inflight_gen = o->desired_gen;
		syncpub_finish(o, SYNCPUB_RESULT_CONFIRMED, SYNCPUB_OP_UPDATE, NULL);
		return;
	}
	url = syncpub_url(o, op);
	if (url == NULL) {
		log_err("sync %s: cannot build the %s URL", c->name, syncpub_op_name(op));
		goto refused;
	}
	twilio_request_spec_init(sp->tw, &spec,
				 op == SYNCPUB_OP_FETCH	   ? HTTP_GET
				 : op == SYNCPUB_OP_DELETE ? HTTP_DELETE
							   : HTTP_POST,
				 url);
	if (op != SYNCPUB_OP_FETCH && op != SYNCPUB_OP_DELETE) {
		body = syncpub_body(o, op);
		spec.body = body;
		spec.body_len = strlen(body);
	}
	if (op == SYNCPUB_OP_UPDATE && o->revision != NULL)
		spec.if_match = o->revision;
	o->req = http_async_start(sp->client, &spec, syncpub_done_cb, o, &cause);
	if (o->req == NULL) {
		log_err("sync %s: %s request refused: %s", c->name, syncpub_op_name(op),
			cause != NULL ? cause : "?");
		goto refused;
	}
	log_trace(LOG_TRACE_SYNC, "sync " SYNCPUB_OBJ_FMT ": %s (revision %s)", SYNCPUB_OBJ_ARGS(o),
		  syncpub_op_name(op), o->revision != NULL ? o->revision : "unknown");
	sp->stats.requests++;
	sp->inflight++;
	c->slots[slot] = SYNCPUB_SLOT_BUSY;
	o->slot = slot;
	o->started_ms = syncpub_now(sp);
	o->deadline_ms =
		spec.timeout_ms > 0 ? o->started_ms + spec.timeout_ms + SYNCPUB_LATE_MS : 0;
	o->op = op;
	o->inflight_gen = o->desired_gen;
	if (op == SYNCPUB_OP_UPDATE || op == SYNCPUB_OP_CREATE) {
		o->written_before = o->written_once;
		o->written_once = true;
	}
	syncpub_enter_state(o, SYNCPUB_WRITING);
	goto out;
refused:
	o->op = op;
	o->inflight_gen = o->desired_gen;
	syncpub_finish(o, SYNCPUB_RESULT_DROP, SYNCPUB_OP_UPDATE, NULL);
out:
	free(cause);
	free(body);
	free(url);
}

/*
 * Takes queued o out of the queue until its unanswered write can no longer
 * land (late_until_ms): a create or delete sent before that could be undone
 * by the late one (an item left behind, or deleted again).
 */
static void
syncpub_wait_late(struct syncpub_object *o, int64_t now)
{
	struct syncpub *sp = o->c->sp;
	int64_t wait = o->late_until_ms - now;
	struct timeval tv = { (time_t)(wait / 1000), (suseconds_t)(wait % 1000) * 1000 };

	TAILQ_REMOVE(&o->c->queue, o, qlink);
	o->queued = false;
	log_trace(LOG_TRACE_SYNC, "sync " SYNCPUB_OBJ_FMT ": waits %" PRId64 " ms for a late write",
		  SYNCPUB_OBJ_ARGS(o), wait);
	if (o->retry_ev == NULL) {
		o->retry_ev = evtimer_new(sp->base, syncpub_retry_cb, o);
		if (o->retry_ev == NULL)
			fatalx("syncpub: cannot create a timer");
	}
	(void)evtimer_add(o->retry_ev, &tv);
}

static void
syncpub_pump_cb(evutil_socket_t fd, short what, void *arg)
{
	struct syncpub_container *c = arg;
	struct syncpub_object *o;
	int64_t now = syncpub_now(c->sp);
	size_t slot = 0;
	int64_t wait_ms = -1;

	if (c->sp->paused || c->sp->standby)
		return; /* syncpub_set_paused(false) and syncpub_set_active(true) kick every
			   container */
	if (c->sp->failing)
		return; /* only probe reads: syncpub_answered kicks every container */

	if (c->prune_state == SYNCPUB_PRUNE_QUEUED) {
		/*
		 * A resolving listing starts at once: what it concludes about an
		 * item whose own request may still land is not trusted
		 * (syncpub_resolve_end).
		 */
		/* A read: Sync limits reads apart from writes (20/s per object), and this
		 * listing runs once per recovery; other listings take write slots. */
		if (c->resolving)
			slot = SYNCPUB_NO_SLOT;
		else if (!syncpub_container_admit(c, NULL, now, &slot, &wait_ms))
			goto wait;
		syncpub_prune_start(c, slot);
	}
	if (c->resolving && c->prune_state != SYNCPUB_PRUNE_IDLE)
		return; /* items wait for the listing (its end kicks the pump) */
	/* A missing map is created once, when some item has a value to write. */
	if (c->kind == SYNCPUB_MAP && c->map_state == SYNCPUB_MAP_MISSING &&
	    syncpub_map_holds_items(c)) {
		if (!syncpub_container_admit(c, NULL, now, &slot, &wait_ms))
			goto wait;
		syncpub_map_create_start(c, slot);
	}
	if (c->kind == SYNCPUB_MAP &&
	    (c->map_state == SYNCPUB_MAP_MISSING || c->map_state == SYNCPUB_MAP_CREATING ||
	     c->map_state == SYNCPUB_MAP_BACKOFF ||
	     (c->map_state == SYNCPUB_MAP_UNKNOWN &&
	      (c->prune_state == SYNCPUB_PRUNE_QUEUED || c->prune_state == SYNCPUB_PRUNE_LISTING))))
		return; /* items wait for the map (a completion kicks the pump) */
	while ((o = TAILQ_FIRST(&c->queue)) != NULL) {
		if (o->late_until_ms > now) {
			/* Its unanswered write may still land: the next one goes after it. */
			syncpub_wait_late(o, now);
			continue;
		}
		if (!syncpub_container_admit(c, o, now, &slot, &wait_ms))
			goto wait;
		/* A marked object's value is built now, when it can be sent. */
		if (!syncpub_object_build(o))
			continue;
		/* The built value may be large: admitted again under its own limit. */
		if (!syncpub_container_admit(c, o, now, &slot, &wait_ms))
			goto wait;
		TAILQ_REMOVE(&c->queue, o, qlink);
		o->queued = false;
		if (o->sync_known && !o->deleted && o->has_value && o->data_len == o->sync_len &&
		    o->data_hash == o->sync_hash) {
			/* The listing after the outage showed Sync holding this very value. */
			o->sync_known = false;
			o->op = SYNCPUB_OP_UPDATE;
			o->inflight_gen = o->desired_gen;
			syncpub_finish(o, SYNCPUB_RESULT_CONFIRMED, SYNCPUB_OP_UPDATE, NULL);
			continue;
		}
		syncpub_start(o, slot);
	}
	return;
wait:
	/* wait_ms < 0: every slot is in flight, and a completion pumps again. */
	if (wait_ms >= 0) {
		struct timeval tv = { (time_t)(wait_ms / 1000),
				      (suseconds_t)(wait_ms % 1000) * 1000 };

		(void)evtimer_add(c->pump_ev, &tv);
	}
}

static void
syncpub_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct syncpub_object *o = arg;

	syncpub_enqueue(o);
}

/* Remembers the revision from a successful response: the body's "revision", else the ETag. */
static void
syncpub_learn_revision(struct syncpub_object *o, const struct http_response *resp)
{
	struct json_doc *doc = NULL;
	const char *rev = NULL;

	if (resp->body != NULL && resp->body_len > 0 &&
	    json_parse(resp->body, resp->body_len, NULL, &doc, NULL) == 0)
		(void)json_get_string(json_doc_root(doc), "revision", &rev);
	if (rev == NULL)
		rev = resp->etag;
	free_and_null(o->revision);
	if (rev != NULL && rev[0] != '\0')
		o->revision = xstrdup(rev);
	json_doc_free(doc);
}

/* Transient failures worth another try of the same value. */
static bool
syncpub_is_transient(const struct http_response *resp)
{
	if (twilio_retry_is_retryable(resp))
		return true;
	/*
	 * Dropped connections and TLS hiccups: rewriting the latest value is
	 * idempotent, so unlike twilio.c's general policy these are retried.
	 */
	return resp->outcome == HTTP_FAILED || resp->outcome == HTTP_TLS_FAILED;
}

/* Decides what a completed request means; *next_out is the next step for RESULT_NEXT. */
static enum syncpub_result
syncpub_classify(struct syncpub_object *o, const struct http_response *resp,
		 enum syncpub_op *next_out)
{
	struct twilio_error err;
	long code;

	*next_out = SYNCPUB_OP_UPDATE;
	if (twilio_response_ok(resp)) {
		if (o->key != NULL && o->c->map_state == SYNCPUB_MAP_UNKNOWN)
			o->c->map_state = SYNCPUB_MAP_EXISTS;
		switch (o->op) {
		case SYNCPUB_OP_UPDATE:
		case SYNCPUB_OP_CREATE:
			syncpub_learn_revision(o, resp);
			return SYNCPUB_RESULT_CONFIRMED;
		case SYNCPUB_OP_FETCH:
			syncpub_learn_revision(o, resp);
			*next_out = SYNCPUB_OP_UPDATE;
			return SYNCPUB_RESULT_NEXT;
		case SYNCPUB_OP_DELETE:
			free_and_null(o->revision);
			return SYNCPUB_RESULT_CONFIRMED;
		}
	}
	if (syncpub_is_transient(resp))
		return SYNCPUB_RESULT_RETRY;
	if (resp->outcome != HTTP_DONE)
		return SYNCPUB_RESULT_DROP;

	twilio_error_init(&err);
	(void)twilio_error_parse(resp, &err); /* fallbacks fill err when the body is not JSON */
	code = err.code;
	twilio_error_clear(&err);

	switch (resp->status) {
	case 404:
		switch (o->op) {
		case SYNCPUB_OP_DELETE:
			free_and_null(o->revision);
			if (code == SYNCPUB_ERR_MAP_NOT_FOUND)
				syncpub_map_missing(o->c);
			return SYNCPUB_RESULT_CONFIRMED; /* already gone */
		case SYNCPUB_OP_UPDATE:
		case SYNCPUB_OP_FETCH:
			free_and_null(o->revision);
			if (o->key != NULL && code == SYNCPUB_ERR_MAP_NOT_FOUND)
				syncpub_map_missing(o->c); /* the item waits for the map */
			*next_out = SYNCPUB_OP_CREATE;
			return SYNCPUB_RESULT_NEXT;
		case SYNCPUB_OP_CREATE:
			if (o->key != NULL) { /* the map itself is missing */
				syncpub_map_missing(o->c);
				*next_out = SYNCPUB_OP_CREATE;
				return SYNCPUB_RESULT_NEXT;
			}
			return SYNCPUB_RESULT_DROP; /* e.g. 54050: no such service */
		}
		break;
	case 409:
		switch (o->op) {
		case SYNCPUB_OP_CREATE: /* created meanwhile (54301, 54208): learn its revision */
			*next_out = SYNCPUB_OP_FETCH;
			return SYNCPUB_RESULT_NEXT;
		case SYNCPUB_OP_UPDATE:
		case SYNCPUB_OP_FETCH:
		case SYNCPUB_OP_DELETE:
			return SYNCPUB_RESULT_DROP;
		}
		break;
	case 412: /* revision mismatch (54103, 54205): re-read, then our value wins */
		*next_out = SYNCPUB_OP_FETCH;
		return SYNCPUB_RESULT_NEXT;
	default:
		break;
	}
	return SYNCPUB_RESULT_DROP;
}

/* Arms o's backoff timer after a transient failure. */
static void
syncpub_backoff(struct syncpub_object *o, const struct http_response *resp)
{
	struct syncpub *sp = o->c->sp;
	unsigned attempts;
	long delay_ms = 0;
	struct timeval tv;

	o->failures++;
	attempts = o->failures < SYNCPUB_MAX_BACKOFF_ATTEMPTS ? o->failures
							      : SYNCPUB_MAX_BACKOFF_ATTEMPTS;
	if (resp == NULL || !twilio_retry_next(&sp->retry, resp, attempts, &sp->rng, &delay_ms))
		delay_ms = twilio_retry_backoff_ms(&sp->retry, attempts, &sp->rng);
	sp->stats.retries++;
	/* a 429 is about this object's rate, not an outage: its delay is kept */
	o->throttled = resp != NULL && resp->outcome == HTTP_DONE && resp->status == 429;
	if (!o->throttled)
		syncpub_backoff_seen(sp);
	if (sp->metrics != NULL)
		metrics_twilio_retry(sp->metrics, "sync");
	if (o->failures == 1) {
		if (resp != NULL && resp->outcome == HTTP_DONE)
			log_warning("sync " SYNCPUB_OBJ_FMT
				    " %s failed: HTTP %ld, retrying in %ld ms",
				    SYNCPUB_OBJ_ARGS(o), syncpub_op_name(o->op), resp->status,
				    delay_ms);
		else
			log_warning("sync " SYNCPUB_OBJ_FMT " %s failed: %s, retrying in %ld ms",
				    SYNCPUB_OBJ_ARGS(o), syncpub_op_name(o->op),
				    resp != NULL ? http_outcome_name(resp->outcome) : "refused",
				    delay_ms);
	} else {
		log_trace(LOG_TRACE_SYNC,
			  "sync " SYNCPUB_OBJ_FMT " %s failed again (%u), retrying in %ld ms",
			  SYNCPUB_OBJ_ARGS(o), syncpub_op_name(o->op), o->failures, delay_ms);
	}
	if (o->retry_ev == NULL) {
		o->retry_ev = evtimer_new(sp->base, syncpub_retry_cb, o);
		if (o->retry_ev == NULL)
			fatalx("syncpub: cannot create a timer");
	}
	tv.tv_sec = (time_t)(delay_ms / 1000);
	tv.tv_usec = (suseconds_t)(delay_ms % 1000) * 1000;
	(void)evtimer_add(o->retry_ev, &tv);
}

/*
 * Applies a request's result to o (request already detached): confirms,
 * schedules the next step or a retry, drops the value, and leaves o IDLE,
 * WAITING or freed (a deleted map item with nothing newer).
 */
static void
syncpub_finish(struct syncpub_object *o, enum syncpub_result result, enum syncpub_op next,
	       const struct http_response *resp)
{
	struct syncpub *sp = o->c->sp;

	switch (result) {
	case SYNCPUB_RESULT_CONFIRMED:
		sp->stats.written++;
		o->failures = 0;
		o->error_logged = false;
		o->confirmed_gen = o->inflight_gen;
		if (o->confirmed_gen == o->desired_gen)
			free_and_null(o->data); /* Sync has it; length and hash remain */
		/* After a delete the item is known to be absent: the next value creates it. */
		o->next_op = o->op == SYNCPUB_OP_DELETE ? SYNCPUB_OP_CREATE : SYNCPUB_OP_UPDATE;
		break;
	case SYNCPUB_RESULT_NEXT:
		o->next_op = next;
		syncpub_enter_state(o, SYNCPUB_WAITING);
		syncpub_enqueue(o);
		return;
	case SYNCPUB_RESULT_RETRY:
		syncpub_enter_state(o, SYNCPUB_WAITING);
		syncpub_backoff(o, resp);
		return;
	case SYNCPUB_RESULT_DROP:
		if (!o->error_logged) {
			struct twilio_error err;

			twilio_error_init(&err);
			if (resp != NULL)
				(void)twilio_error_parse(resp, &err);
			log_err("sync " SYNCPUB_OBJ_FMT
				" %s failed: HTTP %ld, code %ld: %s; value dropped",
				SYNCPUB_OBJ_ARGS(o), syncpub_op_name(o->op),
				resp != NULL ? resp->status : 0L, err.code,
				err.message != NULL ? err.message : "request refused");
			twilio_error_clear(&err);
			o->error_logged = true;
		}
		sp->stats.dropped++;
		o->failures = 0;
		o->confirmed_gen = o->inflight_gen; /* given up: it can never succeed */
		if (o->confirmed_gen == o->desired_gen) {
			/* Forget it, so that setting the same value again tries again. */
			free_and_null(o->data);
			o->has_value = false;
		}
		o->next_op = SYNCPUB_OP_UPDATE;
		break;
	}
	syncpub_object_note_pending(o);
	if (o->desired_gen != o->confirmed_gen || o->dirty) {
		syncpub_enter_state(o, SYNCPUB_WAITING);
		syncpub_enqueue(o);
	} else if (o->deleted) {
		syncpub_enter_state(o, SYNCPUB_IDLE);
		syncpub_object_forget(o);
	} else {
		syncpub_enter_state(o, SYNCPUB_IDLE);
	}
}

static void syncpub_prune_retry_cb(evutil_socket_t fd, short what, void *arg);
static void syncpub_map_retry_cb(evutil_socket_t fd, short what, void *arg);

/*
 * A document request still in flight although a later one already succeeded
 * (started_ms: that one's start) is held by the outage: cancelled, its slot
 * kept until the request could still land (deadline_ms), and the latest value
 * queued again on another slot. Only where a late landing cannot undo the
 * newer write: an update carrying If-Match (the later of the two gets 412),
 * a create (409), a fetch. Map items are left alone: their listing
 * (syncpub_resolve) must wait for such requests anyway.
 */
static bool
syncpub_abort_stuck(struct syncpub_object *o, int64_t started_ms)
{
	struct syncpub_container *c = o->c;

	if (o->req == NULL || o->key != NULL || o->deadline_ms == 0 ||
	    o->started_ms + SYNCPUB_STUCK_MS > started_ms)
		return false;
	if (o->op == SYNCPUB_OP_DELETE || (o->op == SYNCPUB_OP_UPDATE && o->revision == NULL))
		return false;
	log_trace(LOG_TRACE_SYNC, "sync " SYNCPUB_OBJ_FMT ": %s held since %" PRId64 " ms, again",
		  SYNCPUB_OBJ_ARGS(o), syncpub_op_name(o->op), syncpub_now(c->sp) - o->started_ms);
	http_async_cancel(o->req);
	o->req = NULL;
	c->sp->inflight--;
	c->slots[o->slot] = o->deadline_ms;
	syncpub_enter_state(o, SYNCPUB_WAITING);
	syncpub_enqueue(o);
	return true;
}

/*
 * Sync answered a request that started at started_ms: documents (a few
 * containers of one object each) whose request is held since a second
 * before that are sent again (syncpub_abort_stuck).
 */
static void
syncpub_abort_stuck_documents(struct syncpub *sp, int64_t started_ms)
{
	size_t cpos = 0;
	const char *ckey;
	void *cvalue;

	while (hmap_next(sp->containers, &cpos, &ckey, &cvalue)) {
		struct syncpub_container *c = cvalue;
		struct syncpub_object *o;

		if (c->kind != SYNCPUB_DOCUMENT)
			continue;
		o = hmap_get(c->objects, "");
		if (o != NULL)
			(void)syncpub_abort_stuck(o, started_ms);
	}
}

/*
 * Sync answered a request after some backoff: every pending backoff
 * (objects, listings, map creates) ends now instead of at its timer, except
 * an object's after a 429 (its own rate), and a map with uncertain items is
 * listed (syncpub_resolve). One walk over all records per outage, not per
 * success.
 */
static void
syncpub_recovered(struct syncpub *sp)
{
	size_t cpos = 0;
	const char *ckey;
	void *cvalue;
	size_t kicked = 0;

	if (!sp->backoff_seen)
		return;
	sp->backoff_seen = false;
	while (hmap_next(sp->containers, &cpos, &ckey, &cvalue)) {
		struct syncpub_container *c = cvalue;
		size_t pos = 0;
		const char *key;
		void *value;

		syncpub_container_kick(c);
		if (c->prune_ev != NULL && evtimer_pending(c->prune_ev, NULL)) {
			(void)evtimer_del(c->prune_ev);
			syncpub_prune_retry_cb(-1, 0, c);
			kicked++;
		}
		if (c->map_ev != NULL && evtimer_pending(c->map_ev, NULL)) {
			(void)evtimer_del(c->map_ev);
			syncpub_map_retry_cb(-1, 0, c);
			kicked++;
		}
		if (c->uncertain && c->map_state == SYNCPUB_MAP_EXISTS)
			syncpub_resolve(c);
		while (hmap_next(c->objects, &pos, &key, &value)) {
			struct syncpub_object *o = value;

			if (o->retry_ev == NULL || o->throttled ||
			    !evtimer_pending(o->retry_ev, NULL))
				continue;
			(void)evtimer_del(o->retry_ev);
			syncpub_enqueue(o);
			kicked++;
		}
	}
	if (kicked > 0)
		log_info("sync: answering again; %zu waiting writes retried now", kicked);
}

/*
 * Sync answered a request that started at started_ms: it serves again. The
 * writes held back while it failed start now (every container is kicked),
 * pending backoffs end (syncpub_recovered), and document writes held by the
 * outage are sent again (syncpub_abort_stuck_documents).
 */
static void
syncpub_answered(struct syncpub *sp, int64_t started_ms)
{
	bool was_failing = sp->failing;

	sp->failing = false;
	syncpub_abort_stuck_documents(sp, started_ms);
	syncpub_recovered(sp);
	if (was_failing) {
		log_trace(LOG_TRACE_SYNC, "sync: answering again, writes resume");
		syncpub_kick_all(sp);
	}
}

/* The next container to probe, in turn (NULL: none yet). */
static struct syncpub_container *
syncpub_probe_target(struct syncpub *sp)
{
	size_t pos = sp->probe_pos;
	const char *key;
	void *value;

	if (!hmap_next(sp->containers, &pos, &key, &value)) {
		pos = 0;
		if (!hmap_next(sp->containers, &pos, &key, &value))
			return NULL;
	}
	sp->probe_pos = pos;
	return value;
}

static void
syncpub_probe_done_cb(const struct http_response *resp, void *arg)
{
	struct syncpub_probe *p = arg;
	struct syncpub *sp = p->sp;

	p->req = NULL;
	if (sp->metrics != NULL)
		metrics_twilio_request(sp->metrics, "sync",
				       resp->outcome == HTTP_DONE ? resp->status : 0);
	log_trace(LOG_TRACE_SYNC, "sync %s: probe -> %s %ld", p->c->name,
		  http_outcome_name(resp->outcome), resp->status);
	if (syncpub_is_answer(resp))
		syncpub_answered(sp, p->started_ms);
}

/*
 * Sends one probe read (GET of a document or of a map) while Sync fails.
 * Earlier probes may still be held (a latency outage holds each until its
 * timeout): they are not waited for, so the first probe sent after the
 * outage ended, at most a probe interval later, is answered. A read that
 * lands late changes nothing in Sync.
 */
static void
syncpub_probe_start(struct syncpub *sp)
{
	struct syncpub_container *c = syncpub_probe_target(sp);
	struct syncpub_probe *p = NULL;
	struct syncpub_probe *oldest = NULL;
	struct syncpub_probe *second = NULL;
	struct http_request_spec spec;
	char *url;
	char *cause = NULL;
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < SYNCPUB_MAX_PROBES && p == NULL; i++) {
		struct syncpub_probe *q = &sp->probes[i];

		if (q->req == NULL) {
			p = q;
		} else if (oldest == NULL || q->started_ms < oldest->started_ms) {
			second = oldest;
			oldest = q;
		} else if (second == NULL || q->started_ms < second->started_ms) {
			second = q;
		}
	}
	if (p == NULL) {
		assert(second != NULL); /* SYNCPUB_MAX_PROBES >= 2 */
		http_async_cancel(second->req);
		second->req = NULL;
		p = second;
	}
	url = c->kind == SYNCPUB_MAP ? twilio_url_sync_map(sp->tw, sp->service_sid, c->name)
				     : twilio_url_sync_document(sp->tw, sp->service_sid, c->name);
	if (url == NULL) {
		log_err("sync %s: cannot build the probe's URL", c->name);
		return;
	}
	twilio_request_spec_init(sp->tw, &spec, HTTP_GET, url);
	p->sp = sp;
	p->c = c;
	p->req = http_async_start(sp->client, &spec, syncpub_probe_done_cb, p, &cause);
	if (p->req == NULL) {
		log_err("sync %s: probe refused: %s", c->name, cause != NULL ? cause : "?");
	} else {
		log_trace(LOG_TRACE_SYNC, "sync %s: probe (a read)", c->name);
		sp->stats.requests++;
		p->started_ms = syncpub_now(sp);
		sp->last_probe_ms = p->started_ms;
	}
	free(cause);
	free(url);
}

/* While Sync fails: a probe read every probe interval. */
static void
syncpub_probe_cb(evutil_socket_t fd, short what, void *arg)
{
	struct syncpub *sp = arg;

	if (!sp->failing || sp->paused || sp->standby)
		return; /* unpausing and activating arm it again */
	syncpub_probe_start(sp);
	(void)evtimer_add(sp->probe_ev, &sp->probe_tv);
}

static void
syncpub_done_cb(const struct http_response *resp, void *arg)
{
	struct syncpub_object *o = arg;
	struct syncpub_container *c = o->c;
	struct syncpub *sp = c->sp;
	enum syncpub_op next = SYNCPUB_OP_UPDATE;
	enum syncpub_result result;
	long status = resp->outcome == HTTP_DONE ? resp->status : 0;
	int64_t started = o->started_ms; /* o may be freed by syncpub_finish */

	o->req = NULL;
	sp->inflight--;
	c->slots[o->slot] = syncpub_now(sp);
	if (resp->outcome != HTTP_DONE && resp->outcome != HTTP_CONNECT_FAILED) {
		/* No answer: it may still land, and (an item) may or may not exist now. */
		c->slots[o->slot] += SYNCPUB_LATE_MS;
		if (o->op != SYNCPUB_OP_FETCH)
			o->late_until_ms = c->slots[o->slot];
		if (o->key != NULL && o->op != SYNCPUB_OP_FETCH) {
			o->uncertain = true;
			c->uncertain = true;
			c->uncertain_until_ms = c->slots[o->slot];
		}
	} else if (resp->outcome == HTTP_DONE && (twilio_response_ok(resp) || resp->status == 404 ||
						  resp->status == 409 || resp->status == 412)) {
		o->uncertain = false; /* Sync told whether it holds the item */
	}
	syncpub_container_kick(c);
	if (sp->metrics != NULL) {
		metrics_twilio_request(sp->metrics, "sync", status);
		if (o->op != SYNCPUB_OP_FETCH)
			metrics_sync_write(sp->metrics, c->name, status);
	}
	if (o->op == SYNCPUB_OP_UPDATE || o->op == SYNCPUB_OP_CREATE) {
		if (resp->outcome == HTTP_DONE && resp->status == 404) {
			o->written_once = false; /* Sync says it has no such item */
			o->listed = false;
		} else if (syncpub_not_applied(resp)) {
			o->written_once = o->written_before;
		}
	}
	result = syncpub_classify(o, resp, &next);
	log_trace(LOG_TRACE_SYNC, "sync " SYNCPUB_OBJ_FMT ": %s -> %s %ld", SYNCPUB_OBJ_ARGS(o),
		  syncpub_op_name(o->op), http_outcome_name(resp->outcome), resp->status);
	syncpub_finish(o, result, next, resp);
	/* Any answer but a refusal (5xx, 429) shows Sync serving again: 404, 409, 412 too. */
	if (syncpub_is_answer(resp))
		syncpub_answered(sp, started);
	else if (result == SYNCPUB_RESULT_RETRY &&
		 !(resp->outcome == HTTP_DONE && resp->status == 429))
		syncpub_set_failing(sp, c);
}

struct syncpub *
syncpub_new(struct event_base *base, struct http_async *client, const struct twilio *tw,
	    const char *service_sid, const struct syncpub_options *options, struct metrics *metrics)
{
	struct syncpub *sp = xcalloc(1, sizeof(*sp));
	long probe_ms = SYNCPUB_PROBE_MS;

	sp->base = base;
	sp->client = client;
	sp->tw = tw;
	sp->service_sid = xstrdup(service_sid != NULL ? service_sid : "");
	sp->metrics = metrics;
	sp->writes_per_second = SYNCPUB_DEFAULT_WRITES_PER_SECOND;
	sp->now_ms = syncpub_real_now_ms;
	twilio_retry_policy_init(&sp->retry);
	sp->retry.max_attempts = UINT_MAX; /* never give up on the latest value */
	if (options != NULL) {
		if (options->writes_per_second > 0)
			sp->writes_per_second = options->writes_per_second;
		if (options->now_ms != NULL) {
			sp->now_ms = options->now_ms;
			sp->clock_arg = options->clock_arg;
		}
		if (options->retry_base_ms > 0)
			sp->retry.base_ms = options->retry_base_ms;
		if (options->retry_max_ms > 0)
			sp->retry.max_ms = options->retry_max_ms;
		if (options->probe_ms > 0)
			probe_ms = options->probe_ms;
	}
	sp->last_probe_ms = INT64_MIN;
	sp->probe_tv.tv_sec = probe_ms / 1000;
	sp->probe_tv.tv_usec = (suseconds_t)(probe_ms % 1000 * 1000);
	if (options != NULL && options->rng_seed != 0)
		rng_seed(&sp->rng, options->rng_seed);
	else
		rng_seed_random(&sp->rng);
	sp->containers = hmap_new();
	sp->probe_ev = evtimer_new(base, syncpub_probe_cb, sp);
	if (sp->probe_ev == NULL)
		fatalx("syncpub: cannot create a timer");
	return sp;
}

void
syncpub_free(struct syncpub *sp)
{
	size_t pos = 0;
	const char *key;
	void *value;

	if (sp == NULL)
		return;
	syncpub_probes_cancel(sp);
	while (hmap_next(sp->containers, &pos, &key, &value)) {
		(void)hmap_remove(sp->containers, key);
		syncpub_container_free(value);
	}
	assert(sp->npending == 0);
	assert(sp->inflight == 0);
	event_free(sp->probe_ev);
	hmap_free(sp->containers);
	free(sp->service_sid);
	free(sp);
}

static bool
syncpub_name_ok(const char *s)
{
	size_t n;

	if (s == NULL)
		return false;
	n = strlen(s);
	return n > 0 && n <= SYNCPUB_MAX_NAME_BYTES;
}

/* 0 when json is a JSON object text Sync will take, else -E2BIG or -EINVAL. */
static int
syncpub_check_data(const char *json, size_t len)
{
	size_t i = 0;

	if (json == NULL)
		return -EINVAL;
	if (len > SYNCPUB_MAX_DATA_BYTES)
		return -E2BIG;
	while (i < len && (json[i] == ' ' || json[i] == '\t' || json[i] == '\n' || json[i] == '\r'))
		i++;
	if (i == len || json[i] != '{' || !json_is_valid(json, len))
		return -EINVAL;
	return 0;
}

/*
 * Makes value (data/len, or deleted when data is NULL) the latest for o,
 * without moving o between states. Returns false when it already was.
 */
static bool
syncpub_object_value(struct syncpub_object *o, const char *data, size_t len)
{
	struct syncpub *sp = o->c->sp;
	bool deleted = data == NULL;
	uint64_t hash = 0;

	if (deleted && o->deleted)
		return false;
	if (!deleted) {
		hash = syncpub_hash(data, len);
		if (!o->deleted && o->has_value && o->data_len == len && o->data_hash == hash &&
		    (o->data == NULL || memcmp(o->data, data, len) == 0))
			return false; /* already the latest value */
	}
	if (o->desired_gen != o->confirmed_gen) {
		sp->stats.superseded++;
		if (sp->metrics != NULL)
			metrics_sync_superseded(sp->metrics, o->c->name);
	}
	free_and_null(o->data);
	o->data_len = 0;
	o->has_value = false;
	o->deleted = deleted;
	if (!deleted) {
		o->data = xmalloc(len + 1);
		memcpy(o->data, data, len);
		o->data[len] = '\0';
		o->data_len = len;
		o->data_hash = hash;
		o->has_value = true;
	}
	o->desired_gen++;
	syncpub_object_note_pending(o);
	return true;
}

/* Moves o towards writing its latest value (after a new value or a mark). */
static void
syncpub_object_wake(struct syncpub_object *o)
{
	switch (o->state) {
	case SYNCPUB_IDLE:
		syncpub_enter_state(o, SYNCPUB_WAITING);
		syncpub_enqueue(o);
		break;
	case SYNCPUB_WRITING:
		syncpub_enter_state(o, SYNCPUB_WRITING_PENDING);
		break;
	case SYNCPUB_WRITING_PENDING:
	case SYNCPUB_WAITING:
		break;
	}
}

/* Makes value (data/len, or deleted when data is NULL) the latest for o. */
static void
syncpub_object_set(struct syncpub_object *o, const char *data, size_t len)
{
	if (syncpub_object_value(o, data, len))
		syncpub_object_wake(o);
}

/* Notes that o changed; build gives its value when its write starts. */
static void
syncpub_object_mark(struct syncpub_object *o, syncpub_build_fn build, void *arg)
{
	o->build = build;
	o->build_arg = arg;
	if (o->dirty)
		return; /* one build serves every mark before it */
	o->dirty = true;
	syncpub_object_note_pending(o);
	syncpub_object_wake(o);
}

void
syncpub_mark_document(struct syncpub *sp, const char *unique_name, syncpub_build_fn build,
		      void *arg)
{
	if (sp == NULL || build == NULL || !syncpub_name_ok(unique_name))
		return;
	syncpub_object_mark(
		syncpub_object_get(syncpub_container_get(sp, SYNCPUB_DOCUMENT, unique_name), NULL),
		build, arg);
}

void
syncpub_mark_map_item(struct syncpub *sp, const char *map_name, const char *key,
		      syncpub_build_fn build, void *arg)
{
	if (sp == NULL || build == NULL || !syncpub_name_ok(map_name) || !syncpub_name_ok(key))
		return;
	syncpub_object_mark(
		syncpub_object_get(syncpub_container_get(sp, SYNCPUB_MAP, map_name), key), build,
		arg);
}

/*
 * Asks a queued, dirty o's builder for its value now that a request could
 * start. Returns true when o still needs a request (it stays queued), false
 * when it has nothing to write any more: it left the queue, IDLE, or was
 * freed (a removal Sync cannot need). Not dirty: true, untouched.
 */
static bool
syncpub_object_build(struct syncpub_object *o)
{
	struct syncpub_container *c = o->c;
	struct syncpub *sp = c->sp;
	const char *json = NULL;
	size_t len = 0;
	int r;

	assert(o->queued && o->req == NULL);
	if (!o->dirty)
		return true;
	o->dirty = false;
	sp->stats.builds++;
	if (o->build(o->build_arg, c->name, o->key, &json, &len)) {
		r = syncpub_check_data(json, len);
		if (r == 0)
			(void)syncpub_object_value(o, json, len);
		else
			log_warning("sync " SYNCPUB_OBJ_FMT ": built value refused (%s, %zu bytes)",
				    SYNCPUB_OBJ_ARGS(o),
				    r == -E2BIG ? "too large" : "not a JSON object", len);
	} else if (o->key != NULL) {
		if (c->contents_known && syncpub_object_never_in_sync(o)) {
			/* Known absent from Sync (the task ended before its item was written). */
			if (o->desired_gen != o->confirmed_gen) {
				sp->stats.superseded++;
				if (sp->metrics != NULL)
					metrics_sync_superseded(sp->metrics, c->name);
			}
			syncpub_object_forget(o);
			return false;
		}
		(void)syncpub_object_value(o, NULL, 0);
	}
	syncpub_object_note_pending(o);
	if (o->desired_gen != o->confirmed_gen)
		return true;
	/* What Sync has (or was given up on) is already the current value. */
	TAILQ_REMOVE(&c->queue, o, qlink);
	o->queued = false;
	syncpub_enter_state(o, SYNCPUB_IDLE);
	if (o->deleted)
		syncpub_object_forget(o);
	return false;
}

int
syncpub_set_document(struct syncpub *sp, const char *unique_name, const char *json, size_t len)
{
	struct syncpub_container *c;
	int r;

	if (sp == NULL || !syncpub_name_ok(unique_name))
		return -EINVAL;
	r = syncpub_check_data(json, len);
	if (r < 0)
		return r;
	c = syncpub_container_get(sp, SYNCPUB_DOCUMENT, unique_name);
	syncpub_object_set(syncpub_object_get(c, NULL), json, len);
	return 0;
}

int
syncpub_set_map_item(struct syncpub *sp, const char *map_name, const char *key, const char *json,
		     size_t len)
{
	struct syncpub_container *c;
	int r;

	if (sp == NULL || !syncpub_name_ok(map_name) || !syncpub_name_ok(key))
		return -EINVAL;
	r = syncpub_check_data(json, len);
	if (r < 0)
		return r;
	c = syncpub_container_get(sp, SYNCPUB_MAP, map_name);
	syncpub_object_set(syncpub_object_get(c, key), json, len);
	return 0;
}

/*
 * True when o (NULL: no record) cannot exist in Sync as far as this process
 * knows: never listed there, no write sent that Sync may have applied, and
 * no request under way for it.
 */
static bool
syncpub_object_never_in_sync(const struct syncpub_object *o)
{
	if (o == NULL)
		return true;
	/* In backoff after a refused write, written_once is back to what it was. */
	return !o->written_once && !o->listed && o->req == NULL;
}

void
syncpub_remove_map_item(struct syncpub *sp, const char *map_name, const char *key)
{
	struct syncpub_container *c;
	struct syncpub_object *o;

	if (sp == NULL || !syncpub_name_ok(map_name) || !syncpub_name_ok(key))
		return;
	c = syncpub_container_get(sp, SYNCPUB_MAP, map_name);
	o = hmap_get(c->objects, key);
	if ((c->contents_known || sp->standby) && syncpub_object_never_in_sync(o)) {
		/*
		 * Known absent from Sync: a task that ended before its item was
		 * written. A DELETE would only spend the map's write budget on a
		 * 404, so the pending value is dropped instead. On a standby the
		 * record is dropped too (the item may exist, written by another
		 * instance): the prune pass that must follow syncpub_set_active(true)
		 * deletes it if it does, so a standby keeps no record per ended task.
		 */
		if (o != NULL) {
			sp->stats.superseded++;
			if (sp->metrics != NULL)
				metrics_sync_superseded(sp->metrics, c->name);
			syncpub_object_forget(o);
		}
		return;
	}
	syncpub_object_set(syncpub_object_get(c, key), NULL, 0);
}

static const char *
syncpub_map_state_name(enum syncpub_map_state s)
{
	switch (s) {
	case SYNCPUB_MAP_UNKNOWN:
		return "unknown";
	case SYNCPUB_MAP_EXISTS:
		return "exists";
	case SYNCPUB_MAP_MISSING:
		return "missing";
	case SYNCPUB_MAP_CREATING:
		return "creating";
	case SYNCPUB_MAP_BACKOFF:
		return "backoff";
	}
	return "?";
}

static void
syncpub_map_enter_state(struct syncpub_container *c, enum syncpub_map_state s)
{
	if (c->map_state == s)
		return;
	log_trace(LOG_TRACE_SYNC, "sync map %s: %s -> %s", c->name,
		  syncpub_map_state_name(c->map_state), syncpub_map_state_name(s));
	c->map_state = s;
}

/*
 * Sync says the map does not exist: from now on its items wait until the
 * container has created it (once, whatever the number of items that saw the
 * 404). A create already under way is left alone.
 */
static void
syncpub_map_missing(struct syncpub_container *c)
{
	switch (c->map_state) {
	case SYNCPUB_MAP_UNKNOWN:
	case SYNCPUB_MAP_EXISTS:
		break;
	case SYNCPUB_MAP_MISSING:
	case SYNCPUB_MAP_CREATING:
	case SYNCPUB_MAP_BACKOFF:
		return;
	}
	if (c->map_state == SYNCPUB_MAP_EXISTS)
		log_warning("sync map %s: missing in Sync, creating it again", c->name);
	syncpub_map_enter_state(c, SYNCPUB_MAP_MISSING);
	syncpub_container_kick(c);
}

/*
 * While the map is missing, removes need no request: every queued removal
 * is confirmed at once. Returns whether any queued item still has a value
 * to write (then the map must be created).
 */
static bool
syncpub_map_holds_items(struct syncpub_container *c)
{
	struct syncpub_object *o;
	struct syncpub_object *next;
	bool values = false;

	for (o = TAILQ_FIRST(&c->queue); o != NULL; o = next) {
		next = TAILQ_NEXT(o, qlink);
		if (!syncpub_object_build(o))
			continue; /* nothing to write after all */
		if (!o->deleted) {
			values = true;
			continue;
		}
		TAILQ_REMOVE(&c->queue, o, qlink);
		o->queued = false;
		o->op = SYNCPUB_OP_DELETE;
		o->inflight_gen = o->desired_gen;
		syncpub_finish(o, SYNCPUB_RESULT_CONFIRMED, SYNCPUB_OP_UPDATE, NULL);
	}
	return values;
}

static void syncpub_map_done_cb(const struct http_response *resp, void *arg);

static void
syncpub_map_create_start(struct syncpub_container *c, size_t slot)
{
	struct syncpub *sp = c->sp;
	struct http_request_spec spec;
	struct form *f = form_new();
	char *url = twilio_url_sync_maps(sp->tw, sp->service_sid);
	char *body = NULL;
	char *cause = NULL;

	if (url == NULL)
		fatalx("syncpub: cannot build the Maps URL");
	form_add(f, "UniqueName", c->name);
	body = form_encode(f);
	twilio_request_spec_init(sp->tw, &spec, HTTP_POST, url);
	spec.body = body;
	spec.body_len = strlen(body);
	c->map_req = http_async_start(sp->client, &spec, syncpub_map_done_cb, c, &cause);
	c->map_req_ms = syncpub_now(sp);
	if (c->map_req == NULL) {
		log_err("sync map %s: create refused: %s", c->name, cause != NULL ? cause : "?");
		syncpub_map_enter_state(c, SYNCPUB_MAP_UNKNOWN);
		goto out;
	}
	log_trace(LOG_TRACE_SYNC, "sync map %s: create", c->name);
	sp->stats.requests++;
	sp->inflight++;
	c->slots[slot] = SYNCPUB_SLOT_BUSY;
	c->map_slot = slot;
	syncpub_map_enter_state(c, SYNCPUB_MAP_CREATING);
out:
	free(cause);
	free(body);
	free(url);
	form_free(f);
}

static void
syncpub_map_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct syncpub_container *c = arg;

	syncpub_map_enter_state(c, SYNCPUB_MAP_MISSING);
	syncpub_container_kick(c);
}

/*
 * The map now exists and is empty: every item not in flight is created
 * directly, and none of them can be in Sync.
 */
static void
syncpub_map_created_empty(struct syncpub_container *c)
{
	size_t pos = 0;
	const char *key;
	void *value;

	c->contents_known = true;
	while (hmap_next(c->objects, &pos, &key, &value)) {
		struct syncpub_object *o = value;

		if (o->req != NULL)
			continue;
		free_and_null(o->revision);
		o->written_once = false;
		o->listed = false;
		if (o->next_op == SYNCPUB_OP_UPDATE || o->next_op == SYNCPUB_OP_FETCH)
			o->next_op = SYNCPUB_OP_CREATE;
	}
}

static void
syncpub_map_done_cb(const struct http_response *resp, void *arg)
{
	struct syncpub_container *c = arg;
	struct syncpub *sp = c->sp;
	struct syncpub_object *o;
	long delay_ms = 0;
	unsigned attempts;
	struct timeval tv;

	c->map_req = NULL;
	sp->inflight--;
	c->slots[c->map_slot] = syncpub_now(sp);
	if (resp->outcome != HTTP_DONE && resp->outcome != HTTP_CONNECT_FAILED)
		c->slots[c->map_slot] += SYNCPUB_LATE_MS; /* it may still land */
	syncpub_container_kick(c);
	if (sp->metrics != NULL) {
		long status = resp->outcome == HTTP_DONE ? resp->status : 0;

		metrics_twilio_request(sp->metrics, "sync", status);
		metrics_sync_write(sp->metrics, c->name, status);
	}
	if (twilio_response_ok(resp)) {
		log_info("sync map %s: created", c->name);
		c->map_failures = 0;
		syncpub_map_created_empty(c);
		syncpub_map_enter_state(c, SYNCPUB_MAP_EXISTS);
		syncpub_answered(sp, c->map_req_ms);
		return;
	}
	if (resp->outcome == HTTP_DONE && resp->status == 409) {
		/* created meanwhile: it exists, its contents are not known */
		c->map_failures = 0;
		syncpub_map_enter_state(c, SYNCPUB_MAP_EXISTS);
		syncpub_answered(sp, c->map_req_ms);
		return;
	}
	if (syncpub_is_transient(resp)) {
		if (!(resp->outcome == HTTP_DONE && resp->status == 429))
			syncpub_set_failing(sp, c);
		c->map_failures++;
		attempts = c->map_failures < SYNCPUB_MAX_BACKOFF_ATTEMPTS
				   ? c->map_failures
				   : SYNCPUB_MAX_BACKOFF_ATTEMPTS;
		if (!twilio_retry_next(&sp->retry, resp, attempts, &sp->rng, &delay_ms))
			delay_ms = twilio_retry_backoff_ms(&sp->retry, attempts, &sp->rng);
		sp->stats.retries++;
		syncpub_backoff_seen(sp);
		if (sp->metrics != NULL)
			metrics_twilio_retry(sp->metrics, "sync");
		if (c->map_failures == 1)
			log_warning("sync map %s: create failed: %s %ld, retrying in %ld ms",
				    c->name, http_outcome_name(resp->outcome), resp->status,
				    delay_ms);
		if (c->map_ev == NULL) {
			c->map_ev = evtimer_new(sp->base, syncpub_map_retry_cb, c);
			if (c->map_ev == NULL)
				fatalx("syncpub: cannot create a timer");
		}
		tv.tv_sec = (time_t)(delay_ms / 1000);
		tv.tv_usec = (suseconds_t)(delay_ms % 1000) * 1000;
		(void)evtimer_add(c->map_ev, &tv);
		syncpub_map_enter_state(c, SYNCPUB_MAP_BACKOFF);
		return;
	}
	/* A final error (no such service, 401...): the waiting values cannot be written. */
	log_err("sync map %s: create failed: %s, HTTP %ld; dropping the waiting items", c->name,
		http_outcome_name(resp->outcome), resp->status);
	c->map_failures = 0;
	syncpub_map_enter_state(c, SYNCPUB_MAP_UNKNOWN);
	while ((o = TAILQ_FIRST(&c->queue)) != NULL) {
		TAILQ_REMOVE(&c->queue, o, qlink);
		o->queued = false;
		o->op = SYNCPUB_OP_CREATE;
		o->inflight_gen = o->desired_gen;
		syncpub_finish(o, SYNCPUB_RESULT_DROP, SYNCPUB_OP_UPDATE, resp);
	}
	if (syncpub_is_answer(resp))
		syncpub_answered(sp, c->map_req_ms);
}

static const char *
syncpub_prune_state_name(enum syncpub_prune_state s)
{
	switch (s) {
	case SYNCPUB_PRUNE_IDLE:
		return "idle";
	case SYNCPUB_PRUNE_QUEUED:
		return "queued";
	case SYNCPUB_PRUNE_LISTING:
		return "listing";
	case SYNCPUB_PRUNE_BACKOFF:
		return "backoff";
	}
	return "?";
}

/* A running pass counts as one pending unit, so syncpub_pending() == 0 means it finished. */
static void
syncpub_prune_enter_state(struct syncpub_container *c, enum syncpub_prune_state s)
{
	struct syncpub *sp = c->sp;

	if (c->prune_state == s)
		return;
	log_trace(LOG_TRACE_SYNC, "sync map %s prune: %s -> %s", c->name,
		  syncpub_prune_state_name(c->prune_state), syncpub_prune_state_name(s));
	if (c->prune_state == SYNCPUB_PRUNE_IDLE)
		sp->npending++;
	else if (s == SYNCPUB_PRUNE_IDLE)
		sp->npending--;
	c->prune_state = s;
}

static void
syncpub_prune_end(struct syncpub_container *c)
{
	free_and_null(c->prune_url);
	c->prune_failures = 0;
	c->resolving = false;
	syncpub_prune_enter_state(c, SYNCPUB_PRUNE_IDLE);
	syncpub_container_kick(c);
}

/* The first page of c's item listing. */
static char *
syncpub_prune_first_url(const struct syncpub_container *c)
{
	struct syncpub *sp = c->sp;
	struct form *q;
	char *url = twilio_url_sync_map_items(sp->tw, sp->service_sid, c->name);
	char *out;

	if (url == NULL)
		return NULL;
	q = form_new();
	form_add(q, "PageSize", SYNCPUB_PRUNE_PAGE_SIZE);
	out = twilio_url_with_query(url, q);
	form_free(q);
	free(url);
	return out;
}

/*
 * After unanswered item requests, once Sync answers again
 * (syncpub_recovered): list the map, so that items Sync does not hold need
 * no DELETE (404) and items it holds are updated with their revision rather
 * than created (409, fetch, update). A pass not yet listing becomes this
 * listing, from its first page; one in flight may have missed a late
 * request, so another follows it.
 */
static void
syncpub_resolve(struct syncpub_container *c)
{
	size_t pos = 0;
	const char *key;
	void *value;
	bool any = false;
	char *url;

	while (!any && hmap_next(c->objects, &pos, &key, &value))
		any = ((struct syncpub_object *)value)->uncertain;
	if (!any) {
		c->uncertain = false; /* later answers settled every such item */
		return;
	}

	switch (c->prune_state) {
	case SYNCPUB_PRUNE_IDLE:
		syncpub_prune_map(c->sp, c->name);
		if (c->prune_state == SYNCPUB_PRUNE_IDLE)
			return; /* no URL: the items are written as before */
		break;
	case SYNCPUB_PRUNE_QUEUED:
	case SYNCPUB_PRUNE_BACKOFF:
		url = syncpub_prune_first_url(c);
		if (url == NULL)
			return;
		free(c->prune_url);
		c->prune_url = url;
		break;
	case SYNCPUB_PRUNE_LISTING:
		c->resolve_again = true;
		return;
	}
	c->resolving = true;
	c->prune_gen++;
}

/*
 * The resolving listing is complete and nothing was in flight during it:
 * an item it did not see is not in Sync. Its removal needs no request, a
 * value is created directly.
 */
static void
syncpub_resolve_end(struct syncpub_container *c)
{
	size_t pos = 0;
	const char *key;
	void *value;
	size_t absent = 0;

	c->uncertain = false;
	while (hmap_next(c->objects, &pos, &key, &value)) {
		struct syncpub_object *o = value;

		if (o->seen_gen == c->prune_gen) {
			if (o->req == NULL && o->late_until_ms <= c->prune_started_ms)
				o->uncertain = false;
			continue;
		}
		/* Its own request may land after the listing passed it: still a guess. */
		if (o->req != NULL || o->late_until_ms > c->prune_started_ms) {
			c->uncertain = true;
			continue;
		}
		o->uncertain = false;
		if (o->written_once || o->listed)
			absent++;
		o->written_once = false;
		o->listed = false;
		free_and_null(o->revision);
		if (o->next_op == SYNCPUB_OP_UPDATE || o->next_op == SYNCPUB_OP_FETCH)
			o->next_op = SYNCPUB_OP_CREATE;
	}
	log_info("sync map %s: listed after the outage; %zu items Sync may have had are absent",
		 c->name, absent);
}

static void syncpub_prune_done_cb(const struct http_response *resp, void *arg);

static void
syncpub_prune_start(struct syncpub_container *c, size_t slot)
{
	struct syncpub *sp = c->sp;
	struct http_request_spec spec;
	char *cause = NULL;

	twilio_request_spec_init(sp->tw, &spec, HTTP_GET, c->prune_url);
	c->prune_req = http_async_start(sp->client, &spec, syncpub_prune_done_cb, c, &cause);
	if (c->prune_req == NULL) {
		log_err("sync map %s: item listing refused: %s", c->name,
			cause != NULL ? cause : "?");
		free(cause);
		syncpub_prune_end(c);
		return;
	}
	sp->stats.requests++;
	sp->inflight++;
	if (slot != SYNCPUB_NO_SLOT)
		c->slots[slot] = SYNCPUB_SLOT_BUSY;
	c->prune_slot = slot;
	c->prune_req_ms = syncpub_now(sp);
	if (c->prune_url != NULL && strstr(c->prune_url, "AfterKey=") == NULL)
		c->prune_started_ms = c->prune_req_ms; /* the first page */
	syncpub_prune_enter_state(c, SYNCPUB_PRUNE_LISTING);
}

static void
syncpub_prune_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct syncpub_container *c = arg;

	syncpub_prune_enter_state(c, SYNCPUB_PRUNE_QUEUED);
	syncpub_container_kick(c);
}

/* Remembers the value a listing shows for o: a write of that same value is not needed. */
static void
syncpub_note_listed_value(struct syncpub_object *o, const struct json_value *record)
{
	const struct json_value *data = json_get(record, "data");
	struct json_gen *g;
	const char *text;
	size_t len = 0;

	o->sync_known = false;
	if (data == NULL || !json_is_object(data))
		return;
	g = json_gen_new();
	json_gen_value(g, data);
	text = json_gen_text(g, &len);
	if (text != NULL) {
		o->sync_known = true;
		o->sync_len = len;
		o->sync_hash = syncpub_hash(text, len);
	}
	json_gen_free(g);
}

/* Schedules the deletion of every listed key that has no record (nobody set it). */
static void
syncpub_prune_page(struct syncpub_container *c, const struct twilio_page *page)
{
	size_t i;

	for (i = 0; i < twilio_page_count(page); i++) {
		const char *key = NULL;
		struct syncpub_object *o;

		if (json_get_string(twilio_page_record(page, i), "key", &key) < 0 ||
		    !syncpub_name_ok(key))
			continue;
		o = hmap_get(c->objects, key);
		if (o != NULL) {
			o->listed = true;
			o->seen_gen = c->prune_gen;
			if (c->resolving && o->req == NULL) {
				const char *rev = NULL;

				/* It exists: an update with its revision, not a create (409). */
				(void)json_get_string(twilio_page_record(page, i), "revision",
						      &rev);
				if (rev != NULL && rev[0] != '\0') {
					free(o->revision);
					o->revision = xstrdup(rev);
				}
				if (o->next_op == SYNCPUB_OP_CREATE)
					o->next_op = SYNCPUB_OP_UPDATE;
				syncpub_note_listed_value(o, twilio_page_record(page, i));
			}
			continue;
		}
		o = syncpub_object_get(c, key);
		o->listed = true; /* Sync has it: a later remove must still DELETE it */
		o->seen_gen = c->prune_gen;
		syncpub_object_set(o, NULL, 0);
		c->pruned++;
	}
}

static void
syncpub_prune_backoff(struct syncpub_container *c, const struct http_response *resp)
{
	struct syncpub *sp = c->sp;
	unsigned attempts;
	long delay_ms = 0;
	struct timeval tv;

	c->prune_failures++;
	attempts = c->prune_failures < SYNCPUB_MAX_BACKOFF_ATTEMPTS ? c->prune_failures
								    : SYNCPUB_MAX_BACKOFF_ATTEMPTS;
	if (!twilio_retry_next(&sp->retry, resp, attempts, &sp->rng, &delay_ms))
		delay_ms = twilio_retry_backoff_ms(&sp->retry, attempts, &sp->rng);
	sp->stats.retries++;
	syncpub_backoff_seen(sp);
	if (sp->metrics != NULL)
		metrics_twilio_retry(sp->metrics, "sync");
	if (c->prune_failures == 1 && resp->outcome == HTTP_DONE)
		log_warning("sync map %s: item listing failed: HTTP %ld, retrying in %ld ms",
			    c->name, resp->status, delay_ms);
	else if (c->prune_failures == 1)
		log_warning("sync map %s: item listing failed: %s, retrying in %ld ms", c->name,
			    http_outcome_name(resp->outcome), delay_ms);
	if (c->prune_ev == NULL) {
		c->prune_ev = evtimer_new(sp->base, syncpub_prune_retry_cb, c);
		if (c->prune_ev == NULL)
			fatalx("syncpub: cannot create a timer");
	}
	tv.tv_sec = (time_t)(delay_ms / 1000);
	tv.tv_usec = (suseconds_t)(delay_ms % 1000) * 1000;
	(void)evtimer_add(c->prune_ev, &tv);
	syncpub_prune_enter_state(c, SYNCPUB_PRUNE_BACKOFF);
}

static void
syncpub_prune_done_cb(const struct http_response *resp, void *arg)
{
	struct syncpub_container *c = arg;
	struct syncpub *sp = c->sp;
	struct twilio_page *page = NULL;
	const char *next;
	char *cause = NULL;

	c->prune_req = NULL;
	sp->inflight--;
	if (c->prune_slot != SYNCPUB_NO_SLOT)
		c->slots[c->prune_slot] = syncpub_now(sp);
	syncpub_container_kick(c);
	if (sp->metrics != NULL)
		metrics_twilio_request(sp->metrics, "sync",
				       resp->outcome == HTTP_DONE ? resp->status : 0);
	if (twilio_response_ok(resp)) {
		syncpub_answered(sp, c->prune_req_ms);
		if (c->map_state == SYNCPUB_MAP_UNKNOWN)
			c->map_state = SYNCPUB_MAP_EXISTS;
		if (twilio_page_parse(sp->tw, "items", resp->body, resp->body_len, &page, &cause) <
		    0) {
			log_err("sync map %s: bad item list: %s", c->name,
				cause != NULL ? cause : "?");
			free(cause);
			syncpub_prune_end(c);
			return;
		}
		syncpub_prune_page(c, page);
		next = twilio_page_next_url(page);
		if (next != NULL) {
			free(c->prune_url);
			c->prune_url = xstrdup(next);
			c->prune_failures = 0;
			syncpub_prune_enter_state(c, SYNCPUB_PRUNE_QUEUED);
		} else {
			log_info("sync map %s: %zu stale items to delete", c->name, c->pruned);
			c->contents_known = true;
			if (c->resolving)
				syncpub_resolve_end(c);
			syncpub_prune_end(c);
			if (c->resolve_again) {
				c->resolve_again = false;
				if (c->uncertain)
					syncpub_resolve(c);
			}
		}
		twilio_page_free(page);
		return;
	}
	if (resp->outcome == HTTP_DONE && resp->status == 404) {
		c->contents_known = true; /* no map yet: nothing is stale, nothing exists */
		if (c->resolving)
			syncpub_resolve_end(c);
		syncpub_prune_end(c);
		syncpub_map_missing(c);
		syncpub_answered(sp, c->prune_req_ms);
		return;
	}
	if (syncpub_is_transient(resp)) {
		if (!(resp->outcome == HTTP_DONE && resp->status == 429))
			syncpub_set_failing(sp, c);
		syncpub_prune_backoff(c, resp);
		return;
	}
	log_err("sync map %s: item listing failed: %s, HTTP %ld; stale items stay", c->name,
		http_outcome_name(resp->outcome), resp->status);
	syncpub_prune_end(c);
	if (syncpub_is_answer(resp))
		syncpub_answered(sp, c->prune_req_ms);
}

void
syncpub_prune_map(struct syncpub *sp, const char *map_name)
{
	struct syncpub_container *c;

	if (sp == NULL || !syncpub_name_ok(map_name))
		return;
	c = syncpub_container_get(sp, SYNCPUB_MAP, map_name);
	switch (c->prune_state) {
	case SYNCPUB_PRUNE_IDLE:
		break;
	case SYNCPUB_PRUNE_QUEUED:
	case SYNCPUB_PRUNE_LISTING:
	case SYNCPUB_PRUNE_BACKOFF:
		return; /* a pass is running; it sees every set made so far */
	}
	c->prune_url = syncpub_prune_first_url(c);
	if (c->prune_url == NULL) {
		log_err("sync map %s: cannot build the items URL", map_name);
		return;
	}
	c->pruned = 0;
	c->prune_failures = 0;
	syncpub_prune_enter_state(c, SYNCPUB_PRUNE_QUEUED);
	syncpub_container_kick(c);
}

static void
syncpub_kick_all(struct syncpub *sp)
{
	size_t pos = 0;
	const char *key;
	void *value;

	if (sp->paused || sp->standby)
		return;
	while (hmap_next(sp->containers, &pos, &key, &value))
		syncpub_container_kick(value);
}

void
syncpub_set_paused(struct syncpub *sp, bool paused)
{
	if (sp == NULL || sp->paused == paused)
		return;
	sp->paused = paused;
	log_debug("sync: writes %s", paused ? "paused" : "resumed");
	if (paused)
		syncpub_probes_cancel(sp);
	else if (sp->failing && !sp->standby)
		syncpub_probe_arm(sp);
	syncpub_kick_all(sp);
}

void
syncpub_set_active(struct syncpub *sp, bool active)
{
	if (sp == NULL || sp->standby == !active)
		return;
	sp->standby = !active;
	log_info("sync: this instance %s", active ? "writes (lease held)" : "stands by (no lease)");
	if (!active)
		syncpub_probes_cancel(sp); /* reads: the handover need not wait for them */
	else if (sp->failing && !sp->paused)
		syncpub_probe_arm(sp);
	syncpub_kick_all(sp);
}

size_t
syncpub_pending(const struct syncpub *sp)
{
	return sp != NULL ? sp->npending : 0;
}

size_t
syncpub_inflight(const struct syncpub *sp)
{
	return sp != NULL ? sp->inflight : 0;
}

void
syncpub_get_stats(const struct syncpub *sp, struct syncpub_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (sp != NULL)
		*out = sp->stats;
}
