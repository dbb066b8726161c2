/*
 * sim_control: the /sim/... control API. Every handler answers JSON; bad
 * input gets the same Twilio-shaped error body as the emulated APIs (code
 * 20001), so test helpers need one error path. These routes are exempt from
 * auth, faults and counters (sim_http.c), so a test can always undo what it
 * injected.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "log.h"
#include "sim.h"
#include "sim_clock.h"
#include "sim_control.h"
#include "sim_http.h"
#include "sim_sync.h"
#include "sim_tr.h"
#include "xmalloc.h"

#define SIM_CONTROL_MAX_LATENCY_MS (10 * 60 * 1000)

/* Parses the JSON object body; replies 400 and returns -EINVAL when it is not one. */
static int
sim_control_body(struct sim_request *r, struct json_doc **doc_out)
{
	char *cause = NULL;
	struct json_doc *doc = NULL;

	if (r->body_len == 0 || json_parse(r->body, r->body_len, NULL, &doc, &cause) < 0) {
		sim_reply_error(r, 400, 20001, "Request body must be a JSON object%s%s",
				cause != NULL ? ": " : "", cause != NULL ? cause : "");
		free(cause);
		return -EINVAL;
	}
	if (!json_is_object(json_doc_root(doc))) {
		json_doc_free(doc);
		sim_reply_error(r, 400, 20001, "Request body must be a JSON object");
		return -EINVAL;
	}
	*doc_out = doc;
	return 0;
}

/* An optional integer member in [min, max]; replies 400 on a wrong type or range. */
static int
sim_control_int(struct sim_request *r, const struct json_value *obj, const char *key, int64_t min,
		int64_t max, int64_t *out)
{
	int rc = json_get_int64(obj, key, out);

	if (rc == -ENOENT)
		return 0;
	if (rc < 0 || *out < min || *out > max) {
		sim_reply_error(r, 400, 20001, "%s must be an integer between %lld and %lld", key,
				(long long)min, (long long)max);
		return -EINVAL;
	}
	return 1;
}

static void
sim_control_reply_ok(struct sim_request *r)
{
	struct json_gen *g = json_gen_new();

	json_gen_object_open(g);
	json_gen_kv_bool(g, "ok", true);
	json_gen_object_close(g);
	sim_reply_json(r, 200, g, NULL);
	json_gen_free(g);
}

static void
sim_control_reset_cb(struct sim_request *r)
{
	sim_reset(r->sim);
	sim_control_reply_ok(r);
}

/* The default Twilio error code for an injected status. */
static int
sim_control_default_code(int status)
{
	switch (status) {
	case 429:
		return 20429;
	case 500:
		return 20500;
	case 503:
		return 20503;
	default:
		return status;
	}
}

static void
sim_control_faults_add_cb(struct sim_request *r)
{
	struct json_doc *doc = NULL;
	const struct json_value *o;
	struct sim_fault f;
	struct json_gen *g = NULL;
	const char *s;
	int64_t v;
	int id;

	memset(&f, 0, sizeof(f));
	f.retry_after_s = -1;
	f.percent = 100;
	if (sim_control_body(r, &doc) < 0)
		return;
	o = json_doc_root(doc);
	if (json_get_string(o, "method", &s) == 0 && strcmp(s, "*") != 0)
		f.method = xstrdup(s);
	else if (json_get(o, "method") != NULL && json_type(json_get(o, "method")) != JSON_NULL &&
		 json_type(json_get(o, "method")) != JSON_STRING)
		goto bad_type;
	if (json_get_string(o, "path", &s) == 0)
		f.pattern = xstrdup(s);
	else if (json_get(o, "path") != NULL && json_type(json_get(o, "path")) != JSON_NULL)
		goto bad_type;
	if (json_get_string(o, "message", &s) == 0)
		f.message = xstrdup(s);
	if (sim_control_int(r, o, "status", 100, 599, &v) < 0)
		goto out;
	f.status = json_get(o, "status") != NULL ? (int)v : 0;
	if (sim_control_int(r, o, "code", 0, 99999, &v) < 0)
		goto out;
	f.code = json_get(o, "code") != NULL ? (int)v : sim_control_default_code(f.status);
	if (sim_control_int(r, o, "retry_after", 0, 86400, &v) < 0)
		goto out;
	if (json_get(o, "retry_after") != NULL &&
	    json_type(json_get(o, "retry_after")) != JSON_NULL)
		f.retry_after_s = (int)v;
	if (sim_control_int(r, o, "latency_ms", 0, SIM_CONTROL_MAX_LATENCY_MS, &v) < 0)
		goto out;
	f.latency_ms = json_get(o, "latency_ms") != NULL ? (int)v : 0;
	if (sim_control_int(r, o, "count", 0, INT32_MAX, &v) < 0)
		goto out;
	f.count = json_get(o, "count") != NULL ? (int)v : 0;
	if (sim_control_int(r, o, "duration_ms", 0, INT64_MAX / 2, &v) < 0)
		goto out;
	f.duration_ms = json_get(o, "duration_ms") != NULL ? v : 0;
	if (sim_control_int(r, o, "percent", 1, 100, &v) < 0)
		goto out;
	f.percent = json_get(o, "percent") != NULL ? (int)v : 100;
	if (json_get(o, "drop") != NULL && json_get_bool(o, "drop", &f.drop) < 0)
		goto bad_type;
	if (f.status == 0 && f.latency_ms == 0 && !f.drop) {
		sim_reply_error(r, 400, 20001, "A fault needs status, latency_ms or drop");
		goto out;
	}
	if (f.message == NULL && f.status > 0)
		f.message = xstrdup(f.status == 429 ? "Too Many Requests" : "Injected fault");
	id = sim_http_fault_add(r->sim->http, &f);
	g = json_gen_new();
	json_gen_object_open(g);
	json_gen_kv_int(g, "id", id);
	json_gen_object_close(g);
	sim_reply_json(r, 201, g, NULL);
	goto out;
bad_type:
	sim_reply_error(r, 400, 20001, "method and path must be strings, drop a boolean");
out:
	free(f.method);
	free(f.pattern);
	free(f.message);
	json_gen_free(g);
	json_doc_free(doc);
}

static void
sim_control_faults_list_cb(struct sim_request *r)
{
	struct json_gen *g = json_gen_new();

	json_gen_object_open(g);
	json_gen_key(g, "faults");
	sim_http_faults_json(r->sim->http, g);
	json_gen_object_close(g);
	sim_reply_json(r, 200, g, NULL);
	json_gen_free(g);
}

static void
sim_control_faults_clear_cb(struct sim_request *r)
{
	sim_http_faults_clear(r->sim->http);
	sim_reply_no_content(r);
}

static void
sim_control_counters_cb(struct sim_request *r)
{
	struct json_gen *g = json_gen_new();

	json_gen_object_open(g);
	json_gen_key(g, "requests");
	sim_http_counters_json(r->sim->http, g);
	json_gen_key(g, "sync_writes");
	sim_sync_writes_json(r->sim->sync, g);
	json_gen_key(g, "callbacks");
	sim_tr_callbacks_json(r->sim->tr, g);
	json_gen_object_close(g);
	sim_reply_json(r, 200, g, NULL);
	json_gen_free(g);
}

static void
sim_control_counters_clear_cb(struct sim_request *r)
{
	sim_http_counters_reset(r->sim->http);
	sim_sync_writes_reset(r->sim->sync);
	sim_reply_no_content(r);
}

static void
sim_control_clock_reply(struct sim_request *r)
{
	struct json_gen *g = json_gen_new();

	json_gen_object_open(g);
	json_gen_kv_int(g, "now_ms", sim_clock_now_ms(r->sim->clock));
	json_gen_kv_int(g, "offset_ms", sim_clock_offset_ms(r->sim->clock));
	json_gen_object_close(g);
	sim_reply_json(r, 200, g, NULL);
	json_gen_free(g);
}

static void
sim_control_clock_get_cb(struct sim_request *r)
{
	sim_control_clock_reply(r);
}

static void
sim_control_clock_advance_cb(struct sim_request *r)
{
	struct json_doc *doc = NULL;
	int64_t ms = 0;

	if (sim_control_body(r, &doc) < 0)
		return;
	if (json_get_int64(json_doc_root(doc), "advance_ms", &ms) < 0 || ms < 0) {
		json_doc_free(doc);
		sim_reply_error(r, 400, 20001, "advance_ms must be a non-negative integer");
		return;
	}
	json_doc_free(doc);
	sim_clock_advance(r->sim->clock, ms);
	sim_control_clock_reply(r);
}

static void
sim_control_state_cb(struct sim_request *r)
{
	struct json_gen *g = json_gen_new();

	json_gen_object_open(g);
	json_gen_key(g, "taskrouter");
	sim_tr_state_json(r->sim->tr, g);
	json_gen_key(g, "sync");
	sim_sync_state_json(r->sim->sync, g);
	json_gen_object_close(g);
	sim_reply_json(r, 200, g, NULL);
	json_gen_free(g);
}

static void
sim_control_health_cb(struct sim_request *r)
{
	struct json_gen *g = json_gen_new();

	json_gen_object_open(g);
	json_gen_kv_string(g, "status", "ok");
	json_gen_kv_int(g, "now_ms", sim_clock_now_ms(r->sim->clock));
	json_gen_object_close(g);
	sim_reply_json(r, 200, g, NULL);
	json_gen_free(g);
}

/* One line per control route, for the index; a route missing here is listed without one. */
static const struct {
	const char *route;
	const char *description;
} sim_control_descriptions[] = {
	{ "GET /", "this description" },
	{ "GET /sim", "this description" },
	{ "GET /sim/", "this description" },
	{ "POST /sim/reset",
	  "back to the start-up state (workspace, Sync, faults, counters, clock)" },
	{ "POST /sim/faults", "inject a fault: {method, path (fnmatch), status, code, message, "
			      "retry_after_s, drop, latency_ms, count, duration_ms, percent}" },
	{ "GET /sim/faults", "list the injected faults" },
	{ "DELETE /sim/faults", "remove every fault" },
	{ "GET /sim/counters", "requests seen per route and status" },
	{ "DELETE /sim/counters", "reset the request counters" },
	{ "GET /sim/clock", "the virtual clock" },
	{ "POST /sim/clock", "move the virtual clock forward: {advance_ms}" },
	{ "GET /sim/state", "dump the TaskRouter and Sync state" },
	{ "GET /sim/health", "liveness" },
	{ "POST /sim/tasks", "create tasks in bulk: {count, attributes, priority, workflow_sid}" },
	{ "POST /sim/workers", "create workers in bulk: {count, activity, skills, prefix}" },
	{ "GET /sim/sync/rate_limit", "the emulated Sync per-object write limit" },
	{ "POST /sim/sync/rate_limit",
	  "turn the Sync write limit on or off: {writes_per_second} (0 = off)" },
	{ "GET /sim/agents", "the traffic generator's agents and whether a person claimed them" },
	{ "POST /sim/agents/{WK}/claim",
	  "take over an agent (SID or name): the traffic generator stops driving it" },
	{ "POST /sim/agents/{WK}/release", "hand an agent back to the traffic generator" },
};

static void
sim_control_index_route_cb(const char *method, const char *pattern, void *arg)
{
	struct json_gen *g = arg;
	char key[128];
	size_t i;

	(void)snprintf(key, sizeof(key), "%s %s", method, pattern);
	json_gen_object_open(g);
	json_gen_kv_string(g, "method", method);
	json_gen_kv_string(g, "path", pattern);
	for (i = 0; i < sizeof(sim_control_descriptions) / sizeof(sim_control_descriptions[0]);
	     i++) {
		if (strcmp(key, sim_control_descriptions[i].route) == 0)
			json_gen_kv_string(g, "description",
					   sim_control_descriptions[i].description);
	}
	json_gen_object_close(g);
}

/* GET /, /sim and /sim/: what this server is and the control routes it has. */
static void
sim_control_index_cb(struct sim_request *r)
{
	struct sim *sim = r->sim;
	struct json_gen *g = json_gen_new();

	json_gen_object_open(g);
	json_gen_kv_string(g, "name", "trhub-sim");
	json_gen_kv_string(g, "description",
			   "A local emulator of the Twilio REST APIs trhub uses: TaskRouter v1 "
			   "under /v1/Workspaces, Sync v1 under /v1/Services and API 2010 "
			   "Conferences under /2010-04-01/Accounts. Those need HTTP Basic auth "
			   "with the credentials trhub-sim printed at start; the /sim/ control "
			   "routes below need none. See trhub-sim(1).");
	json_gen_kv_string(g, "base_url", sim->base_url);
	json_gen_kv_string(g, "account_sid", sim->opt.account_sid);
	json_gen_kv_string(g, "workspace_sid", sim->opt.workspace_sid);
	json_gen_kv_string(g, "sync_service_sid", sim->opt.sync_service_sid);
	json_gen_key(g, "control_routes");
	json_gen_array_open(g);
	sim_http_control_routes(sim->http, sim_control_index_route_cb, g);
	json_gen_array_close(g);
	json_gen_object_close(g);
	sim_reply_json(r, 200, g, NULL);
	json_gen_free(g);
}

static const struct sim_route sim_control_routes[] = {
	{ "GET", "/", sim_control_index_cb, true },
	{ "GET", "/sim", sim_control_index_cb, true },
	{ "GET", "/sim/", sim_control_index_cb, true },
	{ "POST", "/sim/reset", sim_control_reset_cb, true },
	{ "POST", "/sim/faults", sim_control_faults_add_cb, true },
	{ "GET", "/sim/faults", sim_control_faults_list_cb, true },
	{ "DELETE", "/sim/faults", sim_control_faults_clear_cb, true },
	{ "GET", "/sim/counters", sim_control_counters_cb, true },
	{ "DELETE", "/sim/counters", sim_control_counters_clear_cb, true },
	{ "GET", "/sim/clock", sim_control_clock_get_cb, true },
	{ "POST", "/sim/clock", sim_control_clock_advance_cb, true },
	{ "GET", "/sim/state", sim_control_state_cb, true },
	{ "GET", "/sim/health", sim_control_health_cb, true },
};

void
sim_control_register_routes(struct sim *sim)
{
	sim_http_register(sim->http, sim_control_routes,
			  sizeof(sim_control_routes) / sizeof(sim_control_routes[0]));
}
