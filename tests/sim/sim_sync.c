/*
 * sim_sync: Sync v1 on /v1/Services/{IS}/... for the one configured service:
 * documents, maps and map items (twilio-api.md section 4).
 *
 * Invariants:
 * - revision is a decimal string, "0" on create, +1 on every update; every
 *   object response carries ETag equal to it, and If-Match is compared with
 *   it (412 with 54103 for documents, 54205 for map items);
 * - data is stored as compact JSON text of an object, at most 16 KiB (54006),
 *   and returned as an object;
 * - a map's items are kept sorted by key (byte order), which is the list
 *   order for Order=asc; Order=desc walks the same array backwards;
 * - objects with a TTL disappear once the emulator clock passes
 *   date_expires (checked at the start of every Sync request);
 * - every successful write is accounted to the top-level object (a map
 *   item's write counts against its map, as Sync's 20 writes/s limit does):
 *   total writes and the highest count in any one-second window. With
 *   POST /sim/sync/rate_limit a write that would exceed the configured rate
 *   in the current one-second window is refused with 429 and code 54009.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "form.h"
#include "hmap.h"
#include "json.h"
#include "log.h"
#include "num.h"
#include "queue.h"
#include "sid.h"
#include "sim.h"
#include "sim_clock.h"
#include "sim_http.h"
#include "sim_sync.h"
#include "xmalloc.h"

#define SIM_SYNC_MAX_DATA_BYTES	 (16 * 1024)
#define SIM_SYNC_MAX_TTL_S	 31536000
#define SIM_SYNC_MAX_NAME	 320
#define SIM_SYNC_MAX_KEY	 320
#define SIM_SYNC_MAX_PAGE_SIZE	 100
#define SIM_SYNC_WINDOW_MS	 1000
#define SIM_SYNC_FRIENDLY_NAME	 "trhub-sim"
#define SIM_SYNC_CREATED_BY	 "system"
#define SIM_SYNC_SERVICE_PATTERN "/v1/Services/{IS}"

struct sim_sync_doc {
	char sid[SID_LEN + 1];
	char *unique_name;
	char *data;
	uint64_t revision;
	int64_t created_ms;
	int64_t updated_ms;
	int64_t expires_ms; /* 0: never */
	uint64_t seq;
	TAILQ_ENTRY(sim_sync_doc) link;
};

struct sim_sync_item {
	char *key;
	char *data;
	uint64_t revision;
	int64_t created_ms;
	int64_t updated_ms;
	int64_t expires_ms;
};

struct sim_sync_map {
	char sid[SID_LEN + 1];
	char *unique_name;
	uint64_t revision;
	int64_t created_ms;
	int64_t updated_ms;
	int64_t expires_ms;
	uint64_t seq;
	struct sim_sync_item **items; /* sorted by key */
	size_t nitems;
	size_t capitems;
	TAILQ_ENTRY(sim_sync_map) link;
};

/* Write accounting for one top-level object; kept after the object is deleted. */
struct sim_sync_wstat {
	char kind[12]; /* "document" or "map" */
	char *unique_name;
	uint64_t writes;
	uint64_t max_per_second;
	int64_t *times; /* ring of write times inside the current window */
	size_t head;
	size_t n;
	size_t cap;
};

TAILQ_HEAD(sim_sync_doc_list, sim_sync_doc);
TAILQ_HEAD(sim_sync_map_list, sim_sync_map);

struct sim_sync {
	struct sim *sim;
	int64_t created_ms;
	struct sim_sync_doc_list docs;
	struct sim_sync_map_list maps;
	uint64_t next_seq;
	struct hmap *wstats;   /* object sid -> struct sim_sync_wstat */
	int writes_per_second; /* 0: no rate limit */
};

/* Objects */

static void
sim_sync_doc_free(struct sim_sync_doc *d)
{
	if (d == NULL)
		return;
	free(d->unique_name);
	free(d->data);
	free(d);
}

static void
sim_sync_item_free(struct sim_sync_item *it)
{
	if (it == NULL)
		return;
	free(it->key);
	free(it->data);
	free(it);
}

static void
sim_sync_map_free(struct sim_sync_map *m)
{
	size_t i;

	if (m == NULL)
		return;
	for (i = 0; i < m->nitems; i++)
		sim_sync_item_free(m->items[i]);
	free(m->items);
	free(m->unique_name);
	free(m);
}

static void
sim_sync_wstat_free(struct sim_sync_wstat *w)
{
	if (w == NULL)
		return;
	free(w->unique_name);
	free(w->times);
	free(w);
}

static void
sim_sync_clear(struct sim_sync *s)
{
	struct sim_sync_doc *d;
	struct sim_sync_map *m;

	while ((d = TAILQ_FIRST(&s->docs)) != NULL) {
		TAILQ_REMOVE(&s->docs, d, link);
		sim_sync_doc_free(d);
	}
	while ((m = TAILQ_FIRST(&s->maps)) != NULL) {
		TAILQ_REMOVE(&s->maps, m, link);
		sim_sync_map_free(m);
	}
}

void
sim_sync_writes_reset(struct sim_sync *s)
{
	size_t pos = 0;
	const char *key;
	void *value;
	struct hmap *old = s->wstats;

	while (hmap_next(old, &pos, &key, &value))
		sim_sync_wstat_free(value);
	hmap_free(old);
	s->wstats = hmap_new();
}

struct sim_sync *
sim_sync_new(struct sim *sim)
{
	struct sim_sync *s = xcalloc(1, sizeof(*s));

	s->sim = sim;
	s->created_ms = sim_clock_now_ms(sim->clock);
	TAILQ_INIT(&s->docs);
	TAILQ_INIT(&s->maps);
	s->wstats = hmap_new();
	return s;
}

void
sim_sync_free(struct sim_sync *s)
{
	if (s == NULL)
		return;
	sim_sync_clear(s);
	sim_sync_writes_reset(s);
	hmap_free(s->wstats);
	free(s);
}

void
sim_sync_reset(struct sim_sync *s)
{
	sim_sync_clear(s);
	sim_sync_writes_reset(s);
	s->writes_per_second = 0;
}

static bool
sim_sync_expired(int64_t expires_ms, int64_t now)
{
	return expires_ms > 0 && expires_ms <= now;
}

/* Removes what expired: documents, maps, and items of the remaining maps. */
static void
sim_sync_expire(struct sim_sync *s)
{
	int64_t now = sim_clock_now_ms(s->sim->clock);
	struct sim_sync_doc *d;
	struct sim_sync_doc *dtmp;
	struct sim_sync_map *m;
	struct sim_sync_map *mtmp;

	TAILQ_FOREACH_SAFE(d, &s->docs, link, dtmp) {
		if (sim_sync_expired(d->expires_ms, now)) {
			log_debug("sync document %s expired", d->sid);
			TAILQ_REMOVE(&s->docs, d, link);
			sim_sync_doc_free(d);
		}
	}
	TAILQ_FOREACH_SAFE(m, &s->maps, link, mtmp) {
		size_t i;
		size_t j = 0;

		if (sim_sync_expired(m->expires_ms, now)) {
			log_debug("sync map %s expired", m->sid);
			TAILQ_REMOVE(&s->maps, m, link);
			sim_sync_map_free(m);
			continue;
		}
		for (i = 0; i < m->nitems; i++) {
			if (sim_sync_expired(m->items[i]->expires_ms, now))
				sim_sync_item_free(m->items[i]);
			else
				m->items[j++] = m->items[i];
		}
		m->nitems = j;
	}
}

/* Write accounting and the optional rate limit */

static struct sim_sync_wstat *
sim_sync_wstat_get(struct sim_sync *s, const char *sid, const char *kind, const char *unique_name)
{
	struct sim_sync_wstat *w = hmap_get(s->wstats, sid);

	if (w == NULL) {
		w = xcalloc(1, sizeof(*w));
		snprintf(w->kind, sizeof(w->kind), "%s", kind);
		hmap_put(s->wstats, sid, w);
	}
	if (unique_name != NULL && w->unique_name == NULL)
		w->unique_name = xstrdup(unique_name);
	return w;
}

/* Drops write times that left the one-second window ending at now. */
static void
sim_sync_wstat_slide(struct sim_sync_wstat *w, int64_t now)
{
	while (w->n > 0 && w->times[w->head] <= now - SIM_SYNC_WINDOW_MS) {
		w->head = (w->head + 1) % w->cap;
		w->n--;
	}
}

/* True (and a 429 sent) when the rate limit refuses a write to this object now. */
static bool
sim_sync_rate_limited(struct sim_request *r, const char *sid, const char *kind)
{
	struct sim_sync *s = r->sim->sync;
	struct sim_sync_wstat *w;

	if (s->writes_per_second <= 0)
		return false;
	w = hmap_get(s->wstats, sid);
	if (w == NULL)
		return false;
	sim_sync_wstat_slide(w, sim_clock_now_ms(s->sim->clock));
	if (w->n < (size_t)s->writes_per_second)
		return false;
	sim_reply_error(r, 429, 54009, "Rate limit exceeded for write-%s-%s", kind, sid);
	return true;
}

static void
sim_sync_record_write(struct sim_sync *s, const char *sid, const char *kind,
		      const char *unique_name)
{
	struct sim_sync_wstat *w = sim_sync_wstat_get(s, sid, kind, unique_name);
	int64_t now = sim_clock_now_ms(s->sim->clock);

	sim_sync_wstat_slide(w, now);
	if (w->n == w->cap) {
		size_t cap = w->cap > 0 ? w->cap * 2 : 32;
		int64_t *times = xreallocarray(NULL, cap, sizeof(*times));
		size_t i;

		for (i = 0; i < w->n; i++)
			times[i] = w->times[(w->head + i) % w->cap];
		free(w->times);
		w->times = times;
		w->cap = cap;
		w->head = 0;
	}
	w->times[(w->head + w->n) % w->cap] = now;
	w->n++;
	w->writes++;
	if (w->n > w->max_per_second)
		w->max_per_second = w->n;
	log_trace(LOG_TRACE_SYNC, "sync write %s %s (%zu in the last second)", kind, sid, w->n);
}

void
sim_sync_writes_json(struct sim_sync *s, struct json_gen *g)
{
	size_t pos = 0;
	const char *key;
	void *value;

	json_gen_object_open(g);
	while (hmap_next(s->wstats, &pos, &key, &value)) {
		struct sim_sync_wstat *w = value;

		json_gen_key(g, key);
		json_gen_object_open(g);
		json_gen_kv_string(g, "type", w->kind);
		json_gen_kv_string(g, "unique_name", w->unique_name);
		json_gen_kv_int(g, "writes", (int64_t)w->writes);
		json_gen_kv_int(g, "max_per_second", (int64_t)w->max_per_second);
		json_gen_object_close(g);
	}
	json_gen_object_close(g);
}

/* Request helpers */

/* Checks {IS}; replies 404 54050 and returns false for another service. */
static bool
sim_sync_service_ok(struct sim_request *r)
{
	sim_sync_expire(r->sim->sync);
	if (strcmp(r->params[0], r->sim->opt.sync_service_sid) == 0)
		return true;
	sim_reply_error(r, 404, 54050, "Service Instance not found: %s", r->params[0]);
	return false;
}

static char *
sim_sync_service_url(struct sim *sim)
{
	return xasprintf("%s/v1/Services/%s", sim->base_url, sim->opt.sync_service_sid);
}

static void
sim_sync_kv_date(struct json_gen *g, const char *key, int64_t ms)
{
	char text[32];

	if (ms <= 0) {
		json_gen_kv_null(g, key);
		return;
	}
	sim_format_iso(ms, text);
	json_gen_kv_string(g, key, text);
}

static void
sim_sync_kv_revision(struct json_gen *g, uint64_t revision)
{
	char text[24];

	snprintf(text, sizeof(text), "%" PRIu64, revision);
	json_gen_kv_string(g, "revision", text);
}

static void
sim_sync_kv_data(struct json_gen *g, const char *data)
{
	json_gen_key(g, "data");
	if (json_gen_raw(g, data, strlen(data)) < 0)
		json_gen_null(g);
}

/*
 * Reads Data (required or not): valid JSON object, at most 16 KiB. Stores the
 * compact text in *data_out (NULL when absent and optional). Replies on error.
 */
static int
sim_sync_param_data(struct sim_request *r, bool required, char **data_out)
{
	const char *text = form_get(r->form, "Data");
	struct json_doc *doc = NULL;
	struct json_gen *g = NULL;
	size_t len = 0;
	char *cause = NULL;

	*data_out = NULL;
	if (text == NULL) {
		if (!required)
			return 0;
		sim_reply_error(r, 400, 20001, "Missing required parameter Data in the post body");
		return -EINVAL;
	}
	if (strlen(text) > SIM_SYNC_MAX_DATA_BYTES) {
		sim_reply_error(r, 413, 54006, "Request entity too large: Data exceeds %d bytes",
				SIM_SYNC_MAX_DATA_BYTES);
		return -E2BIG;
	}
	if (json_parse(text, strlen(text), NULL, &doc, &cause) < 0 ||
	    !json_is_object(json_doc_root(doc))) {
		sim_reply_error(r, 400, 20001, "Invalid Data: expected a JSON object%s%s",
				cause != NULL ? ": " : "", cause != NULL ? cause : "");
		free(cause);
		json_doc_free(doc);
		return -EINVAL;
	}
	g = json_gen_new();
	json_gen_value(g, json_doc_root(doc));
	*data_out = json_gen_steal(g, &len);
	json_gen_free(g);
	json_doc_free(doc);
	if (len > SIM_SYNC_MAX_DATA_BYTES) {
		free_and_null(*data_out);
		sim_reply_error(r, 413, 54006, "Request entity too large: Data exceeds %d bytes",
				SIM_SYNC_MAX_DATA_BYTES);
		return -E2BIG;
	}
	return 0;
}

/*
 * Reads the first present TTL parameter of names (NULL-terminated) as an
 * absolute expiry: *expires_out is 0 for Ttl=0 (never), -1 when absent.
 */
static int
sim_sync_param_ttl(struct sim_request *r, const char *const *names, int64_t *expires_out)
{
	const char *value = NULL;
	const char *name = NULL;
	int64_t v = 0;

	*expires_out = -1;
	for (; *names != NULL && value == NULL; names++) {
		value = form_get(r->form, *names);
		name = *names;
	}
	if (value == NULL)
		return 0;
	if (num_parse_i64(value, 0, SIM_SYNC_MAX_TTL_S, &v) < 0) {
		sim_reply_error(r, 400, 54011, "Invalid %s: must be between 0 and %d seconds", name,
				SIM_SYNC_MAX_TTL_S);
		return -EINVAL;
	}
	*expires_out = v == 0 ? 0 : sim_clock_now_ms(r->sim->clock) + v * 1000;
	return 0;
}

/* Validates UniqueName: 1..320 characters and not SID-shaped (54302). */
static int
sim_sync_param_unique_name(struct sim_request *r, const char **name_out)
{
	const char *name = form_get(r->form, "UniqueName");
	size_t len;

	*name_out = NULL;
	if (name == NULL)
		return 0;
	len = strlen(name);
	if (len == 0 || len > SIM_SYNC_MAX_NAME || sid_has_shape(name)) {
		sim_reply_error(r, 400, 54302,
				"Invalid unique name: must be 1-%d characters and not look like a "
				"SID",
				SIM_SYNC_MAX_NAME);
		return -EINVAL;
	}
	*name_out = name;
	return 0;
}

/* Services */

static void
sim_sync_service_json(struct sim *sim, struct json_gen *g)
{
	char *url = sim_sync_service_url(sim);
	char *link;

	json_gen_object_open(g);
	json_gen_kv_string(g, "sid", sim->opt.sync_service_sid);
	json_gen_kv_null(g, "unique_name");
	json_gen_kv_string(g, "account_sid", sim->opt.account_sid);
	json_gen_kv_string(g, "friendly_name", SIM_SYNC_FRIENDLY_NAME);
	sim_sync_kv_date(g, "date_created", sim->sync->created_ms);
	sim_sync_kv_date(g, "date_updated", sim->sync->created_ms);
	json_gen_kv_string(g, "url", url);
	json_gen_kv_null(g, "webhook_url");
	json_gen_kv_bool(g, "webhooks_from_rest_enabled", false);
	json_gen_kv_bool(g, "reachability_webhooks_enabled", false);
	json_gen_kv_bool(g, "acl_enabled", false);
	json_gen_kv_bool(g, "reachability_debouncing_enabled", false);
	json_gen_kv_int(g, "reachability_debouncing_window", 5000);
	json_gen_key(g, "links");
	json_gen_object_open(g);
	link = xasprintf("%s/Documents", url);
	json_gen_kv_string(g, "documents", link);
	free(link);
	link = xasprintf("%s/Lists", url);
	json_gen_kv_string(g, "lists", link);
	free(link);
	link = xasprintf("%s/Maps", url);
	json_gen_kv_string(g, "maps", link);
	free(link);
	link = xasprintf("%s/Streams", url);
	json_gen_kv_string(g, "streams", link);
	free(link);
	json_gen_object_close(g);
	json_gen_object_close(g);
	free(url);
}

static void
sim_sync_services_list_cb(struct sim_request *r)
{
	struct sim_pager p;
	struct json_gen *g;

	if (sim_pager_init(&p, r, SIM_SYNC_MAX_PAGE_SIZE) < 0)
		return;
	g = json_gen_new();
	sim_pager_v1_open(&p, g, "services");
	if (sim_pager_take(&p, 1))
		sim_sync_service_json(r->sim, g);
	sim_pager_v1_close(&p, g, "services");
	sim_reply_json(r, 200, g, NULL);
	json_gen_free(g);
}

static void
sim_sync_service_fetch_cb(struct sim_request *r)
{
	struct json_gen *g;

	if (!sim_sync_service_ok(r))
		return;
	g = json_gen_new();
	sim_sync_service_json(r->sim, g);
	sim_reply_json(r, 200, g, NULL);
	json_gen_free(g);
}

/* Documents */

static struct sim_sync_doc *
sim_sync_doc_find(struct sim_sync *s, const char *id)
{
	struct sim_sync_doc *d;

	TAILQ_FOREACH(d, &s->docs, link) {
		if (strcmp(d->sid, id) == 0 ||
		    (d->unique_name != NULL && strcmp(d->unique_name, id) == 0))
			return d;
	}
	return NULL;
}

static void
sim_sync_doc_json(struct sim *sim, const struct sim_sync_doc *d, struct json_gen *g)
{
	char *url = xasprintf("%s/v1/Services/%s/Documents/%s", sim->base_url,
			      sim->opt.sync_service_sid, d->sid);
	char *link = xasprintf("%s/Permissions", url);

	json_gen_object_open(g);
	json_gen_kv_string(g, "sid", d->sid);
	json_gen_kv_string(g, "unique_name", d->unique_name);
	json_gen_kv_string(g, "account_sid", sim->opt.account_sid);
	json_gen_kv_string(g, "service_sid", sim->opt.sync_service_sid);
	json_gen_kv_string(g, "url", url);
	json_gen_key(g, "links");
	json_gen_object_open(g);
	json_gen_kv_string(g, "permissions", link);
	json_gen_object_close(g);
	sim_sync_kv_revision(g, d->revision);
	sim_sync_kv_data(g, d->data);
	sim_sync_kv_date(g, "date_expires", d->expires_ms);
	sim_sync_kv_date(g, "date_created", d->created_ms);
	sim_sync_kv_date(g, "date_updated", d->updated_ms);
	json_gen_kv_string(g, "created_by", SIM_SYNC_CREATED_BY);
	json_gen_object_close(g);
	free(link);
	free(url);
}

static void
sim_sync_reply_doc(struct sim_request *r, int status, const struct sim_sync_doc *d)
{
	struct json_gen *g = json_gen_new();
	char etag[24];

	snprintf(etag, sizeof(etag), "%" PRIu64, d->revision);
	sim_sync_doc_json(r->sim, d, g);
	sim_reply_json(r, status, g, etag);
	json_gen_free(g);
}

static struct sim_sync_doc *
sim_sync_doc_lookup(struct sim_request *r)
{
	struct sim_sync_doc *d;

	if (!sim_sync_service_ok(r))
		return NULL;
	d = sim_sync_doc_find(r->sim->sync, r->params[1]);
	if (d == NULL)
		sim_reply_error(r, 404, 54100, "Document not found: %s", r->params[1]);
	return d;
}

static const char *const sim_sync_doc_ttl_names[] = { "Ttl", NULL };
static const char *const sim_sync_map_ttl_names[] = { "CollectionTtl", "Ttl", NULL };
static const char *const sim_sync_item_ttl_names[] = { "ItemTtl", "Ttl", NULL };

static void
sim_sync_docs_create_cb(struct sim_request *r)
{
	struct sim_sync *s = r->sim->sync;
	struct sim_sync_doc *d;
	const char *name = NULL;
	char *data = NULL;
	int64_t expires;

	if (!sim_sync_service_ok(r) || sim_sync_param_unique_name(r, &name) < 0 ||
	    sim_sync_param_data(r, false, &data) < 0)
		return;
	if (sim_sync_param_ttl(r, sim_sync_doc_ttl_names, &expires) < 0) {
		free(data);
		return;
	}
	if (name != NULL && sim_sync_doc_find(s, name) != NULL) {
		free(data);
		sim_reply_error(r, 409, 54301, "Unique name already exists: %s", name);
		return;
	}
	d = xcalloc(1, sizeof(*d));
	sim_new_sid(r->sim, d->sid, "ET");
	d->unique_name = name != NULL ? xstrdup(name) : NULL;
	d->data = data != NULL ? data : xstrdup("{}");
	d->created_ms = d->updated_ms = sim_clock_now_ms(r->sim->clock);
	d->expires_ms = expires > 0 ? expires : 0;
	d->seq = ++s->next_seq;
	TAILQ_INSERT_TAIL(&s->docs, d, link);
	sim_sync_record_write(s, d->sid, "document", d->unique_name);
	log_info("sync document %s created%s%s", d->sid, name != NULL ? " as " : "",
		 name != NULL ? name : "");
	sim_sync_reply_doc(r, 201, d);
}

static void
sim_sync_docs_list_cb(struct sim_request *r)
{
	struct sim_sync_doc *d;
	struct sim_pager p;
	struct json_gen *g;

	if (!sim_sync_service_ok(r) || sim_pager_init(&p, r, SIM_SYNC_MAX_PAGE_SIZE) < 0)
		return;
	g = json_gen_new();
	sim_pager_v1_open(&p, g, "documents");
	TAILQ_FOREACH(d, &r->sim->sync->docs, link) {
		if (sim_pager_take(&p, d->seq))
			sim_sync_doc_json(r->sim, d, g);
		if (sim_pager_done(&p))
			break;
	}
	sim_pager_v1_close(&p, g, "documents");
	sim_reply_json(r, 200, g, NULL);
	json_gen_free(g);
}

static void
sim_sync_doc_fetch_cb(struct sim_request *r)
{
	struct sim_sync_doc *d = sim_sync_doc_lookup(r);

	if (d != NULL)
		sim_sync_reply_doc(r, 200, d);
}

static void
sim_sync_doc_update_cb(struct sim_request *r)
{
	struct sim_sync *s = r->sim->sync;
	struct sim_sync_doc *d = sim_sync_doc_lookup(r);
	char *data = NULL;
	int64_t expires;

	if (d == NULL || sim_sync_param_data(r, false, &data) < 0)
		return;
	if (sim_sync_param_ttl(r, sim_sync_doc_ttl_names, &expires) < 0)
		goto out;
	if (data == NULL && expires < 0) {
		sim_reply_error(r, 400, 54010, "No parameters specified");
		goto out;
	}
	if (!sim_http_if_match_ok(r, d->revision)) {
		sim_reply_error(r, 412, 54103,
				"The revision of the Document does not match the "
				"expected revision");
		goto out;
	}
	if (sim_sync_rate_limited(r, d->sid, "document"))
		goto out;
	if (data != NULL) {
		free(d->data);
		d->data = data;
		data = NULL;
	}
	if (expires >= 0)
		d->expires_ms = expires;
	d->revision++;
	d->updated_ms = sim_clock_now_ms(r->sim->clock);
	sim_sync_record_write(s, d->sid, "document", d->unique_name);
	sim_sync_reply_doc(r, 200, d);
out:
	free(data);
}

static void
sim_sync_doc_delete_cb(struct sim_request *r)
{
	struct sim_sync *s = r->sim->sync;
	struct sim_sync_doc *d = sim_sync_doc_lookup(r);

	if (d == NULL)
		return;
	if (!sim_http_if_match_ok(r, d->revision)) {
		sim_reply_error(r, 412, 54103,
				"The revision of the Document does not match the "
				"expected revision");
		return;
	}
	if (sim_sync_rate_limited(r, d->sid, "document"))
		return;
	sim_sync_record_write(s, d->sid, "document", d->unique_name);
	log_info("sync document %s deleted", d->sid);
	TAILQ_REMOVE(&s->docs, d, link);
	sim_sync_doc_free(d);
	sim_reply_no_content(r);
}

/* Maps */

static struct sim_sync_map *
sim_sync_map_find(struct sim_sync *s, const char *id)
{
	struct sim_sync_map *m;

	TAILQ_FOREACH(m, &s->maps, link) {
		if (strcmp(m->sid, id) == 0 ||
		    (m->unique_name != NULL && strcmp(m->unique_name, id) == 0))
			return m;
	}
	return NULL;
}

static char *
sim_sync_map_url(struct sim *sim, const struct sim_sync_map *m)
{
	return xasprintf("%s/v1/Services/%s/Maps/%s", sim->base_url, sim->opt.sync_service_sid,
			 m->sid);
}

static void
sim_sync_map_json(struct sim *sim, const struct sim_sync_map *m, struct json_gen *g)
{
	char *url = sim_sync_map_url(sim, m);
	char *link;

	json_gen_object_open(g);
	json_gen_kv_string(g, "sid", m->sid);
	json_gen_kv_string(g, "unique_name", m->unique_name);
	json_gen_kv_string(g, "account_sid", sim->opt.account_sid);
	json_gen_kv_string(g, "service_sid", sim->opt.sync_service_sid);
	json_gen_kv_string(g, "url", url);
	json_gen_key(g, "links");
	json_gen_object_open(g);
	link = xasprintf("%s/Items", url);
	json_gen_kv_string(g, "items", link);
	free(link);
	link = xasprintf("%s/Permissions", url);
	json_gen_kv_string(g, "permissions", link);
	free(link);
	json_gen_object_close(g);
	sim_sync_kv_revision(g, m->revision);
	sim_sync_kv_date(g, "date_expires", m->expires_ms);
	sim_sync_kv_date(g, "date_created", m->created_ms);
	sim_sync_kv_date(g, "date_updated", m->updated_ms);
	json_gen_kv_string(g, "created_by", SIM_SYNC_CREATED_BY);
	json_gen_object_close(g);
	free(url);
}

static void
sim_sync_reply_map(struct sim_request *r, int status, const struct sim_sync_map *m)
{
	struct json_gen *g = json_gen_new();
	char etag[24];

	snprintf(etag, sizeof(etag), "%" PRIu64, m->revision);
	sim_sync_map_json(r->sim, m, g);
	sim_reply_json(r, status, g, etag);
	json_gen_free(g);
}

static struct sim_sync_map *
sim_sync_map_lookup(struct sim_request *r)
{
	struct sim_sync_map *m;

	if (!sim_sync_service_ok(r))
		return NULL;
	m = sim_sync_map_find(r->sim->sync, r->params[1]);
	if (m == NULL)
		sim_reply_error(r, 404, 54200, "Map not found: %s", r->params[1]);
	return m;
}

static void
sim_sync_maps_create_cb(struct sim_request *r)
{
	struct sim_sync *s = r->sim->sync;
	struct sim_sync_map *m;
	const char *name = NULL;
	int64_t expires;

	if (!sim_sync_service_ok(r) || sim_sync_param_unique_name(r, &name) < 0 ||
	    sim_sync_param_ttl(r, sim_sync_map_ttl_names, &expires) < 0)
		return;
	if (name != NULL && sim_sync_map_find(s, name) != NULL) {
		sim_reply_error(r, 409, 54301, "Unique name already exists: %s", name);
		return;
	}
	m = xcalloc(1, sizeof(*m));
	sim_new_sid(r->sim, m->sid, "MP");
	m->unique_name = name != NULL ? xstrdup(name) : NULL;
	m->created_ms = m->updated_ms = sim_clock_now_ms(r->sim->clock);
	m->expires_ms = expires > 0 ? expires : 0;
	m->seq = ++s->next_seq;
	TAILQ_INSERT_TAIL(&s->maps, m, link);
	sim_sync_record_write(s, m->sid, "map", m->unique_name);
	log_info("sync map %s created%s%s", m->sid, name != NULL ? " as " : "",
		 name != NULL ? name : "");
	sim_sync_reply_map(r, 201, m);
}

static void
sim_sync_maps_list_cb(struct sim_request *r)
{
	struct sim_sync_map *m;
	struct sim_pager p;
	struct json_gen *g;

	if (!sim_sync_service_ok(r) || sim_pager_init(&p, r, SIM_SYNC_MAX_PAGE_SIZE) < 0)
		return;
	g = json_gen_new();
	sim_pager_v1_open(&p, g, "maps");
	TAILQ_FOREACH(m, &r->sim->sync->maps, link) {
		if (sim_pager_take(&p, m->seq))
			sim_sync_map_json(r->sim, m, g);
		if (sim_pager_done(&p))
			break;
	}
	sim_pager_v1_close(&p, g, "maps");
	sim_reply_json(r, 200, g, NULL);
	json_gen_free(g);
}

static void
sim_sync_map_fetch_cb(struct sim_request *r)
{
	struct sim_sync_map *m = sim_sync_map_lookup(r);

	if (m != NULL)
		sim_sync_reply_map(r, 200, m);
}

static void
sim_sync_map_update_cb(struct sim_request *r)
{
	struct sim_sync_map *m = sim_sync_map_lookup(r);
	int64_t expires;

	if (m == NULL || sim_sync_param_ttl(r, sim_sync_map_ttl_names, &expires) < 0)
		return;
	if (expires < 0) {
		sim_reply_error(r, 400, 54010, "No parameters specified");
		return;
	}
	if (sim_sync_rate_limited(r, m->sid, "map"))
		return;
	m->expires_ms = expires;
	m->revision++;
	m->updated_ms = sim_clock_now_ms(r->sim->clock);
	sim_sync_record_write(r->sim->sync, m->sid, "map", m->unique_name);
	sim_sync_reply_map(r, 200, m);
}

static void
sim_sync_map_delete_cb(struct sim_request *r)
{
	struct sim_sync *s = r->sim->sync;
	struct sim_sync_map *m = sim_sync_map_lookup(r);

	if (m == NULL || sim_sync_rate_limited(r, m->sid, "map"))
		return;
	sim_sync_record_write(s, m->sid, "map", m->unique_name);
	log_info("sync map %s deleted", m->sid);
	TAILQ_REMOVE(&s->maps, m, link);
	sim_sync_map_free(m);
	sim_reply_no_content(r);
}

/* Map items */

/* Index of the first item whose key is >= key (the insertion point). */
static size_t
sim_sync_item_lower_bound(const struct sim_sync_map *m, const char *key)
{
	size_t lo = 0;
	size_t hi = m->nitems;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(m->items[mid]->key, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct sim_sync_item *
sim_sync_item_find(const struct sim_sync_map *m, const char *key, size_t *index_out)
{
	size_t i = sim_sync_item_lower_bound(m, key);

	if (index_out != NULL)
		*index_out = i;
	if (i < m->nitems && strcmp(m->items[i]->key, key) == 0)
		return m->items[i];
	return NULL;
}

static void
sim_sync_item_json(struct sim *sim, const struct sim_sync_map *m, const struct sim_sync_item *it,
		   struct json_gen *g)
{
	char *map_url = sim_sync_map_url(sim, m);
	struct buf url;

	buf_init(&url);
	buf_printf(&url, "%s/Items/", map_url);
	form_encode_path_component(&url, it->key);
	json_gen_object_open(g);
	json_gen_kv_string(g, "key", it->key);
	json_gen_kv_string(g, "account_sid", sim->opt.account_sid);
	json_gen_kv_string(g, "service_sid", sim->opt.sync_service_sid);
	json_gen_kv_string(g, "map_sid", m->sid);
	json_gen_kv_string(g, "url", url.data);
	sim_sync_kv_revision(g, it->revision);
	sim_sync_kv_data(g, it->data);
	sim_sync_kv_date(g, "date_expires", it->expires_ms);
	sim_sync_kv_date(g, "date_created", it->created_ms);
	sim_sync_kv_date(g, "date_updated", it->updated_ms);
	json_gen_kv_string(g, "created_by", SIM_SYNC_CREATED_BY);
	json_gen_object_close(g);
	buf_clear(&url);
	free(map_url);
}

static void
sim_sync_reply_item(struct sim_request *r, int status, const struct sim_sync_map *m,
		    const struct sim_sync_item *it)
{
	struct json_gen *g = json_gen_new();
	char etag[24];

	snprintf(etag, sizeof(etag), "%" PRIu64, it->revision);
	sim_sync_item_json(r->sim, m, it, g);
	sim_reply_json(r, status, g, etag);
	json_gen_free(g);
}

/* Applies CollectionTtl to the map (an item write may extend its map's life). */
static int
sim_sync_param_collection_ttl(struct sim_request *r, struct sim_sync_map *m, bool *set_out)
{
	static const char *const names[] = { "CollectionTtl", NULL };
	int64_t expires;

	*set_out = false;
	if (sim_sync_param_ttl(r, names, &expires) < 0)
		return -EINVAL;
	if (expires >= 0) {
		m->expires_ms = expires;
		*set_out = true;
	}
	return 0;
}

static void
sim_sync_items_create_cb(struct sim_request *r)
{
	/* a failed lookup has replied, which frees r: read nothing from it before */
	struct sim_sync_map *m = sim_sync_map_lookup(r);
	const char *key = NULL;
	struct sim_sync_item *it;
	char *data = NULL;
	int64_t expires;
	size_t at;
	bool collection_ttl;

	if (m == NULL)
		return;
	key = form_get(r->form, "Key");
	if (key == NULL || key[0] == '\0' || strlen(key) > SIM_SYNC_MAX_KEY) {
		sim_reply_error(r, 400, 54209, "Invalid Map Item key: must be 1-%d characters",
				SIM_SYNC_MAX_KEY);
		return;
	}
	if (sim_sync_param_data(r, true, &data) < 0)
		return;
	if (sim_sync_param_ttl(r, sim_sync_item_ttl_names, &expires) < 0)
		goto out;
	if (sim_sync_item_find(m, key, &at) != NULL) {
		sim_reply_error(r, 409, 54208, "Map Item already exists: %s", key);
		goto out;
	}
	if (sim_sync_rate_limited(r, m->sid, "map") ||
	    sim_sync_param_collection_ttl(r, m, &collection_ttl) < 0)
		goto out;
	it = xcalloc(1, sizeof(*it));
	it->key = xstrdup(key);
	it->data = data;
	data = NULL;
	it->created_ms = it->updated_ms = sim_clock_now_ms(r->sim->clock);
	it->expires_ms = expires > 0 ? expires : 0;
	if (m->nitems == m->capitems) {
		m->capitems = m->capitems > 0 ? m->capitems * 2 : 16;
		m->items = xreallocarray(m->items, m->capitems, sizeof(*m->items));
	}
	memmove(&m->items[at + 1], &m->items[at], (m->nitems - at) * sizeof(*m->items));
	m->items[at] = it;
	m->nitems++;
	sim_sync_record_write(r->sim->sync, m->sid, "map", m->unique_name);
	sim_sync_reply_item(r, 201, m, it);
out:
	free(data);
}

static struct sim_sync_item *
sim_sync_item_lookup(struct sim_request *r, struct sim_sync_map **map_out, size_t *index_out)
{
	struct sim_sync_map *m = sim_sync_map_lookup(r);
	struct sim_sync_item *it;

	if (m == NULL)
		return NULL;
	it = sim_sync_item_find(m, r->params[2], index_out);
	if (it == NULL)
		sim_reply_error(r, 404, 54201, "Map Item not found: %s", r->params[2]);
	*map_out = m;
	return it;
}

static void
sim_sync_item_fetch_cb(struct sim_request *r)
{
	struct sim_sync_map *m = NULL;
	struct sim_sync_item *it = sim_sync_item_lookup(r, &m, NULL);

	if (it != NULL)
		sim_sync_reply_item(r, 200, m, it);
}

static void
sim_sync_item_update_cb(struct sim_request *r)
{
	struct sim_sync_map *m = NULL;
	struct sim_sync_item *it = sim_sync_item_lookup(r, &m, NULL);
	char *data = NULL;
	int64_t expires;
	bool collection_ttl = false;

	if (it == NULL || sim_sync_param_data(r, false, &data) < 0)
		return;
	if (sim_sync_param_ttl(r, sim_sync_item_ttl_names, &expires) < 0)
		goto out;
	if (data == NULL && expires < 0 && !form_has(r->form, "CollectionTtl")) {
		sim_reply_error(r, 400, 54010, "No parameters specified");
		goto out;
	}
	if (!sim_http_if_match_ok(r, it->revision)) {
		sim_reply_error(r, 412, 54205,
				"The revision of the Map Item does not match the "
				"expected revision");
		goto out;
	}
	if (sim_sync_rate_limited(r, m->sid, "map") ||
	    sim_sync_param_collection_ttl(r, m, &collection_ttl) < 0)
		goto out;
	if (data != NULL) {
		free(it->data);
		it->data = data;
		data = NULL;
	}
	if (expires >= 0)
		it->expires_ms = expires;
	it->revision++;
	it->updated_ms = sim_clock_now_ms(r->sim->clock);
	sim_sync_record_write(r->sim->sync, m->sid, "map", m->unique_name);
	sim_sync_reply_item(r, 200, m, it);
out:
	free(data);
}

static void
sim_sync_item_delete_cb(struct sim_request *r)
{
	struct sim_sync_map *m = NULL;
	size_t at = 0;
	struct sim_sync_item *it = sim_sync_item_lookup(r, &m, &at);

	if (it == NULL)
		return;
	if (!sim_http_if_match_ok(r, it->revision)) {
		sim_reply_error(r, 412, 54205,
				"The revision of the Map Item does not match the "
				"expected revision");
		return;
	}
	if (sim_sync_rate_limited(r, m->sid, "map"))
		return;
	memmove(&m->items[at], &m->items[at + 1], (m->nitems - at - 1) * sizeof(*m->items));
	m->nitems--;
	sim_sync_item_free(it);
	sim_sync_record_write(r->sim->sync, m->sid, "map", m->unique_name);
	sim_reply_no_content(r);
}

static void
sim_sync_items_list_cb(struct sim_request *r)
{
	/* a failed lookup has replied, which frees r: read nothing from it before */
	struct sim_sync_map *m = sim_sync_map_lookup(r);
	const char *order = NULL;
	const char *from = NULL;
	const char *bounds = NULL;
	bool desc = false;
	bool exclusive = false;
	struct sim_pager p;
	struct json_gen *g;
	uint64_t cursor = 0;
	size_t k;

	if (m == NULL)
		return;
	order = form_get(r->query, "Order");
	from = form_get(r->query, "From");
	bounds = form_get(r->query, "Bounds");
	if (order != NULL && strcmp(order, "asc") != 0 && strcmp(order, "desc") != 0) {
		sim_reply_error(r, 400, 20001, "Order must be asc or desc");
		return;
	}
	if (bounds != NULL && strcmp(bounds, "inclusive") != 0 &&
	    strcmp(bounds, "exclusive") != 0) {
		sim_reply_error(r, 400, 20001, "Bounds must be inclusive or exclusive");
		return;
	}
	desc = order != NULL && strcmp(order, "desc") == 0;
	exclusive = bounds != NULL && strcmp(bounds, "exclusive") == 0;
	if (sim_pager_init(&p, r, SIM_SYNC_MAX_PAGE_SIZE) < 0)
		return;
	g = json_gen_new();
	sim_pager_v1_open(&p, g, "items");
	for (k = 0; k < m->nitems; k++) {
		const struct sim_sync_item *it = m->items[desc ? m->nitems - 1 - k : k];

		if (from != NULL) {
			int c = strcmp(it->key, from);

			if (desc ? c > 0 : c < 0)
				continue;
			if (exclusive && c == 0)
				continue;
		}
		if (sim_pager_take(&p, ++cursor))
			sim_sync_item_json(r->sim, m, it, g);
		if (sim_pager_done(&p))
			break;
	}
	sim_pager_v1_close(&p, g, "items");
	sim_reply_json(r, 200, g, NULL);
	json_gen_free(g);
}

/* State and control */

void
sim_sync_state_json(struct sim_sync *s, struct json_gen *g)
{
	struct sim_sync_doc *d;
	struct sim_sync_map *m;
	size_t i;

	sim_sync_expire(s);
	json_gen_object_open(g);
	json_gen_kv_string(g, "service_sid", s->sim->opt.sync_service_sid);
	json_gen_kv_int(g, "writes_per_second_limit", s->writes_per_second);
	json_gen_key(g, "documents");
	json_gen_array_open(g);
	TAILQ_FOREACH(d, &s->docs, link) {
		json_gen_object_open(g);
		json_gen_kv_string(g, "sid", d->sid);
		json_gen_kv_string(g, "unique_name", d->unique_name);
		sim_sync_kv_revision(g, d->revision);
		sim_sync_kv_data(g, d->data);
		sim_sync_kv_date(g, "date_expires", d->expires_ms);
		json_gen_object_close(g);
	}
	json_gen_array_close(g);
	json_gen_key(g, "maps");
	json_gen_array_open(g);
	TAILQ_FOREACH(m, &s->maps, link) {
		json_gen_object_open(g);
		json_gen_kv_string(g, "sid", m->sid);
		json_gen_kv_string(g, "unique_name", m->unique_name);
		sim_sync_kv_revision(g, m->revision);
		sim_sync_kv_date(g, "date_expires", m->expires_ms);
		json_gen_key(g, "items");
		json_gen_object_open(g);
		for (i = 0; i < m->nitems; i++) {
			json_gen_key(g, m->items[i]->key);
			json_gen_object_open(g);
			sim_sync_kv_revision(g, m->items[i]->revision);
			sim_sync_kv_data(g, m->items[i]->data);
			json_gen_object_close(g);
		}
		json_gen_object_close(g);
		json_gen_object_close(g);
	}
	json_gen_array_close(g);
	json_gen_object_close(g);
}

static void
sim_sync_rate_limit_reply(struct sim_request *r)
{
	struct json_gen *g = json_gen_new();

	json_gen_object_open(g);
	json_gen_kv_int(g, "writes_per_second", r->sim->sync->writes_per_second);
	json_gen_object_close(g);
	sim_reply_json(r, 200, g, NULL);
	json_gen_free(g);
}

static void
sim_sync_rate_limit_get_cb(struct sim_request *r)
{
	sim_sync_rate_limit_reply(r);
}

/* POST /sim/sync/rate_limit {"writes_per_second": n}; 0 turns the limit off. */
static void
sim_sync_rate_limit_set_cb(struct sim_request *r)
{
	struct json_doc *doc = NULL;
	int64_t v = -1;

	if (r->body_len == 0 || json_parse(r->body, r->body_len, NULL, &doc, NULL) < 0 ||
	    json_get_int64(json_doc_root(doc), "writes_per_second", &v) < 0 || v < 0 ||
	    v > 100000) {
		json_doc_free(doc);
		sim_reply_error(r, 400, 20001, "Body must be {\"writes_per_second\": 0..100000}");
		return;
	}
	json_doc_free(doc);
	r->sim->sync->writes_per_second = (int)v;
	log_info("sync write rate limit %s", v > 0 ? "on" : "off");
	sim_sync_rate_limit_reply(r);
}

static const struct sim_route sim_sync_routes[] = {
	{ "GET", "/v1/Services", sim_sync_services_list_cb, false },
	{ "GET", SIM_SYNC_SERVICE_PATTERN, sim_sync_service_fetch_cb, false },
	{ "GET", SIM_SYNC_SERVICE_PATTERN "/Documents", sim_sync_docs_list_cb, false },
	{ "POST", SIM_SYNC_SERVICE_PATTERN "/Documents", sim_sync_docs_create_cb, false },
	{ "GET", SIM_SYNC_SERVICE_PATTERN "/Documents/{ET}", sim_sync_doc_fetch_cb, false },
	{ "POST", SIM_SYNC_SERVICE_PATTERN "/Documents/{ET}", sim_sync_doc_update_cb, false },
	{ "DELETE", SIM_SYNC_SERVICE_PATTERN "/Documents/{ET}", sim_sync_doc_delete_cb, false },
	{ "GET", SIM_SYNC_SERVICE_PATTERN "/Maps", sim_sync_maps_list_cb, false },
	{ "POST", SIM_SYNC_SERVICE_PATTERN "/Maps", sim_sync_maps_create_cb, false },
	{ "GET", SIM_SYNC_SERVICE_PATTERN "/Maps/{MP}", sim_sync_map_fetch_cb, false },
	{ "POST", SIM_SYNC_SERVICE_PATTERN "/Maps/{MP}", sim_sync_map_update_cb, false },
	{ "DELETE", SIM_SYNC_SERVICE_PATTERN "/Maps/{MP}", sim_sync_map_delete_cb, false },
	{ "GET", SIM_SYNC_SERVICE_PATTERN "/Maps/{MP}/Items", sim_sync_items_list_cb, false },
	{ "POST", SIM_SYNC_SERVICE_PATTERN "/Maps/{MP}/Items", sim_sync_items_create_cb, false },
	{ "GET", SIM_SYNC_SERVICE_PATTERN "/Maps/{MP}/Items/{KEY}", sim_sync_item_fetch_cb, false },
	{ "POST", SIM_SYNC_SERVICE_PATTERN "/Maps/{MP}/Items/{KEY}", sim_sync_item_update_cb,
	  false },
	{ "DELETE", SIM_SYNC_SERVICE_PATTERN "/Maps/{MP}/Items/{KEY}", sim_sync_item_delete_cb,
	  false },
	{ "GET", "/sim/sync/rate_limit", sim_sync_rate_limit_get_cb, true },
	{ "POST", "/sim/sync/rate_limit", sim_sync_rate_limit_set_cb, true },
};

void
sim_sync_register_routes(struct sim *sim)
{
	sim_http_register(sim->http, sim_sync_routes,
			  sizeof(sim_sync_routes) / sizeof(sim_sync_routes[0]));
}
