/*
 * Conferences (API 2010) created by the conference instruction, and their
 * REST resource (contract in sim_tr_conference.h).
 *
 * 2010 specifics kept here: paths end in ".json", dates are RFC 2822, "uri"
 * values are relative, lists use the 2010 envelope (newest first, like the
 * 2010 API), and the {AC} in the path must be the account SID (else 404).
 * A completed conference lists no participants (they have left).
 */

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json.h"
#include "sid.h"
#include "sim.h"
#include "sim_http.h"
#include "sim_tr_conference.h"
#include "sim_tr_routing.h"
#include "sim_tr_state.h"
#include "xmalloc.h"

#define SIM_TR_CONFERENCE_API_VERSION "2010-04-01"

struct sim_tr_conference *
sim_tr_conference_start(struct sim_tr *tr, const struct sim_tr_task *t, bool end_conference_on_exit)
{
	struct sim_tr_conference *c = sim_tr_conference_add(tr, t->sid);
	const char *call = NULL;

	if (json_get_string(json_doc_root(t->attr_doc), "call_sid", &call) < 0 ||
	    !sid_is_valid(call, "CA"))
		call = NULL;
	c->parts[0].label = "customer";
	if (call != NULL)
		snprintf(c->parts[0].call_sid, sizeof(c->parts[0].call_sid), "%s", call);
	else
		sim_new_sid(tr->sim, c->parts[0].call_sid, "CA");
	c->parts[1].label = "worker";
	sim_new_sid(tr->sim, c->parts[1].call_sid, "CA");
	c->parts[1].end_conference_on_exit = end_conference_on_exit;
	c->parts[0].created_ms = c->parts[0].updated_ms = c->created_ms;
	c->parts[1].created_ms = c->parts[1].updated_ms = c->created_ms;
	c->nparts = 2;
	return c;
}

void
sim_tr_conference_end(struct sim_tr *tr, struct sim_tr_conference *c, const char *reason,
		      const char *ending_call_sid)
{
	struct sim_tr_conference *old = NULL;
	int64_t now = sim_tr_now(tr);
	size_t i;

	if (c->completed)
		return;
	c->completed = true;
	c->reason_ended = reason;
	if (ending_call_sid != NULL)
		snprintf(c->call_sid_ending, sizeof(c->call_sid_ending), "%s", ending_call_sid);
	c->updated_ms = now;
	for (i = 0; i < c->nparts; i++)
		c->parts[i].updated_ms = now;
	tr->nconferences_completed++;
	sim_tr_routing_conference_ended(tr, c);
	/* Bound the history: forget the oldest completed conferences. */
	while (tr->nconferences_completed > SIM_TR_CONFERENCES_KEPT) {
		TAILQ_FOREACH(old, &tr->conference_list, entry) {
			if (old->completed)
				break;
		}
		if (old == NULL)
			break;
		sim_tr_conference_remove(tr, old);
	}
}

struct sim_tr_conference *
sim_tr_conference_of_task(struct sim_tr *tr, const struct sim_tr_task *t)
{
	return sim_tr_conference_get(
		tr, json_string(json_path(json_doc_root(t->attr_doc), "conference", "sid")));
}

const char *
sim_tr_conference_call(const struct sim_tr_conference *c, const char *label)
{
	size_t i;

	for (i = 0; i < c->nparts; i++) {
		if (strcmp(c->parts[i].label, label) == 0)
			return c->parts[i].call_sid;
	}
	return NULL;
}

/* REST */

/* Checks {AC}; replies 404 when it is not the account. */
static bool
sim_tr_conference_account_ok(struct sim_request *r)
{
	if (r->nparams > 0 && strcmp(r->params[0], r->sim->opt.account_sid) == 0)
		return true;
	sim_reply_error(r, 404, 20404, "The requested resource %s was not found", r->path);
	return false;
}

static void
sim_tr_conference_kv_date(struct json_gen *g, const char *key, int64_t ms)
{
	char date[40];

	sim_format_rfc2822(ms, date);
	json_gen_kv_string(g, key, date);
}

/* key: "/2010-04-01/Accounts/AC.../Conferences/" + formatted suffix (2010 URIs are relative). */
static void __attribute__((format(printf, 4, 5)))
sim_tr_conference_kv_uri(struct json_gen *g, struct sim *sim, const char *key, const char *fmt, ...)
{
	struct buf u;
	va_list ap;

	buf_init(&u);
	buf_printf(&u, "/2010-04-01/Accounts/%s/Conferences/", sim->opt.account_sid);
	va_start(ap, fmt);
	buf_vprintf(&u, fmt, ap);
	va_end(ap);
	json_gen_kv_string(g, key, u.data);
	buf_clear(&u);
}

static void
sim_tr_conference_json(struct sim *sim, const struct sim_tr_conference *c, struct json_gen *g)
{
	json_gen_object_open(g);
	json_gen_kv_string(g, "account_sid", sim->opt.account_sid);
	json_gen_kv_string(g, "api_version", SIM_TR_CONFERENCE_API_VERSION);
	json_gen_kv_string(g, "call_sid_ending_conference",
			   c->call_sid_ending[0] != '\0' ? c->call_sid_ending : NULL);
	sim_tr_conference_kv_date(g, "date_created", c->created_ms);
	sim_tr_conference_kv_date(g, "date_updated", c->updated_ms);
	json_gen_kv_string(g, "friendly_name", c->friendly_name);
	json_gen_kv_string(g, "reason_conference_ended", c->reason_ended);
	json_gen_kv_string(g, "region", "us1");
	json_gen_kv_string(g, "sid", c->sid);
	json_gen_kv_string(g, "status", c->completed ? "completed" : "in-progress");
	json_gen_key(g, "subresource_uris");
	json_gen_object_open(g);
	sim_tr_conference_kv_uri(g, sim, "participants", "%s/Participants.json", c->sid);
	sim_tr_conference_kv_uri(g, sim, "recordings", "%s/Recordings.json", c->sid);
	json_gen_object_close(g);
	sim_tr_conference_kv_uri(g, sim, "uri", "%s.json", c->sid);
	json_gen_object_close(g);
}

static void
sim_tr_conference_list(struct sim_request *r)
{
	struct sim_tr *tr = r->sim->tr;
	const char *status = form_get(r->query, "Status");
	const char *name = form_get(r->query, "FriendlyName");
	struct sim_tr_conference *c = NULL;
	struct json_gen *g = NULL;
	struct sim_pager p;

	if (!sim_tr_conference_account_ok(r))
		return;
	if (status != NULL && strcmp(status, "init") != 0 && strcmp(status, "in-progress") != 0 &&
	    strcmp(status, "completed") != 0) {
		sim_reply_error(r, 400, 20001, "Invalid Status '%s'", status);
		return;
	}
	if (sim_pager_init(&p, r, 1000) < 0)
		return;
	sim_pager_descending(&p); /* newest first, as Twilio lists conferences */
	g = json_gen_new();
	sim_pager_2010_open(&p, g, "conferences");
	TAILQ_FOREACH_REVERSE(c, &tr->conference_list, sim_tr_conference_list, entry)
	{
		if (status != NULL &&
		    strcmp(status, c->completed ? "completed" : "in-progress") != 0)
			continue;
		if (name != NULL && strcmp(name, c->friendly_name) != 0)
			continue;
		if (sim_pager_take(&p, c->seq))
			sim_tr_conference_json(r->sim, c, g);
		if (sim_pager_done(&p))
			break;
	}
	sim_pager_2010_close(&p, g, "conferences");
	sim_reply_json(r, 200, g, NULL);
	json_gen_free(g);
}

static struct sim_tr_conference *
sim_tr_conference_of(struct sim_request *r)
{
	struct sim_tr_conference *c = sim_tr_conference_get(r->sim->tr, r->params[1]);

	if (c == NULL)
		sim_reply_error(r, 404, 20404, "The requested resource %s was not found", r->path);
	return c;
}

static void
sim_tr_conference_fetch(struct sim_request *r)
{
	struct sim_tr_conference *c = NULL;
	struct json_gen *g = NULL;

	if (!sim_tr_conference_account_ok(r))
		return;
	c = sim_tr_conference_of(r);
	if (c == NULL)
		return;
	g = json_gen_new();
	sim_tr_conference_json(r->sim, c, g);
	sim_reply_json(r, 200, g, NULL);
	json_gen_free(g);
}

static void
sim_tr_conference_update(struct sim_request *r)
{
	struct sim_tr *tr = r->sim->tr;
	const char *status = form_get(r->form, "Status");
	struct sim_tr_conference *c = NULL;
	struct json_gen *g = NULL;

	if (!sim_tr_conference_account_ok(r))
		return;
	c = sim_tr_conference_of(r);
	if (c == NULL)
		return;
	if (status != NULL && strcmp(status, "completed") != 0) {
		sim_reply_error(r, 400, 20001, "Status must be 'completed'");
		return;
	}
	if (status != NULL)
		sim_tr_conference_end(tr, c, "conference-ended-via-api", NULL);
	g = json_gen_new();
	sim_tr_conference_json(r->sim, c, g);
	sim_reply_json(r, 200, g, NULL);
	json_gen_free(g);
	sim_tr_routing_run(tr);
}

static void
sim_tr_conference_participant_json(struct sim *sim, const struct sim_tr_conference *c,
				   const struct sim_tr_participant *pt, struct json_gen *g)
{
	json_gen_object_open(g);
	json_gen_kv_string(g, "account_sid", sim->opt.account_sid);
	json_gen_kv_string(g, "call_sid", pt->call_sid);
	json_gen_kv_string(g, "label", pt->label);
	json_gen_kv_null(g, "call_sid_to_coach");
	json_gen_kv_bool(g, "coaching", false);
	json_gen_kv_string(g, "conference_sid", c->sid);
	sim_tr_conference_kv_date(g, "date_created", pt->created_ms);
	sim_tr_conference_kv_date(g, "date_updated", pt->updated_ms);
	json_gen_kv_bool(g, "end_conference_on_exit", pt->end_conference_on_exit);
	json_gen_kv_bool(g, "muted", false);
	json_gen_kv_bool(g, "hold", false);
	json_gen_kv_bool(g, "start_conference_on_enter", true);
	json_gen_kv_string(g, "status", "connected");
	json_gen_kv_null(g, "queue_time");
	sim_tr_conference_kv_uri(g, sim, "uri", "%s/Participants/%s.json", c->sid, pt->call_sid);
	json_gen_object_close(g);
}

static void
sim_tr_conference_participants_list(struct sim_request *r)
{
	struct sim_tr_conference *c = NULL;
	struct json_gen *g = NULL;
	struct sim_pager p;
	size_t i;

	if (!sim_tr_conference_account_ok(r))
		return;
	c = sim_tr_conference_of(r);
	if (c == NULL || sim_pager_init(&p, r, 1000) < 0)
		return;
	g = json_gen_new();
	sim_pager_2010_open(&p, g, "participants");
	for (i = 0; !c->completed && i < c->nparts; i++) {
		if (sim_pager_take(&p, i + 1))
			sim_tr_conference_participant_json(r->sim, c, &c->parts[i], g);
		if (sim_pager_done(&p))
			break;
	}
	sim_pager_2010_close(&p, g, "participants");
	sim_reply_json(r, 200, g, NULL);
	json_gen_free(g);
}

#define CONF "/2010-04-01/Accounts/{AC}/Conferences"

const struct sim_route sim_tr_conference_routes[] = {
	{ "GET", CONF ".json", sim_tr_conference_list, false },
	{ "GET", CONF "/{CF}.json", sim_tr_conference_fetch, false },
	{ "POST", CONF "/{CF}.json", sim_tr_conference_update, false },
	{ "GET", CONF "/{CF}/Participants.json", sim_tr_conference_participants_list, false },
};

const size_t sim_tr_conference_nroutes =
	sizeof(sim_tr_conference_routes) / sizeof(sim_tr_conference_routes[0]);
