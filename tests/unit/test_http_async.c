/*
 * http_async against a real HTTP server: an evhttp server on 127.0.0.1:0
 * sharing the client's event_base (no threads), answering scripted paths:
 *   /echo       200, records method, Authorization, Content-Type and body
 *   /slow/MS    200 after MS milliseconds (counts concurrent requests)
 *   /big/N      N bytes
 *   /hang       never answers
 *   /retry/N    429 with Retry-After: N
 */

#include <sys/socket.h>

#include <arpa/inet.h>
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
#include <unistd.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "http_async.h"
#include "xmalloc.h"

struct srv {
	struct event_base *base;
	struct evhttp *http;
	int port;
	int requests;
	int concurrent;
	int max_concurrent;
	char method[16];
	char auth[256];
	char content_type[256];
	char body[1024];
};

struct srv_delay {
	struct srv *srv;
	struct evhttp_request *req;
	struct event *ev;
};

static void
srv_reply(struct evhttp_request *req, int code, const char *body)
{
	struct evbuffer *b = evbuffer_new();

	evbuffer_add(b, body, strlen(body));
	evhttp_send_reply(req, code, "X", b);
	evbuffer_free(b);
}

static void
srv_delay_cb(evutil_socket_t fd, short what, void *arg)
{
	struct srv_delay *d = arg;

	d->srv->concurrent--;
	srv_reply(d->req, 200, "{\"slow\":true}");
	event_free(d->ev);
	free(d);
}

static void
srv_handler(struct evhttp_request *req, void *arg)
{
	struct srv *srv = arg;
	const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	struct evkeyvalq *in_h = evhttp_request_get_input_headers(req);
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	const char *v;
	const char *slash;
	long n = 0;
	size_t len;

	srv->requests++;
	snprintf(srv->method, sizeof(srv->method), "%s",
		 evhttp_request_get_command(req) == EVHTTP_REQ_POST ? "POST" : "GET");
	v = evhttp_find_header(in_h, "Authorization");
	snprintf(srv->auth, sizeof(srv->auth), "%s", v != NULL ? v : "");
	v = evhttp_find_header(in_h, "Content-Type");
	snprintf(srv->content_type, sizeof(srv->content_type), "%s", v != NULL ? v : "");
	len = evbuffer_get_length(in);
	if (len >= sizeof(srv->body))
		len = sizeof(srv->body) - 1;
	evbuffer_copyout(in, srv->body, len);
	srv->body[len] = '\0';

	if (path == NULL)
		path = "/";
	slash = strchr(path + 1, '/');
	if (slash != NULL)
		n = strtol(slash + 1, NULL, 10);

	if (strcmp(path, "/echo") == 0) {
		srv_reply(req, 200, "{\"echo\":true}");
	} else if (strncmp(path, "/slow/", 6) == 0) {
		struct srv_delay *d = xcalloc(1, sizeof(*d));
		struct timeval tv = { n / 1000, (n % 1000) * 1000 };

		srv->concurrent++;
		if (srv->concurrent > srv->max_concurrent)
			srv->max_concurrent = srv->concurrent;
		d->srv = srv;
		d->req = req;
		d->ev = evtimer_new(srv->base, srv_delay_cb, d);
		evtimer_add(d->ev, &tv);
	} else if (strncmp(path, "/big/", 5) == 0) {
		struct evbuffer *b = evbuffer_new();
		char *data = xmalloc((size_t)n);

		memset(data, 'y', (size_t)n);
		evbuffer_add(b, data, (size_t)n);
		free(data);
		evhttp_send_reply(req, 200, "OK", b);
		evbuffer_free(b);
	} else if (strcmp(path, "/hang") == 0) {
		/* never answered */
	} else if (strncmp(path, "/retry/", 7) == 0) {
		char h[32];

		snprintf(h, sizeof(h), "%ld", n);
		evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", h);
		evhttp_add_header(evhttp_request_get_output_headers(req), "ETag", "\"e1\"");
		srv_reply(req, 429, "{\"code\":20429}");
	} else {
		srv_reply(req, 404, "{}");
	}
}

struct fixture {
	struct event_base *base;
	struct srv srv;
	struct http_async *client;
	struct event *deadline;
	bool expired;
	char url[256];
};

static void
fixture_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fixture *f = arg;

	f->expired = true;
}

/* Runs the loop until *counter reaches target or timeout_ms passes; true if reached. */
static bool
run_until(struct fixture *f, const int *counter, int target, int timeout_ms)
{
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };

	f->expired = false;
	evtimer_add(f->deadline, &tv);
	while (*counter < target && !f->expired)
		event_base_loop(f->base, EVLOOP_ONCE);
	evtimer_del(f->deadline);
	return *counter >= target;
}

/* Runs the loop for ms milliseconds. */
static void
run_for(struct fixture *f, int ms)
{
	int never = 0;

	(void)run_until(f, &never, 1, ms);
}

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	struct evhttp_bound_socket *bound;
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	f->base = event_base_new();
	f->srv.base = f->base;
	f->srv.http = evhttp_new(f->base);
	evhttp_set_gencb(f->srv.http, srv_handler, &f->srv);
	bound = evhttp_bind_socket_with_handle(f->srv.http, "127.0.0.1", 0);
	assert_non_null(bound);
	assert_int_equal(
		getsockname(evhttp_bound_socket_get_fd(bound), (struct sockaddr *)&sin, &len), 0);
	f->srv.port = ntohs(sin.sin_port);
	f->deadline = evtimer_new(f->base, fixture_deadline_cb, f);
	f->client = http_async_new(f->base, NULL);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	http_async_free(f->client); /* before the base, as STYLE.md 7.10 requires */
	event_free(f->deadline);
	evhttp_free(f->srv.http);
	event_base_free(f->base);
	free(f);
	return 0;
}

static const char *
url(struct fixture *f, const char *path)
{
	snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%d%s", f->srv.port, path);
	return f->url;
}

struct done {
	int calls;
	enum http_outcome outcome;
	long status;
	long retry_after_s;
	char body[256];
	char etag[64];
	struct http_async_request *victim; /* cancelled from this completion */
	struct fixture *f;
	struct done *chained; /* a follow-up request started from the callback */
};

static void
done_cb(const struct http_response *resp, void *arg)
{
	struct done *d = arg;

	d->calls++;
	d->outcome = resp->outcome;
	d->status = resp->status;
	d->retry_after_s = resp->retry_after_s;
	snprintf(d->body, sizeof(d->body), "%s", resp->body);
	snprintf(d->etag, sizeof(d->etag), "%s", resp->etag != NULL ? resp->etag : "");
	if (d->victim != NULL) {
		http_async_cancel(d->victim);
		d->victim = NULL;
	}
	if (d->chained != NULL) {
		struct http_request_spec spec = { .url = url(d->f, "/echo") };

		assert_non_null(http_async_start(d->f->client, &spec, done_cb, d->chained, NULL));
		d->chained = NULL;
	}
}

static void
test_http_async_get_completes_exactly_once(void **state)
{
	struct fixture *f = *state;
	struct http_request_spec spec = { .url = url(f, "/echo"),
					  .username = "user",
					  .password = "pass" };
	struct done d = { 0 };
	struct http_async_stats st;

	assert_non_null(http_async_start(f->client, &spec, done_cb, &d, NULL));
	assert_true(run_until(f, &d.calls, 1, 5000));
	assert_int_equal(d.outcome, HTTP_DONE);
	assert_int_equal(d.status, 200);
	assert_string_equal(d.body, "{\"echo\":true}");
	assert_string_equal(f->srv.auth, "Basic dXNlcjpwYXNz");
	run_for(f, 50);
	assert_int_equal(d.calls, 1);
	http_async_get_stats(f->client, &st);
	assert_int_equal(st.started, 1);
	assert_int_equal(st.finished_done, 1);
	assert_int_equal(st.in_flight, 0);
}

static void
test_http_async_post_form_body(void **state)
{
	struct fixture *f = *state;
	const char *body = "Data=%7B%22a%22%3A1%7D";
	struct http_request_spec spec = {
		.method = HTTP_POST, .url = url(f, "/echo"), .body = body, .body_len = strlen(body)
	};
	struct done d = { 0 };

	assert_non_null(http_async_start(f->client, &spec, done_cb, &d, NULL));
	assert_true(run_until(f, &d.calls, 1, 5000));
	assert_string_equal(f->srv.method, "POST");
	assert_string_equal(f->srv.body, body);
	assert_string_equal(f->srv.content_type, "application/x-www-form-urlencoded");
}

static void
test_http_async_retry_after_and_etag(void **state)
{
	struct fixture *f = *state;
	struct http_request_spec spec = { .url = url(f, "/retry/3") };
	struct done d = { 0 };

	assert_non_null(http_async_start(f->client, &spec, done_cb, &d, NULL));
	assert_true(run_until(f, &d.calls, 1, 5000));
	assert_int_equal(d.status, 429);
	assert_int_equal(d.retry_after_s, 3);
	assert_string_equal(d.etag, "\"e1\"");
}

static void
test_http_async_timeout(void **state)
{
	struct fixture *f = *state;
	struct http_request_spec spec = { .url = url(f, "/hang"), .timeout_ms = 150 };
	struct done d = { 0 };
	struct http_async_stats st;

	assert_non_null(http_async_start(f->client, &spec, done_cb, &d, NULL));
	assert_true(run_until(f, &d.calls, 1, 5000));
	assert_int_equal(d.outcome, HTTP_TIMEOUT);
	http_async_get_stats(f->client, &st);
	assert_int_equal(st.finished_failed, 1);
}

static void
test_http_async_size_cap(void **state)
{
	struct fixture *f = *state;
	struct http_request_spec spec = { .url = url(f, "/big/50000"), .max_response_bytes = 100 };
	struct done d = { 0 };

	assert_non_null(http_async_start(f->client, &spec, done_cb, &d, NULL));
	assert_true(run_until(f, &d.calls, 1, 5000));
	assert_int_equal(d.outcome, HTTP_TOO_LARGE);
	assert_string_equal(d.body, "");
}

static void
test_http_async_connect_refused(void **state)
{
	struct fixture *f = *state;
	struct http_request_spec spec = { 0 };
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	struct done d = { 0 };
	char u[64];
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	snprintf(u, sizeof(u), "http://127.0.0.1:%d/", ntohs(sin.sin_port));
	close(fd);
	spec.url = u;
	assert_non_null(http_async_start(f->client, &spec, done_cb, &d, NULL));
	assert_true(run_until(f, &d.calls, 1, 5000));
	assert_int_equal(d.outcome, HTTP_CONNECT_FAILED);
}

static void
test_http_async_refused_spec_returns_null(void **state)
{
	struct fixture *f = *state;
	struct http_request_spec spec = { .url = "http://203.0.113.9/" };
	struct done d = { 0 };
	char *cause = NULL;
	struct http_async_stats st;

	assert_null(http_async_start(f->client, &spec, done_cb, &d, &cause));
	assert_non_null(cause);
	free(cause);
	run_for(f, 20);
	assert_int_equal(d.calls, 0);
	http_async_get_stats(f->client, &st);
	assert_int_equal(st.started, 0);
}

static void
test_http_async_cancel_prevents_callback(void **state)
{
	struct fixture *f = *state;
	struct http_request_spec spec = { .url = url(f, "/slow/50") };
	struct done d = { 0 };
	struct http_async_request *req;
	struct http_async_stats st;

	req = http_async_start(f->client, &spec, done_cb, &d, NULL);
	assert_non_null(req);
	run_for(f, 20); /* connected and sent */
	http_async_cancel(req);
	run_for(f, 150);
	assert_int_equal(d.calls, 0);
	http_async_get_stats(f->client, &st);
	assert_int_equal(st.cancelled, 1);
	assert_int_equal(st.in_flight, 0);
}

static void
test_http_async_cancel_other_from_completion(void **state)
{
	struct fixture *f = *state;
	struct http_request_spec fast = { .url = url(f, "/echo") };
	struct done a = { 0 };
	struct done b = { 0 };
	struct http_async_request *slow_req;
	struct http_async_stats st;

	assert_non_null(http_async_start(f->client, &fast, done_cb, &a, NULL));
	fast.url = url(f, "/slow/300");
	slow_req = http_async_start(f->client, &fast, done_cb, &b, NULL);
	assert_non_null(slow_req);
	a.victim = slow_req;
	assert_true(run_until(f, &a.calls, 1, 5000));
	run_for(f, 400);
	assert_int_equal(a.calls, 1);
	assert_int_equal(b.calls, 0);
	http_async_get_stats(f->client, &st);
	assert_int_equal(st.cancelled, 1);
	assert_int_equal(st.finished_done, 1);
	assert_int_equal(st.in_flight, 0);
}

static void
test_http_async_start_from_completion(void **state)
{
	struct fixture *f = *state;
	struct http_request_spec spec = { .url = url(f, "/echo") };
	struct done second = { 0 };
	struct done first = { .f = f, .chained = &second };

	assert_non_null(http_async_start(f->client, &spec, done_cb, &first, NULL));
	assert_true(run_until(f, &second.calls, 1, 5000));
	assert_int_equal(first.calls, 1);
	assert_int_equal(second.calls, 1);
	assert_int_equal(f->srv.requests, 2);
}

#define MANY 60

static void
test_http_async_many_concurrent(void **state)
{
	struct fixture *f = *state;
	struct http_request_spec spec = { .url = url(f, "/slow/50") };
	struct done d[MANY];
	int total = 0;
	struct http_async_stats st;

	memset(d, 0, sizeof(d));
	for (int i = 0; i < MANY; i++)
		assert_non_null(http_async_start(f->client, &spec, done_cb, &d[i], NULL));
	for (int i = 0; i < MANY; i++)
		assert_true(run_until(f, &d[i].calls, 1, 10000));
	run_for(f, 20);
	for (int i = 0; i < MANY; i++) {
		assert_int_equal(d[i].calls, 1);
		assert_int_equal(d[i].status, 200);
		total += d[i].calls;
	}
	assert_int_equal(total, MANY);
	assert_int_equal(f->srv.requests, MANY);
	assert_true(f->srv.max_concurrent > 1);
	assert_true(f->srv.max_concurrent <= 16); /* default per-host connection cap */
	http_async_get_stats(f->client, &st);
	assert_int_equal(st.started, MANY);
	assert_int_equal(st.finished_done, MANY);
	assert_int_equal(st.in_flight, 0);
}

static void
test_http_async_free_with_requests_in_flight(void **state)
{
	struct fixture *f = *state;
	struct http_request_spec spec = { .url = url(f, "/hang") };
	struct done d = { 0 };

	for (int i = 0; i < 5; i++)
		assert_non_null(http_async_start(f->client, &spec, done_cb, &d, NULL));
	run_for(f, 50);
	assert_int_equal(f->srv.requests, 5);
	http_async_free(f->client);
	f->client = NULL;
	run_for(f, 50);
	assert_int_equal(d.calls, 0);
}

static void
test_http_async_cancel_before_loop_runs(void **state)
{
	struct fixture *f = *state;
	struct http_request_spec spec = { .url = url(f, "/echo") };
	struct done d = { 0 };
	struct http_async_request *req;

	req = http_async_start(f->client, &spec, done_cb, &d, NULL);
	http_async_cancel(req);
	run_for(f, 50);
	assert_int_equal(d.calls, 0);
	assert_int_equal(f->srv.requests, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_http_async_get_completes_exactly_once, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_http_async_post_form_body, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_async_retry_after_and_etag, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_http_async_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_async_size_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_async_connect_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_async_refused_spec_returns_null, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_http_async_cancel_prevents_callback, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_http_async_cancel_other_from_completion, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_http_async_start_from_completion, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_http_async_many_concurrent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_async_free_with_requests_in_flight, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_http_async_cancel_before_loop_runs, setup,
						teardown),
	};
	struct sigaction sa;
	int r;

	/* the server writes to clients that gave up (timeouts, size cap) */
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
