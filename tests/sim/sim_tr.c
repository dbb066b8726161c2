/*
 * TaskRouter emulation: lifecycle, the start-up workspace, route
 * registration, and the TaskRouter-specific /sim/ control routes.
 *
 * The start-up workspace (also what sim_tr_reset restores): activities
 * Offline, Available, Unavailable (Offline is the default and the timeout
 * activity), the queue "support" (skills HAS "support"), the workflow
 * "support" whose configuration routes every task to it, --workers N
 * workers "worker-001".. with skills ["support"], all Offline. Building it
 * emits no events: it is the state the workspace already had.
 *
 * /sim/ routes (no auth, JSON bodies):
 *   POST /sim/tasks   {"count": n (1..100000), "attributes": {...}, "priority": p,
 *                      "workflow_sid": "WW..", "status": "canceled"}
 *                     creates n tasks through the engine (routing runs once at
 *                     the end); "status": "canceled" cancels each right away.
 *                     201 {"created": n, "task_sids": [...]}
 *   POST /sim/workers {"count": n (1..10000), "activity": "Available",
 *                      "skills": ["support"], "prefix": "worker"}
 *                     creates n workers "<prefix>-NNN" (numbers continue past
 *                     existing names). 201 {"created": n, "worker_sids": [...]}
 *   GET /sim/agents   the traffic generator's agents:
 *                     {"agents": [{"worker_sid", "friendly_name", "claimed"}]}
 *   POST /sim/agents/{WK or name}/claim, .../release
 *                     agent takeover: the generator stops driving the agent
 *                     (a person does), or resumes it. 200 {"worker_sid",
 *                     "claimed"}; 404 when it is not a generator agent.
 */

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "hmap.h"
#include "json.h"
#include "log.h"
#include "sim.h"
#include "sim_http.h"
#include "sim_tr.h"
#include "sim_tr_conference.h"
#include "sim_tr_events.h"
#include "sim_tr_expr.h"
#include "sim_tr_rest.h"
#include "sim_tr_routing.h"
#include "sim_tr_state.h"
#include "sim_tr_traffic.h"
#include "xmalloc.h"

#define SIM_TR_BULK_TASKS_MAX	100000
#define SIM_TR_BULK_WORKERS_MAX 10000
#define SIM_TR_SUPPORT_TARGET	"skills HAS \"support\""

/* Worker attributes {"skills": [...], "contact_uri": "client:<name>"}; caller frees. */
static char *
sim_tr_worker_attributes(const char *name, const struct json_value *skills)
{
	struct json_gen *g = json_gen_new();
	char *uri = xasprintf("client:%s", name);
	char *text = NULL;

	json_gen_object_open(g);
	json_gen_key(g, "skills");
	if (skills != NULL) {
		json_gen_value(g, skills);
	} else {
		json_gen_array_open(g);
		json_gen_string(g, "support");
		json_gen_array_close(g);
	}
	json_gen_kv_string(g, "contact_uri", uri);
	json_gen_object_close(g);
	text = json_gen_steal(g, NULL);
	json_gen_free(g);
	free(uri);
	return text;
}

static char *
sim_tr_default_configuration(const struct sim_tr_queue *q)
{
	struct json_gen *g = json_gen_new();
	char *text = NULL;

	json_gen_object_open(g);
	json_gen_key(g, "task_routing");
	json_gen_object_open(g);
	json_gen_key(g, "filters");
	json_gen_array_open(g);
	json_gen_object_open(g);
	json_gen_kv_string(g, "filter_friendly_name", "support");
	json_gen_kv_string(g, "expression", "1==1");
	json_gen_key(g, "targets");
	json_gen_array_open(g);
	json_gen_object_open(g);
	json_gen_kv_string(g, "queue", q->sid);
	json_gen_object_close(g);
	json_gen_array_close(g);
	json_gen_object_close(g);
	json_gen_array_close(g);
	json_gen_key(g, "default_filter");
	json_gen_object_open(g);
	json_gen_kv_string(g, "queue", q->sid);
	json_gen_object_close(g);
	json_gen_object_close(g);
	json_gen_object_close(g);
	text = json_gen_steal(g, NULL);
	json_gen_free(g);
	return text;
}

/*
 * Start-up objects keep their SIDs across resets: the first seeding records
 * each generated SID, later ones put the recorded SID back in place.
 */
static void
sim_tr_seed_sid(struct sim_tr *tr, struct hmap *map, char sid[SID_LEN + 1])
{
	void *obj = NULL;

	if (tr->seed_pos == tr->nseed_sids) {
		tr->seed_sids =
			xreallocarray(tr->seed_sids, tr->nseed_sids + 1, sizeof(*tr->seed_sids));
		memcpy(tr->seed_sids[tr->nseed_sids++], sid, SID_LEN + 1);
	} else if (map != NULL) {
		obj = hmap_remove(map, sid);
		memcpy(sid, tr->seed_sids[tr->seed_pos], SID_LEN + 1);
		hmap_put(map, sid, obj);
	} else {
		memcpy(sid, tr->seed_sids[tr->seed_pos], SID_LEN + 1);
	}
	tr->seed_pos++;
}

static void
sim_tr_seed(struct sim_tr *tr)
{
	const struct sim_options *opt = &tr->sim->opt;
	struct sim_tr_activity *offline = NULL;
	struct sim_tr_activity *a = NULL;
	struct sim_tr_worker *w = NULL;
	struct sim_tr_expr *expr = NULL;
	struct sim_tr_queue *q = NULL;
	struct sim_tr_workflow *wf = NULL;
	char *config = NULL;
	char *attrs = NULL;
	char name[32];
	int r;
	int i;

	snprintf(tr->ws.sid, sizeof(tr->ws.sid), "%s", opt->workspace_sid);
	tr->ws.friendly_name = xstrdup("trhub");
	tr->ws.event_callback_url =
		opt->event_callback_url != NULL && opt->event_callback_url[0] != '\0'
			? xstrdup(opt->event_callback_url)
			: NULL;
	tr->ws.multi_task_enabled = true; /* as for new Twilio workspaces */
	tr->ws.prioritize_queue_order = xstrdup("FIFO");
	tr->ws.created_ms = tr->ws.updated_ms = sim_tr_now(tr);
	tr->seed_pos = 0;
	for (i = 0; i < SIM_TR_NCHANNELS; i++) {
		sim_new_sid(tr->sim, tr->ws.channel_sids[i], "TC");
		sim_tr_seed_sid(tr, NULL, tr->ws.channel_sids[i]);
	}
	offline = sim_tr_activity_add(tr, "Offline", false);
	sim_tr_seed_sid(tr, tr->activities, offline->sid);
	a = sim_tr_activity_add(tr, "Available", true);
	sim_tr_seed_sid(tr, tr->activities, a->sid);
	a = sim_tr_activity_add(tr, "Unavailable", false);
	sim_tr_seed_sid(tr, tr->activities, a->sid);
	tr->ws.default_activity = offline;
	tr->ws.timeout_activity = offline;
	r = sim_tr_expr_parse(SIM_TR_SUPPORT_TARGET, &expr, NULL);
	assert(r == 0);
	q = sim_tr_queue_add(tr, "support", SIM_TR_SUPPORT_TARGET, expr);
	sim_tr_seed_sid(tr, tr->queues, q->sid);
	wf = sim_tr_workflow_add(tr, "support");
	sim_tr_seed_sid(tr, tr->workflows, wf->sid);
	config = sim_tr_default_configuration(q);
	r = sim_tr_workflow_configure(tr, wf, config, NULL);
	assert(r == 0);
	(void)r;
	free(config);
	wf->task_reservation_timeout_s =
		opt->reservation_timeout_s > 0 ? opt->reservation_timeout_s : 120;
	for (i = 1; i <= opt->workers; i++) {
		snprintf(name, sizeof(name), "worker-%03d", i);
		attrs = sim_tr_worker_attributes(name, NULL);
		w = sim_tr_worker_add(tr, name, attrs, offline);
		sim_tr_seed_sid(tr, tr->workers, w->sid);
		free(attrs);
	}
}

struct sim_tr *
sim_tr_new(struct sim *sim)
{
	struct sim_tr *tr = xcalloc(1, sizeof(*tr));

	tr->sim = sim;
	tr->events = sim_tr_events_new(tr);
	sim_tr_state_init(tr);
	sim_tr_seed(tr);
	tr->traffic = sim_tr_traffic_new(tr);
	return tr;
}

void
sim_tr_free(struct sim_tr *tr)
{
	if (tr == NULL)
		return;
	sim_tr_traffic_free(tr->traffic);
	tr->traffic = NULL;
	sim_tr_events_free(tr->events);
	tr->events = NULL;
	sim_tr_state_clear(tr);
	free(tr->seed_sids);
	free(tr);
}

const char *
sim_tr_workflow_sid(struct sim_tr *tr)
{
	struct sim_tr_workflow *wf = TAILQ_FIRST(&tr->workflow_list);

	return wf != NULL ? wf->sid : "";
}

void
sim_tr_reset(struct sim_tr *tr)
{
	sim_tr_traffic_free(tr->traffic);
	tr->traffic = NULL;
	sim_tr_events_reset(tr->events);
	sim_tr_state_clear(tr);
	tr->seq = 0;
	tr->routing_busy = false;
	tr->routing_again = false;
	sim_tr_state_init(tr);
	sim_tr_seed(tr);
	tr->traffic = sim_tr_traffic_new(tr);
}

void
sim_tr_traffic_start(struct sim_tr *tr)
{
	sim_tr_traffic_begin(tr->traffic);
	sim_tr_routing_run(tr);
}

void
sim_tr_callbacks_json(struct sim_tr *tr, struct json_gen *g)
{
	sim_tr_events_callbacks_json(tr->events, g);
}

void
sim_tr_state_json(struct sim_tr *tr, struct json_gen *g)
{
	struct sim_tr_worker *w = NULL;
	struct sim_tr_task *t = NULL;
	struct sim_tr_reservation *res = NULL;
	struct sim_tr_conference *c = NULL;
	struct sim_tr_queue *q = NULL;
	int i;

	json_gen_object_open(g);
	json_gen_kv_string(g, "workspace_sid", tr->ws.sid);
	json_gen_kv_string(g, "workflow_sid", sim_tr_workflow_sid(tr));
	json_gen_key(g, "tasks_by_status");
	json_gen_object_open(g);
	for (i = 0; i < SIM_TR_TASK_NSTATUS; i++)
		json_gen_kv_int(g, sim_tr_task_status_name((enum task_status)i),
				(int64_t)tr->ntasks_by_status[i]);
	json_gen_object_close(g);
	json_gen_key(g, "queues");
	json_gen_array_open(g);
	TAILQ_FOREACH(q, &tr->queue_list, entry) {
		json_gen_object_open(g);
		json_gen_kv_string(g, "sid", q->sid);
		json_gen_kv_string(g, "friendly_name", q->friendly_name);
		json_gen_kv_int(g, "waiting", (int64_t)q->waiting);
		json_gen_object_close(g);
	}
	json_gen_array_close(g);
	json_gen_key(g, "workers");
	json_gen_array_open(g);
	TAILQ_FOREACH(w, &tr->worker_list, entry) {
		json_gen_object_open(g);
		json_gen_kv_string(g, "sid", w->sid);
		json_gen_kv_string(g, "friendly_name", w->friendly_name);
		json_gen_kv_string(g, "activity_name", w->activity->friendly_name);
		json_gen_kv_bool(g, "idle", w->in_idle);
		json_gen_kv_int(g, "reservations_held", w->nactive);
		json_gen_object_close(g);
	}
	json_gen_array_close(g);
	json_gen_key(g, "tasks");
	json_gen_array_open(g);
	TAILQ_FOREACH(t, &tr->task_list, entry) {
		json_gen_object_open(g);
		json_gen_kv_string(g, "sid", t->sid);
		json_gen_kv_string(g, "assignment_status", sim_tr_task_status_name(t->status));
		json_gen_kv_int(g, "priority", t->priority);
		json_gen_kv_string(g, "task_queue_sid", t->queue != NULL ? t->queue->sid : NULL);
		json_gen_key(g, "reservations");
		json_gen_array_open(g);
		TAILQ_FOREACH(res, &t->reservations, task_entry) {
			json_gen_object_open(g);
			json_gen_kv_string(g, "sid", res->sid);
			json_gen_kv_string(g, "worker_sid", res->worker_sid);
			json_gen_kv_string(g, "reservation_status",
					   sim_tr_res_status_name(res->status));
			json_gen_object_close(g);
		}
		json_gen_array_close(g);
		json_gen_object_close(g);
	}
	json_gen_array_close(g);
	json_gen_key(g, "conferences");
	json_gen_array_open(g);
	TAILQ_FOREACH(c, &tr->conference_list, entry) {
		json_gen_object_open(g);
		json_gen_kv_string(g, "sid", c->sid);
		json_gen_kv_string(g, "friendly_name", c->friendly_name);
		json_gen_kv_string(g, "status", c->completed ? "completed" : "in-progress");
		json_gen_object_close(g);
	}
	json_gen_array_close(g);
	json_gen_key(g, "callbacks");
	sim_tr_events_callbacks_json(tr->events, g);
	json_gen_kv_int(g, "events_logged", (int64_t)sim_tr_events_count(tr->events));
	json_gen_object_close(g);
}

/* /sim/ control routes */

/* Parses the JSON body of a control request; replies 400 on error. */
static struct json_doc *
sim_tr_control_body(struct sim_request *r)
{
	struct json_doc *doc = NULL;
	char *cause = NULL;

	if (json_parse(r->body, r->body_len, NULL, &doc, &cause) < 0 ||
	    !json_is_object(json_doc_root(doc))) {
		sim_reply_error(r, 400, 20001, "Invalid JSON body: %s",
				cause != NULL ? cause : "expected an object");
		free(cause);
		json_doc_free(doc);
		return NULL;
	}
	return doc;
}

static int
sim_tr_control_count(struct sim_request *r, const struct json_value *root, int64_t max,
		     int64_t *out)
{
	if (json_get_int64(root, "count", out) < 0 || *out < 1 || *out > max) {
		sim_reply_error(r, 400, 20001, "count must be an integer from 1 to %lld",
				(long long)max);
		return -EINVAL;
	}
	return 0;
}

static void
sim_tr_control_tasks(struct sim_request *r)
{
	struct sim_tr *tr = r->sim->tr;
	struct json_doc *doc = sim_tr_control_body(r);
	const struct json_value *root = NULL;
	const struct json_value *attrs = NULL;
	struct sim_tr_task_spec spec = { 0 };
	struct sim_tr_task *t = NULL;
	struct json_gen *g = NULL;
	const char *wsid = NULL;
	const char *status = NULL;
	char *text = NULL;
	int64_t n = 0;
	int64_t i;

	if (doc == NULL)
		return;
	root = json_doc_root(doc);
	if (sim_tr_control_count(r, root, SIM_TR_BULK_TASKS_MAX, &n) < 0)
		goto out;
	attrs = json_get(root, "attributes");
	if (attrs != NULL && json_type(attrs) != JSON_NULL && !json_is_object(attrs)) {
		sim_reply_error(r, 400, 20001, "attributes must be an object");
		goto out;
	}
	if (json_get(root, "priority") != NULL &&
	    (json_get_int64(root, "priority", &spec.priority) < 0 || spec.priority < 0 ||
	     spec.priority > 2147483647LL)) {
		sim_reply_error(r, 400, 20001, "priority must be an integer from 0 to 2^31-1");
		goto out;
	}
	(void)json_get_string(root, "workflow_sid", &wsid);
	spec.workflow =
		wsid != NULL ? sim_tr_workflow_get(tr, wsid) : TAILQ_FIRST(&tr->workflow_list);
	if (spec.workflow == NULL) {
		sim_reply_error(r, 400, 20001, "no such workflow");
		goto out;
	}
	(void)json_get_string(root, "status", &status);
	if (status != NULL && strcmp(status, "pending") != 0 && strcmp(status, "canceled") != 0) {
		sim_reply_error(r, 400, 20001, "status must be pending or canceled");
		goto out;
	}
	g = json_gen_new();
	if (attrs != NULL && json_is_object(attrs)) {
		json_gen_value(g, attrs);
		text = json_gen_steal(g, NULL);
	} else {
		text = xstrdup("{}");
	}
	if (sim_tr_state_parse_attributes(text, NULL, NULL) < 0) {
		sim_reply_error(r, 400, 20001, "attributes exceed %d characters",
				SIM_TR_ATTRIBUTES_MAX);
		goto out;
	}
	spec.attributes = text;
	spec.timeout_s = 86400;
	json_gen_reset(g);
	json_gen_object_open(g);
	json_gen_kv_int(g, "created", n);
	json_gen_key(g, "task_sids");
	json_gen_array_open(g);
	for (i = 0; i < n; i++) {
		t = sim_tr_routing_task_create(tr, &spec);
		json_gen_string(g, t->sid);
		if (status != NULL && strcmp(status, "canceled") == 0)
			(void)sim_tr_routing_task_cancel(tr, t, "canceled by /sim/tasks", NULL);
	}
	json_gen_array_close(g);
	json_gen_object_close(g);
	log_info("/sim/tasks: %lld tasks created", (long long)n);
	sim_reply_json(r, 201, g, NULL);
	sim_tr_routing_run(tr);
out:
	json_gen_free(g);
	free(text);
	json_doc_free(doc);
}

static void
sim_tr_control_workers(struct sim_request *r)
{
	struct sim_tr *tr = r->sim->tr;
	struct json_doc *doc = sim_tr_control_body(r);
	const struct json_value *root = NULL;
	const struct json_value *skills = NULL;
	struct sim_tr_activity *act = NULL;
	struct sim_tr_worker *w = NULL;
	struct json_gen *g = NULL;
	const char *aname = NULL;
	const char *prefix = "worker";
	char name[96];
	char *attrs = NULL;
	int64_t n = 0;
	int64_t made = 0;
	int64_t num = 0;

	if (doc == NULL)
		return;
	root = json_doc_root(doc);
	if (sim_tr_control_count(r, root, SIM_TR_BULK_WORKERS_MAX, &n) < 0)
		goto out;
	(void)json_get_string(root, "prefix", &prefix);
	if (prefix == NULL || prefix[0] == '\0' || strlen(prefix) > 48) {
		sim_reply_error(r, 400, 20001, "prefix must be 1 to 48 characters");
		goto out;
	}
	skills = json_get(root, "skills");
	if (skills != NULL && !json_is_array(skills)) {
		sim_reply_error(r, 400, 20001, "skills must be an array");
		goto out;
	}
	(void)json_get_string(root, "activity", &aname);
	act = aname != NULL ? sim_tr_activity_by_name(tr, aname) : tr->ws.default_activity;
	if (act == NULL)
		act = sim_tr_activity_get(tr, aname);
	if (act == NULL) {
		sim_reply_error(r, 400, 20001, "no activity named %s", aname);
		goto out;
	}
	g = json_gen_new();
	json_gen_object_open(g);
	json_gen_kv_int(g, "created", n);
	json_gen_key(g, "worker_sids");
	json_gen_array_open(g);
	while (made < n) {
		snprintf(name, sizeof(name), "%s-%03lld", prefix, (long long)++num);
		if (sim_tr_worker_by_name(tr, name) != NULL)
			continue;
		attrs = sim_tr_worker_attributes(name, skills);
		w = sim_tr_routing_worker_create(tr, name, attrs, tr->ws.default_activity);
		free(attrs);
		sim_tr_routing_worker_set_activity(tr, w, act, false);
		json_gen_string(g, w->sid);
		made++;
	}
	json_gen_array_close(g);
	json_gen_object_close(g);
	sim_reply_json(r, 201, g, NULL);
	sim_tr_routing_run(tr);
out:
	json_gen_free(g);
	json_doc_free(doc);
}

static void
sim_tr_control_agents(struct sim_request *r)
{
	struct json_gen *g = json_gen_new();

	json_gen_object_open(g);
	json_gen_key(g, "agents");
	sim_tr_traffic_agents_json(r->sim->tr, g);
	json_gen_object_close(g);
	sim_reply_json(r, 200, g, NULL);
	json_gen_free(g);
}

/* POST /sim/agents/{worker}/claim and .../release: agent takeover. */
static void
sim_tr_control_claim(struct sim_request *r, bool claim)
{
	struct sim_tr *tr = r->sim->tr;
	struct json_gen *g = NULL;
	const char *sid = NULL;

	if (sim_tr_traffic_claim(tr, r->params[0], claim, &sid) < 0) {
		sim_reply_error(r, 404, 20404,
				"%s is not one of the traffic generator's agents (GET /sim/agents "
				"lists them)",
				r->params[0]);
		return;
	}
	g = json_gen_new();
	json_gen_object_open(g);
	json_gen_kv_string(g, "worker_sid", sid);
	json_gen_kv_bool(g, "claimed", claim);
	json_gen_object_close(g);
	sim_reply_json(r, 200, g, NULL);
	json_gen_free(g);
	sim_tr_routing_run(tr);
}

static void
sim_tr_control_agent_claim(struct sim_request *r)
{
	sim_tr_control_claim(r, true);
}

static void
sim_tr_control_agent_release(struct sim_request *r)
{
	sim_tr_control_claim(r, false);
}

static const struct sim_route sim_tr_control_routes[] = {
	{ "POST", "/sim/tasks", sim_tr_control_tasks, true },
	{ "POST", "/sim/workers", sim_tr_control_workers, true },
	{ "GET", "/sim/agents", sim_tr_control_agents, true },
	{ "POST", "/sim/agents/{WK}/claim", sim_tr_control_agent_claim, true },
	{ "POST", "/sim/agents/{WK}/release", sim_tr_control_agent_release, true },
};

void
sim_tr_register_routes(struct sim *sim)
{
	sim_tr_rest_register(sim->http);
	sim_http_register(sim->http, sim_tr_conference_routes, sim_tr_conference_nroutes);
	sim_http_register(sim->http, sim_tr_control_routes,
			  sizeof(sim_tr_control_routes) / sizeof(sim_tr_control_routes[0]));
}
