/*
 * TaskRouter statistics (definitions in sim_tr_stats.h).
 *
 * Real-time figures walk the live model (tasks, workers); cumulative ones
 * walk the event log between two binary-searched bounds. Nothing is cached:
 * every answer is recomputed from state, so it can never drift from what
 * the callbacks reported.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hmap.h"
#include "json.h"
#include "sim.h"
#include "sim_http.h"
#include "sim_tr_events.h"
#include "sim_tr_state.h"
#include "sim_tr_stats.h"
#include "xmalloc.h"

struct sim_tr_stats_dur {
	int64_t n;
	int64_t total;
	int64_t min;
	int64_t max;
};

struct sim_tr_stats_split {
	int64_t below_canceled;
	int64_t below_accepted;
	int64_t above_canceled;
	int64_t above_accepted;
};

struct sim_tr_stats_acc {
	int64_t res_created;
	int64_t res_accepted;
	int64_t res_rejected;
	int64_t res_timed_out;
	int64_t res_canceled;
	int64_t res_rescinded;
	int64_t tasks_created;
	int64_t tasks_entered;
	int64_t workflow_entered;
	int64_t tasks_canceled;
	int64_t tasks_completed;
	int64_t tasks_deleted;
	int64_t tasks_timed_out_in_workflow;
	struct sim_tr_stats_dur until_accepted;
	struct sim_tr_stats_dur until_canceled;
	struct sim_tr_stats_dur in_queue_until_accepted;
	struct sim_tr_stats_split split[SIM_TR_STATS_MAX_SPLITS];
};

/* Which events count: all, one queue's, or those of a set of workers. */
struct sim_tr_stats_sel {
	const char *queue_sid;
	const char *workflow_sid;
	const struct hmap *workers; /* worker SID -> worker, or NULL */
};

struct sim_tr_stats_prio {
	int64_t priority;
	int64_t count;
};

static void
sim_tr_stats_dur_add(struct sim_tr_stats_dur *d, int64_t v)
{
	if (v < 0)
		v = 0;
	if (d->n == 0 || v < d->min)
		d->min = v;
	if (d->n == 0 || v > d->max)
		d->max = v;
	d->total += v;
	d->n++;
}

/* Milliseconds to whole seconds, rounded to the nearest. */
static int64_t
sim_tr_stats_round_s(int64_t ms)
{
	return (ms + 500) / 1000;
}

static int64_t
sim_tr_stats_avg_s(const struct sim_tr_stats_dur *d)
{
	return d->n != 0 ? sim_tr_stats_round_s(d->total / d->n) : 0;
}

static void
sim_tr_stats_dur_json(struct json_gen *g, const char *key, const struct sim_tr_stats_dur *d)
{
	json_gen_key(g, key);
	json_gen_object_open(g);
	json_gen_kv_int(g, "avg", sim_tr_stats_avg_s(d));
	json_gen_kv_int(g, "min", sim_tr_stats_round_s(d->min));
	json_gen_kv_int(g, "max", sim_tr_stats_round_s(d->max));
	json_gen_kv_int(g, "total", sim_tr_stats_round_s(d->total));
	json_gen_object_close(g);
}

static bool
sim_tr_stats_selected(const struct sim_tr_stats_sel *sel, const struct sim_tr_event *e)
{
	if (sel->queue_sid != NULL && strcmp(sel->queue_sid, e->queue_sid) != 0)
		return false;
	if (sel->workflow_sid != NULL && strcmp(sel->workflow_sid, e->workflow_sid) != 0)
		return false;
	if (sel->workers != NULL &&
	    (e->worker_sid[0] == '\0' || hmap_get(sel->workers, e->worker_sid) == NULL))
		return false;
	return true;
}

static void
sim_tr_stats_accumulate(struct sim_tr *tr, const struct sim_tr_stats_sel *sel,
			const struct sim_tr_stats_window *w, struct sim_tr_stats_acc *acc)
{
	const struct sim_tr_events *ev = tr->events;
	const struct sim_tr_event *e = NULL;
	size_t n = sim_tr_events_count(ev);
	size_t i;
	size_t k;

	memset(acc, 0, sizeof(*acc));
	for (i = sim_tr_events_lower_bound(ev, w->start_ms); i < n; i++) {
		e = sim_tr_events_at(ev, i);
		if (e->ts_ms > w->end_ms)
			break;
		if (!sim_tr_stats_selected(sel, e))
			continue;
		switch (e->type) {
		case SIM_TR_EV_RESERVATION_CREATED:
			acc->res_created++;
			break;
		case SIM_TR_EV_RESERVATION_ACCEPTED:
			acc->res_accepted++;
			sim_tr_stats_dur_add(&acc->until_accepted, e->task_age_ms);
			sim_tr_stats_dur_add(&acc->in_queue_until_accepted, e->queue_age_ms);
			for (k = 0; k < w->nsplits; k++) {
				if (e->task_age_ms < w->splits[k] * 1000)
					acc->split[k].below_accepted++;
				else
					acc->split[k].above_accepted++;
			}
			break;
		case SIM_TR_EV_RESERVATION_REJECTED:
			acc->res_rejected++;
			break;
		case SIM_TR_EV_RESERVATION_TIMEOUT:
			acc->res_timed_out++;
			break;
		case SIM_TR_EV_RESERVATION_CANCELED:
			acc->res_canceled++;
			break;
		case SIM_TR_EV_RESERVATION_RESCINDED:
			acc->res_rescinded++;
			break;
		case SIM_TR_EV_TASK_CREATED:
			acc->tasks_created++;
			break;
		case SIM_TR_EV_TASK_QUEUE_ENTERED:
			acc->tasks_entered++;
			break;
		case SIM_TR_EV_WORKFLOW_ENTERED:
			acc->workflow_entered++;
			break;
		case SIM_TR_EV_TASK_CANCELED:
			acc->tasks_canceled++;
			sim_tr_stats_dur_add(&acc->until_canceled, e->task_age_ms);
			for (k = 0; k < w->nsplits; k++) {
				if (e->task_age_ms < w->splits[k] * 1000)
					acc->split[k].below_canceled++;
				else
					acc->split[k].above_canceled++;
			}
			break;
		case SIM_TR_EV_TASK_COMPLETED:
			acc->tasks_completed++;
			break;
		case SIM_TR_EV_TASK_DELETED:
		case SIM_TR_EV_TASK_SYSTEM_DELETED:
			acc->tasks_deleted++;
			break;
		case SIM_TR_EV_WORKFLOW_TIMEOUT:
			acc->tasks_timed_out_in_workflow++;
			break;
		default:
			break;
		}
	}
}

static void
sim_tr_stats_window_json(struct json_gen *g, const struct sim_tr_stats_window *w)
{
	char iso[32];

	sim_format_iso(w->start_ms, iso);
	json_gen_kv_string(g, "start_time", iso);
	sim_format_iso(w->end_ms, iso);
	json_gen_kv_string(g, "end_time", iso);
}

static void
sim_tr_stats_reservations_json(struct json_gen *g, const struct sim_tr_stats_acc *acc)
{
	json_gen_kv_int(g, "reservations_created", acc->res_created);
	json_gen_kv_int(g, "reservations_accepted", acc->res_accepted);
	json_gen_kv_int(g, "reservations_rejected", acc->res_rejected);
	json_gen_kv_int(g, "reservations_timed_out", acc->res_timed_out);
	json_gen_kv_int(g, "reservations_canceled", acc->res_canceled);
	json_gen_kv_int(g, "reservations_rescinded", acc->res_rescinded);
}

static void
sim_tr_stats_split_json(struct json_gen *g, const struct sim_tr_stats_window *w,
			const struct sim_tr_stats_acc *acc)
{
	char key[32];
	size_t k;

	if (!w->split_requested) {
		json_gen_kv_null(g, "split_by_wait_time");
		return;
	}
	json_gen_key(g, "split_by_wait_time");
	json_gen_object_open(g);
	for (k = 0; k < w->nsplits; k++) {
		snprintf(key, sizeof(key), "%lld", (long long)w->splits[k]);
		json_gen_key(g, key);
		json_gen_object_open(g);
		json_gen_key(g, "above");
		json_gen_object_open(g);
		json_gen_kv_int(g, "tasks_canceled", acc->split[k].above_canceled);
		json_gen_kv_int(g, "reservations_accepted", acc->split[k].above_accepted);
		json_gen_object_close(g);
		json_gen_key(g, "below");
		json_gen_object_open(g);
		json_gen_kv_int(g, "tasks_canceled", acc->split[k].below_canceled);
		json_gen_kv_int(g, "reservations_accepted", acc->split[k].below_accepted);
		json_gen_object_close(g);
		json_gen_object_close(g);
	}
	json_gen_object_close(g);
}

static void
sim_tr_stats_cumulative_common(struct json_gen *g, const struct sim_tr_stats_window *w,
			       const struct sim_tr_stats_acc *acc)
{
	json_gen_kv_int(g, "avg_task_acceptance_time", sim_tr_stats_avg_s(&acc->until_accepted));
	sim_tr_stats_window_json(g, w);
	sim_tr_stats_reservations_json(g, acc);
	json_gen_kv_int(g, "tasks_canceled", acc->tasks_canceled);
	json_gen_kv_int(g, "tasks_completed", acc->tasks_completed);
	json_gen_kv_int(g, "tasks_deleted", acc->tasks_deleted);
	json_gen_kv_int(g, "tasks_moved", 0);
	sim_tr_stats_dur_json(g, "wait_duration_until_accepted", &acc->until_accepted);
	sim_tr_stats_dur_json(g, "wait_duration_until_canceled", &acc->until_canceled);
	sim_tr_stats_split_json(g, w, acc);
}

void
sim_tr_stats_ws_cumulative(struct sim_tr *tr, const struct sim_tr_stats_window *w,
			   struct json_gen *g)
{
	struct sim_tr_stats_sel sel = { 0 };
	struct sim_tr_stats_acc acc;

	sim_tr_stats_accumulate(tr, &sel, w, &acc);
	sim_tr_stats_cumulative_common(g, w, &acc);
	json_gen_kv_int(g, "tasks_created", acc.tasks_created);
	json_gen_kv_int(g, "tasks_timed_out_in_workflow", acc.tasks_timed_out_in_workflow);
}

void
sim_tr_stats_queue_cumulative(struct sim_tr *tr, struct sim_tr_queue *q,
			      const struct sim_tr_stats_window *w, struct json_gen *g)
{
	struct sim_tr_stats_sel sel = { .queue_sid = q->sid };
	struct sim_tr_stats_acc acc;

	sim_tr_stats_accumulate(tr, &sel, w, &acc);
	sim_tr_stats_cumulative_common(g, w, &acc);
	json_gen_kv_int(g, "tasks_entered", acc.tasks_entered);
	sim_tr_stats_dur_json(g, "wait_duration_in_queue_until_accepted",
			      &acc.in_queue_until_accepted);
	json_gen_kv_string(g, "task_queue_sid", q->sid);
}

static int
sim_tr_stats_prio_cmp(const void *a, const void *b)
{
	const struct sim_tr_stats_prio *pa = a;
	const struct sim_tr_stats_prio *pb = b;

	return pa->priority < pb->priority ? -1 : pa->priority > pb->priority ? 1 : 0;
}

/* Counts task t into a small priority table. */
static void
sim_tr_stats_prio_add(struct sim_tr_stats_prio **tab, size_t *n, int64_t priority)
{
	size_t i;

	for (i = 0; i < *n; i++) {
		if ((*tab)[i].priority == priority) {
			(*tab)[i].count++;
			return;
		}
	}
	*tab = xreallocarray(*tab, *n + 1, sizeof(**tab));
	(*tab)[*n].priority = priority;
	(*tab)[*n].count = 1;
	(*n)++;
}

/* Task-side real-time figures over active tasks of q and/or wf (NULL: all tasks). */
static void
sim_tr_stats_tasks_realtime(struct sim_tr *tr, struct sim_tr_queue *q, struct sim_tr_workflow *wf,
			    struct json_gen *g)
{
	struct sim_tr_task *t = NULL;
	struct sim_tr_task *oldest = NULL;
	struct sim_tr_task *oldest_in_queue = NULL;
	struct sim_tr_stats_prio *prio = NULL;
	size_t nprio = 0;
	int64_t by_status[SIM_TR_TASK_NSTATUS] = { 0 };
	int64_t now = sim_tr_now(tr);
	char key[32];
	size_t i;

	TAILQ_FOREACH(t, &tr->task_list, entry) {
		if (!sim_tr_task_is_active(t) || (q != NULL && t->queue != q) ||
		    (wf != NULL && t->workflow != wf))
			continue;
		by_status[t->status]++;
		sim_tr_stats_prio_add(&prio, &nprio, t->priority);
		if (t->status != SIM_TR_TASK_PENDING && t->status != SIM_TR_TASK_RESERVED)
			continue;
		/* task_list is in creation order: the first waiting task is the oldest. */
		if (oldest == NULL)
			oldest = t;
		if (t->queue_entered_ms != 0 &&
		    (oldest_in_queue == NULL ||
		     t->queue_entered_ms < oldest_in_queue->queue_entered_ms))
			oldest_in_queue = t;
	}
	json_gen_kv_int(g, "longest_task_waiting_age",
			oldest != NULL ? (now - oldest->created_ms) / 1000 : 0);
	json_gen_kv_string(g, "longest_task_waiting_sid", oldest != NULL ? oldest->sid : NULL);
	if (q != NULL) {
		json_gen_kv_int(g, "longest_relative_task_age_in_queue",
				oldest_in_queue != NULL
					? (now - oldest_in_queue->queue_entered_ms) / 1000
					: 0);
		json_gen_kv_string(g, "longest_relative_task_sid_in_queue",
				   oldest_in_queue != NULL ? oldest_in_queue->sid : NULL);
	}
	if (nprio > 1)
		qsort(prio, nprio, sizeof(*prio), sim_tr_stats_prio_cmp);
	json_gen_key(g, "tasks_by_priority");
	json_gen_object_open(g);
	for (i = 0; i < nprio; i++) {
		snprintf(key, sizeof(key), "%lld", (long long)prio[i].priority);
		json_gen_kv_int(g, key, prio[i].count);
	}
	json_gen_object_close(g);
	json_gen_key(g, "tasks_by_status");
	json_gen_object_open(g);
	json_gen_kv_int(g, "pending", by_status[SIM_TR_TASK_PENDING]);
	json_gen_kv_int(g, "reserved", by_status[SIM_TR_TASK_RESERVED]);
	json_gen_kv_int(g, "assigned", by_status[SIM_TR_TASK_ASSIGNED]);
	json_gen_kv_int(g, "wrapping", by_status[SIM_TR_TASK_WRAPPING]);
	json_gen_object_close(g);
	json_gen_kv_int(g, "total_tasks",
			by_status[SIM_TR_TASK_PENDING] + by_status[SIM_TR_TASK_RESERVED] +
				by_status[SIM_TR_TASK_ASSIGNED] + by_status[SIM_TR_TASK_WRAPPING]);
	free(prio);
}

static bool
sim_tr_stats_worker_selected(const struct sim_tr_stats_workers *sel, struct sim_tr_worker *w)
{
	if (sel == NULL)
		return true;
	if (sel->friendly_name != NULL && strcmp(sel->friendly_name, w->friendly_name) != 0)
		return false;
	if (sel->queue != NULL && !sim_tr_queue_accepts(sel->queue, w))
		return false;
	return true;
}

/* activity_statistics over the selected workers; returns the count selected, sets *available. */
static int64_t
sim_tr_stats_activity_json(struct sim_tr *tr, const struct sim_tr_stats_workers *sel,
			   struct json_gen *g, int64_t *available_out)
{
	struct sim_tr_activity *a = NULL;
	struct sim_tr_worker *w = NULL;
	struct hmap *counts = hmap_new();
	int64_t *cnt = NULL;
	int64_t total = 0;
	int64_t available = 0;
	size_t pos = 0;
	const char *key = NULL;
	void *val = NULL;

	TAILQ_FOREACH(a, &tr->activity_list, entry)
		hmap_put(counts, a->sid, xcalloc(1, sizeof(int64_t)));
	TAILQ_FOREACH(w, &tr->worker_list, entry) {
		if (!sim_tr_stats_worker_selected(sel, w))
			continue;
		total++;
		if (w->activity->available)
			available++;
		cnt = hmap_get(counts, w->activity->sid);
		if (cnt != NULL)
			(*cnt)++;
	}
	json_gen_key(g, "activity_statistics");
	json_gen_array_open(g);
	TAILQ_FOREACH(a, &tr->activity_list, entry) {
		cnt = hmap_get(counts, a->sid);
		json_gen_object_open(g);
		json_gen_kv_string(g, "sid", a->sid);
		json_gen_kv_string(g, "friendly_name", a->friendly_name);
		json_gen_kv_int(g, "workers", *cnt);
		json_gen_object_close(g);
	}
	json_gen_array_close(g);
	while (hmap_next(counts, &pos, &key, &val))
		free(val);
	hmap_free(counts);
	if (available_out != NULL)
		*available_out = available;
	return total;
}

void
sim_tr_stats_ws_realtime(struct sim_tr *tr, struct json_gen *g)
{
	int64_t total;

	total = sim_tr_stats_activity_json(tr, NULL, g, NULL);
	sim_tr_stats_tasks_realtime(tr, NULL, NULL, g);
	json_gen_kv_int(g, "total_workers", total);
}

void
sim_tr_stats_queue_realtime(struct sim_tr *tr, struct sim_tr_queue *q, struct json_gen *g)
{
	struct sim_tr_stats_workers sel = { .queue = q };
	int64_t available = 0;
	int64_t eligible;

	eligible = sim_tr_stats_activity_json(tr, &sel, g, &available);
	sim_tr_stats_tasks_realtime(tr, q, NULL, g);
	json_gen_kv_int(g, "total_available_workers", available);
	json_gen_kv_int(g, "total_eligible_workers", eligible);
	json_gen_kv_string(g, "task_queue_sid", q->sid);
}

void
sim_tr_stats_workers_realtime(struct sim_tr *tr, const struct sim_tr_stats_workers *sel,
			      struct json_gen *g)
{
	int64_t total;

	total = sim_tr_stats_activity_json(tr, sel, g, NULL);
	json_gen_kv_int(g, "total_workers", total);
}

/* Adds the clipped stretches of w's history into per-activity durations. */
static void
sim_tr_stats_worker_durations(struct sim_tr *tr, struct sim_tr_worker *w,
			      const struct sim_tr_stats_window *win, struct hmap *durs)
{
	struct sim_tr_stats_dur *d = NULL;
	int64_t now = sim_tr_now(tr);
	int64_t from;
	int64_t to;
	size_t i;

	for (i = 0; i < w->nhist; i++) {
		from = w->hist[i].start_ms;
		to = i + 1 < w->nhist ? w->hist[i + 1].start_ms : now;
		if (from < win->start_ms)
			from = win->start_ms;
		if (to > win->end_ms)
			to = win->end_ms;
		if (to <= from)
			continue;
		d = hmap_get(durs, w->hist[i].activity_sid);
		if (d != NULL)
			sim_tr_stats_dur_add(d, to - from);
	}
}

static void
sim_tr_stats_durations_json(struct sim_tr *tr, struct hmap *durs, struct json_gen *g)
{
	struct sim_tr_activity *a = NULL;
	struct sim_tr_stats_dur *d = NULL;

	json_gen_key(g, "activity_durations");
	json_gen_array_open(g);
	TAILQ_FOREACH(a, &tr->activity_list, entry) {
		d = hmap_get(durs, a->sid);
		json_gen_object_open(g);
		json_gen_kv_string(g, "sid", a->sid);
		json_gen_kv_string(g, "friendly_name", a->friendly_name);
		json_gen_kv_int(g, "avg", sim_tr_stats_avg_s(d));
		json_gen_kv_int(g, "min", sim_tr_stats_round_s(d->min));
		json_gen_kv_int(g, "max", sim_tr_stats_round_s(d->max));
		json_gen_kv_int(g, "total", sim_tr_stats_round_s(d->total));
		json_gen_object_close(g);
	}
	json_gen_array_close(g);
}

static void
sim_tr_stats_workers_cumulative_sel(struct sim_tr *tr, struct hmap *workers,
				    const struct sim_tr_stats_window *w, struct json_gen *g)
{
	struct sim_tr_stats_sel sel = { .workers = workers };
	struct sim_tr_stats_acc acc;
	struct hmap *durs = hmap_new();
	struct sim_tr_activity *a = NULL;
	size_t pos = 0;
	const char *key = NULL;
	void *val = NULL;

	TAILQ_FOREACH(a, &tr->activity_list, entry)
		hmap_put(durs, a->sid, xcalloc(1, sizeof(struct sim_tr_stats_dur)));
	while (hmap_next(workers, &pos, &key, &val))
		sim_tr_stats_worker_durations(tr, val, w, durs);
	sim_tr_stats_accumulate(tr, &sel, w, &acc);
	sim_tr_stats_reservations_json(g, &acc);
	sim_tr_stats_durations_json(tr, durs, g);
	sim_tr_stats_window_json(g, w);
	pos = 0;
	while (hmap_next(durs, &pos, &key, &val))
		free(val);
	hmap_free(durs);
}

void
sim_tr_stats_workers_cumulative(struct sim_tr *tr, const struct sim_tr_stats_workers *sel,
				const struct sim_tr_stats_window *w, struct json_gen *g)
{
	struct hmap *workers = hmap_new();
	struct sim_tr_worker *wk = NULL;

	TAILQ_FOREACH(wk, &tr->worker_list, entry) {
		if (sim_tr_stats_worker_selected(sel, wk))
			hmap_put(workers, wk->sid, wk);
	}
	sim_tr_stats_workers_cumulative_sel(tr, workers, w, g);
	hmap_free(workers);
}

void
sim_tr_stats_worker_cumulative(struct sim_tr *tr, struct sim_tr_worker *wk,
			       const struct sim_tr_stats_window *w, struct json_gen *g)
{
	struct hmap *workers = hmap_new();

	hmap_put(workers, wk->sid, wk);
	sim_tr_stats_workers_cumulative_sel(tr, workers, w, g);
	hmap_free(workers);
}

void
sim_tr_stats_workflow_realtime(struct sim_tr *tr, struct sim_tr_workflow *wf, struct json_gen *g)
{
	sim_tr_stats_tasks_realtime(tr, NULL, wf, g);
}

void
sim_tr_stats_workflow_cumulative(struct sim_tr *tr, struct sim_tr_workflow *wf,
				 const struct sim_tr_stats_window *w, struct json_gen *g)
{
	struct sim_tr_stats_sel sel = { .workflow_sid = wf->sid };
	struct sim_tr_stats_acc acc;

	sim_tr_stats_accumulate(tr, &sel, w, &acc);
	sim_tr_stats_cumulative_common(g, w, &acc);
	json_gen_kv_int(g, "tasks_entered", acc.workflow_entered);
	json_gen_kv_int(g, "tasks_timed_out_in_workflow", acc.tasks_timed_out_in_workflow);
}
