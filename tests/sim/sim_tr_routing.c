/*
 * The TaskRouter engine (contract in sim_tr_routing.h).
 *
 * Every transition follows the same order: change the model (statuses,
 * versions, timestamps, queue buckets, the idle list), then emit the events
 * in causal order, so each event's fields show the state right after its own
 * change. Task events come before the reservation events they cause, and a
 * worker's resulting activity change comes last.
 *
 * Timers (reservation timeout, task TTL, task removal) belong to the object
 * they are stored in; the object's destructor cancels them, and each
 * callback clears its handle first.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "log.h"
#include "sid.h"
#include "sim.h"
#include "sim_clock.h"
#include "sim_tr_conference.h"
#include "sim_tr_events.h"
#include "sim_tr_expr.h"
#include "sim_tr_routing.h"
#include "sim_tr_state.h"
#include "sim_tr_traffic.h"
#include "xmalloc.h"

#define SIM_TR_ROUTING_DEFAULT_REMOVAL_S 300
#define SIM_TR_ROUTING_DEFAULT_FILTER	 "Default Filter"
/* Twilio's Max Assignment Count: a task reserved this many times is canceled. */
#define SIM_TR_ROUTING_MAX_ASSIGNMENTS 1000

static void
sim_tr_routing_emit(struct sim_tr *tr, enum sim_tr_ev type, struct sim_tr_task *t,
		    struct sim_tr_worker *w, struct sim_tr_reservation *res)
{
	struct sim_tr_event_ctx ctx = { .task = t, .worker = w, .res = res };

	sim_tr_events_emit(tr, type, &ctx);
}

static void
sim_tr_routing_touch_res(struct sim_tr_reservation *res, enum sim_tr_res_status s, int64_t now)
{
	res->status = s;
	res->version++;
	res->updated_ms = now;
}

/* Changes the worker's activity and emits worker.activity.update (nothing if unchanged). */
static void
sim_tr_routing_set_activity(struct sim_tr *tr, struct sim_tr_worker *w, struct sim_tr_activity *a,
			    int64_t now)
{
	struct sim_tr_event_ctx ctx = { 0 };
	struct sim_tr_activity *prev = w->activity;

	if (prev == a)
		return;
	ctx.worker = w;
	ctx.prev_activity = prev;
	ctx.time_in_prev_ms = now - w->status_changed_ms;
	w->activity = a;
	w->status_changed_ms = now;
	sim_tr_worker_touch(w, now);
	sim_tr_worker_history_push(w, a, now);
	sim_tr_worker_sync_idle(tr, w, now);
	sim_tr_events_emit(tr, SIM_TR_EV_WORKER_ACTIVITY_UPDATE, &ctx);
}

/* The worker holding res is free again. */
static void
sim_tr_routing_release(struct sim_tr *tr, struct sim_tr_reservation *res, int64_t now)
{
	sim_tr_worker_release(tr, res);
	if (res->task->active == res)
		res->task->active = NULL;
}

/* Back to pending in its queue, keeping its original queue entry time. */
static void
sim_tr_routing_requeue(struct sim_tr *tr, struct sim_tr_task *t, int64_t now)
{
	sim_tr_task_set_status(tr, t, SIM_TR_TASK_PENDING);
	sim_tr_task_touch(t, now);
	if (t->queue != NULL && t->bucket == NULL)
		sim_tr_queue_insert(t->queue, t);
}

/* After a reservation ended without acceptance: cancel at the Max Assignment Count. */
static void
sim_tr_routing_check_assignments(struct sim_tr *tr, struct sim_tr_task *t)
{
	if (t->nassignments >= SIM_TR_ROUTING_MAX_ASSIGNMENTS && t->status == SIM_TR_TASK_PENDING)
		(void)sim_tr_routing_task_cancel(tr, t, "Max Assignment Count Exceeded", NULL);
}

static void
sim_tr_routing_removal_cb(void *arg)
{
	struct sim_tr_task *t = arg;

	t->removal_timer = NULL;
	log_trace(LOG_TRACE_SIM, "task %s removed after finishing", t->sid);
	sim_tr_task_remove(t->tr, t);
}

/* Terminal status: out of its queue, TTL off, removal armed. */
static void
sim_tr_routing_finish(struct sim_tr *tr, struct sim_tr_task *t, enum task_status s,
		      const char *reason, int64_t now)
{
	int64_t removal_s = tr->sim->opt.task_removal_s;

	if (removal_s <= 0)
		removal_s = SIM_TR_ROUTING_DEFAULT_REMOVAL_S;
	if (t->bucket != NULL)
		sim_tr_queue_unlink(t->queue, t);
	sim_tr_task_set_status(tr, t, s);
	if (reason != NULL)
		sim_tr_task_set_reason(t, reason);
	t->finished_ms = now;
	sim_tr_task_touch(t, now);
	sim_timer_cancel(t->ttl_timer);
	t->ttl_timer = NULL;
	sim_timer_cancel(t->removal_timer);
	t->removal_timer =
		sim_timer_add(tr->sim->clock, removal_s * 1000, sim_tr_routing_removal_cb, t);
}

static void
sim_tr_routing_res_timeout_cb(void *arg)
{
	struct sim_tr_reservation *res = arg;
	struct sim_tr_task *t = res->task;
	struct sim_tr *tr = t->tr;
	struct sim_tr_worker *w = res->worker;
	int64_t now = sim_tr_now(tr);

	res->timeout_timer = NULL;
	if (res->status != SIM_TR_RES_PENDING)
		return;
	log_trace(LOG_TRACE_SIM, "reservation %s timed out", res->sid);
	sim_tr_routing_touch_res(res, SIM_TR_RES_TIMEOUT, now);
	sim_tr_routing_release(tr, res, now);
	sim_tr_routing_requeue(tr, t, now);
	sim_tr_routing_emit(tr, SIM_TR_EV_RESERVATION_TIMEOUT, NULL, NULL, res);
	if (w != NULL && tr->ws.timeout_activity != NULL)
		sim_tr_routing_set_activity(tr, w, tr->ws.timeout_activity, now);
	sim_tr_routing_check_assignments(tr, t);
	sim_tr_routing_run(tr);
}

static void
sim_tr_routing_reserve(struct sim_tr *tr, struct sim_tr_task *t, struct sim_tr_worker *w)
{
	struct sim_tr_reservation *res = NULL;
	struct sim_tr_queue *q = t->queue;
	int64_t now = sim_tr_now(tr);
	int64_t timeout_s = t->workflow != NULL ? t->workflow->task_reservation_timeout_s : 120;

	sim_tr_queue_unlink(q, t);
	t->nassignments++;
	res = sim_tr_reservation_add(tr, t, w);
	t->active = res;
	sim_tr_task_set_status(tr, t, SIM_TR_TASK_RESERVED);
	sim_tr_task_touch(t, now);
	sim_tr_worker_hold(tr, res);
	res->timeout_timer =
		sim_timer_add(tr->sim->clock, timeout_s * 1000, sim_tr_routing_res_timeout_cb, res);
	log_trace(LOG_TRACE_SIM, "reservation %s: task %s to worker %s", res->sid, t->sid, w->sid);
	sim_tr_routing_emit(tr, SIM_TR_EV_RESERVATION_CREATED, NULL, NULL, res);
	if (q->reservation_activity != NULL)
		sim_tr_routing_set_activity(tr, w, q->reservation_activity, now);
	sim_tr_traffic_reservation_created(tr, res);
}

static bool
sim_tr_routing_rejected(const struct sim_tr_task *t, const struct sim_tr_worker *w)
{
	size_t i;

	for (i = 0; i < t->nrejected; i++) {
		if (strcmp(t->rejected_by[i], w->sid) == 0)
			return true;
	}
	return false;
}

/*
 * The first task of q in queue order that some idle eligible worker may take
 * (room on the task's channel, not rejected by it before), with the
 * longest-idle such worker. Returns false when none. A channel on which no
 * eligible idle worker has room is skipped for the rest of the queue.
 */
static bool
sim_tr_routing_queue_candidate(struct sim_tr *tr, struct sim_tr_queue *q,
			       struct sim_tr_task **task_out, struct sim_tr_worker **worker_out)
{
	struct sim_tr_bucket *b = NULL;
	struct sim_tr_task *t = NULL;
	struct sim_tr_worker *w = NULL;
	bool lifo = strcmp(q->task_order, "LIFO") == 0;
	unsigned full = 0; /* channels no idle eligible worker has room on */
	bool any_eligible;
	bool room;

	TAILQ_FOREACH(b, &q->buckets, entry) {
		t = lifo ? TAILQ_LAST(&b->tasks, sim_tr_task_list) : TAILQ_FIRST(&b->tasks);
		while (t != NULL) {
			if ((full & (1u << t->channel)) != 0)
				goto next;
			any_eligible = false;
			room = false;
			TAILQ_FOREACH(w, &tr->idle, idle_entry) {
				if (!sim_tr_queue_accepts(q, w))
					continue;
				any_eligible = true;
				if (!sim_tr_worker_can_take(tr, w, t->channel))
					continue;
				room = true;
				if (!sim_tr_routing_rejected(t, w)) {
					*task_out = t;
					*worker_out = w;
					return true;
				}
			}
			if (!any_eligible)
				return false;
			if (!room) {
				full |= 1u << t->channel;
				if (full == (1u << SIM_TR_NCHANNELS) - 1)
					return false;
			}
next:
			t = lifo ? TAILQ_PREV(t, sim_tr_task_list, qentry) : TAILQ_NEXT(t, qentry);
		}
	}
	return false;
}

/* Priority first, then the earlier queue entry, then creation order. */
static bool
sim_tr_routing_better(const struct sim_tr_task *a, const struct sim_tr_task *b)
{
	if (a->priority != b->priority)
		return a->priority > b->priority;
	if (a->queue_entered_ms != b->queue_entered_ms)
		return a->queue_entered_ms < b->queue_entered_ms;
	return a->seq < b->seq;
}

static bool
sim_tr_routing_assign_one(struct sim_tr *tr)
{
	struct sim_tr_queue *q = NULL;
	struct sim_tr_task *t = NULL;
	struct sim_tr_worker *w = NULL;
	struct sim_tr_task *best_t = NULL;
	struct sim_tr_worker *best_w = NULL;

	if (TAILQ_EMPTY(&tr->idle))
		return false;
	TAILQ_FOREACH(q, &tr->queue_list, entry) {
		if (q->waiting == 0)
			continue;
		if (best_t != NULL && TAILQ_FIRST(&q->buckets)->priority < best_t->priority)
			continue;
		if (!sim_tr_routing_queue_candidate(tr, q, &t, &w))
			continue;
		if (best_t == NULL || sim_tr_routing_better(t, best_t)) {
			best_t = t;
			best_w = w;
		}
	}
	if (best_t == NULL)
		return false;
	sim_tr_routing_reserve(tr, best_t, best_w);
	return true;
}

void
sim_tr_routing_run(struct sim_tr *tr)
{
	if (tr->routing_busy) {
		tr->routing_again = true;
		return;
	}
	tr->routing_busy = true;
	do {
		tr->routing_again = false;
		while (sim_tr_routing_assign_one(tr))
			;
	} while (tr->routing_again);
	tr->routing_busy = false;
}

static void
sim_tr_routing_ttl_cb(void *arg)
{
	struct sim_tr_task *t = arg;
	struct sim_tr *tr = t->tr;
	struct sim_tr_reservation *res = t->active;
	int64_t now = sim_tr_now(tr);

	t->ttl_timer = NULL;
	if (t->status == SIM_TR_TASK_PENDING || t->status == SIM_TR_TASK_RESERVED) {
		(void)sim_tr_routing_task_cancel(tr, t, "Task TTL Exceeded", NULL);
	} else if (t->status == SIM_TR_TASK_ASSIGNED || t->status == SIM_TR_TASK_WRAPPING) {
		if (res != NULL)
			sim_tr_routing_release(tr, res, now);
		sim_tr_routing_emit(tr, SIM_TR_EV_TASK_SYSTEM_DELETED, t, NULL, NULL);
		sim_tr_task_remove(tr, t);
	}
	sim_tr_routing_run(tr);
}

/* Picks the target queue of a workflow for the task's attributes. */
static struct sim_tr_queue *
sim_tr_routing_match(struct sim_tr_workflow *wf, struct sim_tr_task *t, const char **filter_out,
		     const struct sim_tr_filter **f_out)
{
	size_t i;

	*f_out = NULL;
	for (i = 0; i < wf->nfilters; i++) {
		if (wf->filters[i].queue == NULL)
			continue;
		if (sim_tr_expr_eval(wf->filters[i].expr, json_doc_root(t->attr_doc), NULL, NULL)) {
			*filter_out = wf->filters[i].name;
			*f_out = &wf->filters[i];
			return wf->filters[i].queue;
		}
	}
	*filter_out = SIM_TR_ROUTING_DEFAULT_FILTER;
	return wf->default_queue;
}

struct sim_tr_task *
sim_tr_routing_task_create(struct sim_tr *tr, const struct sim_tr_task_spec *spec)
{
	struct sim_tr_task *t = sim_tr_task_add(tr, spec->attributes);
	struct sim_tr_queue *q = spec->queue;
	const struct sim_tr_filter *f = NULL;
	const char *filter_name = NULL;
	struct sim_tr_event_ctx ctx = { 0 };
	int64_t now = t->created_ms;

	t->priority = spec->priority;
	t->channel = spec->channel;
	t->timeout_s = spec->timeout_s;
	t->workflow = spec->workflow;
	t->ttl_timer = sim_timer_add(tr->sim->clock, t->timeout_s * 1000, sim_tr_routing_ttl_cb, t);
	sim_tr_routing_emit(tr, SIM_TR_EV_TASK_CREATED, t, NULL, NULL);
	if (q == NULL && t->workflow != NULL) {
		sim_tr_routing_emit(tr, SIM_TR_EV_WORKFLOW_ENTERED, t, NULL, NULL);
		q = sim_tr_routing_match(t->workflow, t, &filter_name, &f);
	}
	if (q == NULL) {
		sim_tr_routing_emit(tr, SIM_TR_EV_WORKFLOW_TIMEOUT, t, NULL, NULL);
		sim_tr_routing_finish(tr, t, SIM_TR_TASK_CANCELED, "Workflow Timeout", now);
		sim_tr_routing_emit(tr, SIM_TR_EV_TASK_CANCELED, t, NULL, NULL);
		return t;
	}
	if (f != NULL && f->has_priority)
		t->priority = f->priority;
	t->queue = q;
	t->queue_entered_ms = now;
	if (filter_name != NULL)
		t->filter_name = xstrdup(filter_name);
	sim_tr_task_touch(t, now);
	if (t->workflow != NULL && spec->queue == NULL) {
		ctx.task = t;
		ctx.filter_name = filter_name;
		sim_tr_events_emit(tr, SIM_TR_EV_WORKFLOW_TARGET_MATCHED, &ctx);
	}
	sim_tr_queue_insert(q, t);
	sim_tr_routing_emit(tr, SIM_TR_EV_TASK_QUEUE_ENTERED, t, NULL, NULL);
	return t;
}

int
sim_tr_routing_task_cancel(struct sim_tr *tr, struct sim_tr_task *t, const char *reason,
			   char **cause_out)
{
	struct sim_tr_reservation *res = t->active;
	int64_t now = sim_tr_now(tr);

	if (t->status != SIM_TR_TASK_PENDING && t->status != SIM_TR_TASK_RESERVED) {
		if (cause_out != NULL)
			*cause_out = xasprintf("Cannot cancel task %s because it is not pending "
					       "or reserved",
					       t->sid);
		return -EINVAL;
	}
	sim_tr_routing_finish(tr, t, SIM_TR_TASK_CANCELED, reason, now);
	if (res != NULL) {
		sim_timer_cancel(res->timeout_timer);
		res->timeout_timer = NULL;
		sim_tr_routing_touch_res(res, SIM_TR_RES_CANCELED, now);
		sim_tr_routing_release(tr, res, now);
	}
	sim_tr_routing_emit(tr, SIM_TR_EV_TASK_CANCELED, t, NULL, NULL);
	if (res != NULL)
		sim_tr_routing_emit(tr, SIM_TR_EV_RESERVATION_CANCELED, NULL, NULL, res);
	return 0;
}

int
sim_tr_routing_task_wrapup(struct sim_tr *tr, struct sim_tr_task *t, const char *reason,
			   char **cause_out)
{
	struct sim_tr_reservation *res = t->active;
	int64_t now = sim_tr_now(tr);

	if (t->status != SIM_TR_TASK_ASSIGNED) {
		if (cause_out != NULL)
			*cause_out = xasprintf("Cannot wrap up task %s because it is not assigned",
					       t->sid);
		return -EINVAL;
	}
	sim_tr_task_set_status(tr, t, SIM_TR_TASK_WRAPPING);
	if (reason != NULL)
		sim_tr_task_set_reason(t, reason);
	sim_tr_task_touch(t, now);
	if (res != NULL)
		sim_tr_routing_touch_res(res, SIM_TR_RES_WRAPPING, now);
	sim_tr_routing_emit(tr, SIM_TR_EV_TASK_WRAPUP, t, res != NULL ? res->worker : NULL, NULL);
	if (res != NULL)
		sim_tr_routing_emit(tr, SIM_TR_EV_RESERVATION_WRAPUP, NULL, NULL, res);
	return 0;
}

int
sim_tr_routing_task_complete(struct sim_tr *tr, struct sim_tr_task *t, const char *reason,
			     char **cause_out)
{
	struct sim_tr_reservation *res = t->active;
	struct sim_tr_worker *w = res != NULL ? res->worker : NULL;
	int64_t now = sim_tr_now(tr);

	if (t->status != SIM_TR_TASK_ASSIGNED && t->status != SIM_TR_TASK_WRAPPING) {
		if (cause_out != NULL)
			*cause_out = xasprintf("Cannot complete task %s because it is not assigned "
					       "or wrapping",
					       t->sid);
		return -EINVAL;
	}
	sim_tr_routing_finish(tr, t, SIM_TR_TASK_COMPLETED, reason, now);
	if (res != NULL) {
		sim_tr_routing_touch_res(res, SIM_TR_RES_COMPLETED, now);
		sim_tr_routing_release(tr, res, now);
	}
	sim_tr_routing_emit(tr, SIM_TR_EV_TASK_COMPLETED, t, w, NULL);
	if (res != NULL)
		sim_tr_routing_emit(tr, SIM_TR_EV_RESERVATION_COMPLETED, NULL, NULL, res);
	if (w != NULL && res->post_work_activity != NULL)
		sim_tr_routing_set_activity(tr, w, res->post_work_activity, now);
	return 0;
}

void
sim_tr_routing_task_update(struct sim_tr *tr, struct sim_tr_task *t, const char *attributes,
			   const int64_t *priority)
{
	int64_t now = sim_tr_now(tr);

	if (attributes != NULL)
		sim_tr_task_set_attributes(t, attributes);
	if (priority != NULL && *priority != t->priority) {
		if (t->bucket != NULL) {
			sim_tr_queue_unlink(t->queue, t);
			t->priority = *priority;
			sim_tr_queue_insert(t->queue, t);
		} else {
			t->priority = *priority;
		}
	}
	sim_tr_task_touch(t, now);
	sim_tr_routing_emit(tr, SIM_TR_EV_TASK_UPDATED, t, NULL, NULL);
}

void
sim_tr_routing_task_delete(struct sim_tr *tr, struct sim_tr_task *t)
{
	struct sim_tr_reservation *res = t->active;
	int64_t now = sim_tr_now(tr);

	if (res != NULL) {
		sim_timer_cancel(res->timeout_timer);
		res->timeout_timer = NULL;
		if (res->status == SIM_TR_RES_PENDING)
			sim_tr_routing_touch_res(res, SIM_TR_RES_CANCELED, now);
		sim_tr_routing_release(tr, res, now);
	}
	sim_tr_routing_emit(tr, SIM_TR_EV_TASK_DELETED, t, NULL, NULL);
	sim_tr_task_remove(tr, t);
}

/* Task attributes with "conference" set (replacing any earlier one); caller frees. */
static char *
sim_tr_routing_conference_attrs(const struct sim_tr_task *t, const struct sim_tr_conference *c)
{
	struct json_gen *g = json_gen_new();
	const struct json_value *root = json_doc_root(t->attr_doc);
	char *text = NULL;
	size_t i;

	json_gen_object_open(g);
	for (i = 0; i < json_object_len(root); i++) {
		if (strcmp(json_object_key(root, i), "conference") == 0)
			continue;
		json_gen_key(g, json_object_key(root, i));
		json_gen_value(g, json_object_at(root, i));
	}
	json_gen_key(g, "conference");
	json_gen_object_open(g);
	json_gen_kv_string(g, "sid", c->sid);
	json_gen_key(g, "participants");
	json_gen_object_open(g);
	json_gen_kv_string(g, "customer", sim_tr_conference_call(c, "customer"));
	json_gen_kv_string(g, "worker", sim_tr_conference_call(c, "worker"));
	json_gen_object_close(g);
	json_gen_object_close(g);
	json_gen_object_close(g);
	text = json_gen_steal(g, NULL);
	json_gen_free(g);
	return text;
}

int
sim_tr_routing_reservation_accept(struct sim_tr *tr, struct sim_tr_reservation *res,
				  const struct sim_tr_accept *acc, char **cause_out)
{
	struct sim_tr_task *t = res->task;
	struct sim_tr_worker *w = res->worker;
	struct sim_tr_conference *c = NULL;
	char *attrs = NULL;
	int64_t now = sim_tr_now(tr);

	if (res->status != SIM_TR_RES_PENDING) {
		if (cause_out != NULL)
			*cause_out = xasprintf("Reservation %s cannot be accepted: it is %s",
					       res->sid, sim_tr_res_status_name(res->status));
		return -EINVAL;
	}
	sim_timer_cancel(res->timeout_timer);
	res->timeout_timer = NULL;
	if (acc != NULL && acc->conference) {
		c = sim_tr_conference_start(tr, t, acc->end_conference_on_exit);
		attrs = sim_tr_routing_conference_attrs(t, c);
		sim_tr_task_set_attributes(t, attrs);
		free(attrs);
		log_trace(LOG_TRACE_SIM, "conference %s for task %s", c->sid, t->sid);
	}
	if (acc != NULL)
		res->post_work_activity = acc->post_work_activity;
	sim_tr_routing_touch_res(res, SIM_TR_RES_ACCEPTED, now);
	sim_tr_task_set_status(tr, t, SIM_TR_TASK_ASSIGNED);
	sim_tr_task_touch(t, now);
	sim_tr_routing_emit(tr, SIM_TR_EV_RESERVATION_ACCEPTED, NULL, NULL, res);
	if (c != NULL)
		sim_tr_routing_emit(tr, SIM_TR_EV_TASK_UPDATED, t, NULL, NULL);
	if (w != NULL && t->queue != NULL && t->queue->assignment_activity != NULL)
		sim_tr_routing_set_activity(tr, w, t->queue->assignment_activity, now);
	return 0;
}

static void
sim_tr_routing_unreserve(struct sim_tr *tr, struct sim_tr_reservation *res,
			 enum sim_tr_res_status s, enum sim_tr_ev type, int64_t now)
{
	sim_timer_cancel(res->timeout_timer);
	res->timeout_timer = NULL;
	sim_tr_routing_touch_res(res, s, now);
	sim_tr_routing_release(tr, res, now);
	sim_tr_routing_requeue(tr, res->task, now);
	sim_tr_routing_emit(tr, type, NULL, NULL, res);
	sim_tr_routing_check_assignments(tr, res->task);
}

int
sim_tr_routing_reservation_reject(struct sim_tr *tr, struct sim_tr_reservation *res,
				  struct sim_tr_activity *activity, char **cause_out)
{
	struct sim_tr_task *t = res->task;
	struct sim_tr_worker *w = res->worker;
	int64_t now = sim_tr_now(tr);

	if (res->status != SIM_TR_RES_PENDING) {
		if (cause_out != NULL)
			*cause_out = xasprintf("Reservation %s cannot be rejected: it is %s",
					       res->sid, sim_tr_res_status_name(res->status));
		return -EINVAL;
	}
	t->rejected_by = xreallocarray(t->rejected_by, t->nrejected + 1, sizeof(*t->rejected_by));
	memcpy(t->rejected_by[t->nrejected++], res->worker_sid, SID_LEN + 1);
	sim_tr_routing_unreserve(tr, res, SIM_TR_RES_REJECTED, SIM_TR_EV_RESERVATION_REJECTED, now);
	if (w != NULL && activity != NULL)
		sim_tr_routing_set_activity(tr, w, activity, now);
	return 0;
}

int
sim_tr_routing_reservation_wrapup(struct sim_tr *tr, struct sim_tr_reservation *res,
				  char **cause_out)
{
	if (res->status != SIM_TR_RES_ACCEPTED || res->task->active != res) {
		if (cause_out != NULL)
			*cause_out = xasprintf("Reservation %s cannot wrap up: it is %s", res->sid,
					       sim_tr_res_status_name(res->status));
		return -EINVAL;
	}
	return sim_tr_routing_task_wrapup(tr, res->task, NULL, cause_out);
}

int
sim_tr_routing_reservation_complete(struct sim_tr *tr, struct sim_tr_reservation *res,
				    char **cause_out)
{
	if ((res->status != SIM_TR_RES_ACCEPTED && res->status != SIM_TR_RES_WRAPPING) ||
	    res->task->active != res) {
		if (cause_out != NULL)
			*cause_out = xasprintf("Reservation %s cannot be completed: it is %s",
					       res->sid, sim_tr_res_status_name(res->status));
		return -EINVAL;
	}
	return sim_tr_routing_task_complete(tr, res->task, NULL, cause_out);
}

struct sim_tr_worker *
sim_tr_routing_worker_create(struct sim_tr *tr, const char *name, const char *attributes,
			     struct sim_tr_activity *activity)
{
	struct sim_tr_worker *w = sim_tr_worker_add(tr, name, attributes, activity);

	sim_tr_routing_emit(tr, SIM_TR_EV_WORKER_CREATED, NULL, w, NULL);
	return w;
}

void
sim_tr_routing_worker_set_activity(struct sim_tr *tr, struct sim_tr_worker *w,
				   struct sim_tr_activity *a, bool reject_pending)
{
	struct sim_tr_reservation *res = NULL;
	int64_t now = sim_tr_now(tr);

	sim_tr_routing_set_activity(tr, w, a, now);
	while (reject_pending && !a->available &&
	       (res = sim_tr_worker_held(w, SIM_TR_RES_PENDING)) != NULL)
		(void)sim_tr_routing_reservation_reject(tr, res, NULL, NULL);
}

void
sim_tr_routing_worker_set_attributes(struct sim_tr *tr, struct sim_tr_worker *w,
				     const char *attributes)
{
	sim_tr_worker_set_attributes(w, attributes);
	sim_tr_worker_touch(w, sim_tr_now(tr));
	sim_tr_routing_emit(tr, SIM_TR_EV_WORKER_ATTRIBUTES_UPDATE, NULL, w, NULL);
}

void
sim_tr_routing_worker_delete(struct sim_tr *tr, struct sim_tr_worker *w)
{
	struct sim_tr_reservation *res = NULL;
	int64_t now = sim_tr_now(tr);

	while ((res = sim_tr_worker_held(w, SIM_TR_RES_PENDING)) != NULL)
		sim_tr_routing_unreserve(tr, res, SIM_TR_RES_RESCINDED,
					 SIM_TR_EV_RESERVATION_RESCINDED, now);
	sim_tr_routing_emit(tr, SIM_TR_EV_WORKER_DELETED, NULL, w, NULL);
	sim_tr_worker_remove(tr, w);
}

void
sim_tr_routing_conference_ended(struct sim_tr *tr, struct sim_tr_conference *c)
{
	struct sim_tr_task *t = sim_tr_task_get(tr, c->friendly_name);

	if (t != NULL && t->status == SIM_TR_TASK_ASSIGNED)
		(void)sim_tr_routing_task_wrapup(tr, t, NULL, NULL);
}
