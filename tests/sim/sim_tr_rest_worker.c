/*
 * TaskRouter v1 REST: Workers and WorkerChannels (contract and conventions in sim_tr_rest.h and
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

/* Workers */

void
sim_tr_rest_worker_json(struct sim_tr *tr, const struct sim_tr_worker *w, struct json_gen *g)
{
	json_gen_object_open(g);
	json_gen_kv_string(g, "account_sid", tr->sim->opt.account_sid);
	json_gen_kv_string(g, "activity_name", w->activity->friendly_name);
	json_gen_kv_string(g, "activity_sid", w->activity->sid);
	json_gen_kv_string(g, "attributes", w->attributes);
	json_gen_kv_bool(g, "available", w->activity->available);
	sim_tr_rest_kv_iso(g, tr, "date_created", w->created_ms);
	sim_tr_rest_kv_iso(g, tr, "date_status_changed", w->status_changed_ms);
	sim_tr_rest_kv_iso(g, tr, "date_updated", w->updated_ms);
	json_gen_kv_string(g, "friendly_name", w->friendly_name);
	json_gen_kv_string(g, "sid", w->sid);
	json_gen_kv_string(g, "workspace_sid", tr->ws.sid);
	sim_tr_rest_kv_url(g, tr, "url", "/Workers/%s", w->sid);
	json_gen_key(g, "links");
	json_gen_object_open(g);
	sim_tr_rest_kv_url(g, tr, "activity", "/Activities/%s", w->activity->sid);
	sim_tr_rest_kv_url(g, tr, "workspace", "%s", "");
	sim_tr_rest_kv_url(g, tr, "channels", "/Workers/%s/Channels", w->sid);
	sim_tr_rest_kv_url(g, tr, "reservations", "/Workers/%s/Reservations", w->sid);
	sim_tr_rest_kv_url(g, tr, "statistics", "/Workers/%s/Statistics", w->sid);
	sim_tr_rest_kv_url(g, tr, "real_time_statistics", "/Workers/RealTimeStatistics");
	sim_tr_rest_kv_url(g, tr, "cumulative_statistics", "/Workers/CumulativeStatistics");
	sim_tr_rest_kv_url(g, tr, "worker_statistics", "/Workers/%s/Statistics", w->sid);
	sim_tr_rest_kv_url(g, tr, "worker_channels", "/Workers/%s/Channels", w->sid);
	json_gen_object_close(g);
	json_gen_object_close(g);
}

/* Writes w from its cache, built first when missing. */
static void
sim_tr_rest_worker_emit(struct sim_tr *tr, struct sim_tr_worker *w, struct json_gen *g)
{
	struct json_gen *s = sim_tr_rest_scratch(tr);

	if (!sim_tr_rest_cache_valid(tr, &w->json)) {
		sim_tr_json_cache_clear(&w->json);
		sim_tr_rest_worker_json(tr, w, s);
		w->json.text = json_gen_steal(s, &w->json.len);
		w->json.epoch = tr->json_epoch;
	}
#ifdef SIM_TR_REST_CACHE_CHECK
	sim_tr_rest_worker_json(tr, w, s);
	sim_tr_rest_cache_check(s, "worker", w->sid, w->json.text, w->json.len);
#endif
	json_gen_verbatim(g, w->json.text, w->json.len);
}

static void
sim_tr_rest_reply_worker(struct sim_request *r, int status, struct sim_tr_worker *w)
{
	struct json_gen *g = json_gen_new();
	char etag[24];

	sim_tr_rest_etag(w->version, etag);
	sim_tr_rest_worker_emit(sim_tr_rest_tr(r), w, g);
	sim_reply_json(r, status, g, etag);
	json_gen_free(g);
}

/* A queue named by TaskQueueSid or TaskQueueName; replies 400/404 when unknown. */
int
sim_tr_rest_queue_filter(struct sim_request *r, struct sim_tr_queue **out)
{
	struct sim_tr *tr = sim_tr_rest_tr(r);
	const char *qsid = sim_tr_rest_query(r, "TaskQueueSid");
	const char *qname = sim_tr_rest_query(r, "TaskQueueName");

	*out = NULL;
	if (qsid != NULL) {
		*out = sim_tr_queue_get(tr, qsid);
		if (*out == NULL) {
			sim_reply_error(r, 404, 20404, "TaskQueue %s not found", qsid);
			return -ENOENT;
		}
	} else if (qname != NULL) {
		*out = sim_tr_queue_by_name(tr, qname);
		if (*out == NULL) {
			sim_reply_error(r, 404, 20404, "TaskQueue '%s' not found", qname);
			return -ENOENT;
		}
	}
	return 0;
}

/* An optional expression parameter; replies 400 when it does not parse. */
int
sim_tr_rest_expr_param(struct sim_request *r, const char *name, struct sim_tr_expr **out)
{
	const char *v = sim_tr_rest_query(r, name);
	char *cause = NULL;

	*out = NULL;
	if (v == NULL)
		return 0;
	if (sim_tr_expr_parse(v, out, &cause) == 0)
		return 0;
	sim_reply_error(r, 400, 20001, "Invalid %s: %s", name, cause);
	free(cause);
	return -EINVAL;
}

/* The Workers list filters (twilio-api.md 3.3); NULL members do not filter. */
struct sim_tr_rest_worker_filter {
	const char *activity_sid;
	const char *activity_name;
	const char *available;
	const char *friendly_name;
	struct sim_tr_queue *queue;
	struct sim_tr_expr *expr;
};

static bool
sim_tr_rest_worker_matches(const struct sim_tr_rest_worker_filter *f, struct sim_tr_worker *w)
{
	if (f->activity_sid != NULL && strcmp(f->activity_sid, w->activity->sid) != 0)
		return false;
	if (f->activity_name != NULL && strcmp(f->activity_name, w->activity->friendly_name) != 0)
		return false;
	if (f->available != NULL && sim_tr_rest_truthy(f->available) != w->activity->available)
		return false;
	if (f->friendly_name != NULL && strcmp(f->friendly_name, w->friendly_name) != 0)
		return false;
	if (f->queue != NULL && !sim_tr_queue_accepts(f->queue, w))
		return false;
	if (f->expr != NULL &&
	    !sim_tr_expr_eval(f->expr, json_doc_root(w->attr_doc), sim_tr_worker_field, w))
		return false;
	return true;
}

/*
 * Where to start offering workers to the pager. Without a PageToken, at the
 * first one (Page=N skips by count). With one, at the cursor found by binary
 * search, backed up over the page_size + 1 matching workers before it: the
 * pager needs exactly those to link the previous page, so the page costs the
 * same at worker 20 and at worker 20,000.
 */
static struct sim_tr_worker *
sim_tr_rest_workers_start(struct sim_tr *tr, const struct sim_pager *p,
			  const struct sim_tr_rest_worker_filter *f)
{
	struct sim_tr_worker *start = NULL;
	struct sim_tr_worker *w = NULL;
	int need = p->page_size + 1;

	if (!p->have_after)
		return TAILQ_FIRST(&tr->worker_list);
	start = sim_tr_seq_index_after(&tr->worker_index, p->after);
	w = start != NULL ? TAILQ_PREV(start, sim_tr_worker_list, entry)
			  : TAILQ_LAST(&tr->worker_list, sim_tr_worker_list);
	while (w != NULL && need > 0) {
		if (sim_tr_rest_worker_matches(f, w))
			need--;
		start = w;
		w = TAILQ_PREV(w, sim_tr_worker_list, entry);
	}
	return start;
}

static void
sim_tr_rest_workers_list(struct sim_request *r)
{
	struct sim_tr *tr = sim_tr_rest_tr(r);
	struct sim_tr_rest_worker_filter f = {
		.activity_sid = sim_tr_rest_query(r, "ActivitySid"),
		.activity_name = sim_tr_rest_query(r, "ActivityName"),
		.available = sim_tr_rest_query(r, "Available"),
		.friendly_name = sim_tr_rest_query(r, "FriendlyName"),
	};
	struct sim_tr_worker *w = NULL;
	struct json_gen *g = NULL;
	struct sim_pager p;

	if (!sim_tr_rest_ws_ok(r) || sim_tr_rest_queue_filter(r, &f.queue) < 0 ||
	    sim_tr_rest_expr_param(r, "TargetWorkersExpression", &f.expr) < 0)
		return;
	if (sim_pager_init(&p, r, 1000) < 0) {
		sim_tr_expr_free(f.expr);
		return;
	}
	g = sim_tr_rest_list_gen(tr);
	sim_pager_v1_open(&p, g, "workers");
	for (w = sim_tr_rest_workers_start(tr, &p, &f); w != NULL; w = TAILQ_NEXT(w, entry)) {
		if (!sim_tr_rest_worker_matches(&f, w))
			continue;
		if (sim_pager_take(&p, w->seq))
			sim_tr_rest_worker_emit(tr, w, g);
		if (sim_pager_done(&p))
			break;
	}
	sim_pager_v1_close(&p, g, "workers");
	sim_tr_rest_reply_list(r, g);
	sim_tr_rest_list_gen_done(tr);
	sim_tr_expr_free(f.expr);
}

static void
sim_tr_rest_worker_create(struct sim_request *r)
{
	struct sim_tr *tr = sim_tr_rest_tr(r);
	const char *name = sim_tr_rest_param(r, "FriendlyName");
	const char *attrs = sim_tr_rest_param(r, "Attributes");
	struct sim_tr_activity *a = NULL;
	struct sim_tr_worker *w = NULL;

	if (!sim_tr_rest_ws_ok(r))
		return;
	if (name == NULL || name[0] == '\0') {
		sim_reply_error(r, 400, 20001,
				"Missing required parameter FriendlyName in the post "
				"body");
		return;
	}
	if (strlen(name) > SIM_TR_REST_NAME_MAX) {
		sim_reply_error(r, 400, 20001, "FriendlyName is longer than %d characters",
				SIM_TR_REST_NAME_MAX);
		return;
	}
	if (sim_tr_worker_by_name(tr, name) != NULL) {
		sim_reply_error(r, 409, 20001, "A Worker named '%s' already exists", name);
		return;
	}
	if (attrs == NULL || attrs[0] == '\0')
		attrs = "{}";
	if (sim_tr_rest_attributes(r, attrs) < 0 ||
	    sim_tr_rest_activity_param(r, "ActivitySid", &a) < 0)
		return;
	w = sim_tr_routing_worker_create(tr, name, attrs, a != NULL ? a : tr->ws.default_activity);
	sim_tr_rest_reply_worker(r, 201, w);
	sim_tr_routing_run(tr);
}

struct sim_tr_worker *
sim_tr_rest_worker_of(struct sim_request *r, size_t i)
{
	struct sim_tr_worker *w = sim_tr_worker_get(sim_tr_rest_tr(r), r->params[i]);

	if (w == NULL)
		sim_tr_rest_not_found(r);
	return w;
}

static void
sim_tr_rest_worker_fetch(struct sim_request *r)
{
	struct sim_tr_worker *w = NULL;

	if (!sim_tr_rest_ws_ok(r))
		return;
	w = sim_tr_rest_worker_of(r, 1);
	if (w != NULL)
		sim_tr_rest_reply_worker(r, 200, w);
}

/*
 * WorkerChannels: every worker has one per task channel, with the capacity
 * and availability the worker channel update sets (default 1 and true) and
 * its figures from the worker's live state. Its SID is WC + the worker's 32
 * hex digits with the last byte advanced by the channel's index (the default
 * channel's is the worker's own digits), so it is stable and unique without
 * extra state.
 */
static void
sim_tr_rest_worker_channel_sid(const struct sim_tr_worker *w, enum sim_tr_channel ch,
			       char out[SID_LEN + 1])
{
	char hex[3];
	char *end = NULL;
	unsigned long last = 0;

	out[0] = 'W';
	out[1] = 'C';
	memcpy(out + 2, w->sid + 2, SID_LEN - 2);
	out[SID_LEN] = '\0';
	memcpy(hex, out + SID_LEN - 2, 2);
	hex[2] = '\0';
	last = strtoul(hex, &end, 16);
	if (ch == SIM_TR_CH_DEFAULT || end != hex + 2)
		return;
	(void)snprintf(out + SID_LEN - 2, 3, "%02x",
		       (unsigned)((last + (unsigned long)ch) & 0xffu));
}

static void
sim_tr_rest_worker_channel_fields(struct sim_tr *tr, const struct sim_tr_worker *w,
				  enum sim_tr_channel ch, struct json_gen *g)
{
	const struct sim_tr_wchannel *c = &w->channels[ch];
	char wc[SID_LEN + 1];
	int64_t assigned = 0;
	int64_t left = 0;
	struct sim_tr_reservation *res = NULL;

	/* assigned_tasks: accepted or wrapping ones; capacity left counts pending ones too */
	TAILQ_FOREACH(res, &w->reservations, worker_entry) {
		if (res->holding && res->task->channel == ch && res->status != SIM_TR_RES_PENDING)
			assigned++;
	}
	if (w->activity != NULL && w->activity->available && c->available && c->capacity > 0)
		left = c->capacity - c->busy > 0 ? c->capacity - c->busy : 0;
	sim_tr_rest_worker_channel_sid(w, ch, wc);
	json_gen_object_open(g);
	json_gen_kv_string(g, "account_sid", tr->sim->opt.account_sid);
	json_gen_kv_int(g, "assigned_tasks", assigned);
	json_gen_kv_bool(g, "available", c->available);
	json_gen_kv_int(g, "available_capacity_percentage",
			c->capacity > 0 ? left * 100 / c->capacity : 0);
	json_gen_kv_int(g, "configured_capacity", c->capacity);
	sim_tr_rest_kv_iso(g, tr, "date_created", w->created_ms);
	sim_tr_rest_kv_iso(g, tr, "date_updated", c->updated_ms);
	json_gen_kv_string(g, "sid", wc);
	json_gen_kv_string(g, "task_channel_sid", tr->ws.channel_sids[ch]);
	json_gen_kv_string(g, "task_channel_unique_name", sim_tr_channel_name(ch));
	json_gen_kv_string(g, "worker_sid", w->sid);
	json_gen_kv_string(g, "workspace_sid", tr->ws.sid);
	sim_tr_rest_kv_url(g, tr, "url", "/Workers/%s/Channels/%s", w->sid, wc);
	json_gen_key(g, "links");
	json_gen_object_open(g);
	sim_tr_rest_kv_url(g, tr, "task_channel", "/TaskChannels/%s", tr->ws.channel_sids[ch]);
	sim_tr_rest_kv_url(g, tr, "worker", "/Workers/%s", w->sid);
	sim_tr_rest_kv_url(g, tr, "workspace", "%s", "");
	json_gen_object_close(g);
	json_gen_object_close(g);
}

static void
sim_tr_rest_worker_channels_list(struct sim_request *r)
{
	struct sim_tr *tr = sim_tr_rest_tr(r);
	struct sim_tr_worker *w = NULL;
	struct json_gen *g = NULL;
	struct sim_pager p;
	int i;

	if (!sim_tr_rest_ws_ok(r))
		return;
	w = sim_tr_rest_worker_of(r, 1);
	if (w == NULL || sim_pager_init(&p, r, 1000) < 0)
		return;
	g = json_gen_new();
	sim_pager_v1_open(&p, g, "channels");
	for (i = 0; i < SIM_TR_NCHANNELS; i++) {
		if (sim_pager_take(&p, (uint64_t)i + 1))
			sim_tr_rest_worker_channel_fields(tr, w, (enum sim_tr_channel)i, g);
		if (sim_pager_done(&p))
			break;
	}
	sim_pager_v1_close(&p, g, "channels");
	sim_tr_rest_reply_list(r, g);
	json_gen_free(g);
}

/* The channel {WC} names: a WC SID, or the task channel's unique name or TC SID, as Twilio allows.
 */
static int
sim_tr_rest_worker_channel_of(struct sim_request *r, const struct sim_tr_worker *w,
			      enum sim_tr_channel *out)
{
	struct sim_tr *tr = sim_tr_rest_tr(r);
	char wc[SID_LEN + 1];
	int i;

	for (i = 0; i < SIM_TR_NCHANNELS; i++) {
		sim_tr_rest_worker_channel_sid(w, (enum sim_tr_channel)i, wc);
		if (strcmp(r->params[2], wc) == 0) {
			*out = (enum sim_tr_channel)i;
			return 0;
		}
	}
	if (sim_tr_channel_find(tr, r->params[2], out) == 0)
		return 0;
	sim_tr_rest_not_found(r);
	return -ENOENT;
}

static void
sim_tr_rest_worker_channel_fetch(struct sim_request *r)
{
	struct sim_tr *tr = sim_tr_rest_tr(r);
	struct sim_tr_worker *w = NULL;
	struct json_gen *g = NULL;
	enum sim_tr_channel ch;

	if (!sim_tr_rest_ws_ok(r))
		return;
	w = sim_tr_rest_worker_of(r, 1);
	if (w == NULL || sim_tr_rest_worker_channel_of(r, w, &ch) < 0)
		return;
	g = json_gen_new();
	sim_tr_rest_worker_channel_fields(tr, w, ch, g);
	sim_reply_json(r, 200, g, NULL);
	json_gen_free(g);
}

/*
 * POST .../Workers/{WK}/Channels/{WC}: Capacity (0..50) and Available. A
 * lower capacity or Available=false keeps the reservations already held
 * and only stops new ones, as Twilio does; routing runs after the change.
 */
static void
sim_tr_rest_worker_channel_update(struct sim_request *r)
{
	struct sim_tr *tr = sim_tr_rest_tr(r);
	const char *cap = sim_tr_rest_param(r, "Capacity");
	struct sim_tr_worker *w = NULL;
	struct json_gen *g = NULL;
	enum sim_tr_channel ch;
	bool has_avail = false;
	bool avail = true;
	int64_t capacity = 0;

	if (!sim_tr_rest_ws_ok(r))
		return;
	w = sim_tr_rest_worker_of(r, 1);
	if (w == NULL || sim_tr_rest_worker_channel_of(r, w, &ch) < 0)
		return;
	capacity = w->channels[ch].capacity;
	avail = w->channels[ch].available;
	if (cap != NULL &&
	    sim_param_int(r, "Capacity", cap, 0, SIM_TR_CHANNEL_CAPACITY_MAX, &capacity) < 0)
		return;
	if (sim_tr_rest_bool(r, "Available", &has_avail, &avail) < 0)
		return;
	sim_tr_worker_set_channel(tr, w, ch, capacity, avail);
	g = json_gen_new();
	sim_tr_rest_worker_channel_fields(tr, w, ch, g);
	sim_reply_json(r, 200, g, NULL);
	json_gen_free(g);
	sim_tr_routing_run(tr);
}

static void
sim_tr_rest_worker_update(struct sim_request *r)
{
	struct sim_tr *tr = sim_tr_rest_tr(r);
	const char *name = sim_tr_rest_param(r, "FriendlyName");
	const char *attrs = sim_tr_rest_param(r, "Attributes");
	struct sim_tr_activity *a = NULL;
	struct sim_tr_worker *w = NULL;
	struct sim_tr_worker *other = NULL;
	bool has_reject = false;
	bool reject = false;

	if (!sim_tr_rest_ws_ok(r))
		return;
	w = sim_tr_rest_worker_of(r, 1);
	if (w == NULL || !sim_tr_rest_if_match(r, w->version))
		return;
	if (sim_tr_rest_activity_param(r, "ActivitySid", &a) < 0 ||
	    sim_tr_rest_bool(r, "RejectPendingReservations", &has_reject, &reject) < 0)
		return;
	if (attrs != NULL && sim_tr_rest_attributes(r, attrs) < 0)
		return;
	if (name != NULL) {
		other = sim_tr_worker_by_name(tr, name);
		if (name[0] == '\0' || strlen(name) > SIM_TR_REST_NAME_MAX) {
			sim_reply_error(r, 400, 20001, "Invalid FriendlyName");
			return;
		}
		if (other != NULL && other != w) {
			sim_reply_error(r, 409, 20001, "A Worker named '%s' already exists", name);
			return;
		}
	}
	if (reject && (a == NULL || a->available)) {
		sim_reply_error(r, 400, 20001,
				"RejectPendingReservations is only valid with an "
				"unavailable ActivitySid");
		return;
	}
	if (name != NULL && strcmp(name, w->friendly_name) != 0) {
		sim_tr_worker_rename(tr, w, name);
		sim_tr_worker_touch(w, sim_tr_now(tr));
	}
	if (attrs != NULL)
		sim_tr_routing_worker_set_attributes(tr, w, attrs);
	if (a != NULL)
		sim_tr_routing_worker_set_activity(tr, w, a, reject);
	sim_tr_rest_reply_worker(r, 200, w);
	sim_tr_routing_run(tr);
}

static void
sim_tr_rest_worker_delete(struct sim_request *r)
{
	struct sim_tr *tr = sim_tr_rest_tr(r);
	struct sim_tr_worker *w = NULL;

	if (!sim_tr_rest_ws_ok(r))
		return;
	w = sim_tr_rest_worker_of(r, 1);
	if (w == NULL || !sim_tr_rest_if_match(r, w->version))
		return;
	sim_tr_routing_worker_delete(tr, w);
	sim_reply_no_content(r);
	sim_tr_routing_run(tr);
}

#define WS "/v1/Workspaces/{WS}"

const struct sim_route sim_tr_rest_worker_routes[] = {
	{ "GET", WS "/Workers", sim_tr_rest_workers_list, false },
	{ "POST", WS "/Workers", sim_tr_rest_worker_create, false },
	{ "GET", WS "/Workers/{WK}", sim_tr_rest_worker_fetch, false },
	{ "POST", WS "/Workers/{WK}", sim_tr_rest_worker_update, false },
	{ "DELETE", WS "/Workers/{WK}", sim_tr_rest_worker_delete, false },
	{ "GET", WS "/Workers/{WK}/Channels", sim_tr_rest_worker_channels_list, false },
	{ "GET", WS "/Workers/{WK}/Channels/{WC}", sim_tr_rest_worker_channel_fetch, false },
	{ "POST", WS "/Workers/{WK}/Channels/{WC}", sim_tr_rest_worker_channel_update, false },
};

const size_t sim_tr_rest_worker_nroutes =
	sizeof(sim_tr_rest_worker_routes) / sizeof(sim_tr_rest_worker_routes[0]);
