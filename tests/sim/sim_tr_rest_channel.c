/*
 * TaskRouter v1 REST: TaskChannels (contract and conventions in sim_tr_rest.h and
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

/* TaskChannels: Twilio's five, as every workspace has them (default, voice, sms, chat, video). */

static void
sim_tr_rest_channel_fields(struct sim_tr *tr, enum sim_tr_channel ch, struct json_gen *g)
{
	json_gen_object_open(g);
	json_gen_kv_string(g, "account_sid", tr->sim->opt.account_sid);
	sim_tr_rest_kv_iso(g, tr, "date_created", tr->ws.created_ms);
	sim_tr_rest_kv_iso(g, tr, "date_updated", tr->ws.created_ms);
	json_gen_kv_string(g, "friendly_name", sim_tr_channel_friendly_name(ch));
	json_gen_kv_string(g, "sid", tr->ws.channel_sids[ch]);
	json_gen_kv_string(g, "unique_name", sim_tr_channel_name(ch));
	json_gen_kv_string(g, "workspace_sid", tr->ws.sid);
	json_gen_kv_bool(g, "channel_optimized_routing", false);
	sim_tr_rest_kv_url(g, tr, "url", "/TaskChannels/%s", tr->ws.channel_sids[ch]);
	json_gen_key(g, "links");
	json_gen_object_open(g);
	sim_tr_rest_kv_url(g, tr, "workspace", "%s", "");
	json_gen_object_close(g);
	json_gen_object_close(g);
}

static void
sim_tr_rest_channels_list(struct sim_request *r)
{
	struct sim_tr *tr = sim_tr_rest_tr(r);
	struct json_gen *g = NULL;
	struct sim_pager p;
	int i;

	if (!sim_tr_rest_ws_ok(r) || sim_pager_init(&p, r, 1000) < 0)
		return;
	g = json_gen_new();
	sim_pager_v1_open(&p, g, "channels");
	for (i = 0; i < SIM_TR_NCHANNELS; i++) {
		if (sim_pager_take(&p, (uint64_t)i + 1))
			sim_tr_rest_channel_fields(tr, (enum sim_tr_channel)i, g);
		if (sim_pager_done(&p))
			break;
	}
	sim_pager_v1_close(&p, g, "channels");
	sim_tr_rest_reply_list(r, g);
	json_gen_free(g);
}

static void
sim_tr_rest_channel_fetch(struct sim_request *r)
{
	struct sim_tr *tr = sim_tr_rest_tr(r);
	struct json_gen *g = NULL;
	enum sim_tr_channel ch;

	if (!sim_tr_rest_ws_ok(r))
		return;
	if (sim_tr_channel_find(tr, r->params[1], &ch) < 0) {
		sim_tr_rest_not_found(r);
		return;
	}
	g = json_gen_new();
	sim_tr_rest_channel_fields(tr, ch, g);
	sim_reply_json(r, 200, g, NULL);
	json_gen_free(g);
}

#define WS "/v1/Workspaces/{WS}"

const struct sim_route sim_tr_rest_channel_routes[] = {
	{ "GET", WS "/TaskChannels", sim_tr_rest_channels_list, false },
	{ "GET", WS "/TaskChannels/{TC}", sim_tr_rest_channel_fetch, false },
};

const size_t sim_tr_rest_channel_nroutes =
	sizeof(sim_tr_rest_channel_routes) / sizeof(sim_tr_rest_channel_routes[0]);
