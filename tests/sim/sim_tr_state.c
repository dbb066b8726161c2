/*
 * The TaskRouter model: object constructors, lookups and destructors that
 * keep the SID maps, the creation-ordered lists, the per-status task counts,
 * the queue buckets and the idle-worker list consistent.
 *
 * Nothing here emits events or makes routing decisions (sim_tr_routing does);
 * this file only keeps the containers right.
 */

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hmap.h"
#include "json.h"
#include "sim.h"
#include "sim_clock.h"
#include "sim_tr_expr.h"
#include "sim_tr_state.h"
#include "xmalloc.h"

static const char *const sim_tr_res_status_names[SIM_TR_RES_NSTATUS] = {
	"pending",  "accepted",	 "rejected", "timeout",
	"canceled", "rescinded", "wrapping", "completed",
};

const char *
sim_tr_task_status_name(enum task_status s)
{
	return task_status_name(s);
}

int
sim_tr_task_status_parse(const char *name, enum task_status *out)
{
	int s = task_status_parse(name);

	if (s < 0)
		return -EINVAL;
	*out = (enum task_status)s;
	return 0;
}

const char *
sim_tr_res_status_name(enum sim_tr_res_status s)
{
	return s < SIM_TR_RES_NSTATUS ? sim_tr_res_status_names[s] : "unknown";
}

int
sim_tr_res_status_parse(const char *name, enum sim_tr_res_status *out)
{
	int i;

	for (i = 0; name != NULL && i < SIM_TR_RES_NSTATUS; i++) {
		if (strcmp(name, sim_tr_res_status_names[i]) == 0) {
			*out = (enum sim_tr_res_status)i;
			return 0;
		}
	}
	return -EINVAL;
}

bool
sim_tr_task_is_active(const struct sim_tr_task *t)
{
	return task_status_is_open(t->status);
}

static void
sim_tr_seq_index_append(struct sim_tr_seq_index *x, uint64_t seq, void *obj)
{
	assert(x->n == 0 || x->slots[x->n - 1].seq < seq);
	if (x->n == x->cap) {
		x->cap = x->cap != 0 ? x->cap * 2 : 64;
		x->slots = xreallocarray(x->slots, x->cap, sizeof(*x->slots));
	}
	x->slots[x->n].seq = seq;
	x->slots[x->n].obj = obj;
	x->n++;
}

/* The index of the first slot whose seq is greater than seq (n when none). */
static size_t
sim_tr_seq_index_upper(const struct sim_tr_seq_index *x, uint64_t seq)
{
	size_t lo = 0;
	size_t hi = x->n;
	size_t mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (x->slots[mid].seq <= seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void
sim_tr_seq_index_remove(struct sim_tr_seq_index *x, uint64_t seq)
{
	size_t i = sim_tr_seq_index_upper(x, seq);
	size_t j;
	size_t k = 0;

	assert(i > 0 && x->slots[i - 1].seq == seq && x->slots[i - 1].obj != NULL);
	x->slots[i - 1].obj = NULL;
	x->holes++;
	if (x->holes < 64 || x->holes * 2 < x->n)
		return;
	for (j = 0; j < x->n; j++) {
		if (x->slots[j].obj != NULL)
			x->slots[k++] = x->slots[j];
	}
	x->n = k;
	x->holes = 0;
}

static void
sim_tr_seq_index_clear(struct sim_tr_seq_index *x)
{
	free(x->slots);
	memset(x, 0, sizeof(*x));
}

void *
sim_tr_seq_index_after(const struct sim_tr_seq_index *x, uint64_t seq)
{
	size_t i;

	for (i = sim_tr_seq_index_upper(x, seq); i < x->n; i++) {
		if (x->slots[i].obj != NULL)
			return x->slots[i].obj;
	}
	return NULL;
}

void
sim_tr_state_init(struct sim_tr *tr)
{
	tr->activities = hmap_new();
	tr->workers = hmap_new();
	tr->worker_names = hmap_new();
	tr->queues = hmap_new();
	tr->workflows = hmap_new();
	tr->tasks = hmap_new();
	tr->reservations = hmap_new();
	tr->conferences = hmap_new();
	TAILQ_INIT(&tr->activity_list);
	TAILQ_INIT(&tr->worker_list);
	TAILQ_INIT(&tr->queue_list);
	TAILQ_INIT(&tr->workflow_list);
	TAILQ_INIT(&tr->task_list);
	TAILQ_INIT(&tr->conference_list);
	TAILQ_INIT(&tr->idle);
	memset(&tr->worker_index, 0, sizeof(tr->worker_index));
	memset(&tr->task_index, 0, sizeof(tr->task_index));
	memset(tr->ntasks_by_status, 0, sizeof(tr->ntasks_by_status));
	tr->nconferences_completed = 0;
	tr->json_epoch = 0;
	tr->json_scratch = NULL;
	tr->json_list = NULL;
	buf_init(&tr->json_compose);
	tr->iso_memo_s = -1;
	tr->url_prefix = NULL;
}

static void
sim_tr_workspace_clear(struct sim_tr_workspace *ws)
{
	free_and_null(ws->friendly_name);
	free_and_null(ws->event_callback_url);
	free_and_null(ws->events_filter);
	free_and_null(ws->prioritize_queue_order);
	ws->default_activity = NULL;
	ws->timeout_activity = NULL;
}

void
sim_tr_state_clear(struct sim_tr *tr)
{
	struct sim_tr_task *t = NULL;
	struct sim_tr_worker *w = NULL;
	struct sim_tr_queue *q = NULL;
	struct sim_tr_workflow *wf = NULL;
	struct sim_tr_activity *a = NULL;
	struct sim_tr_conference *c = NULL;

	while ((t = TAILQ_FIRST(&tr->task_list)) != NULL)
		sim_tr_task_remove(tr, t);
	while ((w = TAILQ_FIRST(&tr->worker_list)) != NULL)
		sim_tr_worker_remove(tr, w);
	while ((c = TAILQ_FIRST(&tr->conference_list)) != NULL)
		sim_tr_conference_remove(tr, c);
	while ((wf = TAILQ_FIRST(&tr->workflow_list)) != NULL) {
		TAILQ_REMOVE(&tr->workflow_list, wf, entry);
		hmap_remove(tr->workflows, wf->sid);
		sim_tr_workflow_free_filters(wf);
		free(wf->friendly_name);
		free(wf->configuration);
		free(wf->assignment_callback_url);
		free(wf->fallback_assignment_callback_url);
		free(wf);
	}
	while ((q = TAILQ_FIRST(&tr->queue_list)) != NULL) {
		assert(q->waiting == 0 && TAILQ_EMPTY(&q->buckets));
		TAILQ_REMOVE(&tr->queue_list, q, entry);
		hmap_remove(tr->queues, q->sid);
		sim_tr_expr_free(q->expr);
		free(q->friendly_name);
		free(q->target_workers);
		free(q->task_order);
		free(q);
	}
	while ((a = TAILQ_FIRST(&tr->activity_list)) != NULL) {
		TAILQ_REMOVE(&tr->activity_list, a, entry);
		hmap_remove(tr->activities, a->sid);
		free(a->friendly_name);
		free(a);
	}
	sim_tr_workspace_clear(&tr->ws);
	hmap_free(tr->activities);
	hmap_free(tr->workers);
	hmap_free(tr->worker_names);
	hmap_free(tr->queues);
	hmap_free(tr->workflows);
	hmap_free(tr->tasks);
	hmap_free(tr->reservations);
	hmap_free(tr->conferences);
	tr->activities = tr->workers = tr->worker_names = tr->queues = NULL;
	tr->workflows = tr->tasks = tr->reservations = tr->conferences = NULL;
	assert(tr->worker_index.n == tr->worker_index.holes);
	assert(tr->task_index.n == tr->task_index.holes);
	sim_tr_seq_index_clear(&tr->worker_index);
	sim_tr_seq_index_clear(&tr->task_index);
	json_gen_free(tr->json_scratch);
	tr->json_scratch = NULL;
	json_gen_free(tr->json_list);
	tr->json_list = NULL;
	buf_clear(&tr->json_compose);
	free_and_null(tr->url_prefix);
}

int64_t
sim_tr_now(const struct sim_tr *tr)
{
	return sim_clock_now_ms(tr->sim->clock);
}

uint64_t
sim_tr_next_seq(struct sim_tr *tr)
{
	return ++tr->seq;
}

struct sim_tr_activity *
sim_tr_activity_add(struct sim_tr *tr, const char *name, bool available)
{
	struct sim_tr_activity *a = xcalloc(1, sizeof(*a));

	sim_new_sid(tr->sim, a->sid, "WA");
	a->seq = sim_tr_next_seq(tr);
	a->friendly_name = xstrdup(name);
	a->available = available;
	a->created_ms = a->updated_ms = sim_tr_now(tr);
	hmap_put(tr->activities, a->sid, a);
	TAILQ_INSERT_TAIL(&tr->activity_list, a, entry);
	return a;
}

static char *
sim_tr_lower(const char *s)
{
	char *l = xstrdup(s);
	char *p = NULL;

	for (p = l; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	return l;
}

struct sim_tr_worker *
sim_tr_worker_add(struct sim_tr *tr, const char *name, const char *attributes,
		  struct sim_tr_activity *activity)
{
	struct sim_tr_worker *w = xcalloc(1, sizeof(*w));
	char *lname = sim_tr_lower(name);
	int64_t now = sim_tr_now(tr);

	sim_new_sid(tr->sim, w->sid, "WK");
	w->seq = sim_tr_next_seq(tr);
	w->friendly_name = xstrdup(name);
	w->activity = activity;
	w->created_ms = w->updated_ms = w->status_changed_ms = now;
	w->idle_since_ms = now;
	for (int i = 0; i < SIM_TR_NCHANNELS; i++) {
		w->channels[i].capacity = 1;
		w->channels[i].available = true;
		w->channels[i].updated_ms = now;
	}
	TAILQ_INIT(&w->reservations);
	sim_tr_worker_set_attributes(w, attributes);
	sim_tr_worker_history_push(w, activity, now);
	hmap_put(tr->workers, w->sid, w);
	hmap_put(tr->worker_names, lname, w);
	free(lname);
	TAILQ_INSERT_TAIL(&tr->worker_list, w, entry);
	sim_tr_seq_index_append(&tr->worker_index, w->seq, w);
	sim_tr_worker_sync_idle(tr, w, now);
	return w;
}

struct sim_tr_queue *
sim_tr_queue_add(struct sim_tr *tr, const char *name, const char *target, struct sim_tr_expr *expr)
{
	struct sim_tr_queue *q = xcalloc(1, sizeof(*q));

	sim_new_sid(tr->sim, q->sid, "WQ");
	q->seq = sim_tr_next_seq(tr);
	q->friendly_name = xstrdup(name);
	q->target_workers = xstrdup(target);
	q->expr = expr;
	q->max_reserved_workers = 1;
	q->task_order = xstrdup("FIFO");
	q->created_ms = q->updated_ms = sim_tr_now(tr);
	TAILQ_INIT(&q->buckets);
	hmap_put(tr->queues, q->sid, q);
	TAILQ_INSERT_TAIL(&tr->queue_list, q, entry);
	return q;
}

struct sim_tr_workflow *
sim_tr_workflow_add(struct sim_tr *tr, const char *name)
{
	struct sim_tr_workflow *wf = xcalloc(1, sizeof(*wf));

	sim_new_sid(tr->sim, wf->sid, "WW");
	wf->seq = sim_tr_next_seq(tr);
	wf->friendly_name = xstrdup(name);
	wf->configuration = xstrdup("{}");
	wf->task_reservation_timeout_s = 120;
	wf->created_ms = wf->updated_ms = sim_tr_now(tr);
	hmap_put(tr->workflows, wf->sid, wf);
	TAILQ_INSERT_TAIL(&tr->workflow_list, wf, entry);
	return wf;
}

struct sim_tr_task *
sim_tr_task_add(struct sim_tr *tr, const char *attributes)
{
	struct sim_tr_task *t = xcalloc(1, sizeof(*t));

	t->tr = tr;
	sim_new_sid(tr->sim, t->sid, "WT");
	t->seq = sim_tr_next_seq(tr);
	t->status = SIM_TR_TASK_PENDING;
	t->created_ms = t->updated_ms = sim_tr_now(tr);
	t->timeout_s = 86400;
	TAILQ_INIT(&t->reservations);
	sim_tr_task_set_attributes(t, attributes);
	hmap_put(tr->tasks, t->sid, t);
	TAILQ_INSERT_TAIL(&tr->task_list, t, entry);
	sim_tr_seq_index_append(&tr->task_index, t->seq, t);
	tr->ntasks_by_status[t->status]++;
	return t;
}

struct sim_tr_reservation *
sim_tr_reservation_add(struct sim_tr *tr, struct sim_tr_task *task, struct sim_tr_worker *worker)
{
	struct sim_tr_reservation *res = xcalloc(1, sizeof(*res));

	sim_new_sid(tr->sim, res->sid, "WR");
	res->seq = sim_tr_next_seq(tr);
	res->status = SIM_TR_RES_PENDING;
	res->task = task;
	res->worker = worker;
	memcpy(res->worker_sid, worker->sid, sizeof(res->worker_sid));
	res->worker_name = xstrdup(worker->friendly_name);
	res->created_ms = res->updated_ms = sim_tr_now(tr);
	hmap_put(tr->reservations, res->sid, res);
	TAILQ_INSERT_TAIL(&task->reservations, res, task_entry);
	TAILQ_INSERT_TAIL(&worker->reservations, res, worker_entry);
	return res;
}

struct sim_tr_conference *
sim_tr_conference_add(struct sim_tr *tr, const char *task_sid)
{
	struct sim_tr_conference *c = xcalloc(1, sizeof(*c));

	sim_new_sid(tr->sim, c->sid, "CF");
	c->seq = sim_tr_next_seq(tr);
	snprintf(c->friendly_name, sizeof(c->friendly_name), "%s", task_sid);
	c->created_ms = c->updated_ms = sim_tr_now(tr);
	hmap_put(tr->conferences, c->sid, c);
	TAILQ_INSERT_TAIL(&tr->conference_list, c, entry);
	return c;
}

struct sim_tr_activity *
sim_tr_activity_get(struct sim_tr *tr, const char *sid)
{
	return sid != NULL ? hmap_get(tr->activities, sid) : NULL;
}

struct sim_tr_activity *
sim_tr_activity_by_name(struct sim_tr *tr, const char *name)
{
	struct sim_tr_activity *a = NULL;

	if (name == NULL)
		return NULL;
	TAILQ_FOREACH(a, &tr->activity_list, entry) {
		if (strcmp(a->friendly_name, name) == 0)
			return a;
	}
	return NULL;
}

struct sim_tr_worker *
sim_tr_worker_get(struct sim_tr *tr, const char *sid)
{
	return sid != NULL ? hmap_get(tr->workers, sid) : NULL;
}

struct sim_tr_worker *
sim_tr_worker_by_name(struct sim_tr *tr, const char *name)
{
	struct sim_tr_worker *w = NULL;
	char *l = NULL;

	if (name == NULL)
		return NULL;
	l = sim_tr_lower(name);
	w = hmap_get(tr->worker_names, l);
	free(l);
	return w;
}

struct sim_tr_queue *
sim_tr_queue_get(struct sim_tr *tr, const char *sid)
{
	return sid != NULL ? hmap_get(tr->queues, sid) : NULL;
}

struct sim_tr_queue *
sim_tr_queue_by_name(struct sim_tr *tr, const char *name)
{
	struct sim_tr_queue *q = NULL;

	if (name == NULL)
		return NULL;
	TAILQ_FOREACH(q, &tr->queue_list, entry) {
		if (strcmp(q->friendly_name, name) == 0)
			return q;
	}
	return NULL;
}

struct sim_tr_workflow *
sim_tr_workflow_get(struct sim_tr *tr, const char *sid)
{
	return sid != NULL ? hmap_get(tr->workflows, sid) : NULL;
}

struct sim_tr_task *
sim_tr_task_get(struct sim_tr *tr, const char *sid)
{
	return sid != NULL ? hmap_get(tr->tasks, sid) : NULL;
}

struct sim_tr_reservation *
sim_tr_reservation_get(struct sim_tr *tr, const char *sid)
{
	return sid != NULL ? hmap_get(tr->reservations, sid) : NULL;
}

struct sim_tr_conference *
sim_tr_conference_get(struct sim_tr *tr, const char *sid)
{
	return sid != NULL ? hmap_get(tr->conferences, sid) : NULL;
}

void
sim_tr_json_cache_clear(struct sim_tr_json_cache *c)
{
	free_and_null(c->text);
	c->len = 0;
	c->split = 0;
}

void
sim_tr_json_invalidate_all(struct sim_tr *tr)
{
	tr->json_epoch++;
}

void
sim_tr_worker_touch(struct sim_tr_worker *w, int64_t now_ms)
{
	w->version++;
	w->updated_ms = now_ms;
	sim_tr_json_cache_clear(&w->json);
}

void
sim_tr_task_touch(struct sim_tr_task *t, int64_t now_ms)
{
	t->version++;
	t->updated_ms = now_ms;
	sim_tr_json_cache_clear(&t->json);
}

void
sim_tr_task_set_reason(struct sim_tr_task *t, const char *reason)
{
	free(t->reason);
	t->reason = reason != NULL ? xstrdup(reason) : NULL;
	sim_tr_json_cache_clear(&t->json);
}

void
sim_tr_worker_rename(struct sim_tr *tr, struct sim_tr_worker *w, const char *name)
{
	char *l = sim_tr_lower(w->friendly_name);

	hmap_remove(tr->worker_names, l);
	free(l);
	free(w->friendly_name);
	w->friendly_name = xstrdup(name);
	l = sim_tr_lower(name);
	hmap_put(tr->worker_names, l, w);
	free(l);
	sim_tr_json_cache_clear(&w->json);
}

void
sim_tr_worker_set_attributes(struct sim_tr_worker *w, const char *attributes)
{
	struct json_doc *doc = NULL;
	int r;

	/* Validated by the caller; internal updates may exceed the REST size limit. */
	r = json_parse(attributes, strlen(attributes), NULL, &doc, NULL);
	assert(r == 0 && json_is_object(json_doc_root(doc)));
	(void)r;
	json_doc_free(w->attr_doc);
	free(w->attributes);
	w->attributes = xstrdup(attributes);
	w->attr_doc = doc;
	sim_tr_json_cache_clear(&w->json);
}

void
sim_tr_task_set_attributes(struct sim_tr_task *t, const char *attributes)
{
	struct json_doc *doc = NULL;
	int r;

	/* Validated by the caller; internal updates may exceed the REST size limit. */
	r = json_parse(attributes, strlen(attributes), NULL, &doc, NULL);
	assert(r == 0 && json_is_object(json_doc_root(doc)));
	(void)r;
	json_doc_free(t->attr_doc);
	free(t->attributes);
	t->attributes = xstrdup(attributes);
	t->attr_doc = doc;
	sim_tr_json_cache_clear(&t->json);
}

void
sim_tr_worker_history_push(struct sim_tr_worker *w, const struct sim_tr_activity *a, int64_t now_ms)
{
	size_t drop;

	if (w->nhist == SIM_TR_HISTORY_MAX) {
		drop = SIM_TR_HISTORY_MAX / 2;
		memmove(w->hist, w->hist + drop, (w->nhist - drop) * sizeof(*w->hist));
		w->nhist -= drop;
	}
	if (w->nhist == w->cap_hist) {
		w->cap_hist = w->cap_hist != 0 ? w->cap_hist * 2 : 8;
		w->hist = xreallocarray(w->hist, w->cap_hist, sizeof(*w->hist));
	}
	memcpy(w->hist[w->nhist].activity_sid, a->sid, sizeof(w->hist[w->nhist].activity_sid));
	w->hist[w->nhist].start_ms = now_ms;
	w->nhist++;
}

void
sim_tr_task_set_status(struct sim_tr *tr, struct sim_tr_task *t, enum task_status s)
{
	assert(tr->ntasks_by_status[t->status] > 0);
	tr->ntasks_by_status[t->status]--;
	t->status = s;
	tr->ntasks_by_status[s]++;
	sim_tr_json_cache_clear(&t->json);
}

static void
sim_tr_reservation_free(struct sim_tr *tr, struct sim_tr_reservation *res)
{
	sim_timer_cancel(res->timeout_timer);
	res->timeout_timer = NULL;
	hmap_remove(tr->reservations, res->sid);
	TAILQ_REMOVE(&res->task->reservations, res, task_entry);
	if (res->worker != NULL) {
		sim_tr_worker_release(tr, res);
		TAILQ_REMOVE(&res->worker->reservations, res, worker_entry);
	}
	free(res->worker_name);
	free(res);
}

void
sim_tr_task_remove(struct sim_tr *tr, struct sim_tr_task *t)
{
	struct sim_tr_reservation *res = NULL;

	sim_timer_cancel(t->ttl_timer);
	sim_timer_cancel(t->removal_timer);
	t->ttl_timer = t->removal_timer = NULL;
	if (t->bucket != NULL)
		sim_tr_queue_unlink(t->queue, t);
	t->active = NULL;
	while ((res = TAILQ_FIRST(&t->reservations)) != NULL)
		sim_tr_reservation_free(tr, res);
	assert(tr->ntasks_by_status[t->status] > 0);
	tr->ntasks_by_status[t->status]--;
	hmap_remove(tr->tasks, t->sid);
	TAILQ_REMOVE(&tr->task_list, t, entry);
	sim_tr_seq_index_remove(&tr->task_index, t->seq);
	json_doc_free(t->attr_doc);
	free(t->attributes);
	free(t->reason);
	free(t->filter_name);
	free(t->rejected_by);
	sim_tr_json_cache_clear(&t->json);
	free(t);
}

void
sim_tr_worker_remove(struct sim_tr *tr, struct sim_tr_worker *w)
{
	struct sim_tr_reservation *res = NULL;
	char *l = sim_tr_lower(w->friendly_name);

	while ((res = TAILQ_FIRST(&w->reservations)) != NULL) {
		TAILQ_REMOVE(&w->reservations, res, worker_entry);
		res->worker = NULL;
	}
	if (w->in_idle)
		TAILQ_REMOVE(&tr->idle, w, idle_entry);
	hmap_remove(tr->worker_names, l);
	free(l);
	hmap_remove(tr->workers, w->sid);
	TAILQ_REMOVE(&tr->worker_list, w, entry);
	sim_tr_seq_index_remove(&tr->worker_index, w->seq);
	json_doc_free(w->attr_doc);
	free(w->attributes);
	free(w->friendly_name);
	free(w->hist);
	sim_tr_json_cache_clear(&w->json);
	free(w);
}

void
sim_tr_conference_remove(struct sim_tr *tr, struct sim_tr_conference *c)
{
	if (c->completed)
		tr->nconferences_completed--;
	hmap_remove(tr->conferences, c->sid);
	TAILQ_REMOVE(&tr->conference_list, c, entry);
	free(c);
}

void
sim_tr_workflow_free_filters(struct sim_tr_workflow *wf)
{
	size_t i;

	for (i = 0; i < wf->nfilters; i++) {
		free(wf->filters[i].name);
		sim_tr_expr_free(wf->filters[i].expr);
	}
	free(wf->filters);
	wf->filters = NULL;
	wf->nfilters = 0;
	wf->default_queue = NULL;
}

void
sim_tr_queue_insert(struct sim_tr_queue *q, struct sim_tr_task *t)
{
	struct sim_tr_bucket *b = NULL;
	struct sim_tr_bucket *nb = NULL;
	struct sim_tr_task *o = NULL;

	assert(t->bucket == NULL);
	TAILQ_FOREACH(b, &q->buckets, entry) {
		if (b->priority <= t->priority)
			break;
	}
	if (b == NULL || b->priority != t->priority) {
		nb = xcalloc(1, sizeof(*nb));
		nb->priority = t->priority;
		TAILQ_INIT(&nb->tasks);
		if (b == NULL)
			TAILQ_INSERT_TAIL(&q->buckets, nb, entry);
		else
			TAILQ_INSERT_BEFORE(b, nb, entry);
		b = nb;
	}
	/* Usually the newest entry: append; a re-queued task keeps its place by age. */
	o = TAILQ_LAST(&b->tasks, sim_tr_task_list);
	if (o == NULL || o->queue_entered_ms < t->queue_entered_ms ||
	    (o->queue_entered_ms == t->queue_entered_ms && o->seq < t->seq)) {
		TAILQ_INSERT_TAIL(&b->tasks, t, qentry);
	} else {
		TAILQ_FOREACH(o, &b->tasks, qentry) {
			if (o->queue_entered_ms > t->queue_entered_ms ||
			    (o->queue_entered_ms == t->queue_entered_ms && o->seq > t->seq))
				break;
		}
		if (o == NULL)
			TAILQ_INSERT_TAIL(&b->tasks, t, qentry);
		else
			TAILQ_INSERT_BEFORE(o, t, qentry);
	}
	t->bucket = b;
	q->waiting++;
}

void
sim_tr_queue_unlink(struct sim_tr_queue *q, struct sim_tr_task *t)
{
	struct sim_tr_bucket *b = t->bucket;

	assert(b != NULL && q->waiting > 0);
	TAILQ_REMOVE(&b->tasks, t, qentry);
	t->bucket = NULL;
	q->waiting--;
	if (TAILQ_EMPTY(&b->tasks)) {
		TAILQ_REMOVE(&q->buckets, b, entry);
		free(b);
	}
}

static const char *const sim_tr_channel_names[SIM_TR_NCHANNELS] = {
	"default", "voice", "sms", "chat", "video",
};
static const char *const sim_tr_channel_friendly_names[SIM_TR_NCHANNELS] = {
	"Default", "Voice", "SMS", "Programmable Chat", "Video",
};

const char *
sim_tr_channel_name(enum sim_tr_channel ch)
{
	return sim_tr_channel_names[ch];
}

const char *
sim_tr_channel_friendly_name(enum sim_tr_channel ch)
{
	return sim_tr_channel_friendly_names[ch];
}

int
sim_tr_channel_find(const struct sim_tr *tr, const char *name_or_sid, enum sim_tr_channel *out)
{
	int i;

	for (i = 0; i < SIM_TR_NCHANNELS; i++) {
		if (strcmp(name_or_sid, sim_tr_channel_names[i]) == 0 ||
		    strcmp(name_or_sid, tr->ws.channel_sids[i]) == 0) {
			*out = (enum sim_tr_channel)i;
			return 0;
		}
	}
	return -ENOENT;
}

bool
sim_tr_worker_can_take(const struct sim_tr *tr, const struct sim_tr_worker *w,
		       enum sim_tr_channel ch)
{
	const struct sim_tr_wchannel *c = &w->channels[ch];

	if (!w->activity->available || !c->available || c->busy >= c->capacity)
		return false;
	return tr->ws.multi_task_enabled || w->nactive == 0;
}

void
sim_tr_worker_hold(struct sim_tr *tr, struct sim_tr_reservation *res)
{
	struct sim_tr_worker *w = res->worker;

	if (res->holding || w == NULL)
		return;
	res->holding = true;
	w->nactive++;
	w->channels[res->task->channel].busy++;
	sim_tr_json_cache_clear(&w->json);
	sim_tr_worker_sync_idle(tr, w, sim_tr_now(tr));
}

void
sim_tr_worker_release(struct sim_tr *tr, struct sim_tr_reservation *res)
{
	struct sim_tr_worker *w = res->worker;

	if (!res->holding || w == NULL)
		return;
	res->holding = false;
	w->nactive--;
	w->channels[res->task->channel].busy--;
	sim_tr_json_cache_clear(&w->json);
	sim_tr_worker_sync_idle(tr, w, sim_tr_now(tr));
}

struct sim_tr_reservation *
sim_tr_worker_held(const struct sim_tr_worker *w, enum sim_tr_res_status s)
{
	struct sim_tr_reservation *res = NULL;

	TAILQ_FOREACH(res, &w->reservations, worker_entry) {
		if (res->holding && res->status == s)
			return res;
	}
	return NULL;
}

void
sim_tr_worker_set_channel(struct sim_tr *tr, struct sim_tr_worker *w, enum sim_tr_channel ch,
			  int64_t capacity, bool available)
{
	int64_t now = sim_tr_now(tr);

	w->channels[ch].capacity = capacity;
	w->channels[ch].available = available;
	w->channels[ch].updated_ms = now;
	sim_tr_json_cache_clear(&w->json);
	sim_tr_worker_sync_idle(tr, w, now);
}

void
sim_tr_worker_sync_idle(struct sim_tr *tr, struct sim_tr_worker *w, int64_t now_ms)
{
	bool want = false;
	int i;

	for (i = 0; i < SIM_TR_NCHANNELS && !want; i++)
		want = sim_tr_worker_can_take(tr, w, (enum sim_tr_channel)i);

	if (want == w->in_idle)
		return;
	if (want) {
		w->idle_since_ms = now_ms;
		TAILQ_INSERT_TAIL(&tr->idle, w, idle_entry);
	} else {
		TAILQ_REMOVE(&tr->idle, w, idle_entry);
	}
	w->in_idle = want;
}

int
sim_tr_state_parse_attributes(const char *text, struct json_doc **doc_out, char **cause_out)
{
	struct json_doc *doc = NULL;
	size_t len = strlen(text);
	int r;

	if (len > SIM_TR_ATTRIBUTES_MAX) {
		if (cause_out != NULL)
			*cause_out =
				xasprintf("Attributes exceed %d characters", SIM_TR_ATTRIBUTES_MAX);
		return -EINVAL;
	}
	r = json_parse(text, len, NULL, &doc, NULL);
	if (r < 0 || !json_is_object(json_doc_root(doc))) {
		json_doc_free(doc);
		if (cause_out != NULL)
			*cause_out = xstrdup("Attributes must be a valid JSON object");
		return -EINVAL;
	}
	if (doc_out != NULL)
		*doc_out = doc;
	else
		json_doc_free(doc);
	return 0;
}

const char *
sim_tr_worker_field(void *worker, const char *name)
{
	struct sim_tr_worker *w = worker;

	if (strcmp(name, "sid") == 0 || strcmp(name, "worker_sid") == 0)
		return w->sid;
	if (strcmp(name, "friendly_name") == 0 || strcmp(name, "worker_name") == 0)
		return w->friendly_name;
	if (strcmp(name, "activity_sid") == 0)
		return w->activity->sid;
	if (strcmp(name, "activity_name") == 0)
		return w->activity->friendly_name;
	return NULL;
}

bool
sim_tr_queue_accepts(const struct sim_tr_queue *q, struct sim_tr_worker *w)
{
	return sim_tr_expr_eval(q->expr, json_doc_root(w->attr_doc), sim_tr_worker_field, w);
}

static int
sim_tr_workflow_target(struct sim_tr *tr, const struct json_value *target, struct sim_tr_filter *f,
		       char **cause_out)
{
	const char *qsid = NULL;
	int64_t prio;

	if (!json_is_object(target) || json_get_string(target, "queue", &qsid) < 0) {
		*cause_out = xstrdup("Each workflow target needs a 'queue'");
		return -EINVAL;
	}
	f->queue = sim_tr_queue_get(tr, qsid);
	if (f->queue == NULL) {
		*cause_out = xasprintf("Workflow target queue %s does not exist", qsid);
		return -EINVAL;
	}
	if (json_get_int64(target, "priority", &prio) == 0) {
		f->has_priority = true;
		f->priority = prio;
	}
	return 0;
}

int
sim_tr_workflow_configure(struct sim_tr *tr, struct sim_tr_workflow *wf, const char *config,
			  char **cause_out)
{
	struct json_doc *doc = NULL;
	const struct json_value *routing = NULL;
	const struct json_value *filters = NULL;
	const struct json_value *fv = NULL;
	const struct json_value *targets = NULL;
	const struct json_value *def = NULL;
	struct sim_tr_filter *out = NULL;
	struct sim_tr_queue *default_queue = NULL;
	struct sim_tr_filter tmp;
	const char *text = NULL;
	char *why = NULL;
	char *ignored = NULL;
	size_t n = 0;
	size_t i;
	int r;

	if (cause_out == NULL)
		cause_out = &ignored;
	r = json_parse(config, strlen(config), NULL, &doc, NULL);
	if (r < 0 || !json_is_object(json_doc_root(doc))) {
		*cause_out = xstrdup("Configuration must be a valid JSON object");
		goto fail;
	}
	routing = json_get(json_doc_root(doc), "task_routing");
	if (!json_is_object(routing)) {
		*cause_out = xstrdup("Configuration must contain a 'task_routing' object");
		goto fail;
	}
	filters = json_get(routing, "filters");
	if (filters != NULL && json_type(filters) != JSON_NULL && !json_is_array(filters)) {
		*cause_out = xstrdup("'filters' must be an array");
		goto fail;
	}
	n = json_is_array(filters) ? json_array_len(filters) : 0;
	out = xcalloc(n != 0 ? n : 1, sizeof(*out));
	for (i = 0; i < n; i++) {
		fv = json_array_at(filters, i);
		memset(&tmp, 0, sizeof(tmp));
		if (!json_is_object(fv)) {
			*cause_out = xasprintf("Filter %zu is not an object", i);
			goto fail_filters;
		}
		text = NULL;
		(void)json_get_string(fv, "filter_friendly_name", &text);
		out[i].name = xstrdup(text != NULL ? text : "");
		text = NULL;
		if (json_get_string(fv, "expression", &text) < 0 || text == NULL)
			text = "1==1";
		if (sim_tr_expr_parse(text, &out[i].expr, &why) < 0) {
			*cause_out = xasprintf("Filter %zu: invalid expression: %s", i, why);
			free(why);
			goto fail_filters;
		}
		targets = json_get(fv, "targets");
		if (!json_is_array(targets) || json_array_len(targets) == 0) {
			*cause_out = xasprintf("Filter %zu needs at least one target", i);
			goto fail_filters;
		}
		if (sim_tr_workflow_target(tr, json_array_at(targets, 0), &out[i], cause_out) < 0)
			goto fail_filters;
	}
	def = json_get(routing, "default_filter");
	if (def != NULL && json_type(def) != JSON_NULL) {
		memset(&tmp, 0, sizeof(tmp));
		if (sim_tr_workflow_target(tr, def, &tmp, cause_out) < 0)
			goto fail_filters;
		default_queue = tmp.queue;
	}
	sim_tr_workflow_free_filters(wf);
	wf->filters = out;
	wf->nfilters = n;
	wf->default_queue = default_queue;
	free(wf->configuration);
	wf->configuration = xstrdup(config);
	json_doc_free(doc);
	return 0;
fail_filters:
	for (i = 0; i < n; i++) {
		free(out[i].name);
		sim_tr_expr_free(out[i].expr);
	}
fail:
	free(out);
	json_doc_free(doc);
	free(ignored);
	return -EINVAL;
}
