/*
 * model: the live picture of the workspace (see model.h for the contract):
 * the store, the application of typed events (tr_event.h, parsed by the
 * event ingest) and the upsert of typed REST records (parsed by rebuild.c).
 * The JSON views are model_view.c's.
 *
 * Storage. Every resource lives in one hmap keyed by its SID: open tasks,
 * open reservations (pending, accepted, wrapping), workers, activities and
 * queues. A task owns its reservations (singly linked through the task); a
 * worker links the open reservations it holds (doubly linked), so "the
 * worker's reservations" and "is this reservation the worker's" are O(1) or
 * O(reservations of one task). SIDs are stored inline, strings that change
 * (attributes, names) are replaced only when they differ. Per-queue task
 * counts by status are kept incrementally, never recomputed by a scan.
 *
 * Ordering (twilio-operations.md 3: no ordering or exactly-once guarantee).
 * Three mechanisms, cheapest first:
 *  1. Duplicates: the event's Sid (or EventType|ResourceSid|TimestampMs when
 *     it has none) is remembered in a bounded FIFO set; a repeat is
 *     MODEL_STALE_EVENT before anything else is looked at.
 *  2. Older state: an event is split into parts (task, reservation, worker,
 *     ...). A part is applied only if it is not older than what its resource
 *     holds: by version (TaskVersion, ReservationVersion, WorkerVersion) when
 *     both sides have one, else by TimestampMs. Equal is not older, so two
 *     different events of the same millisecond both apply (their fields are
 *     states, so applying one twice is harmless). An event of which no part
 *     applied is MODEL_STALE_EVENT.
 *  3. Terminal states: a finished task or reservation (and a deleted worker)
 *     leaves a tombstone in a bounded FIFO; any later event for that SID is
 *     stale, so a late task.updated cannot resurrect a completed task. The
 *     terminal event itself always applies, whatever its timestamp.
 *
 * Counters. Per-agent day counters count reservation transitions, each once
 * per reservation (flags on the reservation), so duplicates and any
 * delivery order give the same totals: offered at first sight, accepted on
 * reaching accepted/wrapping/completed, rejected, timed out, handled when an
 * accepted reservation completes or its task completes (handle time =
 * completion - acceptance). Counters belong to the operational day of the
 * event's timestamp (tz.c) and reset lazily when a newer day is seen.
 *
 * Rebuild. model_rebuild_begin starts generation g; upserts and events mark
 * what they touch with g; model_rebuild_end removes what g did not see. An
 * upsert skips a resource an event touched during g (the event is newer
 * than the REST snapshot, or at least not older).
 *
 * Everything is single-threaded (the event loop); the listener runs after a
 * change is complete and must not call back into model_apply_event.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "date.h"
#include "hmap.h"
#include "json.h"
#include "log.h"
#include "model.h"
#include "model_internal.h"
#include "num.h"
#include "sid.h"
#include "task_status.h"
#include "tr_event.h"
#include "tz.h"
#include "xmalloc.h"

#define MODEL_DEFAULT_RING	 1024u
#define MODEL_TOMBSTONES	 16384u
#define MODEL_DEDUPE		 8192u
#define MODEL_DEFAULT_RECORDINGS 4096u
#define MODEL_DAY_SPAN_MS	 (26LL * 3600 * 1000) /* lands inside the next operational day */

/* Outcome of applying one part of an event. */
enum model_part {
	MODEL_PART_NONE,    /* the event has no such part */
	MODEL_PART_STALE,   /* older than the resource: skipped */
	MODEL_PART_APPLIED, /* changed or confirmed */
};

static const char *const model_res_status_names[MODEL_RES_NSTATUS] = {
	"pending",   "accepted", "rejected",  "timeout", "canceled",
	"rescinded", "wrapping", "completed", "failed",
};

const char *
model_res_status_name(int status)
{
	return status >= 0 && status < MODEL_RES_NSTATUS ? model_res_status_names[status] : "?";
}

static int64_t
model_real_now_ms(void *arg)
{
	return date_now_ms();
}

int64_t
model_now(const struct model *m)
{
	return m->now_ms(m->clock_arg);
}

static void
model_fifo_init(struct model_fifo *f, size_t cap)
{
	size_t n = 1;

	while (n < 2 * cap)
		n <<= 1;
	f->slots = xcalloc(cap, sizeof(*f->slots));
	f->index = xcalloc(n, sizeof(*f->index));
	f->mask = n - 1;
	f->cap = cap;
	f->head = 0;
	f->count = 0;
}

static void
model_fifo_clear(struct model_fifo *f)
{
	/* Entries only ever fill slots 0..count-1 (none leaves but the oldest when full):
	 * the slots past them were never touched and stay untouched. */
	for (size_t i = 0; i < f->count; i++)
		free(f->slots[i].long_key);
	free(f->slots);
	free(f->index);
}

static const char *
model_fifo_key(const struct model_fifo_slot *sl)
{
	return sl->long_key != NULL ? sl->long_key : sl->key;
}

/* The bucket holding key, or the empty bucket where it would go. */
static size_t
model_fifo_find(const struct model_fifo *f, const char *key, uint64_t hash)
{
	size_t b;

	for (b = (size_t)hash & f->mask; f->index[b] != 0; b = (b + 1) & f->mask) {
		const struct model_fifo_slot *sl = &f->slots[f->index[b] - 1];

		if (sl->hash == hash && strcmp(model_fifo_key(sl), key) == 0)
			break;
	}
	return b;
}

static bool
model_fifo_has(const struct model_fifo *f, const char *key)
{
	return f->index[model_fifo_find(f, key, hmap_hash(key))] != 0;
}

/*
 * Empties bucket b and moves later entries of its probe run back, so no
 * lookup ever passes a hole (linear probing needs no tombstones this way).
 */
static void
model_fifo_unindex(struct model_fifo *f, size_t b)
{
	size_t j = b;

	for (;;) {
		size_t home;

		f->index[b] = 0;
		for (;;) {
			j = (j + 1) & f->mask;
			if (f->index[j] == 0)
				return;
			home = (size_t)f->slots[f->index[j] - 1].hash & f->mask;
			/* j's entry may fill the hole at b unless its home lies in (b, j] */
			if (b <= j ? (home <= b || home > j) : (home <= b && home > j))
				break;
		}
		f->index[b] = f->index[j];
		b = j;
	}
}

/* Adds key, evicting the oldest when full. */
static void
model_fifo_add(struct model_fifo *f, const char *key)
{
	struct model_fifo_slot *sl = &f->slots[f->head];
	uint64_t hash = hmap_hash(key);
	size_t len = strlen(key);
	size_t b = model_fifo_find(f, key, hash);

	if (f->index[b] != 0)
		return;
	if (f->count == f->cap) {
		model_fifo_unindex(f, model_fifo_find(f, model_fifo_key(sl), sl->hash));
		free(sl->long_key);
		sl->long_key = NULL;
		f->count--;
		b = model_fifo_find(f, key, hash); /* the unindexing moved entries */
	}
	if (len < sizeof(sl->key)) {
		memcpy(sl->key, key, len + 1);
	} else {
		sl->key[0] = '\0';
		sl->long_key = xstrdup(key);
	}
	sl->hash = hash;
	f->index[b] = (uint32_t)(f->head + 1);
	f->head = (f->head + 1) % f->cap;
	f->count++;
}

static void
model_set_str(char **dst, const char *src)
{
	if (src == NULL)
		return;
	if (*dst != NULL && strcmp(*dst, src) == 0)
		return;
	free(*dst);
	*dst = xstrdup(src);
}

static void
model_set_sid(char dst[SID_LEN + 1], const char *src)
{
	if (src == NULL)
		return;
	memcpy(dst, src, SID_LEN);
	dst[SID_LEN] = '\0';
}

static void
model_flush(struct model *m)
{
	for (size_t i = 0; i < m->npending; i++) {
		struct model_change c = {
			.kind = m->pending[i].kind,
			.sid = m->pending[i].sid,
			.seq = 0,
		};

		if (m->listener != NULL)
			m->listener(&c, m->listener_arg);
	}
	m->npending = 0;
}

static void
model_note(struct model *m, enum model_change_kind kind, const char *sid)
{
	struct model_change_rec *rec;

	for (size_t i = 0; i < m->npending; i++) {
		if (m->pending[i].kind == kind &&
		    strcmp(m->pending[i].sid, sid != NULL ? sid : "") == 0)
			return;
	}
	if (m->npending == MODEL_MAX_PENDING)
		model_flush(m); /* only sweeps note this many; their state is whole between items */
	rec = &m->pending[m->npending++];
	rec->kind = kind;
	rec->sid[0] = '\0';
	if (sid != NULL) {
		strncpy(rec->sid, sid, SID_LEN);
		rec->sid[SID_LEN] = '\0';
	}
}

static void
model_emit(struct model *m, enum model_change_kind kind, const char *sid, uint64_t seq)
{
	struct model_change c = { .kind = kind, .sid = sid, .seq = seq };

	if (m->listener != NULL)
		m->listener(&c, m->listener_arg);
}

/* True when an event (ev_version, ev_ts) is older than the state (version, ts). */
static bool
model_is_older(int64_t version, int64_t ts, int64_t ev_version, int64_t ev_ts)
{
	if (version >= 0 && ev_version >= 0)
		return ev_version < version;
	return ev_ts < ts;
}

static int64_t
model_day_of(struct model *m, int64_t ts)
{
	int64_t ds;

	if (ts >= m->day_lo && ts < m->day_hi)
		return m->day_lo;
	ds = tz_day_start_ms(m->zone, m->day_start_minutes, ts);
	if (ds >= m->day_lo) {
		m->day_lo = ds;
		m->day_hi = tz_day_start_ms(m->zone, m->day_start_minutes, ds + MODEL_DAY_SPAN_MS);
	}
	return ds;
}

/* The worker's counters for the day of ts, or NULL when ts belongs to an earlier day. */
static struct model_counters *
model_counters_for(struct model *m, struct model_worker *w, int64_t ts)
{
	int64_t day = model_day_of(m, ts);

	if (day < w->day.day_start_ms)
		return NULL;
	if (day > w->day.day_start_ms) {
		memset(&w->day, 0, sizeof(w->day));
		w->day.day_start_ms = day;
	}
	return &w->day;
}

/* ------------------------------------------------------------------ */
/* queues */

static struct model_queue *
model_queue_get_or_add(struct model *m, const char *sid, const char *name)
{
	struct model_queue *q = hmap_get(m->queues, sid);

	if (q == NULL) {
		q = xcalloc(1, sizeof(*q));
		model_set_sid(q->sid, sid);
		(void)hmap_put(m->queues, q->sid, q);
		model_note(m, MODEL_CHANGE_QUEUE, sid);
	}
	if (name != NULL && (q->name == NULL || strcmp(q->name, name) != 0)) {
		model_set_str(&q->name, name);
		model_note(m, MODEL_CHANGE_QUEUE, sid);
	}
	q->seen_gen = m->gen;
	return q;
}

/* Moves the task's contribution to per-queue counts (delta -1 removes, +1 adds). */
static void
model_queue_count(struct model *m, const struct model_task *t, int delta)
{
	struct model_queue *q;

	if (t->queue_sid[0] == '\0' || t->status >= TASK_STATUS_COUNT)
		return;
	q = hmap_get(m->queues, t->queue_sid);
	if (q == NULL)
		return;
	if (delta < 0 && q->tasks[t->status] > 0)
		q->tasks[t->status]--;
	else if (delta > 0)
		q->tasks[t->status]++;
}

static void
model_queue_free(struct model_queue *q)
{
	if (q == NULL)
		return;
	free(q->name);
	free(q->target_workers);
	free(q);
}

/* ------------------------------------------------------------------ */
/* reservations */

static void
model_res_link_worker(struct model *m, struct model_res *r)
{
	struct model_worker *w = hmap_get(m->workers, r->worker_sid);

	if (w == NULL || r->worker == w)
		return;
	r->worker = w;
	r->wprev = NULL;
	r->wnext = w->res;
	if (w->res != NULL)
		w->res->wprev = r;
	w->res = r;
}

static void
model_res_unlink_worker(struct model_res *r)
{
	if (r->worker == NULL)
		return;
	if (r->wprev != NULL)
		r->wprev->wnext = r->wnext;
	else
		r->worker->res = r->wnext;
	if (r->wnext != NULL)
		r->wnext->wprev = r->wprev;
	r->worker = NULL;
	r->wprev = NULL;
	r->wnext = NULL;
}

/* Detaches r from its task, its worker and the map, and frees it. */
static void
model_res_destroy(struct model *m, struct model_res *r, bool tombstone)
{
	struct model_res **pp;

	if (r->task != NULL) {
		for (pp = &r->task->res; *pp != NULL; pp = &(*pp)->task_next) {
			if (*pp == r) {
				*pp = r->task_next;
				break;
			}
		}
	}
	model_res_unlink_worker(r);
	(void)hmap_remove(m->res, r->sid);
	if (tombstone)
		model_fifo_add(&m->tombs, r->sid);
	free(r);
}

static bool
model_res_is_terminal(int status)
{
	switch ((enum model_res_status)status) {
	case MODEL_RES_PENDING:
	case MODEL_RES_ACCEPTED:
	case MODEL_RES_WRAPPING:
		return false;
	case MODEL_RES_REJECTED:
	case MODEL_RES_TIMEOUT:
	case MODEL_RES_CANCELED:
	case MODEL_RES_RESCINDED:
	case MODEL_RES_COMPLETED:
	case MODEL_RES_FAILED:
	case MODEL_RES_NSTATUS:
		return true;
	}
	return true;
}

/* Counts the transitions status implies that were not counted yet; ts dates them. */
static void
model_res_count(struct model *m, struct model_res *r, int status, int64_t ts)
{
	struct model_worker *w = hmap_get(m->workers, r->worker_sid);
	struct model_counters *c;
	unsigned want = MODEL_COUNTED_OFFERED;

	switch ((enum model_res_status)status) {
	case MODEL_RES_ACCEPTED:
	case MODEL_RES_WRAPPING:
		want |= MODEL_COUNTED_ACCEPTED;
		break;
	case MODEL_RES_COMPLETED:
		want |= MODEL_COUNTED_ACCEPTED | MODEL_COUNTED_HANDLED;
		break;
	case MODEL_RES_REJECTED:
		want |= MODEL_COUNTED_REJECTED;
		break;
	case MODEL_RES_TIMEOUT:
		want |= MODEL_COUNTED_TIMEOUT;
		break;
	case MODEL_RES_PENDING:
	case MODEL_RES_CANCELED:
	case MODEL_RES_RESCINDED:
	case MODEL_RES_FAILED:
	case MODEL_RES_NSTATUS:
		break;
	}
	want &= ~(unsigned)r->counted;
	if (want & MODEL_COUNTED_ACCEPTED && r->accepted_ms < 0 && status == MODEL_RES_ACCEPTED)
		r->accepted_ms = ts;
	r->counted |= (uint8_t)want;
	if (want == 0 || w == NULL)
		return;
	c = model_counters_for(m, w, ts);
	if (c == NULL)
		return;
	if (want & MODEL_COUNTED_OFFERED)
		c->offered++;
	if (want & MODEL_COUNTED_ACCEPTED)
		c->accepted++;
	if (want & MODEL_COUNTED_REJECTED)
		c->rejected++;
	if (want & MODEL_COUNTED_TIMEOUT)
		c->timed_out++;
	if (want & MODEL_COUNTED_HANDLED) {
		c->handled++;
		if (r->accepted_ms >= 0 && ts >= r->accepted_ms) {
			c->handle_samples++;
			c->handle_ms_total += ts - r->accepted_ms;
		}
	}
}

/* ------------------------------------------------------------------ */
/* tasks */

static bool
model_task_is_terminal(int status)
{
	return status == TASK_STATUS_COMPLETED || status == TASK_STATUS_CANCELED;
}

static void
model_task_set_conference(struct model *m, struct model_task *t, const char *cf)
{
	if (strcmp(t->conference_sid, cf != NULL ? cf : "") == 0)
		return;
	if (t->conference_sid[0] != '\0' && hmap_get(m->conferences, t->conference_sid) == t)
		(void)hmap_remove(m->conferences, t->conference_sid);
	t->conference_sid[0] = '\0';
	if (cf != NULL) {
		model_set_sid(t->conference_sid, cf);
		(void)hmap_put(m->conferences, t->conference_sid, t);
	}
}

/* Finds attributes.conference.sid; parses only attributes that mention a conference. */
static void
model_task_scan_conference(struct model *m, struct model_task *t)
{
	static const struct json_limits limits = { .max_bytes = 65536, .max_depth = 16 };
	struct json_doc *doc = NULL;
	const char *cf = NULL;

	if (t->attributes == NULL || strstr(t->attributes, "\"conference\"") == NULL) {
		model_task_set_conference(m, t, NULL);
		return;
	}
	if (json_parse(t->attributes, strlen(t->attributes), &limits, &doc, NULL) == 0)
		cf = json_string(json_path(json_doc_root(doc), "conference", "sid"));
	model_task_set_conference(m, t, cf != NULL && sid_is_valid(cf, "CF") ? cf : NULL);
	json_doc_free(doc);
}

static void
model_task_set_attributes(struct model *m, struct model_task *t, const char *attributes)
{
	if (attributes == NULL || (t->attributes != NULL && strcmp(t->attributes, attributes) == 0))
		return;
	model_set_str(&t->attributes, attributes);
	model_task_scan_conference(m, t);
}

static struct model_task *
model_task_add(struct model *m, const char *sid)
{
	struct model_task *t = xcalloc(1, sizeof(*t));

	model_set_sid(t->sid, sid);
	t->status = TASK_STATUS_PENDING;
	t->priority = 0;
	t->created_ms = -1;
	t->queue_entered_ms = -1;
	t->ts_ms = INT64_MIN;
	t->version = -1;
	(void)hmap_put(m->tasks, t->sid, t);
	return t;
}

static void
model_task_set_status(struct model *m, struct model_task *t, int status)
{
	if (status < 0 || status == t->status)
		return;
	model_queue_count(m, t, -1);
	t->status = (uint8_t)status;
	model_queue_count(m, t, +1);
}

static void
model_task_set_queue(struct model *m, struct model_task *t, const char *queue_sid,
		     const char *queue_name)
{
	if (queue_sid == NULL)
		return;
	(void)model_queue_get_or_add(m, queue_sid, queue_name);
	if (strcmp(t->queue_sid, queue_sid) == 0)
		return;
	model_queue_count(m, t, -1);
	model_set_sid(t->queue_sid, queue_sid);
	model_queue_count(m, t, +1);
}

/*
 * Removes a task that finished (status completed/canceled, counted as
 * handled for accepted reservations when completed at ts) or vanished.
 */
static void
model_task_destroy(struct model *m, struct model_task *t, int final_status, int64_t ts,
		   bool tombstone)
{
	while (t->res != NULL) {
		struct model_res *r = t->res;

		if (final_status == TASK_STATUS_COMPLETED && (r->counted & MODEL_COUNTED_ACCEPTED))
			model_res_count(m, r, MODEL_RES_COMPLETED, ts);
		model_res_destroy(m, r, tombstone);
	}
	model_queue_count(m, t, -1);
	model_task_set_conference(m, t, NULL);
	model_note(m, MODEL_CHANGE_TASK_GONE, t->sid);
	(void)hmap_remove(m->tasks, t->sid);
	if (tombstone)
		model_fifo_add(&m->tombs, t->sid);
	free(t->channel);
	free(t->attributes);
	free(t);
}

/* ------------------------------------------------------------------ */
/* workers and activities */

static struct model_worker *
model_worker_add(struct model *m, const char *sid)
{
	struct model_worker *w = xcalloc(1, sizeof(*w));

	model_set_sid(w->sid, sid);
	w->ts_ms = INT64_MIN;
	w->version = -1;
	w->activity_since_ms = -1;
	w->day.day_start_ms = INT64_MIN;
	(void)hmap_put(m->workers, w->sid, w);
	return w;
}

static void
model_worker_set_name(struct model *m, struct model_worker *w, const char *name)
{
	if (name == NULL || (w->name != NULL && strcmp(w->name, name) == 0))
		return;
	if (w->name != NULL && hmap_get(m->workers_by_name, w->name) == w)
		(void)hmap_remove(m->workers_by_name, w->name);
	model_set_str(&w->name, name);
	(void)hmap_put(m->workers_by_name, w->name, w);
}

static void
model_worker_set_activity(struct model *m, struct model_worker *w, const char *sid,
			  const char *name, int64_t since_ms)
{
	const struct model_activity *a;

	if (sid == NULL)
		return;
	if (strcmp(w->activity_sid, sid) != 0) {
		model_set_sid(w->activity_sid, sid);
		w->activity_since_ms = since_ms;
	} else if (w->activity_since_ms < 0) {
		w->activity_since_ms = since_ms;
	}
	a = hmap_get(m->activities, sid);
	if (name == NULL && a != NULL)
		name = a->name;
	model_set_str(&w->activity_name, name);
	if (a != NULL)
		w->available = a->available;
}

static void
model_worker_destroy(struct model *m, struct model_worker *w, bool tombstone)
{
	while (w->res != NULL)
		model_res_unlink_worker(w->res);
	if (w->name != NULL && hmap_get(m->workers_by_name, w->name) == w)
		(void)hmap_remove(m->workers_by_name, w->name);
	model_note(m, MODEL_CHANGE_WORKER_GONE, w->sid);
	(void)hmap_remove(m->workers, w->sid);
	if (tombstone)
		model_fifo_add(&m->tombs, w->sid);
	free(w->name);
	free(w->activity_name);
	free(w->attributes);
	free(w);
}

static void
model_activity_free(struct model_activity *a)
{
	if (a == NULL)
		return;
	free(a->name);
	free(a);
}

/* ------------------------------------------------------------------ */
/* lifecycle */

struct model *
model_new(const struct model_options *options)
{
	struct model *m = xcalloc(1, sizeof(*m));
	char *cause = NULL;

	m->tasks = hmap_new();
	m->res = hmap_new();
	m->workers = hmap_new();
	m->workers_by_name = hmap_new();
	m->activities = hmap_new();
	m->queues = hmap_new();
	m->workflow_timeouts = hmap_new();
	m->conferences = hmap_new();
	model_fifo_init(&m->tombs, MODEL_TOMBSTONES);
	model_fifo_init(&m->seen_events, MODEL_DEDUPE);
	m->ring_size = options != NULL && options->event_ring_size > 0 ? options->event_ring_size
								       : MODEL_DEFAULT_RING;
	m->ring = xcalloc(m->ring_size, sizeof(*m->ring));
	m->recordings_max = options != NULL && options->recordings_max > 0
				    ? options->recordings_max
				    : MODEL_DEFAULT_RECORDINGS;
	m->recording_order = xcalloc(m->recordings_max, sizeof(*m->recording_order));
	m->recordings = hmap_new();
	m->next_seq = 1;
	m->oldest_seq = 1;
	m->now_ms =
		options != NULL && options->now_ms != NULL ? options->now_ms : model_real_now_ms;
	m->clock_arg = options != NULL ? options->clock_arg : NULL;
	m->day_start_minutes = options != NULL ? options->day_start_minutes : 0;
	if (m->day_start_minutes < 0 || m->day_start_minutes >= 24 * 60)
		m->day_start_minutes = 0;
	if (tz_zone_load(options != NULL ? options->zoneinfo_dir : NULL,
			 options != NULL ? options->timezone : NULL, &m->zone, &cause) != 0) {
		log_warning("model: time zone %s unusable (%s), using UTC for the day boundary",
			    options->timezone, cause != NULL ? cause : "?");
		free(cause);
		m->zone = tz_zone_utc();
	}
	m->day_lo = INT64_MIN;
	m->day_hi = INT64_MIN;
	return m;
}

void
model_free(struct model *m)
{
	void *v = NULL;
	size_t pos = 0;

	if (m == NULL)
		return;
	m->listener = NULL;
	while (hmap_next(m->tasks, &pos, NULL, &v))
		model_task_destroy(m, v, -1, 0, false);
	pos = 0;
	while (hmap_next(m->workers, &pos, NULL, &v))
		model_worker_destroy(m, v, false);
	pos = 0;
	while (hmap_next(m->activities, &pos, NULL, &v))
		model_activity_free(v);
	pos = 0;
	while (hmap_next(m->queues, &pos, NULL, &v))
		model_queue_free(v);
	for (size_t i = 0; i < m->ring_size; i++)
		free(m->ring[i].fields);
	free(m->ring);
	for (size_t i = 0; i < m->recording_count; i++) {
		char *sid = m->recording_order[(m->recording_head + i) % m->recordings_max];

		free(hmap_remove(m->recordings, sid));
		free(sid);
	}
	hmap_free(m->recordings);
	free(m->recording_order);
	hmap_free(m->tasks);
	hmap_free(m->res);
	hmap_free(m->workers);
	hmap_free(m->workers_by_name);
	hmap_free(m->activities);
	hmap_free(m->queues);
	hmap_free(m->workflow_timeouts); /* values are numbers, not pointers */
	hmap_free(m->conferences);
	model_fifo_clear(&m->tombs);
	model_fifo_clear(&m->seen_events);
	tz_zone_free(m->zone);
	free(m->workspace_name);
	free(m);
}

void
model_set_listener(struct model *m, model_listener_cb *cb, void *arg)
{
	m->listener = cb;
	m->listener_arg = arg;
}

/* ------------------------------------------------------------------ */
/* event types and reservation states */

static int
model_res_status_parse(const char *s)
{
	if (s == NULL)
		return -1;
	for (int i = 0; i < MODEL_RES_NSTATUS; i++) {
		if (strcmp(s, model_res_status_names[i]) == 0)
			return i;
	}
	return -1;
}

/* Reservation status an event type implies, -1 for types that do not change it. */
static int
model_res_status_for_action(const char *action)
{
	static const struct {
		const char *action;
		enum model_res_status status;
	} map[] = {
		{ "created", MODEL_RES_PENDING },     { "accepted", MODEL_RES_ACCEPTED },
		{ "rejected", MODEL_RES_REJECTED },   { "timeout", MODEL_RES_TIMEOUT },
		{ "canceled", MODEL_RES_CANCELED },   { "rescinded", MODEL_RES_RESCINDED },
		{ "completed", MODEL_RES_COMPLETED }, { "failed", MODEL_RES_FAILED },
		{ "wrapup", MODEL_RES_WRAPPING },
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		if (strcmp(action, map[i].action) == 0)
			return (int)map[i].status;
	}
	return -1;
}

static bool
model_has_prefix(const char *s, const char *prefix, const char **rest_out)
{
	size_t n = strlen(prefix);

	if (strncmp(s, prefix, n) != 0)
		return false;
	*rest_out = s + n;
	return true;
}

/* ------------------------------------------------------------------ */
/* applying the parts of an event */

static void
model_stamp(int64_t *ts, int64_t *version, int64_t ev_ts, int64_t ev_version)
{
	if (ev_ts > *ts)
		*ts = ev_ts;
	if (ev_version > *version)
		*version = ev_version;
}

/*
 * The task part. final_status is a terminal status the event type implies
 * (completed, canceled), -2 for deletion, or -1.
 */
static enum model_part
model_apply_task(struct model *m, const struct tr_event *ev, int status, int final_status,
		 bool entered_queue)
{
	struct model_task *t;
	bool ends;

	if (ev->task_sid == NULL)
		return MODEL_PART_NONE;
	if (model_fifo_has(&m->tombs, ev->task_sid))
		return MODEL_PART_STALE;
	if (status < 0)
		status = ev->task_status;
	if (final_status == -1 && model_task_is_terminal(status))
		final_status = status;
	ends = final_status != -1;
	t = hmap_get(m->tasks, ev->task_sid);
	if (t != NULL && !ends && model_is_older(t->version, t->ts_ms, ev->task_version, ev->ts_ms))
		return MODEL_PART_STALE;
	if (t == NULL) {
		t = model_task_add(m, ev->task_sid);
		model_queue_count(m, t, +1);
	}
	t->seen_gen = m->gen;
	t->event_gen = m->gen;
	model_stamp(&t->ts_ms, &t->version, ev->ts_ms, ev->task_version);
	if (ev->task_created_ms >= 0)
		t->created_ms = ev->task_created_ms;
	else if (t->created_ms < 0 && strcmp(ev->type, "task.created") == 0)
		t->created_ms = ev->ts_ms;
	if (ev->has_priority)
		t->priority = ev->task_priority;
	model_set_sid(t->workflow_sid, ev->workflow_sid);
	model_set_str(&t->channel, ev->channel);
	model_task_set_attributes(m, t, ev->task_attributes);
	if (ev->queue_sid != NULL) {
		if (entered_queue || (t->queue_entered_ms < 0 && t->queue_sid[0] == '\0') ||
		    strcmp(t->queue_sid, ev->queue_sid) != 0)
			t->queue_entered_ms = ev->ts_ms;
		model_task_set_queue(m, t, ev->queue_sid, ev->queue_name);
	}
	if (ends) {
		model_task_destroy(m, t, final_status, ev->ts_ms, true);
		return MODEL_PART_APPLIED;
	}
	model_task_set_status(m, t, status);
	model_note(m, MODEL_CHANGE_TASK, t->sid);
	return MODEL_PART_APPLIED;
}

/* Lifecycle rank: a reservation never moves back (pending < accepted < wrapping < ended). */
int
model_res_rank(int status)
{
	switch ((enum model_res_status)status) {
	case MODEL_RES_PENDING:
		return 0;
	case MODEL_RES_ACCEPTED:
		return 1;
	case MODEL_RES_WRAPPING:
		return 2;
	case MODEL_RES_REJECTED:
	case MODEL_RES_TIMEOUT:
	case MODEL_RES_CANCELED:
	case MODEL_RES_RESCINDED:
	case MODEL_RES_COMPLETED:
	case MODEL_RES_FAILED:
	case MODEL_RES_NSTATUS:
		return 3;
	}
	return 3;
}

static enum model_part
model_apply_res(struct model *m, const char *res_sid, const char *task_sid, const char *worker_sid,
		int status, int64_t ts, int64_t version, bool from_event)
{
	struct model_res *r;
	struct model_task *t;
	bool terminal = model_res_is_terminal(status);

	if (res_sid == NULL || status < 0)
		return MODEL_PART_NONE;
	if (model_fifo_has(&m->tombs, res_sid))
		return MODEL_PART_STALE;
	r = hmap_get(m->res, res_sid);
	if (r != NULL && !terminal &&
	    (model_is_older(r->version, r->ts_ms, version, ts) ||
	     model_res_rank(status) < model_res_rank(r->status)))
		return MODEL_PART_STALE;
	if (r == NULL) {
		t = task_sid != NULL ? hmap_get(m->tasks, task_sid) : NULL;
		if (t == NULL)
			return MODEL_PART_STALE; /* its task ended (or never was open) */
		r = xcalloc(1, sizeof(*r));
		model_set_sid(r->sid, res_sid);
		model_set_sid(r->worker_sid, worker_sid);
		r->task = t;
		r->task_next = t->res;
		t->res = r;
		r->status = MODEL_RES_PENDING;
		r->ts_ms = INT64_MIN;
		r->version = -1;
		r->accepted_ms = -1;
		(void)hmap_put(m->res, r->sid, r);
		model_res_link_worker(m, r);
	}
	r->seen_gen = m->gen;
	if (from_event)
		r->event_gen = m->gen;
	model_stamp(&r->ts_ms, &r->version, ts, version);
	model_res_count(m, r, status, ts);
	model_note(m, MODEL_CHANGE_RESERVATION, r->sid);
	if (r->worker != NULL)
		model_note(m, MODEL_CHANGE_WORKER, r->worker->sid);
	if (terminal) {
		model_note(m, MODEL_CHANGE_TASK, r->task->sid);
		model_res_destroy(m, r, true);
	} else {
		r->status = (uint8_t)status;
	}
	return MODEL_PART_APPLIED;
}

static enum model_part
model_apply_worker(struct model *m, const struct tr_event *ev, bool deleted)
{
	struct model_worker *w;

	if (ev->worker_sid == NULL)
		return MODEL_PART_NONE;
	if (model_fifo_has(&m->tombs, ev->worker_sid))
		return MODEL_PART_STALE;
	w = hmap_get(m->workers, ev->worker_sid);
	if (deleted) {
		if (w != NULL)
			model_worker_destroy(m, w, true);
		else
			model_fifo_add(&m->tombs, ev->worker_sid);
		return MODEL_PART_APPLIED;
	}
	if (w != NULL && model_is_older(w->version, w->ts_ms, ev->worker_version, ev->ts_ms))
		return MODEL_PART_STALE;
	if (w == NULL)
		w = model_worker_add(m, ev->worker_sid);
	w->seen_gen = m->gen;
	w->event_gen = m->gen;
	model_stamp(&w->ts_ms, &w->version, ev->ts_ms, ev->worker_version);
	model_worker_set_name(m, w, ev->worker_name);
	model_set_str(&w->attributes, ev->worker_attributes);
	model_worker_set_activity(m, w, ev->worker_activity_sid, ev->worker_activity_name,
				  ev->ts_ms);
	model_note(m, MODEL_CHANGE_WORKER, w->sid);
	return MODEL_PART_APPLIED;
}

static enum model_part
model_apply_activity(struct model *m, const struct tr_event *ev, bool deleted)
{
	struct model_activity *a = hmap_get(m->activities, ev->activity_sid);

	if (deleted) {
		if (a != NULL) {
			(void)hmap_remove(m->activities, a->sid);
			model_activity_free(a);
		}
		model_note(m, MODEL_CHANGE_ACTIVITY, ev->activity_sid);
		return MODEL_PART_APPLIED;
	}
	if (a != NULL && ev->ts_ms < a->ts_ms)
		return MODEL_PART_STALE;
	if (a == NULL) {
		a = xcalloc(1, sizeof(*a));
		model_set_sid(a->sid, ev->activity_sid);
		(void)hmap_put(m->activities, a->sid, a);
	}
	a->ts_ms = ev->ts_ms;
	a->seen_gen = m->gen;
	a->event_gen = m->gen;
	model_set_str(&a->name, ev->activity_name);
	if (ev->activity_available != NULL)
		a->available = strcmp(ev->activity_available, "true") == 0 ||
			       strcmp(ev->activity_available, "1") == 0;
	model_note(m, MODEL_CHANGE_ACTIVITY, a->sid);
	return MODEL_PART_APPLIED;
}

static void
model_queue_destroy(struct model *m, struct model_queue *q)
{
	(void)hmap_remove(m->queues, q->sid);
	model_queue_free(q);
}

static enum model_part
model_apply_queue(struct model *m, const struct tr_event *ev, bool deleted)
{
	struct model_queue *q = hmap_get(m->queues, ev->queue_sid);

	if (deleted) {
		if (q != NULL)
			model_queue_destroy(m, q);
		model_note(m, MODEL_CHANGE_QUEUE, ev->queue_sid);
		return MODEL_PART_APPLIED;
	}
	if (q != NULL && ev->ts_ms < q->ts_ms)
		return MODEL_PART_STALE;
	q = model_queue_get_or_add(m, ev->queue_sid, ev->queue_name);
	q->ts_ms = ev->ts_ms;
	q->event_gen = m->gen;
	model_set_str(&q->target_workers, ev->queue_expr);
	model_note(m, MODEL_CHANGE_QUEUE, q->sid);
	return MODEL_PART_APPLIED;
}

static enum model_part
model_apply_workspace(struct model *m, const struct tr_event *ev)
{
	model_set_sid(m->workspace_sid, ev->workspace_sid);
	model_set_str(&m->workspace_name, ev->workspace_name);
	model_note(m, MODEL_CHANGE_WORKSPACE, m->workspace_sid);
	return MODEL_PART_APPLIED;
}

static enum model_part
model_merge(enum model_part a, enum model_part b)
{
	return a > b ? a : b;
}

static enum model_part
model_apply_parts(struct model *m, const struct tr_event *ev)
{
	const char *act = NULL;
	enum model_part p = MODEL_PART_NONE;

	if (model_has_prefix(ev->type, "task.", &act)) {
		if (strcmp(act, "completed") == 0)
			return model_apply_task(m, ev, -1, TASK_STATUS_COMPLETED, false);
		if (strcmp(act, "canceled") == 0)
			return model_apply_task(m, ev, -1, TASK_STATUS_CANCELED, false);
		if (strcmp(act, "deleted") == 0 || strcmp(act, "system-deleted") == 0)
			return model_apply_task(m, ev, -1, -2, false);
		if (strcmp(act, "wrapup") == 0)
			return model_apply_task(m, ev, TASK_STATUS_WRAPPING, -1, false);
		return model_apply_task(m, ev, -1, -1, false);
	}
	if (model_has_prefix(ev->type, "reservation.", &act)) {
		int status = model_res_status_for_action(act);
		int task_status = -1;

		if (status < 0)
			return MODEL_PART_NONE;
		/* Without TaskAssignmentStatus, the states these events imply for the task. */
		if (ev->task_status < 0 && status == MODEL_RES_PENDING)
			task_status = TASK_STATUS_RESERVED;
		else if (ev->task_status < 0 && status == MODEL_RES_ACCEPTED)
			task_status = TASK_STATUS_ASSIGNED;
		else if (ev->task_status < 0 && status == MODEL_RES_WRAPPING)
			task_status = TASK_STATUS_WRAPPING;
		p = model_apply_worker(m, ev, false);
		p = model_merge(p, model_apply_task(m, ev, task_status, -1, false));
		return model_merge(p, model_apply_res(m, ev->res_sid, ev->task_sid, ev->worker_sid,
						      status, ev->ts_ms, ev->res_version, true));
	}
	if (model_has_prefix(ev->type, "worker.", &act))
		return model_apply_worker(m, ev, strcmp(act, "deleted") == 0);
	if (model_has_prefix(ev->type, "activity.", &act))
		return model_apply_activity(m, ev, strcmp(act, "deleted") == 0);
	if (model_has_prefix(ev->type, "task-queue.", &act)) {
		if (strcmp(act, "created") == 0 || strcmp(act, "expression.updated") == 0)
			return model_apply_queue(m, ev, false);
		if (strcmp(act, "deleted") == 0)
			return model_apply_queue(m, ev, true);
		return model_apply_task(m, ev, -1, -1,
					strcmp(act, "entered") == 0 || strcmp(act, "moved") == 0);
	}
	if (model_has_prefix(ev->type, "workflow.", &act))
		return model_apply_task(m, ev, -1, -1, false);
	if (model_has_prefix(ev->type, "workspace.", &act))
		return model_apply_workspace(m, ev);
	return MODEL_PART_NONE;
}

/* Copies the event's fields into ring slot seq. */
static uint64_t
model_ring_push(struct model *m, const struct tr_event *ev)
{
	uint64_t seq = m->next_seq++;
	struct model_event *e = &m->ring[(seq - 1) % m->ring_size];
	size_t total = 0;
	char *p;

	if (e->seq != 0)
		m->oldest_seq = e->seq + 1;
	for (size_t i = 0; i < 2 * ev->nfields; i++)
		total += strlen(ev->fields[i]) + 1;
	if (total > e->fields_size || e->fields == NULL) {
		free(e->fields);
		e->fields_size = total > 0 ? total : 1;
		e->fields = xmalloc(e->fields_size);
	}
	p = e->fields;
	for (size_t i = 0; i < 2 * ev->nfields; i++)
		p = stpcpy(p, ev->fields[i]) + 1;
	e->nfields = ev->nfields;
	e->seq = seq;
	return seq;
}

int
model_apply_event(struct model *m, const struct tr_event *ev)
{
	enum model_part p;
	char key[320];
	uint64_t seq;

	if (ev->id != NULL)
		(void)snprintf(key, sizeof(key), "%s", ev->id);
	else
		(void)snprintf(key, sizeof(key), "%s|%.40s|%s|%s|%s|%s|%" PRId64, ev->type,
			       ev->resource_sid != NULL ? ev->resource_sid : "",
			       ev->task_sid != NULL ? ev->task_sid : "",
			       ev->res_sid != NULL ? ev->res_sid : "",
			       ev->worker_sid != NULL ? ev->worker_sid : "",
			       ev->activity_sid != NULL ? ev->activity_sid
			       : ev->queue_sid != NULL	? ev->queue_sid
							: "",
			       ev->ts_ms);
	if (model_fifo_has(&m->seen_events, key))
		return MODEL_STALE_EVENT;
	if (ev->workspace_sid != NULL && m->workspace_sid[0] == '\0')
		model_set_sid(m->workspace_sid, ev->workspace_sid);

	p = model_apply_parts(m, ev);
	if (p == MODEL_PART_STALE) {
		m->npending = 0;
		log_trace(LOG_TRACE_MODEL, "model: stale %s for %s at %" PRId64, ev->type,
			  ev->resource_sid != NULL ? ev->resource_sid : "-", ev->ts_ms);
		return MODEL_STALE_EVENT;
	}
	model_fifo_add(&m->seen_events, key);
	seq = model_ring_push(m, ev);
	model_flush(m);
	model_emit(m, MODEL_CHANGE_EVENT, ev->resource_sid, seq);
	return p == MODEL_PART_APPLIED ? MODEL_APPLIED : MODEL_IGNORED;
}

/* ------------------------------------------------------------------ */
/* recordings */

int
model_set_recording(struct model *m, const char *task_sid, const char *url)
{
	char *old = hmap_get(m->recordings, task_sid);
	size_t tail;

	if (old != NULL && strcmp(old, url) == 0)
		return MODEL_STALE_EVENT;
	if (old != NULL) {
		free(hmap_put(m->recordings, task_sid, xstrdup(url)));
	} else {
		if (m->recording_count == m->recordings_max) {
			char *oldest = m->recording_order[m->recording_head];

			free(hmap_remove(m->recordings, oldest));
			free(oldest);
			m->recording_head = (m->recording_head + 1) % m->recordings_max;
			m->recording_count--;
		}
		tail = (m->recording_head + m->recording_count) % m->recordings_max;
		m->recording_order[tail] = xstrdup(task_sid);
		m->recording_count++;
		(void)hmap_put(m->recordings, task_sid,
			       xstrdup(url)); /* absent: replaces nothing */
	}
	if (hmap_get(m->tasks, task_sid) != NULL) {
		model_note(m, MODEL_CHANGE_TASK, task_sid);
		model_flush(m);
	}
	return MODEL_APPLIED;
}

const char *
model_task_recording_url(const struct model *m, const char *task_sid)
{
	return task_sid != NULL ? hmap_get(m->recordings, task_sid) : NULL;
}

/* ------------------------------------------------------------------ */
/* rebuild */

/* True when an event touched the resource since this rebuild began (it wins). */
static bool
model_event_won(const struct model *m, uint32_t event_gen)
{
	return m->rebuilding && event_gen == m->gen;
}

void
model_rebuild_begin(struct model *m)
{
	m->gen++;
	m->rebuilding = true;
}

int
model_upsert_workspace(struct model *m, const struct model_rest_workspace *workspace)
{
	const char *sid = workspace->sid;

	if (sid == NULL || !sid_is_valid(sid, "WS"))
		return -EINVAL;
	model_set_sid(m->workspace_sid, sid);
	model_set_str(&m->workspace_name, workspace->friendly_name);
	m->default_activity_sid[0] = '\0';
	m->timeout_activity_sid[0] = '\0';
	if (sid_is_valid(workspace->default_activity_sid, "WA"))
		model_set_sid(m->default_activity_sid, workspace->default_activity_sid);
	if (sid_is_valid(workspace->timeout_activity_sid, "WA"))
		model_set_sid(m->timeout_activity_sid, workspace->timeout_activity_sid);
	model_note(m, MODEL_CHANGE_WORKSPACE, m->workspace_sid);
	model_flush(m);
	return 0;
}

int
model_upsert_activity(struct model *m, const struct model_rest_activity *activity)
{
	const char *sid = activity->sid;
	struct model_activity *a;

	if (sid == NULL || !sid_is_valid(sid, "WA"))
		return -EINVAL;
	a = hmap_get(m->activities, sid);
	if (a != NULL && model_event_won(m, a->event_gen)) {
		a->seen_gen = m->gen;
		return 0;
	}
	if (a == NULL) {
		a = xcalloc(1, sizeof(*a));
		model_set_sid(a->sid, sid);
		(void)hmap_put(m->activities, a->sid, a);
	}
	a->seen_gen = m->gen;
	model_set_str(&a->name, activity->friendly_name);
	if (activity->available >= 0)
		a->available = activity->available != 0;
	model_note(m, MODEL_CHANGE_ACTIVITY, a->sid);
	model_flush(m);
	return 0;
}

int
model_upsert_queue(struct model *m, const struct model_rest_queue *queue)
{
	const char *sid = queue->sid;
	struct model_queue *q;

	if (sid == NULL || !sid_is_valid(sid, "WQ"))
		return -EINVAL;
	q = hmap_get(m->queues, sid);
	if (q != NULL && model_event_won(m, q->event_gen)) {
		q->seen_gen = m->gen;
		return 0;
	}
	q = model_queue_get_or_add(m, sid, queue->friendly_name);
	model_set_str(&q->target_workers, queue->target_workers);
	model_note(m, MODEL_CHANGE_QUEUE, q->sid);
	model_flush(m);
	return 0;
}

int
model_upsert_workflow(struct model *m, const struct model_rest_workflow *workflow)
{
	const char *sid = workflow->sid;
	int64_t timeout = workflow->task_reservation_timeout;

	if (sid == NULL || !sid_is_valid(sid, "WW") || timeout < 1 || timeout > 86400)
		return -EINVAL;
	(void)hmap_put(m->workflow_timeouts, sid, (void *)(intptr_t)timeout); /* a number */
	return 0;
}

/* The worker for sid, created as a placeholder (name only) when unknown. */
static struct model_worker *
model_worker_placeholder(struct model *m, const char *sid, const char *name)
{
	struct model_worker *w = hmap_get(m->workers, sid);

	if (w != NULL)
		return w;
	w = model_worker_add(m, sid);
	w->seen_gen = m->gen;
	model_worker_set_name(m, w, name);
	return w;
}

int
model_upsert_worker(struct model *m, const struct model_rest_worker *worker)
{
	const char *sid = worker->sid;
	const char *activity_sid = worker->activity_sid;
	struct model_worker *w;
	int64_t since;

	if (sid == NULL || !sid_is_valid(sid, "WK"))
		return -EINVAL;
	if (activity_sid != NULL && !sid_is_valid(activity_sid, "WA"))
		return -EINVAL;
	if (model_fifo_has(&m->tombs, sid))
		return 0;
	w = hmap_get(m->workers, sid);
	if (w != NULL && model_event_won(m, w->event_gen)) {
		w->seen_gen = m->gen;
		return 0;
	}
	if (w == NULL)
		w = model_worker_add(m, sid);
	w->seen_gen = m->gen;
	w->ts_ms = worker->updated_ms;
	w->version = -1;
	model_worker_set_name(m, w, worker->friendly_name);
	model_set_str(&w->attributes, worker->attributes);
	since = worker->status_changed_ms;
	model_worker_set_activity(m, w, activity_sid, worker->activity_name, since);
	if (since >= 0)
		w->activity_since_ms = since;
	if (worker->available >= 0)
		w->available = worker->available != 0;
	model_note(m, MODEL_CHANGE_WORKER, w->sid);
	model_flush(m);
	return 0;
}

int
model_upsert_task(struct model *m, const struct model_rest_task *task)
{
	const char *sid = task->sid;
	const char *queue_sid = task->queue_sid;
	const char *workflow_sid = task->workflow_sid;
	int status = task_status_parse(task->assignment_status);
	struct model_task *t;

	if (sid == NULL || !sid_is_valid(sid, "WT") || status < 0)
		return -EINVAL;
	if (queue_sid != NULL && !sid_is_valid(queue_sid, "WQ"))
		return -EINVAL;
	if (workflow_sid != NULL && !sid_is_valid(workflow_sid, "WW"))
		workflow_sid = NULL;
	if (model_fifo_has(&m->tombs, sid))
		return 0;
	t = hmap_get(m->tasks, sid);
	if (t != NULL && model_event_won(m, t->event_gen)) {
		t->seen_gen = m->gen;
		return 0;
	}
	if (model_task_is_terminal(status)) {
		if (t != NULL)
			model_task_destroy(m, t, -1, 0, true);
		model_flush(m);
		return 0;
	}
	if (t == NULL) {
		t = model_task_add(m, sid);
		model_queue_count(m, t, +1);
	}
	t->seen_gen = m->gen;
	t->ts_ms = task->updated_ms;
	t->version = -1;
	t->created_ms = task->created_ms;
	t->queue_entered_ms = task->queue_entered_ms;
	if (task->has_priority)
		t->priority = task->priority;
	model_set_sid(t->workflow_sid, workflow_sid);
	model_set_str(&t->channel, task->channel);
	model_task_set_attributes(m, t, task->attributes);
	model_task_set_queue(m, t, queue_sid, task->queue_name);
	model_task_set_status(m, t, status);
	model_note(m, MODEL_CHANGE_TASK, t->sid);
	model_flush(m);
	return 0;
}

int
model_upsert_reservation(struct model *m, const struct model_rest_reservation *reservation)
{
	const char *sid = reservation->sid;
	const char *task_sid = reservation->task_sid;
	const char *worker_sid = reservation->worker_sid;
	int status = model_res_status_parse(reservation->status);
	struct model_res *r;
	int64_t created;
	int64_t updated;

	if (sid == NULL || !sid_is_valid(sid, "WR") || task_sid == NULL ||
	    !sid_is_valid(task_sid, "WT") || status < 0)
		return -EINVAL;
	if (worker_sid != NULL && !sid_is_valid(worker_sid, "WK"))
		return -EINVAL;
	r = hmap_get(m->res, sid);
	if (r != NULL && model_event_won(m, r->event_gen)) {
		r->seen_gen = m->gen;
		return 0;
	}
	if (r == NULL && (model_res_is_terminal(status) || hmap_get(m->tasks, task_sid) == NULL))
		return 0; /* finished ones are history; the task is gone */
	if (r != NULL)
		r->seen_gen = m->gen; /* it exists, even if its snapshot is older than ours */
	if (worker_sid != NULL)
		(void)model_worker_placeholder(m, worker_sid, reservation->worker_name);
	created = reservation->created_ms;
	updated = reservation->updated_ms;
	if (r == NULL && created >= 0)
		(void)model_apply_res(m, sid, task_sid, worker_sid, MODEL_RES_PENDING, created, -1,
				      false);
	(void)model_apply_res(m, sid, task_sid, worker_sid, status, updated, -1, false);
	model_flush(m);
	return 0;
}

void
model_rebuild_end(struct model *m)
{
	void *v = NULL;
	size_t pos = 0;

	while (hmap_next(m->tasks, &pos, NULL, &v)) {
		if (((struct model_task *)v)->seen_gen != m->gen)
			model_task_destroy(m, v, -1, 0, false);
	}
	pos = 0;
	while (hmap_next(m->res, &pos, NULL, &v)) {
		struct model_res *r = v;

		if (r->seen_gen != m->gen) {
			model_note(m, MODEL_CHANGE_TASK, r->task->sid);
			model_res_destroy(m, r, false);
		}
	}
	pos = 0;
	while (hmap_next(m->workers, &pos, NULL, &v)) {
		if (((struct model_worker *)v)->seen_gen != m->gen)
			model_worker_destroy(m, v, false);
	}
	pos = 0;
	while (hmap_next(m->activities, &pos, NULL, &v)) {
		struct model_activity *a = v;

		if (a->seen_gen != m->gen) {
			model_note(m, MODEL_CHANGE_ACTIVITY, a->sid);
			(void)hmap_remove(m->activities, a->sid);
			model_activity_free(a);
		}
	}
	pos = 0;
	while (hmap_next(m->queues, &pos, NULL, &v)) {
		struct model_queue *q = v;

		if (q->seen_gen != m->gen) {
			model_note(m, MODEL_CHANGE_QUEUE, q->sid);
			model_queue_destroy(m, q);
		}
	}
	m->rebuilding = false;
	m->built = true;
	model_flush(m);
}

void
model_rebuild_abort(struct model *m)
{
	m->rebuilding = false;
	model_flush(m);
}

bool
model_is_built(const struct model *m)
{
	return m->built;
}

/* ------------------------------------------------------------------ */
/* statistics, counts, lookups */

size_t
model_task_count(const struct model *m)
{
	return hmap_count(m->tasks);
}

size_t
model_worker_count(const struct model *m)
{
	return hmap_count(m->workers);
}

size_t
model_reservation_count(const struct model *m)
{
	return hmap_count(m->res);
}

const char *
model_workspace_sid(const struct model *m)
{
	return m->workspace_sid[0] != '\0' ? m->workspace_sid : NULL;
}

const char *
model_worker_sid_by_name(const struct model *m, const char *friendly_name)
{
	const struct model_worker *w =
		friendly_name != NULL ? hmap_get(m->workers_by_name, friendly_name) : NULL;

	return w != NULL ? w->sid : NULL;
}

const char *
model_task_status(const struct model *m, const char *task_sid)
{
	const struct model_task *t = task_sid != NULL ? hmap_get(m->tasks, task_sid) : NULL;

	return t != NULL ? task_status_name(t->status) : NULL;
}

bool
model_task_next(const struct model *m, size_t *pos, const char **sid_out, const char **status_out,
		int64_t *changed_ms_out)
{
	void *v = NULL;
	const struct model_task *t;

	if (!hmap_next(m->tasks, pos, NULL, &v))
		return false;
	t = v;
	if (sid_out != NULL)
		*sid_out = t->sid;
	if (status_out != NULL)
		*status_out = task_status_name(t->status);
	if (changed_ms_out != NULL)
		*changed_ms_out = t->ts_ms;
	return true;
}

const char *
model_task_conference_sid(const struct model *m, const char *task_sid)
{
	const struct model_task *t = task_sid != NULL ? hmap_get(m->tasks, task_sid) : NULL;

	return t != NULL && t->conference_sid[0] != '\0' ? t->conference_sid : NULL;
}

const char *
model_conference_task_sid(const struct model *m, const char *conference_sid)
{
	const struct model_task *t =
		conference_sid != NULL ? hmap_get(m->conferences, conference_sid) : NULL;

	return t != NULL ? t->sid : NULL;
}

const char *
model_reservation_task_sid(const struct model *m, const char *reservation_sid)
{
	const struct model_res *r =
		reservation_sid != NULL ? hmap_get(m->res, reservation_sid) : NULL;

	return r != NULL ? r->task->sid : NULL;
}

bool
model_worker_has_reservation(const struct model *m, const char *worker_sid,
			     const char *reservation_sid)
{
	const struct model_res *r =
		reservation_sid != NULL ? hmap_get(m->res, reservation_sid) : NULL;

	return r != NULL && worker_sid != NULL && strcmp(r->worker_sid, worker_sid) == 0;
}

int
model_worker_state(const struct model *m, const char *worker_sid, bool *available_out,
		   const char **activity_sid_out, const char **pending_res_out)
{
	const struct model_worker *w = worker_sid != NULL ? hmap_get(m->workers, worker_sid) : NULL;

	if (w == NULL)
		return -ENOENT;
	*available_out = w->available;
	*activity_sid_out = w->activity_sid;
	*pending_res_out = NULL;
	for (const struct model_res *r = w->res; r != NULL; r = r->wnext) {
		if (r->status == MODEL_RES_PENDING) {
			*pending_res_out = r->sid;
			break;
		}
	}
	return 0;
}

bool
model_activity_is_available(const struct model *m, const char *activity_sid, bool *available_out)
{
	const struct model_activity *a =
		activity_sid != NULL ? hmap_get(m->activities, activity_sid) : NULL;

	if (a == NULL)
		return false;
	*available_out = a->available;
	return true;
}

size_t
model_task_workers(const struct model *m, const char *task_sid, const char **out, size_t max)
{
	const struct model_task *t = task_sid != NULL ? hmap_get(m->tasks, task_sid) : NULL;
	size_t n = 0;

	for (const struct model_res *r = t != NULL ? t->res : NULL; r != NULL; r = r->task_next) {
		bool seen = false;

		for (size_t i = 0; i < n; i++)
			seen = seen || strcmp(out[i], r->worker_sid) == 0;
		if (!seen && n < max)
			out[n++] = r->worker_sid;
	}
	return n;
}

const char *
model_reservation_worker_sid(const struct model *m, const char *reservation_sid)
{
	const struct model_res *r =
		reservation_sid != NULL ? hmap_get(m->res, reservation_sid) : NULL;

	return r != NULL ? r->worker_sid : NULL;
}

bool
model_worker_json_exists(const struct model *m, const char *sid)
{
	return sid != NULL && hmap_get(m->workers, sid) != NULL;
}

const char *
model_event_field(const struct model *m, uint64_t seq, const char *key)
{
	const struct model_event *e = model_ring_get(m, seq);
	const char *p = NULL;

	if (e == NULL)
		return NULL;
	p = e->fields;
	for (size_t i = 0; i < e->nfields; i++) {
		const char *k = p;
		const char *v = k + strlen(k) + 1;

		if (strcmp(k, key) == 0)
			return v;
		p = v + strlen(v) + 1;
	}
	return NULL;
}

bool
model_worker_on_task(const struct model *m, const char *worker_sid, const char *task_sid)
{
	const struct model_task *t = task_sid != NULL ? hmap_get(m->tasks, task_sid) : NULL;

	if (t == NULL || worker_sid == NULL)
		return false;
	for (const struct model_res *r = t->res; r != NULL; r = r->task_next) {
		if (strcmp(r->worker_sid, worker_sid) == 0)
			return true;
	}
	return false;
}

const char *
model_queue_name(const struct model *m, const char *queue_sid)
{
	const struct model_queue *q = queue_sid != NULL ? hmap_get(m->queues, queue_sid) : NULL;

	return q != NULL ? q->name : NULL;
}

bool
model_activity_next(const struct model *m, size_t *pos, const char **sid_out, const char **name_out)
{
	void *v = NULL;
	const struct model_activity *a;

	if (!hmap_next(m->activities, pos, NULL, &v))
		return false;
	a = v;
	if (sid_out != NULL)
		*sid_out = a->sid;
	if (name_out != NULL)
		*name_out = a->name != NULL ? a->name : "";
	return true;
}

/* ------------------------------------------------------------------ */
/* the event ring */

const struct model_event *
model_ring_get(const struct model *m, uint64_t seq)
{
	const struct model_event *e;

	if (seq == 0 || seq >= m->next_seq || seq < m->oldest_seq)
		return NULL;
	e = &m->ring[(seq - 1) % m->ring_size];
	return e->seq == seq ? e : NULL;
}

void
model_event_range(const struct model *m, uint64_t *oldest_out, uint64_t *newest_out)
{
	if (m->next_seq == 1) {
		*oldest_out = 0;
		*newest_out = 0;
		return;
	}
	*oldest_out = m->oldest_seq;
	*newest_out = m->next_seq - 1;
}
