/*
 * The traffic generator (behaviour in sim_tr_traffic.h).
 *
 * Each simulated agent has one timer for what it plans for itself (go
 * online, come back from a break or a missed reservation) and one job per
 * reservation it holds (calls one at a time, chats side by side), each with
 * its own timer for its next step. Timers keep SIDs and
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

/* Activities the simulated agents use besides the start-up ones. */
#define SIM_TR_TRAFFIC_WRAP_UP "Wrap Up"
#define SIM_TR_TRAFFIC_BREAK   "Break"

/* Agent-level plans (one timer per agent). */
enum sim_tr_traffic_action {
	SIM_TR_TRAFFIC_GO_ONLINE,
	SIM_TR_TRAFFIC_CHECK, /* after letting a reservation time out: come back */
	SIM_TR_TRAFFIC_BREAK_OVER,
};

/* Steps of one reservation the agent is working (one timer per job). */
enum sim_tr_traffic_step {
	SIM_TR_TRAFFIC_ACCEPT,
	SIM_TR_TRAFFIC_REJECT,
	SIM_TR_TRAFFIC_HANG_UP, /* talk or chat is over: the task wraps up */
	SIM_TR_TRAFFIC_WRAP_UP_DONE,
};

struct sim_tr_traffic;
struct sim_tr_agent;

struct sim_tr_job {
	struct sim_tr_agent *a;
	char res_sid[SID_LEN + 1];
	char task_sid[SID_LEN + 1];
	enum sim_tr_channel channel;
	enum sim_tr_traffic_step step;
	struct sim_timer *timer;
	TAILQ_ENTRY(sim_tr_job) entry;
};

struct sim_tr_agent {
	struct sim_tr_traffic *tf;
	char worker_sid[SID_LEN + 1];
	enum sim_tr_traffic_action action;
	struct sim_timer *timer;
	bool claimed; /* a person drives this worker: the generator leaves it alone */
	TAILQ_HEAD(, sim_tr_job) jobs;
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
static void sim_tr_traffic_job_cb(void *arg);

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

static void
sim_tr_traffic_job_free(struct sim_tr_job *j)
{
	sim_timer_cancel(j->timer);
	TAILQ_REMOVE(&j->a->jobs, j, entry);
	free(j);
}

void
sim_tr_traffic_free(struct sim_tr_traffic *tf)
{
	struct sim_tr_agent *a = NULL;
	struct sim_tr_caller *c = NULL;
	struct sim_tr_job *j = NULL;

	if (tf == NULL)
		return;
	sim_timer_cancel(tf->arrival);
	while ((a = TAILQ_FIRST(&tf->agents)) != NULL) {
		sim_timer_cancel(a->timer);
		while ((j = TAILQ_FIRST(&a->jobs)) != NULL)
			sim_tr_traffic_job_free(j);
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

static bool
sim_tr_traffic_chance(struct sim_tr_traffic *tf, double p)
{
	return rng_double(sim_tr_traffic_rng(tf)) < p;
}

static void
sim_tr_traffic_plan(struct sim_tr_agent *a, enum sim_tr_traffic_action action, int64_t delay_ms)
{
	sim_timer_cancel(a->timer);
	a->action = action;
	a->timer = sim_timer_add(a->tf->tr->sim->clock, delay_ms, sim_tr_traffic_agent_cb, a);
}

static void
sim_tr_traffic_step(struct sim_tr_job *j, enum sim_tr_traffic_step step, int64_t delay_ms)
{
	sim_timer_cancel(j->timer);
	j->step = step;
	j->timer = sim_timer_add(j->a->tf->tr->sim->clock, delay_ms, sim_tr_traffic_job_cb, j);
}

static void
sim_tr_traffic_set_activity(struct sim_tr *tr, struct sim_tr_worker *w, const char *name)
{
	struct sim_tr_activity *act = sim_tr_activity_by_name(tr, name);

	if (act != NULL)
		sim_tr_routing_worker_set_activity(tr, w, act, false);
}

/* The job's reservation, if it is still this agent's and still in state s. */
static struct sim_tr_reservation *
sim_tr_traffic_reservation(struct sim_tr_job *j, enum sim_tr_res_status s)
{
	struct sim_tr_reservation *res = sim_tr_reservation_get(j->a->tf->tr, j->res_sid);

	return res != NULL && res->status == s && strcmp(res->worker_sid, j->a->worker_sid) == 0
		       ? res
		       : NULL;
}

/* Talk time: voice calls 30..180 s, chats 60..300 s (run side by side), SMS 40..200 s. */
static int64_t
sim_tr_traffic_talk_ms(struct sim_tr_traffic *tf, enum sim_tr_channel ch)
{
	switch (ch) {
	case SIM_TR_CH_CHAT:
		return sim_tr_traffic_ms(tf, 60, 300);
	case SIM_TR_CH_SMS:
		return sim_tr_traffic_ms(tf, 40, 200);
	default:
		return sim_tr_traffic_ms(tf, 30, 180);
	}
}

static void
sim_tr_traffic_accept(struct sim_tr_job *j)
{
	struct sim_tr *tr = j->a->tf->tr;
	struct sim_tr_reservation *res = sim_tr_traffic_reservation(j, SIM_TR_RES_PENDING);
	struct sim_tr_accept acc = { 0 };

	if (res == NULL) {
		sim_tr_traffic_job_free(j);
		return;
	}
	/* Calls are bridged in a conference; chats and texts are plain accepts. */
	acc.conference = j->channel == SIM_TR_CH_VOICE || j->channel == SIM_TR_CH_DEFAULT;
	acc.end_conference_on_exit = acc.conference;
	if (sim_tr_routing_reservation_accept(tr, res, &acc, NULL) < 0) {
		sim_tr_traffic_job_free(j);
		return;
	}
	sim_tr_traffic_step(j, SIM_TR_TRAFFIC_HANG_UP,
			    sim_tr_traffic_talk_ms(j->a->tf, j->channel));
}

/*
 * The conversation is over. A call: the agent leaves the conference, which
 * ends it (EndConferenceOnExit) and wraps the task up; the agent's softphone
 * puts it in Wrap Up. A chat or text: the task is wrapped up through the API.
 */
static void
sim_tr_traffic_hang_up(struct sim_tr_job *j, struct sim_tr_worker *w)
{
	struct sim_tr *tr = j->a->tf->tr;
	struct sim_tr_task *t = sim_tr_task_get(tr, j->task_sid);
	struct sim_tr_conference *c = t != NULL ? sim_tr_conference_of_task(tr, t) : NULL;
	bool call = c != NULL;

	if (t == NULL) {
		sim_tr_traffic_job_free(j);
		return;
	}
	if (c != NULL)
		sim_tr_conference_end(tr, c, "participant-with-end-conference-on-exit-left",
				      sim_tr_conference_call(c, "worker"));
	else if (t->status == SIM_TR_TASK_ASSIGNED)
		(void)sim_tr_routing_task_wrapup(tr, t, NULL, NULL);
	if (t->status != SIM_TR_TASK_WRAPPING) {
		sim_tr_traffic_job_free(j);
		return;
	}
	if (call)
		sim_tr_traffic_set_activity(tr, w, SIM_TR_TRAFFIC_WRAP_UP);
	sim_tr_traffic_step(j, SIM_TR_TRAFFIC_WRAP_UP_DONE,
			    call ? sim_tr_traffic_ms(j->a->tf, 5, 20)
				 : sim_tr_traffic_ms(j->a->tf, 2, 8));
}

/* Wrap-up is over: the task completes; an agent with nothing left may take a break. */
static void
sim_tr_traffic_wrap_up_done(struct sim_tr_job *j, struct sim_tr_worker *w)
{
	struct sim_tr_agent *a = j->a;
	struct sim_tr *tr = a->tf->tr;
	struct sim_tr_task *t = sim_tr_task_get(tr, j->task_sid);

	if (t != NULL)
		(void)sim_tr_routing_task_complete(tr, t, "conversation completed", NULL);
	sim_tr_traffic_job_free(j);
	if (!TAILQ_EMPTY(&a->jobs) &&
	    strcmp(w->activity->friendly_name, SIM_TR_TRAFFIC_WRAP_UP) != 0)
		return;
	if (TAILQ_EMPTY(&a->jobs) && sim_tr_traffic_chance(a->tf, 0.08)) {
		sim_tr_traffic_set_activity(tr, w, SIM_TR_TRAFFIC_BREAK);
		sim_tr_traffic_plan(a, SIM_TR_TRAFFIC_BREAK_OVER,
				    sim_tr_traffic_ms(a->tf, 60, 240));
		return;
	}
	if (!w->activity->available)
		sim_tr_traffic_set_activity(tr, w, "Available");
}

static void
sim_tr_traffic_job_cb(void *arg)
{
	struct sim_tr_job *j = arg;
	struct sim_tr_agent *a = j->a;
	struct sim_tr *tr = a->tf->tr;
	struct sim_tr_worker *w = sim_tr_worker_get(tr, a->worker_sid);
	struct sim_tr_reservation *res = NULL;

	j->timer = NULL;
	if (w == NULL || a->claimed) {
		sim_tr_traffic_job_free(j);
		return;
	}
	switch (j->step) {
	case SIM_TR_TRAFFIC_ACCEPT:
		sim_tr_traffic_accept(j);
		break;
	case SIM_TR_TRAFFIC_REJECT:
		res = sim_tr_traffic_reservation(j, SIM_TR_RES_PENDING);
		if (res != NULL)
			(void)sim_tr_routing_reservation_reject(tr, res, NULL, NULL);
		sim_tr_traffic_job_free(j);
		break;
	case SIM_TR_TRAFFIC_HANG_UP:
		sim_tr_traffic_hang_up(j, w);
		break;
	case SIM_TR_TRAFFIC_WRAP_UP_DONE:
		sim_tr_traffic_wrap_up_done(j, w);
		break;
	}
	sim_tr_routing_run(tr);
}

static void
sim_tr_traffic_agent_cb(void *arg)
{
	struct sim_tr_agent *a = arg;
	struct sim_tr *tr = a->tf->tr;
	struct sim_tr_worker *w = sim_tr_worker_get(tr, a->worker_sid);

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
	}
	sim_tr_routing_run(tr);
}

static struct sim_tr_job *
sim_tr_traffic_job_new(struct sim_tr_agent *a, const struct sim_tr_reservation *res)
{
	struct sim_tr_job *j = xcalloc(1, sizeof(*j));

	j->a = a;
	snprintf(j->res_sid, sizeof(j->res_sid), "%s", res->sid);
	snprintf(j->task_sid, sizeof(j->task_sid), "%s", res->task->sid);
	j->channel = res->task->channel;
	TAILQ_INSERT_TAIL(&a->jobs, j, entry);
	return j;
}

void
sim_tr_traffic_reservation_created(struct sim_tr *tr, struct sim_tr_reservation *res)
{
	struct sim_tr_agent *a = NULL;
	struct sim_tr_traffic *tf = tr->traffic;
	struct sim_tr_job *j = NULL;
	int64_t timeout_s;
	double u;

	if (tf == NULL)
		return;
	a = hmap_get(tf->by_worker, res->worker_sid);
	if (a == NULL || a->claimed)
		return;
	u = rng_double(sim_tr_traffic_rng(tf));
	if (u < 0.02) {
		/* Missed: nobody answers; the reservation times out and the agent is moved
		 * to the timeout activity, then notices and comes back. */
		timeout_s = res->task->workflow != NULL
				    ? res->task->workflow->task_reservation_timeout_s
				    : 120;
		sim_tr_traffic_plan(a, SIM_TR_TRAFFIC_CHECK,
				    timeout_s * 1000 + sim_tr_traffic_ms(tf, 5, 30));
		return;
	}
	j = sim_tr_traffic_job_new(a, res);
	if (u < 0.05)
		sim_tr_traffic_step(j, SIM_TR_TRAFFIC_REJECT, sim_tr_traffic_ms(tf, 1, 5));
	else
		sim_tr_traffic_step(j, SIM_TR_TRAFFIC_ACCEPT, sim_tr_traffic_ms(tf, 2, 8));
}

/* A caller's patience ran out: a call still waiting is abandoned. */
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
sim_tr_traffic_call_attributes(struct sim_tr_traffic *tf, enum sim_tr_channel ch)
{
	struct json_gen *g = json_gen_new();
	struct rng *rng = sim_tr_traffic_rng(tf);
	char call_sid[SID_LEN + 1];
	char from[32];
	char to[32];
	char *text = NULL;

	snprintf(from, sizeof(from), "+1555%07lld", (long long)rng_range(rng, 0, 9999999));
	snprintf(to, sizeof(to), "+1800%07lld", (long long)rng_range(rng, 0, 9999999));
	json_gen_object_open(g);
	json_gen_kv_string(g, "from", from);
	json_gen_kv_string(g, "to", to);
	if (ch == SIM_TR_CH_VOICE) {
		sim_new_sid(tf->tr->sim, call_sid, "CA");
		json_gen_kv_string(g, "call_sid", call_sid);
		json_gen_kv_string(g, "type", "inbound");
	} else {
		json_gen_kv_string(g, "type", sim_tr_channel_name(ch));
		json_gen_kv_string(g, "channelType", ch == SIM_TR_CH_CHAT ? "web" : "sms");
	}
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

/*
 * A caller's patience: exponential with a 150 s mean, at least 20 s; a
 * caller still waiting then abandons. Chats and texts wait.
 */
static int64_t
sim_tr_traffic_patience_ms(struct sim_tr_traffic *tf)
{
	double u = rng_double(sim_tr_traffic_rng(tf));

	return 20000 + (int64_t)(-log(1.0 - u) * 130000.0);
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
	/* Mostly calls, some chats, a few texts. */
	u = rng_double(rng);
	spec.channel = u < 0.80 ? SIM_TR_CH_VOICE : u < 0.95 ? SIM_TR_CH_CHAT : SIM_TR_CH_SMS;
	attrs = sim_tr_traffic_call_attributes(tf, spec.channel);
	u = rng_double(rng);
	spec.attributes = attrs;
	spec.priority = u < 0.80 ? 0 : u < 0.95 ? 1 : 2;
	spec.timeout_s = 86400;
	t = sim_tr_routing_task_create(tr, &spec);
	free(attrs);
	tf->calls++;
	if (spec.channel == SIM_TR_CH_VOICE) {
		c = xcalloc(1, sizeof(*c));
		c->tf = tf;
		snprintf(c->task_sid, sizeof(c->task_sid), "%s", t->sid);
		c->timer = sim_timer_add(tr->sim->clock, sim_tr_traffic_patience_ms(tf),
					 sim_tr_traffic_caller_cb, c);
		TAILQ_INSERT_TAIL(&tf->callers, c, entry);
	}
	sim_tr_routing_run(tr);
}

/* The activities simulated agents use besides the start-up ones (no events: configuration). */
static void
sim_tr_traffic_activities(struct sim_tr *tr)
{
	if (sim_tr_activity_by_name(tr, SIM_TR_TRAFFIC_WRAP_UP) == NULL)
		(void)sim_tr_activity_add(tr, SIM_TR_TRAFFIC_WRAP_UP, false);
	if (sim_tr_activity_by_name(tr, SIM_TR_TRAFFIC_BREAK) == NULL)
		(void)sim_tr_activity_add(tr, SIM_TR_TRAFFIC_BREAK, false);
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

	if (opt->agents > 0)
		sim_tr_traffic_activities(tr);
	for (i = 1; i <= opt->agents; i++) {
		snprintf(name, sizeof(name), "agent-%03d", i);
		w = sim_tr_worker_by_name(tr, name);
		if (w == NULL) {
			attrs = xasprintf(
				"{\"skills\":[\"support\"],\"contact_uri\":\"client:%s\"}", name);
			w = sim_tr_routing_worker_create(tr, name, attrs, tr->ws.default_activity);
			free(attrs);
			/* Two chats at a time, as contact centers usually configure. */
			sim_tr_worker_set_channel(tr, w, SIM_TR_CH_CHAT, 2, true);
		}
		if (hmap_get(tf->by_worker, w->sid) != NULL)
			continue;
		a = xcalloc(1, sizeof(*a));
		a->tf = tf;
		snprintf(a->worker_sid, sizeof(a->worker_sid), "%s", w->sid);
		TAILQ_INIT(&a->jobs);
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
 * Picks up where a released agent is: every reservation it holds is worked
 * again from its state (a pending one answered, a conversation ended, a
 * wrap-up finished); an agent away comes back.
 */
static void
sim_tr_traffic_resume(struct sim_tr_agent *a, struct sim_tr_worker *w)
{
	struct sim_tr_reservation *res = NULL;
	struct sim_tr_job *j = NULL;

	TAILQ_FOREACH(res, &w->reservations, worker_entry) {
		if (!res->holding)
			continue;
		j = sim_tr_traffic_job_new(a, res);
		switch (res->status) {
		case SIM_TR_RES_PENDING:
			sim_tr_traffic_step(j, SIM_TR_TRAFFIC_ACCEPT,
					    sim_tr_traffic_ms(a->tf, 1, 8));
			break;
		case SIM_TR_RES_ACCEPTED:
			sim_tr_traffic_step(j, SIM_TR_TRAFFIC_HANG_UP,
					    sim_tr_traffic_talk_ms(a->tf, j->channel));
			break;
		default:
			sim_tr_traffic_step(j, SIM_TR_TRAFFIC_WRAP_UP_DONE,
					    sim_tr_traffic_ms(a->tf, 3, 15));
			break;
		}
	}
	if (!w->activity->available)
		sim_tr_traffic_plan(a, SIM_TR_TRAFFIC_GO_ONLINE, sim_tr_traffic_ms(a->tf, 1, 10));
}

int
sim_tr_traffic_claim(struct sim_tr *tr, const char *worker, bool claim, const char **sid_out)
{
	struct sim_tr_agent *a = sim_tr_traffic_find(tr->traffic, worker);
	struct sim_tr_worker *w = NULL;
	struct sim_tr_job *j = NULL;

	if (a == NULL)
		return -ENOENT;
	*sid_out = a->worker_sid;
	if (a->claimed == claim)
		return 0;
	a->claimed = claim;
	if (claim) {
		sim_timer_cancel(a->timer);
		a->timer = NULL;
		while ((j = TAILQ_FIRST(&a->jobs)) != NULL)
			sim_tr_traffic_job_free(j);
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
