/*
 * Unit tests for daemon/server: the request pipeline over real loopback
 * HTTP on one event base (evhttp client and server in the same loop, no
 * sleeps): 404 and 405 with Allow, the route body limit, signature refusals
 * that leave the model untouched, 204 for a signed event, ops routes,
 * local-client checks with trusted_proxies, session routes (401 without a
 * login, 200 with the cookie of a real POST /login), metrics_allow, and
 * idle keep-alive eviction.
 */

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

#include "api.h"
#include "auth.h"
#include "buf.h"
#include "events.h"
#include "form.h"
#include "hasher.h"
#include "metrics.h"
#include "model.h"
#include "server.h"
#include "signature.h"
#include "xmalloc.h"

#define TOKEN  "0123456789abcdef0123456789abcdef"
#define PUBLIC "https://hub.example.com"

struct fixture {
	struct event_base *base;
	struct metrics *metrics;
	struct model *model;
	struct events *events;
	struct api *api;
	struct server *server;
	struct auth *auth;
	char users_path[64];
	char cookie[128];
	unsigned short port;
	bool ready;
};

struct reply {
	bool done;
	int status;
	char *body;
	char *allow;
	char *content_type;
	char *cookie;
	struct event_base *base;
};

static bool
fixture_ready_cb(void *arg, const char **reason_out)
{
	struct fixture *f = arg;

	*reason_out = "testing";
	return f->ready;
}

/* metrics_allow of the next fixture_new (NULL: none). */
static const char *fixture_metrics_allow;

/* A users file with one supervisor, "sup" / "sup-pass". */
static void
fixture_users(struct fixture *f)
{
	char *cause = NULL;
	char *hash = hasher_hash("sup-pass", "$6$", &cause);
	int fd = -1;
	FILE *out = NULL;

	assert_non_null(hash);
	snprintf(f->users_path, sizeof(f->users_path), "/tmp/test_server_users.XXXXXX");
	fd = mkstemp(f->users_path);
	assert_true(fd >= 0);
	out = fdopen(fd, "w");
	assert_non_null(out);
	fprintf(out, "# test users\nsup:supervisor:%s\n", hash);
	assert_int_equal(fclose(out), 0);
	free(hash);
}

static struct fixture *
fixture_new(int max_connections, const char *trusted_proxies)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	struct model_options mo = { 0 };
	struct events_options eo = { 0 };
	struct server_options so = { 0 };
	struct auth_options ao = { 0 };
	char *cause = NULL;
	const char *addr = NULL;
	const char *colon = NULL;

	f->base = event_base_new();
	assert_non_null(f->base);
	f->metrics = metrics_new();
	mo.event_ring_size = 16;
	f->model = model_new(&mo);
	eo.auth_token = TOKEN;
	eo.public_url = PUBLIC;
	eo.body_max_bytes = 2048;
	f->events = events_new(&eo, f->metrics);
	f->api = api_new(f->model, NULL, f->metrics);
	api_set_ready(f->api, fixture_ready_cb, f);
	so.listen_host = "127.0.0.1";
	so.listen_port = 0;
	so.max_connections = max_connections;
	so.header_max_bytes = 8192;
	so.body_max_bytes = 2048;
	so.timeout_s = 5;
	so.trusted_proxies = trusted_proxies;
	so.metrics_allow = fixture_metrics_allow;
	f->server = server_new(f->base, &so, f->events, f->api, f->metrics);
	fixture_users(f);
	ao.users_file = f->users_path;
	ao.public_url = PUBLIC;
	ao.login_threads = 1;
	assert_int_equal(auth_new(f->base, f->model, &ao, &f->auth, &cause), 0);
	server_set_auth(f->server, f->auth, NULL);
	assert_int_equal(server_listen(f->server, &cause), 0);
	addr = server_address(f->server);
	colon = strrchr(addr, ':');
	assert_non_null(colon);
	f->port = (unsigned short)strtoul(colon + 1, NULL, 10);
	assert_true(f->port > 0);
	return f;
}

static int
fixture_apply_cb(const struct tr_event *event, void *arg)
{
	return model_apply_event(arg, event);
}

static void
fixture_free(struct fixture *f)
{
	server_free(f->server);
	auth_free(f->auth);
	(void)unlink(f->users_path);
	api_free(f->api);
	events_free(f->events);
	model_free(f->model);
	metrics_free(f->metrics);
	event_base_free(f->base);
	free(f);
}

static char *
dup_header(struct evkeyvalq *h, const char *name)
{
	const char *v = evhttp_find_header(h, name);

	return v == NULL ? NULL : xstrdup(v);
}

static void
reply_cb(struct evhttp_request *req, void *arg)
{
	struct reply *r = arg;
	struct evbuffer *in = NULL;
	size_t len = 0;

	r->done = true;
	if (req != NULL) {
		r->status = evhttp_request_get_response_code(req);
		in = evhttp_request_get_input_buffer(req);
		len = evbuffer_get_length(in);
		r->body = xcalloc(len + 1, 1);
		evbuffer_remove(in, r->body, len);
		r->allow = dup_header(evhttp_request_get_input_headers(req), "Allow");
		r->content_type = dup_header(evhttp_request_get_input_headers(req), "Content-Type");
		r->cookie = dup_header(evhttp_request_get_input_headers(req), "Set-Cookie");
	}
	event_base_loopbreak(r->base);
}

static void
reply_clear(struct reply *r)
{
	free(r->body);
	free(r->allow);
	free(r->content_type);
	free(r->cookie);
	memset(r, 0, sizeof(*r));
}

/*
 * Sends one request on conn (a new connection when conn is NULL) and runs
 * the loop until the answer arrived. headers: NULL-terminated name, value
 * pairs.
 */
static void
request_on(struct fixture *f, struct evhttp_connection *conn, enum evhttp_cmd_type method,
	   const char *target, const char *const *headers, const char *body, struct reply *out)
{
	struct evhttp_connection *own = NULL;
	struct evhttp_request *req = NULL;
	struct evkeyvalq *h = NULL;

	memset(out, 0, sizeof(*out));
	out->base = f->base;
	if (conn == NULL) {
		own = evhttp_connection_base_new(f->base, NULL, "127.0.0.1", f->port);
		assert_non_null(own);
		conn = own;
	}
	req = evhttp_request_new(reply_cb, out);
	h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Host", "hub.example.com");
	for (size_t i = 0; headers != NULL && headers[i] != NULL; i += 2)
		evhttp_add_header(h, headers[i], headers[i + 1]);
	if (body != NULL)
		evbuffer_add(evhttp_request_get_output_buffer(req), body, strlen(body));
	assert_int_equal(evhttp_make_request(conn, req, method, target), 0);
	while (!out->done)
		assert_true(event_base_dispatch(f->base) >= 0);
	if (own != NULL)
		evhttp_connection_free(own);
}

static void
request(struct fixture *f, enum evhttp_cmd_type method, const char *target,
	const char *const *headers, const char *body, struct reply *out)
{
	request_on(f, NULL, method, target, headers, body, out);
}

/* Logs "sup" in with POST /login and keeps "Cookie: trhub_session=..." in f->cookie. */
static void
login(struct fixture *f)
{
	const char *hdr[] = { "Content-Type", "application/json", NULL };
	struct reply r;
	size_t n = 0;

	request(f, EVHTTP_REQ_POST, "/login", hdr,
		"{\"username\":\"sup\",\"password\":\"sup-pass\"}", &r);
	assert_int_equal(r.status, 200);
	assert_non_null(r.cookie);
	n = strcspn(r.cookie, ";");
	assert_true(n < sizeof(f->cookie));
	memcpy(f->cookie, r.cookie, n);
	f->cookie[n] = '\0';
	assert_string_equal(r.body,
			    "{\"identity\":\"sup\",\"role\":\"supervisor\",\"workerSid\":null}");
	reply_clear(&r);
}

/* A signed task.created for task number n, timestamped now. */
static void
signed_event(int n, const char *token, char **body_out, char sig[SIGNATURE_LEN + 1])
{
	struct form *f = form_new();
	char sid[40];
	char ms[32];

	snprintf(sid, sizeof(sid), "WT%032x", n);
	snprintf(ms, sizeof(ms), "%lld", (long long)time(NULL) * 1000);
	form_add(f, "EventType", "task.created");
	form_add(f, "ResourceType", "Task");
	form_add(f, "ResourceSid", sid);
	form_add(f, "TaskSid", sid);
	form_add(f, "TaskAssignmentStatus", "pending");
	form_add(f, "TaskAttributes", "{\"type\":\"support\"}");
	form_add(f, "TaskQueueSid", "WQ00000000000000000000000000000001");
	form_add(f, "TimestampMs", ms);
	assert_int_equal(signature_compute(token, PUBLIC "/taskrouter_event", f, sig), 0);
	*body_out = form_encode(f);
	form_free(f);
}

static void
assert_error_json(const struct reply *r, int status, const char *error)
{
	char want[64];

	assert_int_equal(r->status, status);
	assert_non_null(r->content_type);
	assert_string_equal(r->content_type, "application/json");
	snprintf(want, sizeof(want), "{\"error\":\"%s\",\"detail\":", error);
	assert_non_null(r->body);
	if (strncmp(r->body, want, strlen(want)) != 0)
		fail_msg("body %s does not start with %s", r->body, want);
}

static void
test_server_unknown_path_is_404_json(void **state)
{
	struct fixture *f = fixture_new(16, NULL);
	struct reply r;

	request(f, EVHTTP_REQ_GET, "/nope", NULL, NULL, &r);
	assert_error_json(&r, 404, "not_found");
	reply_clear(&r);
	request(f, EVHTTP_REQ_GET, "/api/tasks/extra", NULL, NULL, &r);
	assert_error_json(&r, 404, "not_found");
	reply_clear(&r);
	fixture_free(f);
}

static void
test_server_wrong_method_is_405_with_allow(void **state)
{
	struct fixture *f = fixture_new(16, NULL);
	struct reply r;

	request(f, EVHTTP_REQ_GET, "/taskrouter_event", NULL, NULL, &r);
	assert_error_json(&r, 405, "method_not_allowed");
	assert_string_equal(r.allow, "POST");
	reply_clear(&r);
	request(f, EVHTTP_REQ_DELETE, "/api/tasks", NULL, NULL, &r);
	assert_error_json(&r, 405, "method_not_allowed");
	assert_string_equal(r.allow, "GET, HEAD");
	reply_clear(&r);
	fixture_free(f);
}

static void
test_server_route_body_limit_is_413_before_signature(void **state)
{
	static const char *const hdr[] = { "Content-Type", "application/x-www-form-urlencoded",
					   NULL };
	struct fixture *f = fixture_new(16, NULL);
	char *big = xmalloc(3001);
	struct reply r;

	memset(big, 'a', 3000);
	big[3000] = '\0';
	big[1] = '=';
	request(f, EVHTTP_REQ_POST, "/taskrouter_event", hdr, big, &r);
	assert_error_json(&r, 413, "payload_too_large");
	reply_clear(&r);
	free(big);
	fixture_free(f);
}

static void
test_server_refused_webhooks_change_nothing(void **state)
{
	struct fixture *f = fixture_new(16, NULL);
	char *body = NULL;
	char sig[SIGNATURE_LEN + 1];
	char bad[SIGNATURE_LEN + 1];
	const char *unsigned_hdr[] = { "Content-Type", "application/x-www-form-urlencoded", NULL };
	const char *forged_hdr[] = { "Content-Type", "application/x-www-form-urlencoded",
				     "X-Twilio-Signature", bad, NULL };
	struct reply r;
	struct buf text;

	events_set_apply(f->events, fixture_apply_cb, NULL, f->model);
	signed_event(1, "some-other-token", &body, bad);
	free(body);
	signed_event(1, TOKEN, &body, sig);

	request(f, EVHTTP_REQ_POST, "/taskrouter_event", unsigned_hdr, body, &r);
	assert_error_json(&r, 403, "forbidden");
	reply_clear(&r);
	request(f, EVHTTP_REQ_POST, "/taskrouter_event", forged_hdr, body, &r);
	assert_error_json(&r, 403, "forbidden");
	reply_clear(&r);
	request(f, EVHTTP_REQ_POST, "/taskrouter_event", unsigned_hdr, "a=%zz", &r);
	assert_error_json(&r, 403, "forbidden"); /* no signature: refused before parsing */
	reply_clear(&r);
	assert_int_equal(model_task_count(f->model), 0);

	buf_init(&text);
	metrics_render(f->metrics, &text);
	assert_non_null(strstr(text.data, "trhubd_webhook_rejected_total{status=\"403\"} 3\n"));
	assert_null(strstr(text.data, "trhubd_events_received_total{"));
	buf_clear(&text);
	free(body);
	fixture_free(f);
}

static void
test_server_signed_event_is_204_json_and_applied(void **state)
{
	struct fixture *f = fixture_new(16, NULL);
	char *body = NULL;
	char sig[SIGNATURE_LEN + 1];
	const char *hdr[] = { "Content-Type", "application/x-www-form-urlencoded",
			      "X-Twilio-Signature", sig, NULL };
	struct reply r;
	struct buf text;

	events_set_apply(f->events, fixture_apply_cb, NULL, f->model);
	signed_event(7, TOKEN, &body, sig);
	request(f, EVHTTP_REQ_POST, "/taskrouter_event", hdr, body, &r);
	assert_int_equal(r.status, 204);
	assert_string_equal(r.content_type, "application/json");
	assert_string_equal(r.body, "");
	reply_clear(&r);
	assert_int_equal(model_task_count(f->model), 1);

	/* The same request again: accepted (204), a duplicate for the model. */
	request(f, EVHTTP_REQ_POST, "/taskrouter_event", hdr, body, &r);
	assert_int_equal(r.status, 204);
	reply_clear(&r);
	assert_int_equal(model_task_count(f->model), 1);

	request(f, EVHTTP_REQ_GET, "/api/tasks", NULL, NULL, &r);
	assert_error_json(&r, 401, "login required");
	reply_clear(&r);
	login(f);
	{
		const char *ck[] = { "Cookie", f->cookie, NULL };

		request(f, EVHTTP_REQ_GET, "/api/tasks", ck, NULL, &r);
	}
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "\"sid\":\"WT00000000000000000000000000000007\""));
	reply_clear(&r);

	buf_init(&text);
	metrics_render(f->metrics, &text);
	assert_non_null(
		strstr(text.data, "trhubd_events_received_total{type=\"task.created\"} 2\n"));
	assert_non_null(strstr(text.data, "trhubd_webhook_latency_seconds_count 2\n"));
	buf_clear(&text);
	free(body);
	fixture_free(f);
}

static void
test_server_ops_routes(void **state)
{
	struct fixture *f = fixture_new(16, NULL);
	struct reply r;

	request(f, EVHTTP_REQ_GET, "/healthz", NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "{\"status\":\"ok\"}");
	reply_clear(&r);

	request(f, EVHTTP_REQ_GET, "/readyz", NULL, NULL, &r);
	assert_error_json(&r, 503, "not_ready");
	assert_non_null(strstr(r.body, "testing"));
	reply_clear(&r);
	f->ready = true;
	request(f, EVHTTP_REQ_GET, "/readyz", NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	reply_clear(&r);

	request(f, EVHTTP_REQ_GET, "/metrics", NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
	assert_non_null(strstr(r.body, "# TYPE trhubd_webhook_latency_seconds histogram\n"));
	reply_clear(&r);

	request(f, EVHTTP_REQ_GET, "/api/stats", NULL, NULL, &r);
	assert_error_json(&r, 401, "login required");
	reply_clear(&r);
	login(f);
	{
		const char *ck[] = { "Cookie", f->cookie, NULL };

		request(f, EVHTTP_REQ_GET, "/api/stats", ck, NULL, &r);
		assert_error_json(&r, 503, "not_ready");
		reply_clear(&r);
		request(f, EVHTTP_REQ_GET, "/api/stream", ck, NULL, &r);
		assert_error_json(&r, 503, "unavailable");
		reply_clear(&r);
	}
	fixture_free(f);
}

static void
test_server_local_routes_refuse_anything_forwarded(void **state)
{
	struct fixture *f = fixture_new(16, "127.0.0.1");
	const char *remote[] = { "X-Forwarded-For", "127.0.0.1, 203.0.113.5", NULL };
	const char *local[] = { "X-Forwarded-For", "203.0.113.5, 127.0.0.1", NULL };
	const char *fwd[] = { "Forwarded", "for=127.0.0.1", NULL };
	struct reply r;

	/* Through a proxy is never local, whatever the chain says. */
	request(f, EVHTTP_REQ_GET, "/metrics", remote, NULL, &r);
	assert_error_json(&r, 403, "forbidden");
	reply_clear(&r);
	request(f, EVHTTP_REQ_GET, "/healthz", local, NULL, &r);
	assert_error_json(&r, 403, "forbidden");
	reply_clear(&r);
	request(f, EVHTTP_REQ_GET, "/healthz", fwd, NULL, &r);
	assert_error_json(&r, 403, "forbidden");
	reply_clear(&r);
	/* Being local is no login: the API needs a session from anywhere. */
	request(f, EVHTTP_REQ_GET, "/api/tasks", local, NULL, &r);
	assert_error_json(&r, 401, "login required");
	reply_clear(&r);
	fixture_free(f);
	/* The peer itself a trusted proxy: not local either, even without headers. */
	f = fixture_new(16, "127.0.0.0/8");
	request(f, EVHTTP_REQ_GET, "/healthz", NULL, NULL, &r);
	assert_error_json(&r, 403, "forbidden");
	reply_clear(&r);
	fixture_free(f);
	f = fixture_new(16, NULL);
	request(f, EVHTTP_REQ_GET, "/healthz", NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	reply_clear(&r);
	request(f, EVHTTP_REQ_GET, "/api/tasks", NULL, NULL, &r);
	assert_error_json(&r, 401, "login required");
	reply_clear(&r);
	login(f);
	{
		const char *ck[] = { "Cookie", f->cookie, NULL };

		request(f, EVHTTP_REQ_GET, "/api/tasks", ck, NULL, &r);
	}
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "[]");
	reply_clear(&r);
	fixture_free(f);
}

static void
test_server_metrics_allow_admits_listed_addresses(void **state)
{
	const char *prom[] = { "X-Forwarded-For", "203.0.113.7", NULL };
	const char *other[] = { "X-Forwarded-For", "203.0.113.8", NULL };
	struct fixture *f = NULL;
	struct reply r;

	fixture_metrics_allow = "192.0.2.1, 203.0.113.7";
	f = fixture_new(16, "127.0.0.1");
	fixture_metrics_allow = NULL;
	request(f, EVHTTP_REQ_GET, "/metrics", prom, NULL, &r);
	assert_int_equal(r.status, 200);
	reply_clear(&r);
	request(f, EVHTTP_REQ_GET, "/healthz", prom, NULL, &r);
	assert_int_equal(r.status, 200);
	reply_clear(&r);
	request(f, EVHTTP_REQ_GET, "/metrics", other, NULL, &r);
	assert_error_json(&r, 403, "forbidden");
	reply_clear(&r);
	/* Being allowed on ops routes is no login. */
	request(f, EVHTTP_REQ_GET, "/api/tasks", prom, NULL, &r);
	assert_error_json(&r, 401, "login required");
	reply_clear(&r);
	fixture_free(f);
}

static void
test_server_idle_keepalive_makes_room(void **state)
{
	struct fixture *f = fixture_new(1, NULL);
	struct evhttp_connection *first =
		evhttp_connection_base_new(f->base, NULL, "127.0.0.1", f->port);
	struct reply r;

	request_on(f, first, EVHTTP_REQ_GET, "/healthz", NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	reply_clear(&r);
	/* The first connection is idle (keep-alive): it is evicted for the second. */
	request(f, EVHTTP_REQ_GET, "/healthz", NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	reply_clear(&r);
	evhttp_connection_free(first);
	fixture_free(f);
}

static void
test_server_stopping_answers_503(void **state)
{
	struct fixture *f = fixture_new(16, NULL);
	struct evhttp_connection *conn =
		evhttp_connection_base_new(f->base, NULL, "127.0.0.1", f->port);
	struct reply r;

	request_on(f, conn, EVHTTP_REQ_GET, "/healthz", NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	reply_clear(&r);
	server_stop_accepting(f->server);
	request_on(f, conn, EVHTTP_REQ_GET, "/healthz", NULL, NULL, &r);
	assert_error_json(&r, 503, "unavailable");
	reply_clear(&r);
	evhttp_connection_free(conn);
	fixture_free(f);
}

int
main(void)
{
	struct sigaction sa;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_server_unknown_path_is_404_json),
		cmocka_unit_test(test_server_wrong_method_is_405_with_allow),
		cmocka_unit_test(test_server_route_body_limit_is_413_before_signature),
		cmocka_unit_test(test_server_refused_webhooks_change_nothing),
		cmocka_unit_test(test_server_signed_event_is_204_json_and_applied),
		cmocka_unit_test(test_server_ops_routes),
		cmocka_unit_test(test_server_local_routes_refuse_anything_forwarded),
		cmocka_unit_test(test_server_metrics_allow_admits_listed_addresses),
		cmocka_unit_test(test_server_idle_keepalive_makes_room),
		cmocka_unit_test(test_server_stopping_answers_503),
	};

	/* A peer closing first must not kill the test with SIGPIPE. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGPIPE, &sa, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
