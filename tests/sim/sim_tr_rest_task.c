/*
 * TaskRouter v1 REST: Tasks (contract and conventions in sim_tr_rest.h and
 * sim_tr_rest.c).
 */

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "form.h"
#include "hmap.h"
#include "json.h"
#include "log.h"
#include "sid.h"
#include "sim.h"
#include "sim_http.h"
#include "sim_tr_events.h"
#include "sim_tr_expr.h"
#include "sim_tr_rest.h"
#include "sim_tr_routing.h"
#include "sim_tr_state.h"
#include "sim_tr_stats.h"
#include "xmalloc.h"

/* Tasks */

static int64_t
sim_tr_rest_task_age_s(struct sim_tr *tr, const struct sim_tr_task *t)
{
	return (sim_tr_now(tr) - t->created_ms) / 1000;
}

/*
 * The task object. "age" changes with the clock alone, so the cached form
 * (age NULL) leaves it out and records in *split_out where it goes: right
 * after account_sid, before the comma that opens the next member.
 */
static void
sim_tr_rest_task_fields(struct sim_tr *tr, const struct sim_tr_task *t, struct json_gen *g,
			const int64_t *age, size_t *split_out)
{
	json_gen_object_open(g);
	json_gen_kv_string(g, "account_sid", tr->sim->opt.account_sid);
	if (split_out != NULL)
		(void)json_gen_text(g, split_out);
	if (age != NULL)
		json_gen_kv_int(g, "age", *age);
	json_gen_kv_string(g, "assignment_status", sim_tr_task_status_name(t->status));
	json_gen_kv_string(g, "attributes", t->attributes);
	json_gen_kv_string(g, "addons", "{}");
	sim_tr_rest_kv_iso(g, tr, "date_created", t->created_ms);
	sim_tr_rest_kv_iso(g, tr, "date_updated", t->updated_ms);
	if (t->queue_entered_ms != 0)
		sim_tr_rest_kv_iso(g, tr, "task_queue_entered_date", t->queue_entered_ms);
	else
		json_gen_kv_null(g, "task_queue_entered_date");
	json_gen_kv_int(g, "priority", t->priority);
	json_gen_kv_string(g, "reason", t->reason);
	json_gen_kv_string(g, "sid", t->sid);
	json_gen_kv_string(g, "task_queue_sid", t->queue != NULL ? t->queue->sid : NULL);
	json_gen_kv_string(g, "task_queue_friendly_name",
			   t->queue != NULL ? t->queue->friendly_name : NULL);
	json_gen_kv_string(g, "task_channel_sid", tr->ws.channel_sids[t->channel]);
	json_gen_kv_string(g, "task_channel_unique_name", sim_tr_channel_name(t->channel));
	json_gen_kv_int(g, "timeout", t->timeout_s);
	json_gen_kv_string(g, "workflow_sid", t->workflow != NULL ? t->workflow->sid : NULL);
	json_gen_kv_string(g, "workflow_friendly_name",
			   t->workflow != NULL ? t->workflow->friendly_name : NULL);
	json_gen_kv_string(g, "workspace_sid", tr->ws.sid);
	sim_tr_rest_kv_url(g, tr, "url", "/Tasks/%s", t->sid);
	json_gen_key(g, "links");
	json_gen_object_open(g);
	if (t->queue != NULL)
		sim_tr_rest_kv_url(g, tr, "task_queue", "/TaskQueues/%s", t->queue->sid);
	if (t->workflow != NULL)
		sim_tr_rest_kv_url(g, tr, "workflow", "/Workflows/%s", t->workflow->sid);
	sim_tr_rest_kv_url(g, tr, "workspace", "%s", "");
	sim_tr_rest_kv_url(g, tr, "reservations", "/Tasks/%s/Reservations", t->sid);
	json_gen_object_close(g);
	sim_tr_rest_kv_iso(g, tr, "virtual_start_time", t->created_ms);
	json_gen_kv_bool(g, "ignore_capacity", false);
	json_gen_kv_null(g, "routing_target");
	json_gen_object_close(g);
}

void
sim_tr_rest_task_json(struct sim_tr *tr, const struct sim_tr_task *t, struct json_gen *g)
{
	int64_t age = sim_tr_rest_task_age_s(tr, t);

	sim_tr_rest_task_fields(tr, t, g, &age, NULL);
}

/* Writes t from its cache (built first when missing), with "age" spliced in. */
static void
sim_tr_rest_task_emit(struct sim_tr *tr, struct sim_tr_task *t, struct json_gen *g)
{
	struct json_gen *s = sim_tr_rest_scratch(tr);
	struct buf *c = &tr->json_compose;
	int64_t age_s = sim_tr_rest_task_age_s(tr, t); /* once: the check must see the same */
	char age[32];
	int n;

	if (!sim_tr_rest_cache_valid(tr, &t->json)) {
		sim_tr_json_cache_clear(&t->json);
		sim_tr_rest_task_fields(tr, t, s, NULL, &t->json.split);
		t->json.text = json_gen_steal(s, &t->json.len);
		t->json.epoch = tr->json_epoch;
	}
	n = snprintf(age, sizeof(age), ",\"age\":%" PRId64, age_s);
	assert(n > 0 && (size_t)n < sizeof(age));
	buf_reset(c);
	buf_append(c, t->json.text, t->json.split);
	buf_append(c, age, (size_t)n);
	buf_append(c, t->json.text + t->json.split, t->json.len - t->json.split);
#ifdef SIM_TR_REST_CACHE_CHECK
	sim_tr_rest_task_fields(tr, t, s, &age_s, NULL);
	sim_tr_rest_cache_check(s, "task", t->sid, c->data, c->len);
#endif
	json_gen_verbatim(g, c->data, c->len);
}

static void
sim_tr_rest_reply_task(struct sim_request *r, int status, struct sim_tr_task *t)
{
	struct json_gen *g = json_gen_new();
	char etag[24];

	sim_tr_rest_etag(t->version, etag);
	sim_tr_rest_task_emit(sim_tr_rest_tr(r), t, g);
	sim_reply_json(r, status, g, etag);
	json_gen_free(g);
}

/* Ordering=Attribute:Order[,...]: the cursor that increases along the order. */
struct sim_tr_rest_order {
	bool by_priority;
	bool priority_desc;
	bool created_desc;
	bool priority_first;
	bool sorted; /* anything but the default DateCreated:asc */
};

static int
sim_tr_rest_parse_ordering(struct sim_request *r, struct sim_tr_rest_order *o)
{
	const char *v = sim_tr_rest_query(r, "Ordering");
	char *copy = NULL;
	char *p = NULL;
	char *item = NULL;
	char *colon = NULL;
	bool seen_date = false;
	bool desc;

	memset(o, 0, sizeof(*o));
	if (v == NULL)
		return 0;
	copy = xstrdup(v);
	p = copy;
	while ((item = strsep(&p, ",")) != NULL) {
		while (*item == ' ')
			item++;
		if (*item == '\0')
			continue;
		colon = strchr(item, ':');
		desc = false;
		if (colon != NULL) {
			*colon = '\0';
			if (strcasecmp(colon + 1, "desc") == 0)
				desc = true;
			else if (strcasecmp(colon + 1, "asc") != 0)
				goto bad;
		}
		if (strcmp(item, "Priority") == 0) {
			o->by_priority = true;
			o->priority_desc = desc;
			if (!seen_date)
				o->priority_first = true;
		} else if (strcmp(item, "DateCreated") == 0 ||
			   strcmp(item, "VirtualStartTime") == 0) {
			if (seen_date)
				goto bad;
			seen_date = true;
			o->created_desc = desc;
		} else {
			goto bad;
		}
	}
	free(copy);
	o->sorted = o->by_priority || o->created_desc;
	return 0;
bad:
	free(copy);
	sim_reply_error(r, 400, 20001, "Invalid Ordering '%s'", v);
	return -EINVAL;
}

static uint64_t
sim_tr_rest_task_cursor(const struct sim_tr_rest_order *o, const struct sim_tr_task *t)
{
	uint64_t seq = t->seq & UINT32_MAX;
	uint64_t prio = (uint64_t)t->priority;

	if (o->created_desc)
		seq = (uint64_t)UINT32_MAX - seq;
	/* With DateCreated first the (unique) creation order decides alone. */
	if (!o->by_priority || !o->priority_first)
		return seq;
	if (o->priority_desc)
		prio = (uint64_t)SIM_TR_REST_MAX_PRIORITY - prio;
	return (prio << 32) | seq;
}

struct sim_tr_rest_sorted {
	uint64_t cursor;
	struct sim_tr_task *task;
};

static int
sim_tr_rest_sorted_cmp(const void *a, const void *b)
{
	const struct sim_tr_rest_sorted *x = a;
	const struct sim_tr_rest_sorted *y = b;

	return x->cursor < y->cursor ? -1 : x->cursor > y->cursor ? 1 : 0;
}

struct sim_tr_rest_task_filter {
	bool status[SIM_TR_TASK_NSTATUS];
	bool any_status;
	struct sim_tr_queue *queue;
	struct sim_tr_workflow *workflow;
	bool has_priority;
	int64_t priority;
	struct sim_tr_expr *expr;
};

/* AssignmentStatus (repeated or comma-separated), queue, workflow, Priority,
 * EvaluateTaskAttributes. */
static int
sim_tr_rest_task_filter(struct sim_request *r, struct sim_tr_rest_task_filter *f)
{
	struct sim_tr *tr = sim_tr_rest_tr(r);
	const char *wsid = sim_tr_rest_query(r, "WorkflowSid");
	const char *wname = sim_tr_rest_query(r, "WorkflowName");
	const char *prio = sim_tr_rest_query(r, "Priority");
	struct sim_tr_workflow *wf = NULL;
	enum task_status s;
	size_t n = form_get_count(r->query, "AssignmentStatus");
	size_t i;
	char *copy = NULL;
	char *p = NULL;
	char *item = NULL;

	memset(f, 0, sizeof(*f));
	for (i = 0; i < n; i++) {
		copy = xstrdup(form_get_nth(r->query, "AssignmentStatus", i));
		p = copy;
		while ((item = strsep(&p, ",")) != NULL) {
			if (*item == '\0')
				continue;
			if (sim_tr_task_status_parse(item, &s) < 0) {
				sim_reply_error(r, 400, 20001, "Invalid AssignmentStatus '%s'",
						item);
				free(copy);
				return -EINVAL;
			}
			f->status[s] = true;
			f->any_status = true;
		}
		free(copy);
	}
	if (sim_tr_rest_queue_filter(r, &f->queue) < 0)
		return -EINVAL;
	if (wsid != NULL) {
		f->workflow = sim_tr_workflow_get(tr, wsid);
		if (f->workflow == NULL) {
			sim_reply_error(r, 404, 20404, "Workflow %s not found", wsid);
			return -ENOENT;
		}
	} else if (wname != NULL) {
		TAILQ_FOREACH(wf, &tr->workflow_list, entry) {
			if (strcmp(wf->friendly_name, wname) == 0)
				break;
		}
		if (wf == NULL) {
			sim_reply_error(r, 404, 20404, "Workflow '%s' not found", wname);
			return -ENOENT;
		}
		f->workflow = wf;
	}
	if (prio != NULL) {
		if (sim_param_int(r, "Priority", prio, 0, SIM_TR_REST_MAX_PRIORITY, &f->priority) <
		    0)
			return -EINVAL;
		f->has_priority = true;
	}
	return sim_tr_rest_expr_param(r, "EvaluateTaskAttributes", &f->expr);
}

static bool
sim_tr_rest_task_matches(const struct sim_tr_rest_task_filter *f, const struct sim_tr_task *t)
{
	if (f->any_status && !f->status[t->status])
		return false;
	if (f->queue != NULL && t->queue != f->queue)
		return false;
	if (f->workflow != NULL && t->workflow != f->workflow)
		return false;
	if (f->has_priority && t->priority != f->priority)
		return false;
	if (f->expr != NULL && !sim_tr_expr_eval(f->expr, json_doc_root(t->attr_doc), NULL, NULL))
		return false;
	return true;
}

/* As sim_tr_rest_workers_start, for the Tasks list in creation order. */
static struct sim_tr_task *
sim_tr_rest_tasks_start(struct sim_tr *tr, const struct sim_pager *p,
			const struct sim_tr_rest_task_filter *f)
{
	struct sim_tr_task *start = NULL;
	struct sim_tr_task *t = NULL;
	int need = p->page_size + 1;

	if (!p->have_after)
		return TAILQ_FIRST(&tr->task_list);
	start = sim_tr_seq_index_after(&tr->task_index, p->after);
	t = start != NULL ? TAILQ_PREV(start, sim_tr_task_list, entry)
			  : TAILQ_LAST(&tr->task_list, sim_tr_task_list);
	while (t != NULL && need > 0) {
		if (sim_tr_rest_task_matches(f, t))
			need--;
		start = t;
		t = TAILQ_PREV(t, sim_tr_task_list, entry);
	}
	return start;
}

static void
sim_tr_rest_tasks_list(struct sim_request *r)
{
	struct sim_tr *tr = sim_tr_rest_tr(r);
	struct sim_tr_rest_task_filter f;
	struct sim_tr_rest_order o;
	struct sim_tr_rest_sorted *v = NULL;
	struct sim_tr_task *t = NULL;
	struct sim_tr_task *it = NULL;
	struct json_gen *g = NULL;
	struct sim_pager p;
	size_t n = 0;
	size_t i;

	if (!sim_tr_rest_ws_ok(r) || sim_tr_rest_parse_ordering(r, &o) < 0 ||
	    sim_tr_rest_task_filter(r, &f) < 0)
		return;
	if (sim_pager_init(&p, r, 1000) < 0) {
		sim_tr_expr_free(f.expr);
		return;
	}
	g = sim_tr_rest_list_gen(tr);
	sim_pager_v1_open(&p, g, "tasks");
	if (!o.sorted) {
		for (it = sim_tr_rest_tasks_start(tr, &p, &f); it != NULL;
		     it = TAILQ_NEXT(it, entry)) {
			if (!sim_tr_rest_task_matches(&f, it))
				continue;
			if (sim_pager_take(&p, it->seq))
				sim_tr_rest_task_emit(tr, it, g);
			if (sim_pager_done(&p))
				break;
		}
	} else {
		v = xreallocarray(NULL, hmap_count(tr->tasks) + 1, sizeof(*v));
		TAILQ_FOREACH(it, &tr->task_list, entry) {
			if (!sim_tr_rest_task_matches(&f, it))
				continue;
			v[n].cursor = sim_tr_rest_task_cursor(&o, it);
			v[n].task = it;
			n++;
		}
		qsort(v, n, sizeof(*v), sim_tr_rest_sorted_cmp);
		for (i = 0; i < n; i++) {
			t = v[i].task;
			if (sim_pager_take(&p, v[i].cursor))
				sim_tr_rest_task_emit(tr, t, g);
			if (sim_pager_done(&p))
				break;
		}
		free(v);
	}
	sim_pager_v1_close(&p, g, "tasks");
	sim_tr_rest_reply_list(r, g);
	sim_tr_rest_list_gen_done(tr);
	sim_tr_expr_free(f.expr);
}

static void
sim_tr_rest_task_create(struct sim_request *r)
{
	struct sim_tr *tr = sim_tr_rest_tr(r);
	const char *attrs = sim_tr_rest_param(r, "Attributes");
	const char *wsid = sim_tr_rest_param(r, "WorkflowSid");
	const char *qsid = sim_tr_rest_param(r, "TaskQueueSid");
	const char *prio = sim_tr_rest_param(r, "Priority");
	const char *ttl = sim_tr_rest_param(r, "Timeout");
	const char *channel = sim_tr_rest_param(r, "TaskChannel");
	struct sim_tr_task_spec spec = { 0 };
	struct sim_tr_task *t = NULL;

	if (!sim_tr_rest_ws_ok(r))
		return;
	if (attrs == NULL || attrs[0] == '\0')
		attrs = "{}";
	if (sim_tr_rest_attributes(r, attrs) < 0)
		return;
	spec.attributes = attrs;
	spec.timeout_s = 86400;
	if (prio != NULL &&
	    sim_param_int(r, "Priority", prio, 0, SIM_TR_REST_MAX_PRIORITY, &spec.priority) < 0)
		return;
	if (ttl != NULL &&
	    sim_param_int(r, "Timeout", ttl, 1, SIM_TR_REST_MAX_TTL_S, &spec.timeout_s) < 0)
		return;
	if (channel != NULL && channel[0] != '\0' &&
	    sim_tr_channel_find(tr, channel, &spec.channel) < 0) {
		sim_reply_error(r, 400, 20001, "TaskChannel %s not found", channel);
		return;
	}
	if (qsid != NULL && qsid[0] != '\0') {
		spec.queue = sim_tr_queue_get(tr, qsid);
		if (spec.queue == NULL) {
			sim_reply_error(r, 400, 20001, "TaskQueueSid %s not found", qsid);
			return;
		}
	}
	if (wsid != NULL && wsid[0] != '\0') {
		spec.workflow = sim_tr_workflow_get(tr, wsid);
		if (spec.workflow == NULL) {
			sim_reply_error(r, 400, 20001, "WorkflowSid %s not found", wsid);
			return;
		}
	} else if (spec.queue == NULL) {
		if (TAILQ_FIRST(&tr->workflow_list) == NULL ||
		    TAILQ_NEXT(TAILQ_FIRST(&tr->workflow_list), entry) != NULL) {
			sim_reply_error(r, 400, 20001,
					"Missing required parameter WorkflowSid: "
					"the Workspace does not have exactly one "
					"Workflow");
			return;
		}
		spec.workflow = TAILQ_FIRST(&tr->workflow_list);
	}
	t = sim_tr_routing_task_create(tr, &spec);
	sim_tr_rest_reply_task(r, 201, t);
	sim_tr_routing_run(tr);
}

struct sim_tr_task *
sim_tr_rest_task_of(struct sim_request *r)
{
	struct sim_tr_task *t = sim_tr_task_get(sim_tr_rest_tr(r), r->params[1]);

	if (t == NULL)
		sim_tr_rest_not_found(r);
	return t;
}

static void
sim_tr_rest_task_fetch(struct sim_request *r)
{
	struct sim_tr_task *t = NULL;

	if (!sim_tr_rest_ws_ok(r))
		return;
	t = sim_tr_rest_task_of(r);
	if (t != NULL)
		sim_tr_rest_reply_task(r, 200, t);
}

static void
sim_tr_rest_task_update(struct sim_request *r)
{
	struct sim_tr *tr = sim_tr_rest_tr(r);
	const char *status = sim_tr_rest_param(r, "AssignmentStatus");
	const char *reason = sim_tr_rest_param(r, "Reason");
	const char *attrs = sim_tr_rest_param(r, "Attributes");
	const char *prio = sim_tr_rest_param(r, "Priority");
	enum task_status to = SIM_TR_TASK_PENDING;
	struct sim_tr_task *t = NULL;
	int64_t priority = 0;
	char *cause = NULL;
	int rc = 0;

	if (!sim_tr_rest_ws_ok(r))
		return;
	t = sim_tr_rest_task_of(r);
	if (t == NULL || !sim_tr_rest_if_match(r, t->version))
		return;
	if (attrs != NULL && sim_tr_rest_attributes(r, attrs) < 0)
		return;
	if (prio != NULL &&
	    sim_param_int(r, "Priority", prio, 0, SIM_TR_REST_MAX_PRIORITY, &priority) < 0)
		return;
	if (status != NULL) {
		if (sim_tr_task_status_parse(status, &to) < 0 ||
		    (to != SIM_TR_TASK_CANCELED && to != SIM_TR_TASK_COMPLETED &&
		     to != SIM_TR_TASK_WRAPPING)) {
			sim_reply_error(r, 400, 20001,
					"AssignmentStatus must be canceled, wrapping or completed");
			return;
		}
		/* Check the transition before changing anything. */
		if ((to == SIM_TR_TASK_CANCELED && t->status != SIM_TR_TASK_PENDING &&
		     t->status != SIM_TR_TASK_RESERVED) ||
		    (to == SIM_TR_TASK_WRAPPING && t->status != SIM_TR_TASK_ASSIGNED) ||
		    (to == SIM_TR_TASK_COMPLETED && t->status != SIM_TR_TASK_ASSIGNED &&
		     t->status != SIM_TR_TASK_WRAPPING)) {
			if (to == SIM_TR_TASK_CANCELED)
				rc = sim_tr_routing_task_cancel(tr, t, reason, &cause);
			else if (to == SIM_TR_TASK_WRAPPING)
				rc = sim_tr_routing_task_wrapup(tr, t, reason, &cause);
			else
				rc = sim_tr_routing_task_complete(tr, t, reason, &cause);
			(void)rc; /* always refused here: the status does not allow it */
			sim_tr_rest_reply_cause(r, cause);
			return;
		}
	}
	if (attrs != NULL || prio != NULL)
		sim_tr_routing_task_update(tr, t, attrs, prio != NULL ? &priority : NULL);
	if (status != NULL) {
		if (to == SIM_TR_TASK_CANCELED)
			rc = sim_tr_routing_task_cancel(tr, t, reason, NULL);
		else if (to == SIM_TR_TASK_WRAPPING)
			rc = sim_tr_routing_task_wrapup(tr, t, reason, NULL);
		else
			rc = sim_tr_routing_task_complete(tr, t, reason, NULL);
		(void)rc; /* checked above */
	} else if (reason != NULL && reason[0] != '\0') {
		sim_tr_task_set_reason(t, reason);
	}
	sim_tr_rest_reply_task(r, 200, t);
	sim_tr_routing_run(tr);
}

static void
sim_tr_rest_task_delete(struct sim_request *r)
{
	struct sim_tr *tr = sim_tr_rest_tr(r);
	struct sim_tr_task *t = NULL;

	if (!sim_tr_rest_ws_ok(r))
		return;
	t = sim_tr_rest_task_of(r);
	if (t == NULL || !sim_tr_rest_if_match(r, t->version))
		return;
	sim_tr_routing_task_delete(tr, t);
	sim_reply_no_content(r);
	sim_tr_routing_run(tr);
}

#define WS "/v1/Workspaces/{WS}"

const struct sim_route sim_tr_rest_task_routes[] = {
	{ "GET", WS "/Tasks", sim_tr_rest_tasks_list, false },
	{ "POST", WS "/Tasks", sim_tr_rest_task_create, false },
	{ "GET", WS "/Tasks/{WT}", sim_tr_rest_task_fetch, false },
	{ "POST", WS "/Tasks/{WT}", sim_tr_rest_task_update, false },
	{ "DELETE", WS "/Tasks/{WT}", sim_tr_rest_task_delete, false },
};

const size_t sim_tr_rest_task_nroutes =
	sizeof(sim_tr_rest_task_routes) / sizeof(sim_tr_rest_task_routes[0]);
