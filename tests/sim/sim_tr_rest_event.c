/*
 * TaskRouter v1 REST: Events (contract and conventions in sim_tr_rest.h and
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

/* Events */

/* "TaskQueueSid" -> "task_queue_sid". */
static char *
sim_tr_rest_snake(const char *s)
{
	struct buf b;
	size_t i;
	unsigned char c;
	unsigned char prev;
	unsigned char next;

	buf_init(&b);
	for (i = 0; s[i] != '\0'; i++) {
		c = (unsigned char)s[i];
		prev = i > 0 ? (unsigned char)s[i - 1] : 0;
		next = (unsigned char)s[i + 1];
		if (i > 0 && isupper(c) &&
		    (islower(prev) || isdigit(prev) || (isupper(prev) && islower(next))))
			buf_putc(&b, '_');
		buf_putc(&b, (char)tolower(c));
	}
	return buf_steal(&b, NULL);
}

static bool
sim_tr_rest_is_base_field(const char *k)
{
	static const char *const base[] = {
		"EventType",	"AccountSid",  "WorkspaceSid", "WorkspaceName", "EventDescription",
		"ResourceType", "ResourceSid", "Timestamp",    "TimestampMs",	"Sid",
	};
	size_t i;

	for (i = 0; i < sizeof(base) / sizeof(base[0]); i++) {
		if (strcmp(k, base[i]) == 0)
			return true;
	}
	return false;
}

static void
sim_tr_rest_kv_resource_url(struct json_gen *g, struct sim_tr *tr, const struct sim_tr_event *e)
{
	const char *rt = e->resource_type;

	if (strcmp(rt, "Reservation") == 0)
		sim_tr_rest_kv_url(g, tr, "resource_url", "/Tasks/%s/Reservations/%s", e->task_sid,
				   e->resource_sid);
	else if (strcmp(rt, "Task") == 0)
		sim_tr_rest_kv_url(g, tr, "resource_url", "/Tasks/%s", e->resource_sid);
	else if (strcmp(rt, "Worker") == 0)
		sim_tr_rest_kv_url(g, tr, "resource_url", "/Workers/%s", e->resource_sid);
	else if (strcmp(rt, "TaskQueue") == 0)
		sim_tr_rest_kv_url(g, tr, "resource_url", "/TaskQueues/%s", e->resource_sid);
	else if (strcmp(rt, "Workflow") == 0)
		sim_tr_rest_kv_url(g, tr, "resource_url", "/Workflows/%s", e->resource_sid);
	else if (strcmp(rt, "Activity") == 0)
		sim_tr_rest_kv_url(g, tr, "resource_url", "/Activities/%s", e->resource_sid);
	else
		sim_tr_rest_kv_url(g, tr, "resource_url", "%s", "");
}

static void
sim_tr_rest_event_json(struct sim_tr *tr, const struct sim_tr_event *e, struct json_gen *g)
{
	struct form *f = NULL;
	char *key = NULL;
	size_t i;

	json_gen_object_open(g);
	json_gen_kv_string(g, "account_sid", tr->sim->opt.account_sid);
	json_gen_kv_string(g, "actor_sid", tr->ws.sid);
	json_gen_kv_string(g, "actor_type", "workspace");
	sim_tr_rest_kv_url(g, tr, "actor_url", "%s", "");
	json_gen_kv_string(g, "description", e->description);
	json_gen_key(g, "event_data");
	json_gen_object_open(g);
	if (e->data != NULL && form_parse(e->data, strlen(e->data), NULL, &f, NULL) == 0) {
		for (i = 0; i < form_count(f); i++) {
			if (sim_tr_rest_is_base_field(form_key(f, i)))
				continue;
			key = sim_tr_rest_snake(form_key(f, i));
			json_gen_kv_string(g, key, form_value(f, i));
			free(key);
		}
		form_free(f);
	}
	json_gen_object_close(g);
	sim_tr_rest_kv_iso(g, tr, "event_date", e->ts_ms);
	json_gen_kv_int(g, "event_date_ms", e->ts_ms);
	json_gen_kv_string(g, "event_type", sim_tr_ev_name(e->type));
	json_gen_kv_string(g, "resource_sid", e->resource_sid);
	json_gen_kv_string(g, "resource_type", e->resource_type);
	sim_tr_rest_kv_resource_url(g, tr, e);
	json_gen_kv_string(g, "sid", e->sid);
	json_gen_kv_string(g, "source", "twilio");
	json_gen_kv_string(g, "source_ip_address", "127.0.0.1");
	json_gen_kv_string(g, "workspace_sid", tr->ws.sid);
	sim_tr_rest_kv_url(g, tr, "url", "/Events/%s", e->sid);
	json_gen_object_close(g);
}

/*
 * The statistics/events window: [StartDate or EndDate-Minutes, EndDate or
 * now]; Minutes defaults to 15 when StartDate is absent. SplitByWaitTime is
 * a comma-separated list of seconds. Replies 400 and returns -EINVAL on bad
 * input.
 */
int
sim_tr_rest_window(struct sim_request *r, struct sim_tr_stats_window *w)
{
	struct sim_tr *tr = sim_tr_rest_tr(r);
	const char *minutes = sim_tr_rest_query(r, "Minutes");
	const char *start = sim_tr_rest_query(r, "StartDate");
	const char *end = sim_tr_rest_query(r, "EndDate");
	const char *split = sim_tr_rest_query(r, "SplitByWaitTime");
	int64_t m = 15;
	char *copy = NULL;
	char *p = NULL;
	char *item = NULL;
	int64_t v;

	memset(w, 0, sizeof(*w));
	w->end_ms = sim_tr_now(tr);
	if (minutes != NULL &&
	    sim_param_int(r, "Minutes", minutes, 1, SIM_TR_REST_MAX_MINUTES, &m) < 0)
		return -EINVAL;
	if (end != NULL && sim_param_date(r, "EndDate", end, &w->end_ms) < 0)
		return -EINVAL;
	if (start != NULL) {
		if (sim_param_date(r, "StartDate", start, &w->start_ms) < 0)
			return -EINVAL;
	} else {
		w->start_ms = w->end_ms - m * 60000;
	}
	if (w->start_ms > w->end_ms) {
		sim_reply_error(r, 400, 20001, "StartDate must be before EndDate");
		return -EINVAL;
	}
	if (split == NULL)
		return 0;
	w->split_requested = true;
	copy = xstrdup(split);
	p = copy;
	while ((item = strsep(&p, ",")) != NULL) {
		while (*item == ' ')
			item++;
		if (*item == '\0')
			continue;
		if (w->nsplits == SIM_TR_STATS_MAX_SPLITS) {
			sim_reply_error(r, 400, 20001, "SplitByWaitTime takes at most %d values",
					SIM_TR_STATS_MAX_SPLITS);
			free(copy);
			return -EINVAL;
		}
		if (sim_param_int(r, "SplitByWaitTime", item, 0, 86400 * 30, &v) < 0) {
			free(copy);
			return -EINVAL;
		}
		w->splits[w->nsplits++] = v;
	}
	free(copy);
	return 0;
}

static void
sim_tr_rest_events_list(struct sim_request *r)
{
	struct sim_tr *tr = sim_tr_rest_tr(r);
	const struct sim_tr_events *ev = tr->events;
	const char *type = sim_tr_rest_query(r, "EventType");
	const char *task = sim_tr_rest_query(r, "TaskSid");
	const char *worker = sim_tr_rest_query(r, "WorkerSid");
	const char *res = sim_tr_rest_query(r, "ReservationSid");
	const char *queue = sim_tr_rest_query(r, "TaskQueueSid");
	const char *wf = sim_tr_rest_query(r, "WorkflowSid");
	const char *sid = sim_tr_rest_query(r, "Sid");
	const struct sim_tr_event *e = NULL;
	struct sim_tr_stats_window w;
	struct json_gen *g = NULL;
	struct sim_pager p;
	size_t n = sim_tr_events_count(ev);
	size_t i;

	if (!sim_tr_rest_ws_ok(r) || sim_tr_rest_window(r, &w) < 0 ||
	    sim_pager_init(&p, r, 1000) < 0)
		return;
	g = json_gen_new();
	sim_pager_v1_open(&p, g, "events");
	for (i = sim_tr_events_lower_bound(ev, w.start_ms); i < n; i++) {
		e = sim_tr_events_at(ev, i);
		if (e->ts_ms > w.end_ms)
			break;
		if (e->data == NULL)
			continue;
		if ((type != NULL && strcmp(type, sim_tr_ev_name(e->type)) != 0) ||
		    (task != NULL && strcmp(task, e->task_sid) != 0) ||
		    (worker != NULL && strcmp(worker, e->worker_sid) != 0) ||
		    (res != NULL && strcmp(res, e->reservation_sid) != 0) ||
		    (queue != NULL && strcmp(queue, e->queue_sid) != 0) ||
		    (wf != NULL && strcmp(wf, e->workflow_sid) != 0) ||
		    (sid != NULL && strcmp(sid, e->sid) != 0))
			continue;
		if (sim_pager_take(&p, e->seq))
			sim_tr_rest_event_json(tr, e, g);
		if (sim_pager_done(&p))
			break;
	}
	sim_pager_v1_close(&p, g, "events");
	sim_tr_rest_reply_list(r, g);
	json_gen_free(g);
}

static void
sim_tr_rest_event_fetch(struct sim_request *r)
{
	struct sim_tr *tr = sim_tr_rest_tr(r);
	const struct sim_tr_event *e = NULL;
	struct json_gen *g = NULL;

	if (!sim_tr_rest_ws_ok(r))
		return;
	e = sim_tr_events_find(tr->events, r->params[1]);
	if (e == NULL || e->data == NULL) {
		sim_tr_rest_not_found(r);
		return;
	}
	g = json_gen_new();
	sim_tr_rest_event_json(tr, e, g);
	sim_reply_json(r, 200, g, NULL);
	json_gen_free(g);
}

#define WS "/v1/Workspaces/{WS}"

const struct sim_route sim_tr_rest_event_routes[] = {
	{ "GET", WS "/Events", sim_tr_rest_events_list, false },
	{ "GET", WS "/Events/{EV}", sim_tr_rest_event_fetch, false },
};

const size_t sim_tr_rest_event_nroutes =
	sizeof(sim_tr_rest_event_routes) / sizeof(sim_tr_rest_event_routes[0]);
