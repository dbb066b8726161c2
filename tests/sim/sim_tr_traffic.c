/*
 * The traffic generator (behaviour in sim_tr_traffic.h).
 *
 * Each simulated agent has at most one pending timer and one planned action;
 * a new reservation replaces whatever it had planned. Timers keep SIDs and
 * look the task, worker or reservation up again when they fire, so the REST
 * API (or a test) may change or delete anything in between. Every change
 * goes through sim_tr_routing, and every timer callback ends by running
 * routing, like a REST handler.
 */

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hmap.h"
#include "json.h"
#include "log.h"
#include "queue.h"
#include "rng.h"
#include "sim.h"
#include "sim_clock.h"
#include "sim_tr_conference.h"
#include "sim_tr_routing.h"
#include "sim_tr_state.h"
#include "sim_tr_traffic.h"
#include "xmalloc.h"

enum sim_tr_traffic_action {
	SIM_TR_TRAFFIC_GO_ONLINE,
	SIM_TR_TRAFFIC_ACCEPT,
	SIM_TR_TRAFFIC_REJECT,
	SIM_TR_TRAFFIC_CHECK, /* after letting a reservation time out: come back */
	SIM_TR_TRAFFIC_HANG_UP,
	SIM_TR_TRAFFIC_WRAP_UP_DONE,
	SIM_TR_TRAFFIC_BREAK_OVER,
};

struct sim_tr_traffic;

struct sim_tr_agent {
	struct sim_tr_traffic *tf;
	char worker_sid[SID_LEN + 1];
	char res_sid[SID_LEN + 1];
	char task_sid[SID_LEN + 1];
	enum sim_tr_traffic_action action;
	struct sim_timer *timer;
	bool claimed; /* a person drives this worker: the generator leaves it alone */
	TAILQ_ENTRY(sim_tr_agent) entry;
};

struct sim_tr_caller {
	struct sim_tr_traffic *tf;
	char task_sid[SID_LEN + 1];
	struct sim_timer *timer;
	TAILQ_ENTRY(sim_tr_caller) entry;
};

struct sim_tr_traffic {
	struct sim_tr *tr;
	struct sim_timer *arrival;
	TAILQ_HEAD(, sim_tr_agent) agents;
	TAILQ_HEAD(, sim_tr_caller) callers;
	struct hmap *by_worker; /* worker SID -> agent */
	uint64_t calls;
};

static void sim_tr_traffic_agent_cb(void *arg);

struct sim_tr_traffic *
sim_tr_traffic_new(struct sim_tr *tr)
{
	struct sim_tr_traffic *tf = xcalloc(1, sizeof(*tf));

	tf->tr = tr;
	TAILQ_INIT(&tf->agents);
	TAILQ_INIT(&tf->callers);
	tf->by_worker = hmap_new();
	return tf;
}

void
sim_tr_traffic_free(struct sim_tr_traffic *tf)
{
	struct sim_tr_agent *a = NULL;
	struct sim_tr_caller *c = NULL;

	if (tf == NULL)
		return;
	sim_timer_cancel(tf->arrival);
	while ((a = TAILQ_FIRST(&tf->agents)) != NULL) {
		sim_timer_cancel(a->timer);
		TAILQ_REMOVE(&tf->agents, a, entry);
		hmap_remove(tf->by_worker, a->worker_sid);
		free(a);
	}
	while ((c = TAILQ_FIRST(&tf->callers)) != NULL) {
		sim_timer_cancel(c->timer);
		TAILQ_REMOVE(&tf->callers, c, entry);
		free(c);
	}
	hmap_free(tf->by_worker);
	free(tf);
}

static struct rng *
sim_tr_traffic_rng(struct sim_tr_traffic *tf)
{
	return &tf->tr->sim->rng;
}

static int64_t
sim_tr_traffic_ms(struct sim_tr_traffic *tf, int64_t lo_s, int64_t hi_s)
{
	return rng_range(sim_tr_traffic_rng(tf), lo_s * 1000, hi_s * 1000);
}

static void
sim_tr_traffic_plan(struct sim_tr_agent *a, enum sim_tr_traffic_action action, int64_t delay_ms)
{
	sim_timer_cancel(a->timer);
	a->action = action;
	a->timer = sim_timer_add(a->tf->tr->sim->clock, delay_ms, sim_tr_traffic_agent_cb, a);
}

static void
sim_tr_traffic_set_activity(struct sim_tr *tr, struct sim_tr_worker *w, const char *name)
{
	struct sim_tr_activity *act = sim_tr_activity_by_name(tr, name);

	if (act != NULL)
		sim_tr_routing_worker_set_activity(tr, w, act, false);
}

/* The agent's reservation, if it is still the one it planned for and still in state s. */
static struct sim_tr_reservation *
sim_tr_traffic_reservation(struct sim_tr_agent *a, enum sim_tr_res_status s)
{
	struct sim_tr_reservation *res = sim_tr_reservation_get(a->tf->tr, a->res_sid);

	return res != NULL && res->status == s && strcmp(res->worker_sid, a->worker_sid) == 0
		       ? res
		       : NULL;
}

static void
sim_tr_traffic_accept(struct sim_tr_agent *a)
{
	struct sim_tr *tr = a->tf->tr;
	struct sim_tr_reservation *res = sim_tr_traffic_reservation(a, SIM_TR_RES_PENDING);
	struct sim_tr_accept acc = { 0 };

	if (res == NULL)
		return;
	acc.conference = true;
	acc.end_conference_on_exit = true;
	acc.post_work_activity = sim_tr_activity_by_name(tr, "Available");
	if (sim_tr_routing_reservation_accept(tr, res, &acc, NULL) < 0)
		return;
	snprintf(a->task_sid, sizeof(a->task_sid), "%s", res->task->sid);
	sim_tr_traffic_plan(a, SIM_TR_TRAFFIC_HANG_UP, sim_tr_traffic_ms(a->tf, 20, 240));
}

/* Talk time is over: the agent leaves the conference, which ends it (EndConferenceOnExit). */
static void
sim_tr_traffic_hang_up(struct sim_tr_agent *a)
{
	struct sim_tr *tr = a->tf->tr;
	struct sim_tr_task *t = sim_tr_task_get(tr, a->task_sid);
	struct sim_tr_conference *c = t != NULL ? sim_tr_conference_of_task(tr, t) : NULL;

	if (t == NULL)
		return;
	if (c != NULL)
		sim_tr_conference_end(tr, c, "participant-with-end-conference-on-exit-left",
				      sim_tr_conference_call(c, "worker"));
	else if (t->status == SIM_TR_TASK_ASSIGNED)
		(void)sim_tr_routing_task_wrapup(tr, t, NULL, NULL);
	if (t->status == SIM_TR_TASK_WRAPPING)
		sim_tr_traffic_plan(a, SIM_TR_TRAFFIC_WRAP_UP_DONE,
				    sim_tr_traffic_ms(a->tf, 3, 15));
}

static void
sim_tr_traffic_wrap_up_done(struct sim_tr_agent *a, struct sim_tr_worker *w)
{
	struct sim_tr *tr = a->tf->tr;
	struct sim_tr_task *t = sim_tr_task_get(tr, a->task_sid);

	if (t != NULL)
		(void)sim_tr_routing_task_complete(tr, t, "call completed", NULL);
	a->task_sid[0] = '\0';
	if (rng_double(sim_tr_traffic_rng(a->tf)) < 0.10) {
		sim_tr_traffic_set_activity(tr, w, "Unavailable");
		sim_tr_traffic_plan(a, SIM_TR_TRAFFIC_BREAK_OVER,
				    sim_tr_traffic_ms(a->tf, 30, 180));
	}
}

static void
sim_tr_traffic_agent_cb(void *arg)
{
	struct sim_tr_agent *a = arg;
	struct sim_tr *tr = a->tf->tr;
	struct sim_tr_worker *w = sim_tr_worker_get(tr, a->worker_sid);
	struct sim_tr_reservation *res = NULL;

	a->timer = NULL;
	if (w == NULL || a->claimed)
		return; /* deleted through the API, or taken over: the agent goes quiet */
	switch (a->action) {
	case SIM_TR_TRAFFIC_GO_ONLINE:
	case SIM_TR_TRAFFIC_CHECK:
	case SIM_TR_TRAFFIC_BREAK_OVER:
		if (!w->activity->available)
			sim_tr_traffic_set_activity(tr, w, "Available");
		break;
	case SIM_TR_TRAFFIC_ACCEPT:
		sim_tr_traffic_accept(a);
		break;
	case SIM_TR_TRAFFIC_REJECT:
		res = sim_tr_traffic_reservation(a, SIM_TR_RES_PENDING);
		if (res != NULL)
			(void)sim_tr_routing_reservation_reject(tr, res, NULL, NULL);
		break;
	case SIM_TR_TRAFFIC_HANG_UP:
		sim_tr_traffic_hang_up(a);
		break;
	case SIM_TR_TRAFFIC_WRAP_UP_DONE:
		sim_tr_traffic_wrap_up_done(a, w);
		break;
	}
	sim_tr_routing_run(tr);
}

void
sim_tr_traffic_reservation_created(struct sim_tr *tr, struct sim_tr_reservation *res)
{
	struct sim_tr_agent *a = NULL;
	struct sim_tr_traffic *tf = tr->traffic;
	int64_t timeout_s;
	double u;

	if (tf == NULL)
		return;
	a = hmap_get(tf->by_worker, res->worker_sid);
	if (a == NULL || a->claimed)
		return;
	snprintf(a->res_sid, sizeof(a->res_sid), "%s", res->sid);
	u = rng_double(sim_tr_traffic_rng(tf));
	if (u < 0.05) {
		sim_tr_traffic_plan(a, SIM_TR_TRAFFIC_REJECT, sim_tr_traffic_ms(tf, 1, 5));
	} else if (u < 0.08) {
		timeout_s = res->task->workflow != NULL
				    ? res->task->workflow->task_reservation_timeout_s
				    : 120;
		sim_tr_traffic_plan(a, SIM_TR_TRAFFIC_CHECK,
				    timeout_s * 1000 + sim_tr_traffic_ms(tf, 5, 30));
	} else {
		sim_tr_traffic_plan(a, SIM_TR_TRAFFIC_ACCEPT, sim_tr_traffic_ms(tf, 1, 8));
	}
}

static void
sim_tr_traffic_caller_cb(void *arg)
{
	struct sim_tr_caller *c = arg;
	struct sim_tr_traffic *tf = c->tf;
	struct sim_tr *tr = tf->tr;
	struct sim_tr_task *t = sim_tr_task_get(tr, c->task_sid);

	c->timer = NULL;
	TAILQ_REMOVE(&tf->callers, c, entry);
	if (t != NULL && (t->status == SIM_TR_TASK_PENDING || t->status == SIM_TR_TASK_RESERVED)) {
		log_trace(LOG_TRACE_SIM, "caller of task %s hangs up", t->sid);
		(void)sim_tr_routing_task_cancel(tr, t, "hangup", NULL);
	}
	free(c);
	sim_tr_routing_run(tr);
}

static char *
sim_tr_traffic_call_attributes(struct sim_tr_traffic *tf)
{
	struct json_gen *g = json_gen_new();
	struct rng *rng = sim_tr_traffic_rng(tf);
	char call_sid[SID_LEN + 1];
	char from[32];
	char to[32];
	char *text = NULL;

	sim_new_sid(tf->tr->sim, call_sid, "CA");
	snprintf(from, sizeof(from), "+1555%07lld", (long long)rng_range(rng, 0, 9999999));
	snprintf(to, sizeof(to), "+1800%07lld", (long long)rng_range(rng, 0, 9999999));
	json_gen_object_open(g);
	json_gen_kv_string(g, "from", from);
	json_gen_kv_string(g, "to", to);
	json_gen_kv_string(g, "call_sid", call_sid);
	json_gen_kv_string(g, "type", "inbound");
	json_gen_kv_string(g, "direction", "inbound");
	json_gen_object_close(g);
	text = json_gen_steal(g, NULL);
	json_gen_free(g);
	return text;
}

/* Exponential inter-arrival time for rate per minute. */
static int64_t
sim_tr_traffic_next_arrival_ms(struct sim_tr_traffic *tf)
{
	double rate = tf->tr->sim->opt.calls_per_minute;
	double u = rng_double(sim_tr_traffic_rng(tf));

	return (int64_t)(-log(1.0 - u) * 60000.0 / rate) + 1;
}

static void
sim_tr_traffic_arrival_cb(void *arg)
{
	struct sim_tr_traffic *tf = arg;
	struct sim_tr *tr = tf->tr;
	struct sim_tr_task_spec spec = { 0 };
	struct sim_tr_caller *c = NULL;
	struct sim_tr_task *t = NULL;
	struct rng *rng = sim_tr_traffic_rng(tf);
	char *attrs = NULL;
	double u;

	tf->arrival = sim_timer_add(tr->sim->clock, sim_tr_traffic_next_arrival_ms(tf),
				    sim_tr_traffic_arrival_cb, tf);
	spec.workflow = TAILQ_FIRST(&tr->workflow_list);
	if (spec.workflow == NULL)
		return;
	attrs = sim_tr_traffic_call_attributes(tf);
	u = rng_double(rng);
	spec.attributes = attrs;
	spec.priority = u < 0.80 ? 0 : u < 0.95 ? 1 : 2;
	spec.timeout_s = 86400;
	t = sim_tr_routing_task_create(tr, &spec);
	free(attrs);
	tf->calls++;
	if (rng_double(rng) < 1.0 / 3.0) {
		c = xcalloc(1, sizeof(*c));
		c->tf = tf;
		snprintf(c->task_sid, sizeof(c->task_sid), "%s", t->sid);
		c->timer = sim_timer_add(tr->sim->clock, sim_tr_traffic_ms(tf, 15, 120),
					 sim_tr_traffic_caller_cb, c);
		TAILQ_INSERT_TAIL(&tf->callers, c, entry);
	}
	sim_tr_routing_run(tr);
}

void
sim_tr_traffic_begin(struct sim_tr_traffic *tf)
{
	struct sim_tr *tr = tf->tr;
	const struct sim_options *opt = &tr->sim->opt;
	struct sim_tr_worker *w = NULL;
	struct sim_tr_agent *a = NULL;
	char name[32];
	char *attrs = NULL;
	int i;

	for (i = 1; i <= opt->agents; i++) {
		snprintf(name, sizeof(name), "agent-%03d", i);
		w = sim_tr_worker_by_name(tr, name);
		if (w == NULL) {
			attrs = xasprintf(
				"{\"skills\":[\"support\"],\"contact_uri\":\"client:%s\"}", name);
			w = sim_tr_routing_worker_create(tr, name, attrs, tr->ws.default_activity);
			free(attrs);
		}
		if (hmap_get(tf->by_worker, w->sid) != NULL)
			continue;
		a = xcalloc(1, sizeof(*a));
		a->tf = tf;
		snprintf(a->worker_sid, sizeof(a->worker_sid), "%s", w->sid);
		TAILQ_INSERT_TAIL(&tf->agents, a, entry);
		hmap_put(tf->by_worker, a->worker_sid, a);
		sim_tr_traffic_plan(a, SIM_TR_TRAFFIC_GO_ONLINE, sim_tr_traffic_ms(tf, 1, 10));
	}
	if (opt->calls_per_minute > 0 && tf->arrival == NULL)
		tf->arrival = sim_timer_add(tr->sim->clock, sim_tr_traffic_next_arrival_ms(tf),
					    sim_tr_traffic_arrival_cb, tf);
	if (opt->agents > 0 || opt->calls_per_minute > 0)
		log_notice("traffic: %d agents, %.1f calls per minute", opt->agents,
			   opt->calls_per_minute);
}

/* The generator's agent for a worker SID or friendly name, or NULL. */
static struct sim_tr_agent *
sim_tr_traffic_find(struct sim_tr_traffic *tf, const char *worker)
{
	struct sim_tr_worker *w = NULL;

	if (tf == NULL)
		return NULL;
	w = sim_tr_worker_get(tf->tr, worker);
	if (w == NULL)
		w = sim_tr_worker_by_name(tf->tr, worker);
	return w != NULL ? hmap_get(tf->by_worker, w->sid) : NULL;
}

/*
 * Picks up where a released agent is: a pending reservation is answered, a
 * call in progress goes on, a wrap-up ends, an agent away comes back.
 */
static void
sim_tr_traffic_resume(struct sim_tr_agent *a, struct sim_tr_worker *w)
{
	struct sim_tr_reservation *res = sim_tr_worker_held(w, SIM_TR_RES_PENDING);

	if (res == NULL)
		res = sim_tr_worker_held(w, SIM_TR_RES_ACCEPTED);
	if (res == NULL)
		res = sim_tr_worker_held(w, SIM_TR_RES_WRAPPING);
	if (res != NULL) {
		snprintf(a->res_sid, sizeof(a->res_sid), "%s", res->sid);
		if (res->task != NULL)
			snprintf(a->task_sid, sizeof(a->task_sid), "%s", res->task->sid);
		switch (res->status) {
		case SIM_TR_RES_PENDING:
			sim_tr_traffic_plan(a, SIM_TR_TRAFFIC_ACCEPT,
					    sim_tr_traffic_ms(a->tf, 1, 8));
			return;
		case SIM_TR_RES_ACCEPTED:
			sim_tr_traffic_plan(a, SIM_TR_TRAFFIC_HANG_UP,
					    sim_tr_traffic_ms(a->tf, 20, 120));
			return;
		case SIM_TR_RES_WRAPPING:
			sim_tr_traffic_plan(a, SIM_TR_TRAFFIC_WRAP_UP_DONE,
					    sim_tr_traffic_ms(a->tf, 3, 15));
			return;
		default:
			break;
		}
	}
	sim_tr_traffic_plan(a, SIM_TR_TRAFFIC_GO_ONLINE, sim_tr_traffic_ms(a->tf, 1, 10));
}

int
sim_tr_traffic_claim(struct sim_tr *tr, const char *worker, bool claim, const char **sid_out)
{
	struct sim_tr_agent *a = sim_tr_traffic_find(tr->traffic, worker);
	struct sim_tr_worker *w = NULL;

	if (a == NULL)
		return -ENOENT;
	*sid_out = a->worker_sid;
	if (a->claimed == claim)
		return 0;
	a->claimed = claim;
	if (claim) {
		sim_timer_cancel(a->timer);
		a->timer = NULL;
		log_info("traffic: %s taken over", a->worker_sid);
		return 0;
	}
	w = sim_tr_worker_get(tr, a->worker_sid);
	if (w != NULL)
		sim_tr_traffic_resume(a, w);
	log_info("traffic: %s released", a->worker_sid);
	return 0;
}

void
sim_tr_traffic_agents_json(struct sim_tr *tr, struct json_gen *g)
{
	struct sim_tr_traffic *tf = tr->traffic;
	struct sim_tr_agent *a = NULL;
	struct sim_tr_worker *w = NULL;

	json_gen_array_open(g);
	if (tf != NULL) {
		TAILQ_FOREACH(a, &tf->agents, entry) {
			w = sim_tr_worker_get(tr, a->worker_sid);
			json_gen_object_open(g);
			json_gen_kv_string(g, "worker_sid", a->worker_sid);
			json_gen_kv_string(g, "friendly_name", w != NULL ? w->friendly_name : NULL);
			json_gen_kv_bool(g, "claimed", a->claimed);
			json_gen_object_close(g);
		}
	}
	json_gen_array_close(g);
}
