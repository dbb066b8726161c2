/*
 * syncpub against a tiny fake Sync server: an evhttp server on 127.0.0.1:0
 * sharing the publisher's event_base. It implements just enough of
 * /v1/Services/{IS}/Documents, /Maps and /Maps/{map}/Items (revisions,
 * ETag, If-Match with 412, 404 with 54100/54200/54201, 409 on create) and
 * can inject faults per request (all of an object's, or one method's): a
 * status with an optional Retry-After, a hang (the client times out), a hold
 * that applies the request when it ends without answering (the emulator's
 * latency fault outlasting the client's timeout), or a reply delay. Every
 * request is logged with
 * its arrival time on the monotonic clock, so rates are measured where Sync
 * would measure them.
 */

#include <sys/socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "buf.h"
#include "form.h"
#include "hmap.h"
#include "http.h"
#include "http_async.h"
#include "rng.h"
#include "syncpub.h"
#include "twilio.h"
#include "xmalloc.h"

#define IS	   "IS00000000000000000000000000000000"
#define MAX_LOG	   4096
#define MAX_FAULTS 32
#define ID_MAX	   700

enum fake_method {
	FAKE_GET,
	FAKE_POST,
	FAKE_DELETE,
};

struct fake_obj {
	char *data;
	uint64_t rev;
};

struct fake_entry {
	enum fake_method method;
	char object[ID_MAX];	/* "d:name", "m:name" or "i:map/key" (the object addressed) */
	char container[ID_MAX]; /* "d:name" or "m:name" (whose write budget it uses) */
	char if_match[32];
	bool create; /* POST to a collection */
	int64_t t_ms;
	int status;
};

struct fake_fault {
	char object[ID_MAX]; /* matched against the entry's object; "" = any */
	int method;	     /* enum fake_method, or -1 = any */
	int status;	     /* 0 = hang (never answered) */
	int apply_ms;	     /* a hang: applied (unanswered) this long after arrival; 0 = never */
	int retry_after;     /* -1 = no header */
	int times;
};

/* A held request applied when its hold ends (fake_fault_hold). */
struct fake_late {
	struct fake *fake;
	struct event *ev;
	enum fake_method method;
	char *path;
	char *body;
	char *if_match;
};

struct fake_pending {
	struct fake *fake;
	struct evhttp_request *req;
	struct event *ev;
	int status;
	char *body;
	char etag[24];
	char object[ID_MAX];
};

struct fake {
	struct event_base *base;
	struct evhttp *http;
	int port;
	struct hmap *objs; /* object id -> struct fake_obj */
	struct fake_entry log[MAX_LOG];
	size_t nlog;
	struct fake_fault faults[MAX_FAULTS];
	size_t nfaults;
	double random_fault_rate; /* 429/503 with this probability */
	struct rng rng;
	int delay_ms;
	struct hmap *inflight; /* object id -> count (stored as pointer-sized integer) */
	int max_inflight_per_object;
	int inflight_total;
	int max_inflight_total;
	struct fake_pending *hung[64];
	size_t nhung;
	struct fake_late *late[64];
	size_t nlate;
	size_t applied_late; /* held requests applied so far */
	size_t max_page;     /* item list pages hold at most this many (0: PageSize) */
};

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
fake_put(struct fake *f, const char *id, const char *data, uint64_t rev)
{
	struct fake_obj *o = hmap_get(f->objs, id);

	if (o == NULL) {
		o = xcalloc(1, sizeof(*o));
		(void)hmap_put(f->objs, id, o);
	}
	free(o->data);
	o->data = xstrdup(data);
	o->rev = rev;
}

static void
fake_drop(struct fake *f, const char *id)
{
	struct fake_obj *o = hmap_remove(f->objs, id);

	if (o != NULL) {
		free(o->data);
		free(o);
	}
}

static const struct fake_obj *
fake_get(struct fake *f, const char *id)
{
	return hmap_get(f->objs, id);
}

static struct fake_fault *
fake_fault_on(struct fake *f, const char *object, int method, int status, int retry_after,
	      int times)
{
	struct fake_fault *x = &f->faults[f->nfaults++];

	assert_true(f->nfaults <= MAX_FAULTS);
	memset(x, 0, sizeof(*x));
	snprintf(x->object, sizeof(x->object), "%s", object);
	x->method = method;
	x->status = status;
	x->retry_after = retry_after;
	x->times = times;
	return x;
}

static void
fake_fault(struct fake *f, const char *object, int status, int retry_after, int times)
{
	(void)fake_fault_on(f, object, -1, status, retry_after, times);
}

/*
 * The emulator's latency fault outlasting the client's timeout: matching
 * requests (object "" = any) get no answer, and each is applied apply_ms
 * after it arrived, as Sync may apply a request its client gave up on.
 */
static struct fake_fault *
fake_fault_hold(struct fake *f, const char *object, int apply_ms, int times)
{
	struct fake_fault *x = fake_fault_on(f, object, -1, 0, -1, times);

	x->apply_ms = apply_ms;
	return x;
}

static void
fake_inflight_add(struct fake *f, const char *object, int delta)
{
	intptr_t n = (intptr_t)hmap_get(f->inflight, object);

	n += delta;
	if (n == 0)
		(void)hmap_remove(f->inflight, object);
	else
		(void)hmap_put(f->inflight, object, (void *)n);
	if (n > f->max_inflight_per_object)
		f->max_inflight_per_object = (int)n;
	f->inflight_total += delta;
	if (f->inflight_total > f->max_inflight_total)
		f->max_inflight_total = f->inflight_total;
}

static void
fake_send(struct fake_pending *p)
{
	struct evbuffer *b = evbuffer_new();
	struct evkeyvalq *h = evhttp_request_get_output_headers(p->req);

	evhttp_add_header(h, "Content-Type", "application/json");
	if (p->etag[0] != '\0')
		evhttp_add_header(h, "ETag", p->etag);
	evbuffer_add(b, p->body, strlen(p->body));
	evhttp_send_reply(p->req, p->status, "X", b);
	evbuffer_free(b);
	fake_inflight_add(p->fake, p->object, -1);
}

static void
fake_pending_free(struct fake_pending *p)
{
	if (p->ev != NULL)
		event_free(p->ev);
	free(p->body);
	free(p);
}

static void
fake_delay_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fake_pending *p = arg;

	fake_send(p);
	fake_pending_free(p);
}

/* Replies now or after the configured delay. */
static void
fake_reply(struct fake *f, struct evhttp_request *req, const char *object, int status,
	   const char *etag, char *body)
{
	struct fake_pending *p;

	if (req == NULL) { /* a held request applied late: nobody waits for the answer */
		free(body);
		return;
	}
	p = xcalloc(1, sizeof(*p));
	p->fake = f;
	p->req = req;
	p->status = status;
	p->body = body;
	snprintf(p->etag, sizeof(p->etag), "%s", etag != NULL ? etag : "");
	snprintf(p->object, sizeof(p->object), "%s", object);
	fake_inflight_add(f, object, 1);
	if (f->delay_ms > 0) {
		struct timeval tv = { f->delay_ms / 1000, (f->delay_ms % 1000) * 1000 };

		p->ev = evtimer_new(f->base, fake_delay_cb, p);
		evtimer_add(p->ev, &tv);
		return;
	}
	fake_send(p);
	fake_pending_free(p);
}

static void
fake_error(struct fake *f, struct evhttp_request *req, const char *object, int status, long code)
{
	fake_reply(f, req, object, status, NULL,
		   xasprintf("{\"code\":%ld,\"message\":\"fake error %ld\",\"status\":%d}", code,
			     code, status));
}

static void
fake_ok(struct fake *f, struct evhttp_request *req, const char *object, int status,
	const struct fake_obj *o)
{
	char etag[24];

	snprintf(etag, sizeof(etag), "%" PRIu64, o->rev);
	fake_reply(f, req, object, status, etag,
		   xasprintf("{\"revision\":\"%" PRIu64 "\",\"data\":%s}", o->rev, o->data));
}

/* Splits the path into decoded segments after /v1/Services/{IS}/. */
static size_t
fake_segments(const char *path, char seg[4][300])
{
	char *copy = xstrdup(path);
	char *p = copy;
	char *slash;
	size_t n = 0;
	size_t skip = 0;

	while (p != NULL && *p != '\0') {
		char *dec;

		if (*p == '/')
			p++;
		slash = strchr(p, '/');
		if (slash != NULL)
			*slash = '\0';
		if (skip < 3) { /* v1, Services, IS */
			skip++;
		} else if (n < 4) {
			dec = evhttp_uridecode(p, 0, NULL);
			snprintf(seg[n++], 300, "%s", dec);
			free(dec);
		}
		p = slash != NULL ? slash + 1 : NULL;
	}
	free(copy);
	return n;
}

static bool
fake_if_match_ok(const char *if_match, uint64_t rev)
{
	char want[24];

	if (if_match == NULL)
		return true;
	snprintf(want, sizeof(want), "%" PRIu64, rev);
	return strcmp(if_match, want) == 0;
}

static int
fake_strcmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* GET .../Maps/{map}/Items: keys in order, paged by PageSize and AfterKey. */
static void
fake_list_items(struct fake *f, struct evhttp_request *req, const char *map, const char *id)
{
	const char *query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
	struct form *q = NULL;
	const char *after;
	char prefix[ID_MAX];
	const char **keys = xcalloc(hmap_count(f->objs) + 1, sizeof(*keys));
	size_t nkeys = 0;
	size_t page_size;
	size_t pos = 0;
	size_t first = 0;
	size_t i;
	const char *key;
	void *value;
	struct buf b;

	assert_int_equal(form_parse(query != NULL ? query : "", query != NULL ? strlen(query) : 0,
				    NULL, &q, NULL),
			 0);
	page_size = (size_t)strtoul(
		form_get(q, "PageSize") != NULL ? form_get(q, "PageSize") : "50", NULL, 10);
	if (f->max_page > 0 && page_size > f->max_page)
		page_size = f->max_page;
	after = form_get(q, "AfterKey");
	snprintf(prefix, sizeof(prefix), "i:%s/", map);
	while (hmap_next(f->objs, &pos, &key, &value))
		if (strncmp(key, prefix, strlen(prefix)) == 0)
			keys[nkeys++] = key + strlen(prefix);
	qsort(keys, nkeys, sizeof(*keys), fake_strcmp);
	while (after != NULL && first < nkeys && strcmp(keys[first], after) <= 0)
		first++;
	buf_init(&b);
	buf_puts(&b, "{\"items\":[");
	for (i = first; i < nkeys && i < first + page_size; i++) {
		/* As Sync lists items: key, revision and data. */
		char item[ID_MAX];
		const struct fake_obj *o;

		snprintf(item, sizeof(item), "%s%s", prefix, keys[i]);
		o = hmap_get(f->objs, item);
		buf_printf(&b, "%s{\"key\":\"%s\",\"revision\":\"%" PRIu64 "\",\"data\":%s}",
			   i > first ? "," : "", keys[i], o->rev, o->data);
	}
	buf_printf(&b,
		   "],\"meta\":{\"key\":\"items\",\"page_size\":%zu,\"next_page_url\":", page_size);
	if (i < nkeys)
		buf_printf(&b,
			   "\"http://127.0.0.1:%d/v1/Services/" IS
			   "/Maps/%s/Items?PageSize=%zu&AfterKey=%s\"}}",
			   f->port, map, page_size, keys[i - 1]);
	else
		buf_puts(&b, "null}}");
	fake_reply(f, req, id, 200, NULL, buf_steal(&b, NULL));
	free(keys);
	form_free(q);
}

static void fake_process(struct fake *f, struct evhttp_request *req, enum fake_method method,
			 const char *path, const char *body, const char *if_match);

static void
fake_late_free(struct fake_late *l)
{
	if (l->ev != NULL)
		event_free(l->ev);
	free(l->path);
	free(l->body);
	free(l->if_match);
	free(l);
}

static void
fake_late_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fake_late *l = arg;

	l->fake->applied_late++;
	if (l->method != FAKE_GET) /* a read applied late changes nothing */
		fake_process(l->fake, NULL, l->method, l->path, l->body, l->if_match);
	event_free(l->ev);
	l->ev = NULL;
}

static void
fake_handler(struct evhttp_request *req, void *arg)
{
	struct fake *f = arg;
	const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	char *body = xmalloc(len + 1);
	enum fake_method method;

	evbuffer_copyout(in, body, len);
	body[len] = '\0';
	switch (evhttp_request_get_command(req)) {
	case EVHTTP_REQ_GET:
		method = FAKE_GET;
		break;
	case EVHTTP_REQ_DELETE:
		method = FAKE_DELETE;
		break;
	default:
		method = FAKE_POST;
		break;
	}
	fake_process(f, req, method, path != NULL ? path : "/", body,
		     evhttp_find_header(evhttp_request_get_input_headers(req), "If-Match"));
	free(body);
}

/*
 * Handles one request: logs it, applies the first matching fault, else
 * serves it. req NULL: a held request applied late (fake_fault_hold), not
 * logged again, no fault, nobody answered.
 */
static void
fake_process(struct fake *f, struct evhttp_request *req, enum fake_method method, const char *path,
	     const char *body, const char *if_match)
{
	struct fake_entry late_entry = { 0 };
	struct fake_entry *e =
		req != NULL ? &f->log[f->nlog < MAX_LOG ? f->nlog++ : MAX_LOG - 1] : &late_entry;
	char seg[4][300];
	size_t nseg = fake_segments(path, seg);
	struct form *form = NULL;
	const char *data;
	struct fake_obj *o;
	char id[ID_MAX];
	char map_id[ID_MAX];
	size_t i;

	assert_int_equal(form_parse(body, strlen(body), NULL, &form, NULL), 0);
	memset(e, 0, sizeof(*e));
	e->t_ms = mono_ms();
	e->method = method;
	snprintf(e->if_match, sizeof(e->if_match), "%s", if_match != NULL ? if_match : "");
	data = form_get(form, "Data");

	/* Which object and container. */
	if (nseg >= 1 && strcmp(seg[0], "Documents") == 0) {
		const char *name = nseg >= 2 ? seg[1] : form_get(form, "UniqueName");

		snprintf(id, sizeof(id), "d:%s", name != NULL ? name : "");
		snprintf(e->container, sizeof(e->container), "%s", id);
		e->create = nseg == 1;
	} else if (nseg >= 1 && strcmp(seg[0], "Maps") == 0) {
		const char *name = nseg >= 2 ? seg[1] : form_get(form, "UniqueName");

		snprintf(map_id, sizeof(map_id), "m:%s", name != NULL ? name : "");
		snprintf(e->container, sizeof(e->container), "%s", map_id);
		if (nseg >= 3) {
			const char *key = nseg >= 4 ? seg[3] : form_get(form, "Key");

			snprintf(id, sizeof(id), "i:%s/%s", seg[1], key != NULL ? key : "");
			e->create = nseg == 3;
		} else {
			snprintf(id, sizeof(id), "%s", map_id);
			e->create = nseg == 1;
		}
	} else {
		snprintf(id, sizeof(id), "?");
	}
	snprintf(e->object, sizeof(e->object), "%s", id);

	/* Injected faults. */
	for (i = 0; req != NULL && i < f->nfaults; i++) {
		struct fake_fault *x = &f->faults[i];

		if (x->times <= 0 || (x->object[0] != '\0' && strcmp(x->object, id) != 0) ||
		    (x->method >= 0 && x->method != (int)method))
			continue;
		x->times--;
		e->status = x->status;
		if (x->status == 0) {
			struct fake_pending *p = xcalloc(1, sizeof(*p));

			assert_true(f->nhung < 64);
			p->req = req;
			f->hung[f->nhung++] = p;
			if (x->apply_ms > 0) {
				struct fake_late *l = xcalloc(1, sizeof(*l));
				struct timeval tv = { x->apply_ms / 1000,
						      (x->apply_ms % 1000) * 1000 };

				assert_true(f->nlate < 64);
				l->fake = f;
				l->method = method;
				l->path = xstrdup(path);
				l->body = xstrdup(body);
				l->if_match = if_match != NULL ? xstrdup(if_match) : NULL;
				l->ev = evtimer_new(f->base, fake_late_cb, l);
				evtimer_add(l->ev, &tv);
				f->late[f->nlate++] = l;
			}
			goto out;
		}
		if (x->retry_after >= 0) {
			char h[16];

			snprintf(h, sizeof(h), "%d", x->retry_after);
			evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", h);
		}
		fake_error(f, req, id, x->status, x->status == 429 ? 54009 : x->status);
		goto out;
	}
	if (req != NULL && f->random_fault_rate > 0 && rng_double(&f->rng) < f->random_fault_rate) {
		e->status = rng_below(&f->rng, 2) == 0 ? 429 : 503;
		fake_error(f, req, id, e->status, e->status == 429 ? 54009 : e->status);
		goto out;
	}

	if (id[0] == 'i' && hmap_get(f->objs, map_id) == NULL) {
		e->status = 404;
		fake_error(f, req, id, 404, 54200);
		goto out;
	}
	o = hmap_get(f->objs, id);
	if (e->create && id[0] == 'i' && e->method == FAKE_GET) {
		e->status = 200;
		fake_list_items(f, req, seg[1], id);
		goto out;
	}
	if (e->create) {
		if (e->method != FAKE_POST) {
			e->status = 405;
			fake_error(f, req, id, 405, 20004);
		} else if (o != NULL) {
			e->status = 409;
			fake_error(f, req, id, 409, id[0] == 'i' ? 54208 : 54301);
		} else {
			fake_put(f, id, data != NULL ? data : "{}", 0);
			e->status = 201;
			fake_ok(f, req, id, 201, fake_get(f, id));
		}
		goto out;
	}
	if (o == NULL) {
		e->status = 404;
		fake_error(f, req, id, 404, id[0] == 'd' ? 54100 : id[0] == 'm' ? 54200 : 54201);
		goto out;
	}
	switch (e->method) {
	case FAKE_GET:
		e->status = 200;
		fake_ok(f, req, id, 200, o);
		break;
	case FAKE_POST:
		if (!fake_if_match_ok(if_match, o->rev)) {
			e->status = 412;
			fake_error(f, req, id, 412, id[0] == 'd' ? 54103 : 54205);
			break;
		}
		if (data == NULL) {
			e->status = 400;
			fake_error(f, req, id, 400, 54010);
			break;
		}
		fake_put(f, id, data, o->rev + 1);
		e->status = 200;
		fake_ok(f, req, id, 200, fake_get(f, id));
		break;
	case FAKE_DELETE:
		fake_drop(f, id);
		e->status = 204;
		fake_reply(f, req, id, 204, NULL, xstrdup(""));
		break;
	}
out:
	form_free(form);
}

struct fixture {
	struct event_base *base;
	struct fake fake;
	struct http_async *client;
	struct twilio *tw;
	struct syncpub *sp;
	struct event *deadline;
	struct event *tick;
	bool expired;
};

static void
fixture_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fixture *f = arg;

	f->expired = true;
}

static void
fixture_tick_cb(evutil_socket_t fd, short what, void *arg)
{
}

/* Runs the loop until pred(f) or timeout_ms; true when pred held. */
static bool
run_until(struct fixture *f, bool (*pred)(struct fixture *), int timeout_ms)
{
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };

	f->expired = false;
	evtimer_add(f->deadline, &tv);
	while (!pred(f) && !f->expired)
		event_base_loop(f->base, EVLOOP_ONCE);
	evtimer_del(f->deadline);
	return pred(f);
}

static bool
never(struct fixture *f)
{
	return false;
}

static void
run_for(struct fixture *f, int ms)
{
	(void)run_until(f, never, ms);
}

static bool
converged(struct fixture *f)
{
	return syncpub_pending(f->sp) == 0;
}

static bool
some_request(struct fixture *f)
{
	return f->fake.nlog > 0;
}

static void
fixture_publisher(struct fixture *f, const struct syncpub_options *opts, long timeout_ms)
{
	struct twilio_client_config cfg = { 0 };
	char base_url[64];

	snprintf(base_url, sizeof(base_url), "http://127.0.0.1:%d", f->fake.port);
	cfg.account_sid = "AC00000000000000000000000000000000";
	cfg.auth_token = "secret";
	cfg.base_url = base_url;
	cfg.timeout_ms = timeout_ms;
	twilio_free(f->tw);
	syncpub_free(f->sp);
	assert_int_equal(twilio_new(&cfg, &f->tw, NULL), 0);
	f->sp = syncpub_new(f->base, f->client, f->tw, IS, opts, NULL);
	assert_non_null(f->sp);
}

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	struct evhttp_bound_socket *bound;
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	struct syncpub_options opts = { .writes_per_second = 100,
					.retry_base_ms = 5,
					.retry_max_ms = 50 };
	struct timeval tick = { 0, 10000 };

	f->base = event_base_new();
	f->fake.base = f->base;
	f->fake.objs = hmap_new();
	f->fake.inflight = hmap_new();
	rng_seed(&f->fake.rng, 42);
	f->fake.http = evhttp_new(f->base);
	evhttp_set_allowed_methods(f->fake.http,
				   EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_DELETE);
	evhttp_set_gencb(f->fake.http, fake_handler, &f->fake);
	bound = evhttp_bind_socket_with_handle(f->fake.http, "127.0.0.1", 0);
	assert_non_null(bound);
	assert_int_equal(
		getsockname(evhttp_bound_socket_get_fd(bound), (struct sockaddr *)&sin, &len), 0);
	f->fake.port = ntohs(sin.sin_port);
	f->deadline = evtimer_new(f->base, fixture_deadline_cb, f);
	f->tick = event_new(f->base, -1, EV_PERSIST, fixture_tick_cb, f);
	evtimer_add(f->tick, &tick);
	f->client = http_async_new(f->base, NULL);
	fixture_publisher(f, &opts, 2000);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	size_t pos = 0;
	const char *key;
	void *value;
	size_t i;

	syncpub_free(f->sp);
	twilio_free(f->tw);
	http_async_free(f->client);
	for (i = 0; i < f->fake.nhung; i++)
		fake_pending_free(f->fake.hung[i]);
	for (i = 0; i < f->fake.nlate; i++)
		fake_late_free(f->fake.late[i]);
	evhttp_free(f->fake.http);
	while (hmap_next(f->fake.objs, &pos, &key, &value)) {
		struct fake_obj *o = value;

		(void)hmap_remove(f->fake.objs, key);
		free(o->data);
		free(o);
	}
	hmap_free(f->fake.objs);
	hmap_free(f->fake.inflight);
	event_free(f->deadline);
	event_free(f->tick);
	event_base_free(f->base);
	free(f);
	return 0;
}

static int
set_doc(struct fixture *f, const char *name, const char *json)
{
	return syncpub_set_document(f->sp, name, json, strlen(json));
}

static int
set_item(struct fixture *f, const char *map, const char *key, const char *json)
{
	return syncpub_set_map_item(f->sp, map, key, json, strlen(json));
}

static const char *
fake_data(struct fixture *f, const char *id)
{
	const struct fake_obj *o = fake_get(&f->fake, id);

	return o != NULL ? o->data : NULL;
}

/* Requests the fake saw for object id (method -1: any). */
static size_t
count_requests(struct fixture *f, const char *id, int method)
{
	size_t n = 0;
	size_t i;

	for (i = 0; i < f->fake.nlog; i++)
		if (strcmp(f->fake.log[i].object, id) == 0 &&
		    (method < 0 || (int)f->fake.log[i].method == method))
			n++;
	return n;
}

/* Requests logged from index `from` on that are not GETs (writes: POST, DELETE). */
static size_t
count_writes_from(struct fixture *f, size_t from)
{
	size_t n = 0;
	size_t i;

	for (i = from; i < f->fake.nlog; i++)
		if (f->fake.log[i].method != FAKE_GET)
			n++;
	return n;
}

/* The most writes (POST, DELETE) for container within any window_ms, at the fake. */
static size_t
max_writes_in_window(struct fixture *f, const char *container, int64_t window_ms)
{
	size_t best = 0;
	size_t i;
	size_t j;

	for (i = 0; i < f->fake.nlog; i++) {
		size_t n = 0;

		if (f->fake.log[i].method == FAKE_GET ||
		    strcmp(f->fake.log[i].container, container) != 0)
			continue;
		for (j = i; j < f->fake.nlog; j++)
			if (f->fake.log[j].method != FAKE_GET &&
			    strcmp(f->fake.log[j].container, container) == 0 &&
			    f->fake.log[j].t_ms - f->fake.log[i].t_ms < window_ms)
				n++;
		if (n > best)
			best = n;
	}
	return best;
}

/* The most requests for container within any window_ms (arrival times at the fake). */
static size_t
max_in_window(struct fixture *f, const char *container, int64_t window_ms)
{
	size_t best = 0;
	size_t i;
	size_t j;

	for (i = 0; i < f->fake.nlog; i++) {
		size_t n = 0;

		if (strcmp(f->fake.log[i].container, container) != 0)
			continue;
		for (j = i; j < f->fake.nlog; j++)
			if (strcmp(f->fake.log[j].container, container) == 0 &&
			    f->fake.log[j].t_ms - f->fake.log[i].t_ms < window_ms)
				n++;
		if (n > best)
			best = n;
	}
	return best;
}

static void
test_syncpub_creates_document_on_404_then_updates_with_if_match(void **state)
{
	struct fixture *f = *state;
	struct syncpub_stats st;

	assert_int_equal(set_doc(f, "SyncTaskRouterStats", "{\"totalTasks\":1}"), 0);
	assert_int_equal(syncpub_pending(f->sp), 1);
	assert_true(run_until(f, converged, 3000));
	assert_string_equal(fake_data(f, "d:SyncTaskRouterStats"), "{\"totalTasks\":1}");
	/* update (404), then create */
	assert_int_equal(f->fake.nlog, 2);
	assert_int_equal(f->fake.log[0].status, 404);
	assert_false(f->fake.log[0].create);
	assert_string_equal(f->fake.log[0].if_match, "");
	assert_true(f->fake.log[1].create);
	assert_int_equal(f->fake.log[1].status, 201);

	assert_int_equal(set_doc(f, "SyncTaskRouterStats", "{\"totalTasks\":2}"), 0);
	assert_true(run_until(f, converged, 3000));
	assert_int_equal(f->fake.nlog, 3);
	assert_string_equal(f->fake.log[2].if_match, "0"); /* the revision create returned */
	assert_int_equal(f->fake.log[2].status, 200);
	assert_string_equal(fake_data(f, "d:SyncTaskRouterStats"), "{\"totalTasks\":2}");

	/* The same value again is not a write. */
	assert_int_equal(set_doc(f, "SyncTaskRouterStats", "{\"totalTasks\":2}"), 0);
	assert_int_equal(syncpub_pending(f->sp), 0);
	run_for(f, 50);
	assert_int_equal(f->fake.nlog, 3);
	syncpub_get_stats(f->sp, &st);
	assert_int_equal(st.written, 2);
	assert_int_equal(st.dropped, 0);
}

static void
test_syncpub_latest_wins_during_a_slow_write(void **state)
{
	struct fixture *f = *state;
	struct syncpub_stats st;
	char json[64];
	int i;

	fake_put(&f->fake, "d:SyncTaskRouterEvents", "{}", 0);
	f->fake.delay_ms = 300;
	assert_int_equal(set_doc(f, "SyncTaskRouterEvents", "{\"n\":0}"), 0);
	assert_true(run_until(f, some_request, 2000));
	for (i = 1; i <= 100; i++) {
		snprintf(json, sizeof(json), "{\"n\":%d}", i);
		assert_int_equal(set_doc(f, "SyncTaskRouterEvents", json), 0);
		if (i % 10 == 0)
			event_base_loop(f->base, EVLOOP_NONBLOCK);
	}
	assert_int_equal(syncpub_pending(f->sp), 1);
	assert_true(run_until(f, converged, 5000));
	assert_true(count_requests(f, "d:SyncTaskRouterEvents", FAKE_POST) <= 2);
	assert_string_equal(fake_data(f, "d:SyncTaskRouterEvents"), "{\"n\":100}");
	assert_int_equal(f->fake.max_inflight_per_object, 1);
	syncpub_get_stats(f->sp, &st);
	assert_true(st.superseded >= 99);
	assert_int_equal(st.written, 2);
}

static void
test_syncpub_one_request_in_flight_per_object(void **state)
{
	struct fixture *f = *state;
	char key[32];
	char json[64];
	int round;
	int i;

	fake_put(&f->fake, "m:SyncTaskRouterTasks", "{}", 0);
	f->fake.delay_ms = 50;
	for (round = 0; round < 5; round++) {
		for (i = 0; i < 8; i++) {
			snprintf(key, sizeof(key), "WT%d", i);
			snprintf(json, sizeof(json), "{\"round\":%d}", round);
			assert_int_equal(set_item(f, "SyncTaskRouterTasks", key, json), 0);
		}
		run_for(f, 20);
	}
	assert_true(run_until(f, converged, 5000));
	assert_int_equal(f->fake.max_inflight_per_object, 1);
	assert_true(f->fake.max_inflight_total > 1); /* different objects do overlap */
	for (i = 0; i < 8; i++) {
		char id[64];

		snprintf(id, sizeof(id), "i:SyncTaskRouterTasks/WT%d", i);
		assert_string_equal(fake_data(f, id), "{\"round\":4}");
	}
}

static bool
all_ten_items(struct fixture *f)
{
	return converged(f) && f->fake.nlog >= 11;
}

static void
test_syncpub_rate_cap_per_container(void **state)
{
	struct fixture *f = *state;
	struct syncpub_options opts = { .writes_per_second = 4, .retry_base_ms = 5 };
	char key[32];
	char id[64];
	int64_t start;
	int64_t doc_at = -1;
	size_t pos[10] = { 0 };
	size_t n;
	size_t i;

	fixture_publisher(f, &opts, 2000);
	fake_put(&f->fake, "m:M", "{}", 0);
	fake_put(&f->fake, "d:D", "{}", 0);
	for (i = 0; i < 10; i++) {
		snprintf(id, sizeof(id), "i:M/k%zu", i);
		fake_put(&f->fake, id, "{}", 0);
	}
	start = mono_ms();
	for (i = 0; i < 10; i++) {
		snprintf(key, sizeof(key), "k%zu", i);
		assert_int_equal(set_item(f, "M", key, "{\"v\":1}"), 0);
	}
	run_for(f, 100);
	/* The map's queue is full; the document has its own budget. */
	assert_int_equal(set_doc(f, "D", "{\"v\":1}"), 0);
	assert_true(run_until(f, all_ten_items, 6000));
	assert_int_equal(f->fake.nlog, 11);
	for (i = 0; i < f->fake.nlog; i++)
		if (strcmp(f->fake.log[i].container, "d:D") == 0)
			doc_at = f->fake.log[i].t_ms;
	assert_true(doc_at >= 0 && doc_at - start < 500);
	assert_true(max_in_window(f, "m:M", 1000) <= 4);
	/* 10 writes at 4 per second cannot finish within two windows. */
	assert_true(mono_ms() - start >= 2000);
	/*
	 * FIFO: item i+4 (the cap) starts only after item i finished, so it
	 * reaches the server later, whatever the order within a window.
	 */
	n = 0;
	for (i = 0; i < f->fake.nlog; i++) {
		if (strcmp(f->fake.log[i].container, "m:M") != 0)
			continue;
		pos[strtoul(f->fake.log[i].object + strlen("i:M/k"), NULL, 10)] = n++;
	}
	for (i = 0; i + 4 < 10; i++)
		assert_true(pos[i] < pos[i + 4]);
	assert_int_equal(n, 10);
}

static void
test_syncpub_large_payloads_get_two_writes_per_second(void **state)
{
	struct fixture *f = *state;
	struct syncpub_options opts = { .writes_per_second = 10 };
	char *big = xmalloc(11 * 1024);
	char key[16];
	size_t i;

	fixture_publisher(f, &opts, 2000);
	fake_put(&f->fake, "m:Big", "{}", 0);
	memset(big, ' ', 11 * 1024 - 1);
	big[0] = '{';
	big[11 * 1024 - 2] = '}';
	big[11 * 1024 - 1] = '\0';
	for (i = 0; i < 5; i++) {
		snprintf(key, sizeof(key), "k%zu", i);
		assert_int_equal(syncpub_set_map_item(f->sp, "Big", key, big, strlen(big)), 0);
	}
	/* 5 items, each update 404 then create: 10 requests at <= 2 per second. */
	assert_true(run_until(f, converged, 8000));
	assert_true(max_in_window(f, "m:Big", 1000) <= 2);
	free(big);
}

static void
test_syncpub_rereads_the_revision_on_412(void **state)
{
	struct fixture *f = *state;
	size_t n;

	fake_put(&f->fake, "d:D", "{}", 0);
	assert_int_equal(set_doc(f, "D", "{\"v\":1}"), 0);
	assert_true(run_until(f, converged, 3000));
	assert_int_equal(fake_get(&f->fake, "d:D")->rev, 1);
	/* Someone else writes: our known revision (1) is stale. */
	fake_put(&f->fake, "d:D", "{\"other\":true}", 7);
	n = f->fake.nlog;
	assert_int_equal(set_doc(f, "D", "{\"v\":2}"), 0);
	assert_true(run_until(f, converged, 3000));
	assert_int_equal(f->fake.nlog, n + 3);
	assert_string_equal(f->fake.log[n].if_match, "1");
	assert_int_equal(f->fake.log[n].status, 412);
	assert_int_equal(f->fake.log[n + 1].method, FAKE_GET);
	assert_string_equal(f->fake.log[n + 2].if_match, "7");
	assert_int_equal(f->fake.log[n + 2].status, 200);
	assert_string_equal(fake_data(f, "d:D"), "{\"v\":2}");
}

static void
test_syncpub_create_conflict_fetches_then_updates(void **state)
{
	struct fixture *f = *state;

	fake_put(&f->fake, "d:D", "{}", 3);
	/* The first update is lost as if the document did not exist yet. */
	fake_fault(&f->fake, "d:D", 404, -1, 1);
	assert_int_equal(set_doc(f, "D", "{\"v\":1}"), 0);
	assert_true(run_until(f, converged, 3000));
	assert_int_equal(f->fake.nlog, 4);
	assert_true(f->fake.log[1].create);
	assert_int_equal(f->fake.log[1].status, 409);
	assert_int_equal(f->fake.log[2].method, FAKE_GET);
	assert_string_equal(f->fake.log[3].if_match, "3");
	assert_string_equal(fake_data(f, "d:D"), "{\"v\":1}");
}

static void
test_syncpub_retries_429_honouring_retry_after(void **state)
{
	struct fixture *f = *state;
	struct syncpub_stats st;

	fake_put(&f->fake, "d:D", "{}", 0);
	fake_fault(&f->fake, "d:D", 429, 1, 1);
	assert_int_equal(set_doc(f, "D", "{\"v\":1}"), 0);
	assert_true(run_until(f, converged, 5000));
	assert_int_equal(f->fake.nlog, 2);
	assert_int_equal(f->fake.log[0].status, 429);
	assert_int_equal(f->fake.log[1].status, 200);
	assert_true(f->fake.log[1].t_ms - f->fake.log[0].t_ms >= 990);
	assert_string_equal(fake_data(f, "d:D"), "{\"v\":1}");
	syncpub_get_stats(f->sp, &st);
	assert_int_equal(st.retries, 1);
}

static void
test_syncpub_retries_5xx_and_timeouts_until_written(void **state)
{
	struct fixture *f = *state;
	struct syncpub_options opts = { .writes_per_second = 100,
					.retry_base_ms = 5,
					.retry_max_ms = 20 };
	struct syncpub_stats st;

	/* 1 s: long enough that only the hung request times out, also under valgrind on a
	 * loaded host (at 300 ms one CI run under valgrind counted a retry more than the fake
	 * logged requests: most likely a request that timed out before the fake read it) */
	opts.probe_ms = 20;
	fixture_publisher(f, &opts, 1000);
	fake_put(&f->fake, "d:D", "{}", 0);
	fake_fault_on(&f->fake, "d:D", FAKE_POST, 503, -1, 3);
	fake_fault_on(&f->fake, "d:D", FAKE_POST, 0, -1, 1); /* hangs: the client times out */
	fake_fault_on(&f->fake, "d:D", FAKE_POST, 500, -1, 20);
	assert_int_equal(set_doc(f, "D", "{\"v\":1}"), 0);
	assert_true(run_until(f, converged, 10000));
	assert_string_equal(fake_data(f, "d:D"), "{\"v\":1}");
	/*
	 * 24 failed writes and the 25th; after each failure a probe read, answered
	 * (another may start when one takes longer than the probe interval)
	 */
	assert_int_equal(count_requests(f, "d:D", FAKE_POST), 25);
	assert_true(count_requests(f, "d:D", FAKE_GET) >= 24);
	syncpub_get_stats(f->sp, &st);
	assert_int_equal(st.retries, 24);
	assert_int_equal(st.dropped, 0);
}

static void
test_syncpub_refuses_oversized_and_malformed_data(void **state)
{
	struct fixture *f = *state;
	size_t n = SYNCPUB_MAX_DATA_BYTES + 1;
	char *big = xmalloc(n + 1);
	char name[SYNCPUB_MAX_NAME_BYTES + 2];

	memset(big, ' ', n);
	big[0] = '{';
	big[n - 1] = '}';
	big[n] = '\0';
	assert_int_equal(syncpub_set_document(f->sp, "D", big, n), -E2BIG);
	assert_int_equal(syncpub_set_map_item(f->sp, "M", "k", big, n), -E2BIG);
	/* Exactly 16 KiB is fine. */
	big[n - 2] = '}';
	assert_int_equal(syncpub_set_document(f->sp, "D", big, n - 1), 0);
	free(big);
	syncpub_remove_map_item(f->sp, "M", "never-set");
	assert_true(run_until(f, converged, 3000));

	assert_int_equal(set_doc(f, "D", "[1,2]"), -EINVAL);
	assert_int_equal(set_doc(f, "D", "{\"a\":"), -EINVAL);
	assert_int_equal(set_doc(f, "D", ""), -EINVAL);
	assert_int_equal(syncpub_set_document(f->sp, "D", NULL, 0), -EINVAL);
	assert_int_equal(set_doc(f, "", "{}"), -EINVAL);
	assert_int_equal(set_item(f, "M", "", "{}"), -EINVAL);
	memset(name, 'k', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	assert_int_equal(set_item(f, "M", name, "{}"), -EINVAL);
	assert_int_equal(set_doc(f, name, "{}"), -EINVAL);
	assert_int_equal(syncpub_pending(f->sp), 0);
}

static void
test_syncpub_creates_the_map_and_deletes_items(void **state)
{
	struct fixture *f = *state;
	size_t n;

	assert_int_equal(set_item(f, "SyncTaskRouterTasks", "WT1", "{\"s\":\"pending\"}"), 0);
	assert_true(run_until(f, converged, 3000));
	assert_non_null(fake_get(&f->fake, "m:SyncTaskRouterTasks"));
	assert_string_equal(fake_data(f, "i:SyncTaskRouterTasks/WT1"), "{\"s\":\"pending\"}");
	/* update 404 (54200), create map, create item */
	assert_int_equal(f->fake.nlog, 3);
	assert_string_equal(f->fake.log[1].object, "m:SyncTaskRouterTasks");
	assert_true(f->fake.log[1].create);
	assert_true(f->fake.log[2].create);

	syncpub_remove_map_item(f->sp, "SyncTaskRouterTasks", "WT1");
	assert_int_equal(syncpub_pending(f->sp), 1);
	assert_true(run_until(f, converged, 3000));
	assert_null(fake_get(&f->fake, "i:SyncTaskRouterTasks/WT1"));
	assert_int_equal(f->fake.log[3].method, FAKE_DELETE);

	/* The map was created here, so an item never written is known absent: no request. */
	n = f->fake.nlog;
	syncpub_remove_map_item(f->sp, "SyncTaskRouterTasks", "WT2");
	assert_true(run_until(f, converged, 3000));
	assert_int_equal(f->fake.nlog, n);

	/* In a map whose contents are not known, already gone (404) counts as deleted. */
	fake_put(&f->fake, "m:Other", "{}", 0);
	syncpub_remove_map_item(f->sp, "Other", "WT2");
	assert_true(run_until(f, converged, 3000));
	assert_int_equal(f->fake.nlog, n + 1);
	assert_int_equal(f->fake.log[n].status, 404);
	n = f->fake.nlog;

	/* Set, remove, set again before anything completes: the last one wins. */
	f->fake.delay_ms = 100;
	assert_int_equal(set_item(f, "SyncTaskRouterTasks", "WT3", "{\"v\":1}"), 0);
	assert_true(run_until(f, some_request, 1000));
	syncpub_remove_map_item(f->sp, "SyncTaskRouterTasks", "WT3");
	assert_int_equal(set_item(f, "SyncTaskRouterTasks", "WT3", "{\"v\":3}"), 0);
	assert_true(run_until(f, converged, 3000));
	assert_string_equal(fake_data(f, "i:SyncTaskRouterTasks/WT3"), "{\"v\":3}");

	/* Remove during a write: the item ends up deleted. */
	assert_int_equal(set_item(f, "SyncTaskRouterTasks", "WT4", "{\"v\":1}"), 0);
	run_for(f, 20);
	syncpub_remove_map_item(f->sp, "SyncTaskRouterTasks", "WT4");
	assert_true(run_until(f, converged, 3000));
	assert_null(fake_get(&f->fake, "i:SyncTaskRouterTasks/WT4"));
}

static void
test_syncpub_drops_a_value_on_a_final_error(void **state)
{
	struct fixture *f = *state;
	struct syncpub_stats st;

	fake_put(&f->fake, "d:D", "{}", 0);
	fake_fault(&f->fake, "d:D", 400, -1, 1);
	assert_int_equal(set_doc(f, "D", "{\"v\":1}"), 0);
	assert_true(run_until(f, converged, 3000));
	assert_int_equal(f->fake.nlog, 1);
	assert_string_equal(fake_data(f, "d:D"), "{}");
	syncpub_get_stats(f->sp, &st);
	assert_int_equal(st.dropped, 1);
	/* The same value again is tried again (a dropped value is not "the latest written"). */
	assert_int_equal(set_doc(f, "D", "{\"v\":1}"), 0);
	assert_true(run_until(f, converged, 3000));
	assert_string_equal(fake_data(f, "d:D"), "{\"v\":1}");
	/* The next value is written normally. */
	assert_int_equal(set_doc(f, "D", "{\"v\":2}"), 0);
	assert_true(run_until(f, converged, 3000));
	assert_string_equal(fake_data(f, "d:D"), "{\"v\":2}");
}

static void
test_syncpub_free_with_writes_in_flight(void **state)
{
	struct fixture *f = *state;
	struct http_async_stats hs;
	char key[16];
	int i;

	fake_fault(&f->fake, "d:D", 429, 30, 1); /* one object in a 30 s backoff */
	assert_int_equal(set_doc(f, "D", "{}"), 0);
	assert_true(run_until(f, some_request, 1000));
	run_for(f, 50);
	f->fake.delay_ms = 300;
	fake_put(&f->fake, "m:M", "{}", 0);
	for (i = 0; i < 5; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		assert_int_equal(set_item(f, "M", key, "{}"), 0);
	}
	run_for(f, 100);
	assert_int_equal(f->fake.nlog, 6);
	http_async_get_stats(f->client, &hs);
	assert_int_equal(hs.in_flight, 5);
	syncpub_free(f->sp);
	f->sp = NULL;
	http_async_get_stats(f->client, &hs);
	assert_int_equal(hs.in_flight, 0);
	assert_int_equal(hs.cancelled, 5);
	run_for(f, 400); /* replies arrive for nobody; timers are gone */
	assert_int_equal(f->fake.nlog, 6);
}

static void
test_syncpub_converges_under_random_faults(void **state)
{
	struct fixture *f = *state;
	struct syncpub_options opts = { .writes_per_second = 20,
					.retry_base_ms = 5,
					.retry_max_ms = 100 };
	struct rng r;
	char key[16];
	char json[64];
	char id[64];
	int truth[30];
	int round;
	int i;

	fixture_publisher(f, &opts, 2000);
	rng_seed(&r, 7);
	f->fake.random_fault_rate = 0.3;
	memset(truth, 0, sizeof(truth));
	for (round = 1; round <= 20; round++) {
		for (i = 0; i < 10; i++) {
			int k = (int)rng_below(&r, 30);

			snprintf(key, sizeof(key), "WT%d", k);
			if (rng_below(&r, 5) == 0) {
				syncpub_remove_map_item(f->sp, "Tasks", key);
				truth[k] = -1;
			} else {
				snprintf(json, sizeof(json), "{\"r\":%d}", round);
				assert_int_equal(set_item(f, "Tasks", key, json), 0);
				truth[k] = round;
			}
		}
		snprintf(json, sizeof(json), "{\"round\":%d}", round);
		assert_int_equal(set_doc(f, "Stats", json), 0);
		run_for(f, 30);
	}
	assert_true(run_until(f, converged, 20000));
	f->fake.random_fault_rate = 0;
	assert_string_equal(fake_data(f, "d:Stats"), "{\"round\":20}");
	for (i = 0; i < 30; i++) {
		snprintf(id, sizeof(id), "i:Tasks/WT%d", i);
		if (truth[i] > 0) {
			snprintf(json, sizeof(json), "{\"r\":%d}", truth[i]);
			assert_string_equal(fake_data(f, id), json);
		} else {
			assert_null(fake_data(f, id));
		}
	}
	assert_true(max_writes_in_window(f, "m:Tasks", 1000) <= 20);
	assert_true(max_writes_in_window(f, "d:Stats", 1000) <= 20);
	assert_int_equal(f->fake.max_inflight_per_object, 1);
}

static void
test_syncpub_prune_deletes_items_nobody_set(void **state)
{
	struct fixture *f = *state;
	char id[32];
	size_t lists = 0;
	size_t i;

	fake_put(&f->fake, "m:M", "{}", 0);
	for (i = 1; i <= 5; i++) {
		snprintf(id, sizeof(id), "i:M/k%zu", i);
		fake_put(&f->fake, id, "{\"stale\":true}", 0);
	}
	f->fake.max_page = 2;
	assert_int_equal(set_item(f, "M", "k2", "{\"v\":2}"), 0);
	assert_int_equal(set_item(f, "M", "k4", "{\"v\":4}"), 0);
	assert_true(run_until(f, converged, 3000));

	fake_fault(&f->fake, "i:M/", 503, -1, 1); /* the first listing fails once */
	syncpub_prune_map(f->sp, "M");
	syncpub_prune_map(f->sp, "M"); /* ignored while running */
	assert_int_equal(syncpub_pending(f->sp), 1);
	assert_true(run_until(f, converged, 5000));
	assert_null(fake_get(&f->fake, "i:M/k1"));
	assert_null(fake_get(&f->fake, "i:M/k3"));
	assert_null(fake_get(&f->fake, "i:M/k5"));
	assert_string_equal(fake_data(f, "i:M/k2"), "{\"v\":2}");
	assert_string_equal(fake_data(f, "i:M/k4"), "{\"v\":4}");
	for (i = 0; i < f->fake.nlog; i++)
		if (strcmp(f->fake.log[i].object, "i:M/") == 0)
			lists++;
	assert_int_equal(lists, 4); /* one 503, then three pages of two */

	/* A map that does not exist has nothing stale. */
	syncpub_prune_map(f->sp, "Nope");
	assert_true(run_until(f, converged, 3000));
}

/*
 * The write gate (a standby instance, sync_lease): while inactive nothing is
 * sent, the latest values are kept, and a removed item never written here is
 * forgotten (no DELETE kept for it). Active again: every kept value is
 * written and the prune deletes what another instance left in the map.
 */
static void
test_syncpub_inactive_sends_nothing_then_publishes_everything(void **state)
{
	struct fixture *f = *state;

	fake_put(&f->fake, "m:M", "{}", 0);
	fake_put(&f->fake, "i:M/gone", "{\"by\":\"the other instance\"}", 3);
	fake_put(&f->fake, "i:M/k2", "{\"v\":1}", 7);
	syncpub_set_active(f->sp, false);
	assert_int_equal(set_doc(f, "D", "{\"x\":1}"), 0);
	assert_int_equal(set_item(f, "M", "k2", "{\"v\":1}"), 0);
	assert_int_equal(set_item(f, "M", "k2", "{\"v\":2}"), 0);
	assert_int_equal(set_item(f, "M", "k3", "{\"v\":3}"), 0);
	assert_int_equal(set_item(f, "M", "ended", "{\"v\":0}"), 0);
	syncpub_remove_map_item(f->sp, "M", "ended");
	syncpub_prune_map(f->sp, "M");
	run_for(f, 300);
	assert_int_equal(f->fake.nlog, 0);
	/* D, k2, k3 and the prune pass; "ended" was forgotten. */
	assert_int_equal(syncpub_pending(f->sp), 4);

	syncpub_set_active(f->sp, true);
	syncpub_set_active(f->sp, true); /* idempotent */
	assert_true(run_until(f, converged, 5000));
	assert_string_equal(fake_data(f, "d:D"), "{\"x\":1}");
	assert_string_equal(fake_data(f, "i:M/k2"), "{\"v\":2}");
	assert_string_equal(fake_data(f, "i:M/k3"), "{\"v\":3}");
	assert_null(fake_get(&f->fake, "i:M/gone"));
	assert_int_equal(count_requests(f, "i:M/ended", -1), 0);
}

/* Counts of the fake's log: map creates of m, item creates in m, 404s, listings. */
struct map_counts {
	size_t map_creates;
	size_t item_creates;
	size_t item_404;
	size_t listings;
	size_t total;
};

static void
count_map_requests(const struct fixture *f, const char *map, struct map_counts *out)
{
	char m_id[64];
	char i_prefix[64];
	size_t plen;

	snprintf(m_id, sizeof(m_id), "m:%s", map);
	plen = (size_t)snprintf(i_prefix, sizeof(i_prefix), "i:%s/", map);
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < f->fake.nlog; i++) {
		const struct fake_entry *e = &f->fake.log[i];

		out->total++;
		if (strcmp(e->object, m_id) == 0 && e->create)
			out->map_creates++;
		else if (strcmp(e->object, i_prefix) == 0 && e->method == FAKE_GET)
			out->listings++;
		else if (strncmp(e->object, i_prefix, plen) == 0 && e->create)
			out->item_creates++;
		if (strncmp(e->object, i_prefix, plen) == 0 && e->status == 404 &&
		    strcmp(e->object, i_prefix) != 0)
			out->item_404++;
	}
}

/*
 * A restart against a missing tasks map (issue 12): items set by the rebuild,
 * then the startup listing (daemon.c's order). The listing's 404 makes the
 * map MISSING: it is created once, and each item takes exactly one request.
 * Before: every item did create (404), create-map (409 for all but one),
 * create again.
 */
static void
test_syncpub_missing_map_after_restart_one_request_per_item(void **state)
{
	struct fixture *f = *state;
	struct map_counts n;
	char key[32];
	size_t i;

	for (i = 0; i < 40; i++) {
		snprintf(key, sizeof(key), "WT%02zu", i);
		assert_int_equal(set_item(f, "T", key, "{\"s\":\"pending\"}"), 0);
	}
	syncpub_prune_map(f->sp, "T");
	assert_true(run_until(f, converged, 5000));
	count_map_requests(f, "T", &n);
	assert_int_equal(n.listings, 1);
	assert_int_equal(n.map_creates, 1);
	assert_int_equal(n.item_creates, 40);
	assert_int_equal(n.item_404, 0);
	assert_int_equal(n.total, 42);
	for (i = 0; i < 40; i++) {
		char id[64];

		snprintf(id, sizeof(id), "i:T/WT%02zu", i);
		assert_string_equal(fake_data(f, id), "{\"s\":\"pending\"}");
	}
	/* removes of items of a map created here need no request */
	syncpub_remove_map_item(f->sp, "T", "WT99");
	assert_true(run_until(f, converged, 3000));
	assert_int_equal(f->fake.nlog, 42);
}

/*
 * Without a listing (the map vanished while running, or no prune yet): the
 * items in flight learn it from their 404s, but the map is still created only
 * once and every item once; removes queued meanwhile cost nothing.
 */
static void
test_syncpub_missing_map_is_created_once(void **state)
{
	struct fixture *f = *state;
	struct syncpub_options opts = { .writes_per_second = 5, .retry_base_ms = 5 };
	struct map_counts n;
	char key[32];
	size_t i;

	fixture_publisher(f, &opts, 2000);
	for (i = 0; i < 12; i++) {
		snprintf(key, sizeof(key), "k%02zu", i);
		assert_int_equal(set_item(f, "M", key, "{\"v\":1}"), 0);
	}
	syncpub_remove_map_item(f->sp, "M", "gone"); /* unknown contents: queued */
	assert_true(run_until(f, converged, 8000));
	count_map_requests(f, "M", &n);
	assert_int_equal(n.map_creates, 1);
	assert_int_equal(n.item_creates, 12);
	/* only the first window's requests met the missing map */
	assert_true(n.item_404 <= 5);
	assert_int_equal(n.total, n.item_404 + 1 + 12);
	assert_non_null(fake_get(&f->fake, "m:M"));
	assert_string_equal(fake_data(f, "i:M/k11"), "{\"v\":1}");
}

/* A map create that fails transiently is retried; items wait and are then created once. */
static void
test_syncpub_missing_map_create_retries(void **state)
{
	struct fixture *f = *state;
	struct map_counts n;

	fake_fault_on(&f->fake, "m:R", FAKE_POST, 503, -1, 2);
	assert_int_equal(set_item(f, "R", "a", "{\"v\":1}"), 0);
	assert_int_equal(set_item(f, "R", "b", "{\"v\":2}"), 0);
	syncpub_prune_map(f->sp, "R");
	assert_true(run_until(f, converged, 5000));
	count_map_requests(f, "R", &n);
	assert_int_equal(n.map_creates, 3); /* two 503s, then created */
	assert_int_equal(n.item_creates, 2);
	/* the listing, the creates, the items, and a probe read (404) after each 503 */
	assert_int_equal(count_requests(f, "m:R", FAKE_GET), 2);
	assert_int_equal(n.total, 1 + 3 + 2 + 2);
	assert_string_equal(fake_data(f, "i:R/b"), "{\"v\":2}");
}

/*
 * The first success after an outage ends the other objects' backoffs at once
 * (here a Retry-After of 30 s would otherwise hold them), but not a 429's.
 */
static void
test_syncpub_recovery_ends_pending_backoffs(void **state)
{
	struct fixture *f = *state;
	struct syncpub_options opts = { .writes_per_second = 100,
					.retry_base_ms = 30000,
					.retry_max_ms = 60000 };
	struct syncpub_stats st;

	struct fake_fault *down;

	opts.probe_ms = 50;
	fixture_publisher(f, &opts, 2000);
	fake_put(&f->fake, "d:D1", "{}", 0);
	fake_put(&f->fake, "d:D2", "{}", 0);
	fake_put(&f->fake, "d:D3", "{}", 0);
	fake_put(&f->fake, "d:T", "{}", 0);
	fake_fault_on(&f->fake, "d:D1", FAKE_POST, 503, 30, 1);
	fake_fault_on(&f->fake, "d:D2", FAKE_POST, 503, 30, 1);
	fake_fault_on(&f->fake, "d:T", FAKE_POST, 429, 30, 1);
	down = fake_fault_on(&f->fake, "", FAKE_GET, 503, -1, 1000); /* the probe reads too */
	assert_int_equal(set_doc(f, "D1", "{\"v\":1}"), 0);
	assert_int_equal(set_doc(f, "D2", "{\"v\":2}"), 0);
	assert_int_equal(set_doc(f, "T", "{\"v\":3}"), 0);
	run_for(f, 200);
	assert_int_equal(count_writes_from(f, 0), 3);
	assert_true(count_requests(f, "d:D1", FAKE_GET) + count_requests(f, "d:D2", FAKE_GET) +
			    count_requests(f, "d:T", FAKE_GET) >=
		    2); /* probes, refused */
	assert_int_equal(syncpub_pending(f->sp), 3);

	/* D3 set while Sync fails waits; Sync answers a probe: D1, D2 and D3 are written at
	 * once; T waits for its 429. */
	assert_int_equal(set_doc(f, "D3", "{\"v\":4}"), 0);
	run_for(f, 100);
	assert_int_equal(count_writes_from(f, 0), 3);
	down->times = 0;
	run_for(f, 500);
	assert_string_equal(fake_data(f, "d:D1"), "{\"v\":1}");
	assert_string_equal(fake_data(f, "d:D2"), "{\"v\":2}");
	assert_string_equal(fake_data(f, "d:D3"), "{\"v\":4}");
	assert_string_equal(fake_data(f, "d:T"), "{}");
	assert_int_equal(syncpub_pending(f->sp), 1);
	syncpub_get_stats(f->sp, &st);
	assert_int_equal(st.retries, 3);
}

/* The caller's state for lazily built values: key -> current JSON (NULL: gone). */
struct lazy_model {
	char key[8][32];
	char json[8][64];
	bool gone[8];
	size_t n;
	size_t builds;
};

static size_t
lazy_slot(struct lazy_model *m, const char *key)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		if (strcmp(m->key[i], key) == 0)
			return i;
	assert_true(m->n < 8);
	snprintf(m->key[m->n], sizeof(m->key[0]), "%s", key);
	return m->n++;
}

static void
lazy_put(struct lazy_model *m, const char *key, const char *json)
{
	size_t i = lazy_slot(m, key);

	snprintf(m->json[i], sizeof(m->json[0]), "%s", json);
	m->gone[i] = false;
}

static void
lazy_gone(struct lazy_model *m, const char *key)
{
	m->gone[lazy_slot(m, key)] = true;
}

static bool
lazy_build(void *arg, const char *name, const char *key, const char **json_out, size_t *len_out)
{
	struct lazy_model *m = arg;
	size_t i = lazy_slot(m, key != NULL ? key : name);

	m->builds++;
	if (m->gone[i])
		return false;
	*json_out = m->json[i];
	*len_out = strlen(m->json[i]);
	return true;
}

/*
 * Issue 7: syncpub is the only coalescing layer. 50 updates of one task
 * while its map's only slot is busy (1 write/s) are one build and one
 * request, carrying the value of the moment the slot freed; none of them is
 * built before (the daemon used to build and hand over a value every 100 ms,
 * each one superseded).
 */
static void
test_syncpub_marks_build_once_when_a_slot_frees(void **state)
{
	struct fixture *f = *state;
	struct syncpub_options opts = { .writes_per_second = 1, .retry_base_ms = 5 };
	struct lazy_model m = { 0 };
	struct syncpub_stats st;
	char json[64];
	int i;

	fixture_publisher(f, &opts, 2000);
	fake_put(&f->fake, "m:T", "{}", 0);
	fake_put(&f->fake, "i:T/WT1", "{}", 0);
	lazy_put(&m, "WT1", "{\"n\":0}");
	syncpub_mark_map_item(f->sp, "T", "WT1", lazy_build, &m);
	assert_int_equal(syncpub_pending(f->sp), 1);
	assert_int_equal(m.builds, 0); /* nothing is built inside the mark */
	assert_true(run_until(f, converged, 3000));
	assert_int_equal(m.builds, 1);
	assert_int_equal(f->fake.nlog, 1);
	assert_string_equal(fake_data(f, "i:T/WT1"), "{\"n\":0}");

	for (i = 1; i <= 50; i++) {
		snprintf(json, sizeof(json), "{\"n\":%d}", i);
		lazy_put(&m, "WT1", json);
		syncpub_mark_map_item(f->sp, "T", "WT1", lazy_build, &m);
		event_base_loop(f->base, EVLOOP_NONBLOCK);
	}
	assert_int_equal(syncpub_pending(f->sp), 1);
	assert_int_equal(m.builds, 1); /* the slot is still busy: nothing built yet */
	assert_true(run_until(f, converged, 3000));
	assert_int_equal(m.builds, 2);
	assert_int_equal(f->fake.nlog, 2);
	assert_string_equal(fake_data(f, "i:T/WT1"), "{\"n\":50}");
	syncpub_get_stats(f->sp, &st);
	assert_int_equal(st.builds, 2);
	assert_int_equal(st.requests, 2);
	assert_int_equal(st.superseded, 0); /* no value was made only to be thrown away */

	/* A build equal to what Sync has costs no request. */
	syncpub_mark_map_item(f->sp, "T", "WT1", lazy_build, &m);
	assert_true(run_until(f, converged, 3000));
	assert_int_equal(m.builds, 3);
	assert_int_equal(f->fake.nlog, 2);
}

/*
 * A marked item whose object is gone by the time it could be written: a
 * DELETE when Sync may have it, nothing at all when Sync cannot (the map's
 * contents are known and the item was never written).
 */
static void
test_syncpub_marked_item_gone_is_removed_or_nothing(void **state)
{
	struct fixture *f = *state;
	struct syncpub_options opts = { .writes_per_second = 1, .retry_base_ms = 5 };
	struct lazy_model m = { 0 };
	struct syncpub_stats st;
	size_t n;

	fixture_publisher(f, &opts, 2000);
	fake_put(&f->fake, "m:T", "{}", 0);
	fake_put(&f->fake, "i:T/OLD", "{\"v\":0}", 0);
	syncpub_prune_map(f->sp, "T"); /* learns the map's contents: OLD is stale */
	lazy_put(&m, "OLD", "{\"v\":0}");
	syncpub_mark_map_item(f->sp, "T", "OLD", lazy_build, &m);
	assert_true(run_until(f, converged, 3000));
	n = f->fake.nlog; /* the listing, then OLD's first write */
	assert_int_equal(n, 2);
	assert_int_equal(f->fake.log[0].method, FAKE_GET);

	/* Updated, then gone before the slot frees: one DELETE, no update. */
	lazy_put(&m, "OLD", "{\"v\":1}");
	syncpub_mark_map_item(f->sp, "T", "OLD", lazy_build, &m);
	lazy_gone(&m, "OLD");
	assert_true(run_until(f, converged, 3000));
	assert_int_equal(f->fake.nlog, n + 1);
	assert_int_equal(f->fake.log[n].method, FAKE_DELETE);
	assert_null(fake_get(&f->fake, "i:T/OLD"));

	/* Born and gone between two writes, never in Sync: no request at all. */
	n = f->fake.nlog;
	lazy_put(&m, "NEW", "{\"v\":1}");
	syncpub_mark_map_item(f->sp, "T", "NEW", lazy_build, &m);
	lazy_gone(&m, "NEW");
	assert_true(run_until(f, converged, 3000));
	assert_int_equal(f->fake.nlog, n);
	assert_null(fake_get(&f->fake, "i:T/NEW"));

	/* A document whose builder has nothing keeps what Sync has. */
	fake_put(&f->fake, "d:E", "{\"e\":1}", 0);
	lazy_gone(&m, "E");
	syncpub_mark_document(f->sp, "E", lazy_build, &m);
	assert_true(run_until(f, converged, 3000));
	assert_int_equal(f->fake.nlog, n);
	assert_string_equal(fake_data(f, "d:E"), "{\"e\":1}");
	syncpub_get_stats(f->sp, &st);
	assert_int_equal(st.dropped, 0);
}

/*
 * Marks during an outage: the item is built when Sync answers again, once,
 * with the state of that moment (a retry rebuilds only if marked again).
 */
static void
test_syncpub_marked_during_backoff_builds_latest(void **state)
{
	struct fixture *f = *state;
	struct lazy_model m = { 0 };
	char json[64];
	int i;

	struct syncpub_options opts = {
		.writes_per_second = 100, .retry_base_ms = 5, .retry_max_ms = 50, .probe_ms = 20
	};

	fixture_publisher(f, &opts, 2000);
	fake_put(&f->fake, "m:T", "{}", 0);
	fake_put(&f->fake, "i:T/WT1", "{}", 0);
	fake_fault(&f->fake, "i:T/WT1", 503, -1, 3);
	lazy_put(&m, "WT1", "{\"n\":0}");
	syncpub_mark_map_item(f->sp, "T", "WT1", lazy_build, &m);
	assert_true(run_until(f, some_request, 2000));
	for (i = 1; i <= 20; i++) {
		snprintf(json, sizeof(json), "{\"n\":%d}", i);
		lazy_put(&m, "WT1", json);
		syncpub_mark_map_item(f->sp, "T", "WT1", lazy_build, &m);
	}
	assert_true(run_until(f, converged, 3000));
	assert_string_equal(fake_data(f, "i:T/WT1"), "{\"n\":20}");
	assert_int_equal(count_writes_from(f, 0), 4);	      /* three 503s, then the write */
	assert_true(count_requests(f, "m:T", FAKE_GET) >= 3); /* a probe after each 503 */
	assert_true(m.builds <= 2);
}

/*
 * A stale item the listing found, removed again (a late event of a task that
 * ended while trhubd was down) before its DELETE could start: the DELETE must
 * still go out. It used to be forgotten as "never in Sync", leaving the item
 * there for good (test_daemon_restart caught it).
 */
static void
test_syncpub_listed_item_removed_again_is_still_deleted(void **state)
{
	struct fixture *f = *state;
	struct syncpub_options opts = { .writes_per_second = 1, .retry_base_ms = 5 };
	struct lazy_model m = { 0 };

	fixture_publisher(f, &opts, 2000);
	fake_put(&f->fake, "m:T", "{}", 0);
	fake_put(&f->fake, "i:T/S1", "{\"v\":1}", 0);
	fake_put(&f->fake, "i:T/S2", "{\"v\":2}", 0);
	syncpub_prune_map(f->sp, "T");
	run_for(f, 300); /* the listing took the only slot; the DELETEs wait for it */
	assert_int_equal(f->fake.nlog, 1);
	syncpub_remove_map_item(f->sp, "T", "S1");
	lazy_gone(&m, "S2");
	syncpub_mark_map_item(f->sp, "T", "S2", lazy_build, &m);
	assert_true(run_until(f, converged, 5000));
	assert_null(fake_get(&f->fake, "i:T/S1"));
	assert_null(fake_get(&f->fake, "i:T/S2"));
	assert_int_equal(f->fake.nlog, 3);
}

static bool
held_ones_applied(struct fixture *f)
{
	return f->fake.applied_late == f->fake.nlate;
}

static bool
both_refused(struct fixture *f)
{
	return count_requests(f, "i:T/A", -1) > 0 && count_requests(f, "i:T/B", -1) > 0;
}

/*
 * Issue 12, outage backlog: an item created and ended while every write was
 * refused (503, Sync applied nothing) costs no request after the outage; one
 * whose write may have been applied (the connection dropped: timeout) still
 * gets its DELETE.
 */
static void
test_syncpub_item_born_and_gone_in_an_outage_costs_nothing(void **state)
{
	struct fixture *f = *state;
	struct syncpub_options opts = {
		.writes_per_second = 100, .retry_base_ms = 200, .retry_max_ms = 400, .probe_ms = 20
	};
	struct lazy_model m = { 0 };
	size_t n;

	fixture_publisher(f, &opts, 300);
	fake_put(&f->fake, "m:T", "{}", 0);
	syncpub_prune_map(f->sp, "T"); /* contents known: empty */
	assert_true(run_until(f, converged, 3000));
	fake_fault(&f->fake, "i:T/A", 503, -1, 100);
	lazy_put(&m, "A", "{\"v\":1}");
	syncpub_mark_map_item(f->sp, "T", "A", lazy_build, &m);
	assert_int_equal(set_item(f, "T", "B", "{\"v\":1}"), 0);
	fake_fault(&f->fake, "i:T/B", 503, -1, 100);
	assert_true(run_until(f, both_refused, 3000)); /* both refused at least once */
	lazy_gone(&m, "A");
	syncpub_mark_map_item(f->sp, "T", "A", lazy_build, &m);
	syncpub_remove_map_item(f->sp, "T", "B");
	f->fake.nfaults = 0; /* Sync answers again */
	n = f->fake.nlog;
	assert_true(run_until(f, converged, 3000));
	assert_int_equal(count_writes_from(f, n), 0); /* nothing to undo, only probe reads */
	assert_null(fake_get(&f->fake, "i:T/A"));

	/*
	 * A write that got no answer (client timeout) may have been applied, here
	 * 100 ms after the client gave up: the remove DELETEs, and not before that
	 * late landing could happen, or the item would come back for good.
	 */
	fake_fault_hold(&f->fake, "i:T/C", 400, 1);
	assert_int_equal(set_item(f, "T", "C", "{\"v\":1}"), 0);
	run_for(f, 350); /* the 300 ms timeout passed: C is in backoff */
	syncpub_remove_map_item(f->sp, "T", "C");
	n = f->fake.nlog;
	assert_true(run_until(f, converged, 3000));
	assert_true(run_until(f, held_ones_applied, 1000));
	assert_null(fake_get(&f->fake, "i:T/C"));
	assert_int_equal(count_writes_from(f, n), 1);
	assert_int_equal(count_requests(f, "i:T/C", FAKE_DELETE), 1);
}

static bool
three_in_backoff(struct fixture *f)
{
	struct syncpub_stats st;

	syncpub_get_stats(f->sp, &st);
	return st.retries >= 3;
}

/*
 * After hung item writes, the first answer from Sync (a probe read's) lists
 * the map once (a read) instead of spending writes on guesses: the hung
 * create never landed, so the removal needs no DELETE; an item the listing
 * shows is updated with its revision rather than created (409); one whose
 * hung write landed with the latest value needs nothing.
 */
static void
test_syncpub_listing_after_hung_writes_settles_them(void **state)
{
	struct fixture *f = *state;
	/*
	 * No retry of C, E or G may go before the removal, or the DELETE (or the
	 * write to G) would be right: the probe reads are refused until the test
	 * lets Sync answer, and a fixed jitter seed whose first backoffs are 4.6,
	 * 4.5 and 4.3 s (with a random one, a retry within the test's first
	 * second failed it now and then).
	 */
	struct syncpub_options opts = { .writes_per_second = 100,
					.retry_base_ms = 5000,
					.retry_max_ms = 10000,
					.probe_ms = 50,
					.rng_seed = 83 };
	struct fake_fault *down;
	size_t listings = 0;
	size_t probes = 0;
	size_t n;
	size_t i;

	fixture_publisher(f, &opts, 300);
	fake_put(&f->fake, "m:T", "{}", 0);
	syncpub_prune_map(f->sp, "T"); /* contents known: empty */
	assert_int_equal(set_item(f, "T", "E", "{\"v\":0}"), 0);
	assert_true(run_until(f, converged, 3000));
	fake_fault(&f->fake, "i:T/C", 0, -1, 1);
	fake_fault(&f->fake, "i:T/E", 0, -1, 1);
	fake_fault(&f->fake, "i:T/G", 0, -1, 1);
	down = fake_fault_on(&f->fake, "", FAKE_GET, 503, -1, 1000); /* the probe reads */
	assert_int_equal(set_item(f, "T", "C", "{\"v\":1}"), 0);
	assert_int_equal(set_item(f, "T", "E", "{\"v\":1}"), 0);
	assert_int_equal(set_item(f, "T", "G", "{\"v\":1}"), 0);
	/* all three time out (300 ms): in backoff, maybe applied */
	assert_true(run_until(f, three_in_backoff, 3000));
	fake_put(&f->fake, "i:T/G", "{\"v\":1}", 0); /* G's create landed after all */
	run_for(f, 600); /* past the 0.5 s in which an unanswered request may still land */
	syncpub_remove_map_item(f->sp, "T", "C");
	assert_int_equal(set_item(f, "T", "E", "{\"v\":2}"), 0);
	assert_int_equal(set_doc(f, "D", "{\"v\":1}"), 0); /* waits while Sync fails */
	run_for(f, 100);
	n = f->fake.nlog;
	down->times = 0; /* Sync answers the next probe: recovery */
	assert_true(run_until(f, converged, 3000));
	assert_null(fake_get(&f->fake, "i:T/C"));
	assert_string_equal(fake_data(f, "i:T/E"), "{\"v\":2}");
	assert_string_equal(fake_data(f, "i:T/G"), "{\"v\":1}");
	assert_string_equal(fake_data(f, "d:D"), "{\"v\":1}");
	for (i = n; i < f->fake.nlog; i++) {
		struct fake_entry *e = &f->fake.log[i];

		assert_true(e->method != FAKE_DELETE);	      /* C: nothing to delete */
		assert_true(strcmp(e->object, "i:T/G") != 0); /* G holds the value already */
		if (strcmp(e->object, "i:T/E") == 0) {
			assert_false(e->create); /* E exists: updated, not created */
			assert_true(e->if_match[0] != '\0');
		}
	}
	/* a probe read (of the map, or of D: 404), the listing, E, D (update, create) */
	for (i = n; i < f->fake.nlog; i++) {
		if (f->fake.log[i].method != FAKE_GET)
			continue;
		if (strcmp(f->fake.log[i].object, "i:T/") == 0)
			listings++;
		else
			probes++;
	}
	assert_int_equal(listings, 1);
	assert_true(probes >= 1);
	assert_int_equal(count_writes_from(f, n), 3);
}

/* The client's timeout in the held-requests test: the held ones outlast it. */
#define HOLD_TIMEOUT_MS 3000

/*
 * Issue 12, the 5-minute outage's last miss. Sync refuses every request
 * (503), then holds each one past the client's timeout and applies it then
 * (the emulator's latency fault), and the outage ends while requests are
 * held. Meanwhile a task opens and ends (item B), another changes twice (A),
 * and so does the document D. Once a write failed, only probe reads go out
 * (one per probe interval, not waiting for the held ones), so no write is
 * held when the outage ends: the map and the document equal the truth
 * within a second, long before the held requests' timeout, and the held
 * requests landing later change nothing. Before, a probe re-sent a write;
 * held, it kept its object (and B's DELETE behind it) until its timeout.
 */
static void
test_syncpub_no_write_is_held_when_an_outage_ends(void **state)
{
	struct fixture *f = *state;
	struct syncpub_options opts = {
		.writes_per_second = 10, .retry_base_ms = 50, .retry_max_ms = 200, .probe_ms = 100
	};
	struct fake_fault *refuse;
	struct fake_fault *hold;
	size_t failing_from;
	size_t ended_at;
	size_t i;

	fixture_publisher(f, &opts, HOLD_TIMEOUT_MS);
	fake_put(&f->fake, "m:T", "{}", 0);
	assert_int_equal(set_item(f, "T", "A", "{\"v\":0}"), 0);
	assert_int_equal(set_doc(f, "D", "{\"v\":0}"), 0);
	assert_true(run_until(f, converged, 3000));

	/* 503: the three writes are refused, then Sync is known to fail */
	refuse = fake_fault_on(&f->fake, "", -1, 503, -1, 100000);
	assert_int_equal(set_item(f, "T", "B", "{\"v\":1}"), 0);
	assert_int_equal(set_item(f, "T", "A", "{\"v\":1}"), 0);
	assert_int_equal(set_doc(f, "D", "{\"v\":1}"), 0);
	assert_true(run_until(f, three_in_backoff, 3000));
	failing_from = f->fake.nlog;
	run_for(f, 300);

	/* latency: every request held past the client's timeout, applied then */
	refuse->times = 0;
	hold = fake_fault_hold(&f->fake, "", HOLD_TIMEOUT_MS + 200, 1000);
	run_for(f, 500);
	syncpub_remove_map_item(f->sp, "T", "B"); /* the task ended */
	assert_int_equal(set_item(f, "T", "A", "{\"v\":2}"), 0);
	assert_int_equal(set_doc(f, "D", "{\"v\":2}"), 0);
	run_for(f, 500);

	/* the outage ends with requests held */
	hold->times = 0;
	ended_at = f->fake.nlog;
	assert_true(run_until(f, converged, 1000));
	assert_string_equal(fake_data(f, "i:T/A"), "{\"v\":2}");
	assert_null(fake_get(&f->fake, "i:T/B"));
	assert_string_equal(fake_data(f, "d:D"), "{\"v\":2}");
	/* while Sync failed only reads went out, one per probe interval, held or not */
	for (i = failing_from; i < ended_at; i++)
		assert_int_equal(f->fake.log[i].method, FAKE_GET);
	assert_true(f->fake.nlate >= 3);
	for (i = 0; i < f->fake.nlate; i++)
		assert_int_equal(f->fake.late[i]->method, FAKE_GET);

	/* the held requests land: nothing changes */
	assert_true(run_until(f, held_ones_applied, HOLD_TIMEOUT_MS + 1000));
	run_for(f, 100);
	assert_string_equal(fake_data(f, "i:T/A"), "{\"v\":2}");
	assert_null(fake_get(&f->fake, "i:T/B"));
	assert_string_equal(fake_data(f, "d:D"), "{\"v\":2}");
	assert_true(syncpub_pending(f->sp) == 0);
}

/*
 * Recovery does not wait for long backoffs: with every object held by a
 * 30 s Retry-After, a probe a second retries one, its success ends the
 * others' backoffs, and all are written within a few seconds.
 */
static void
test_syncpub_probe_notices_recovery_within_seconds(void **state)
{
	struct fixture *f = *state;
	struct syncpub_options opts = { .writes_per_second = 100,
					.retry_base_ms = 30000,
					.retry_max_ms = 60000 };
	struct syncpub_stats st;

	fixture_publisher(f, &opts, 2000);
	fake_put(&f->fake, "d:D1", "{}", 0);
	fake_put(&f->fake, "d:D2", "{}", 0);
	fake_fault(&f->fake, "d:D1", 503, 30, 1);
	fake_fault(&f->fake, "d:D2", 503, 30, 1);
	assert_int_equal(set_doc(f, "D1", "{\"v\":1}"), 0);
	assert_int_equal(set_doc(f, "D2", "{\"v\":2}"), 0);
	assert_true(run_until(f, converged, 3000));
	assert_string_equal(fake_data(f, "d:D1"), "{\"v\":1}");
	assert_string_equal(fake_data(f, "d:D2"), "{\"v\":2}");
	syncpub_get_stats(f->sp, &st);
	assert_int_equal(st.requests, 5); /* two refused writes, a probe read, two writes */
}

/* Paused: nothing starts, values still coalesce; resumed: the latest goes out once. */
static void
test_syncpub_paused_starts_nothing_until_resumed(void **state)
{
	struct fixture *f = *state;

	fake_put(&f->fake, "d:P", "{}", 0);
	syncpub_set_paused(f->sp, true);
	assert_int_equal(set_doc(f, "P", "{\"v\":1}"), 0);
	assert_int_equal(set_doc(f, "P", "{\"v\":2}"), 0);
	run_for(f, 100);
	assert_int_equal(f->fake.nlog, 0);
	assert_int_equal(syncpub_pending(f->sp), 1);
	syncpub_set_paused(f->sp, false);
	assert_true(run_until(f, converged, 3000));
	assert_int_equal(f->fake.nlog, 1);
	assert_string_equal(fake_data(f, "d:P"), "{\"v\":2}");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_syncpub_creates_document_on_404_then_updates_with_if_match, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_syncpub_latest_wins_during_a_slow_write, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_syncpub_one_request_in_flight_per_object,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_syncpub_rate_cap_per_container, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_syncpub_large_payloads_get_two_writes_per_second, setup, teardown),
		cmocka_unit_test_setup_teardown(test_syncpub_rereads_the_revision_on_412, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_syncpub_create_conflict_fetches_then_updates,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_syncpub_retries_429_honouring_retry_after,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_syncpub_retries_5xx_and_timeouts_until_written,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_syncpub_refuses_oversized_and_malformed_data,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_syncpub_creates_the_map_and_deletes_items,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_syncpub_missing_map_after_restart_one_request_per_item, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_syncpub_missing_map_is_created_once, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_syncpub_missing_map_create_retries, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_syncpub_recovery_ends_pending_backoffs, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_syncpub_drops_a_value_on_a_final_error, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_syncpub_free_with_writes_in_flight, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_syncpub_converges_under_random_faults, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_syncpub_prune_deletes_items_nobody_set, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_syncpub_marks_build_once_when_a_slot_frees,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_syncpub_marked_item_gone_is_removed_or_nothing,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_syncpub_marked_during_backoff_builds_latest,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_syncpub_listed_item_removed_again_is_still_deleted, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_syncpub_item_born_and_gone_in_an_outage_costs_nothing, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_syncpub_listing_after_hung_writes_settles_them,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_syncpub_no_write_is_held_when_an_outage_ends,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_syncpub_probe_notices_recovery_within_seconds,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_syncpub_paused_starts_nothing_until_resumed,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_syncpub_inactive_sends_nothing_then_publishes_everything, setup,
			teardown),
	};
	struct sigaction sa;
	int r;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) != 0)
		return 1;
	if (http_global_init() != 0)
		return 1;
	r = cmocka_run_group_tests(tests, NULL, NULL);
	http_global_cleanup();
	return r;
}
