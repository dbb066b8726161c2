/*
 * http_sync against a real HTTP server: a libevent evhttp server on
 * 127.0.0.1:0 running in its own thread, answering scripted paths:
 *   /echo          200, records method, Authorization, If-Match, Content-Type, body
 *   /etag          200 with ETag and Content-Type
 *   /status/N      status N with a Twilio-style JSON error body
 *   /retry/N       429 with Retry-After: N
 *   /retrydate     503 with Retry-After as an HTTP-date 30 s ahead
 *   /big/N         N bytes with Content-Length
 *   /chunked/N     N bytes, chunked (no Content-Length)
 *   /slow/MS       200 after MS milliseconds (counts concurrent requests)
 *   /hang          never answers
 *   /flaky         503 on the first call, 200 afterwards
 * and a raw listener that accepts and closes at once (empty reply).
 */

#include <sys/socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
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
#include <unistd.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>

#include "http_sync.h"
#include "xmalloc.h"

struct srv {
	struct event_base *base;
	struct evhttp *http;
	struct evconnlistener *closer;
	struct event *stop_ev;
	int stop_pipe[2];
	pthread_t thread;
	pthread_mutex_t lock;
	int port;
	int close_port;
	/* under lock */
	int requests;
	int concurrent;
	int max_concurrent;
	int flaky_calls;
	int connections;
	struct evhttp_connection *last_conn;
	char method[16];
	char auth[256];
	char if_match[256];
	char content_type[256];
	char user_agent[256];
	char accept[256];
	char body[1024];
};

struct srv_delay {
	struct srv *srv;
	struct evhttp_request *req;
	struct event *ev;
};

static void
srv_copy_header(struct evhttp_request *req, const char *name, char *dst, size_t size)
{
	const char *v = evhttp_find_header(evhttp_request_get_input_headers(req), name);

	(void)snprintf(dst, size, "%s", v != NULL ? v : "");
}

static void
srv_reply(struct evhttp_request *req, int code, const char *body)
{
	struct evbuffer *b = evbuffer_new();

	evbuffer_add(b, body, strlen(body));
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "application/json");
	evhttp_send_reply(req, code, "X", b);
	evbuffer_free(b);
}

static void
srv_delay_cb(evutil_socket_t fd, short what, void *arg)
{
	struct srv_delay *d = arg;

	pthread_mutex_lock(&d->srv->lock);
	d->srv->concurrent--;
	pthread_mutex_unlock(&d->srv->lock);
	srv_reply(d->req, 200, "{\"slow\":true}");
	event_free(d->ev);
	free(d);
}

static void
srv_handler(struct evhttp_request *req, void *arg)
{
	struct srv *srv = arg;
	const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	struct evhttp_connection *conn = evhttp_request_get_connection(req);
	size_t n;
	long arg_n = 0;
	char *end;

	pthread_mutex_lock(&srv->lock);
	srv->requests++;
	if (conn != srv->last_conn) {
		srv->connections++;
		srv->last_conn = conn;
	}
	switch (evhttp_request_get_command(req)) {
	case EVHTTP_REQ_GET:
		snprintf(srv->method, sizeof(srv->method), "GET");
		break;
	case EVHTTP_REQ_POST:
		snprintf(srv->method, sizeof(srv->method), "POST");
		break;
	case EVHTTP_REQ_DELETE:
		snprintf(srv->method, sizeof(srv->method), "DELETE");
		break;
	default:
		snprintf(srv->method, sizeof(srv->method), "OTHER");
		break;
	}
	srv_copy_header(req, "Authorization", srv->auth, sizeof(srv->auth));
	srv_copy_header(req, "If-Match", srv->if_match, sizeof(srv->if_match));
	srv_copy_header(req, "Content-Type", srv->content_type, sizeof(srv->content_type));
	srv_copy_header(req, "User-Agent", srv->user_agent, sizeof(srv->user_agent));
	srv_copy_header(req, "Accept", srv->accept, sizeof(srv->accept));
	n = evbuffer_get_length(in);
	if (n >= sizeof(srv->body))
		n = sizeof(srv->body) - 1;
	evbuffer_copyout(in, srv->body, n);
	srv->body[n] = '\0';
	pthread_mutex_unlock(&srv->lock);

	if (path == NULL)
		path = "/";
	{
		const char *slash = strchr(path + 1, '/');

		if (slash != NULL)
			arg_n = strtol(slash + 1, &end, 10);
	}

	if (strcmp(path, "/echo") == 0) {
		srv_reply(req, 200, "{\"echo\":true}");
	} else if (strcmp(path, "/etag") == 0) {
		evhttp_add_header(out, "ETag", "\"v42\"");
		srv_reply(req, 200, "{}");
	} else if (strncmp(path, "/status/", 8) == 0) {
		srv_reply(req, (int)arg_n,
			  "{\"code\":20404,\"message\":\"not found\",\"status\":404}");
	} else if (strncmp(path, "/retry/", 7) == 0) {
		char v[32];

		snprintf(v, sizeof(v), "%ld", arg_n);
		evhttp_add_header(out, "Retry-After", v);
		srv_reply(req, 429, "{\"code\":20429,\"message\":\"Too Many Requests\"}");
	} else if (strcmp(path, "/retrydate") == 0) {
		char v[64];
		time_t t = time(NULL) + 30;
		struct tm tm;

		gmtime_r(&t, &tm);
		strftime(v, sizeof(v), "%a, %d %b %Y %H:%M:%S GMT", &tm);
		evhttp_add_header(out, "Retry-After", v);
		srv_reply(req, 503, "{}");
	} else if (strncmp(path, "/big/", 5) == 0 || strncmp(path, "/chunked/", 9) == 0) {
		struct evbuffer *b = evbuffer_new();
		char *data = xmalloc((size_t)arg_n);

		memset(data, 'x', (size_t)arg_n);
		evbuffer_add(b, data, (size_t)arg_n);
		free(data);
		if (path[1] == 'b') {
			evhttp_send_reply(req, 200, "OK", b);
		} else {
			evhttp_send_reply_start(req, 200, "OK");
			evhttp_send_reply_chunk(req, b);
			evhttp_send_reply_end(req);
		}
		evbuffer_free(b);
	} else if (strncmp(path, "/slow/", 6) == 0) {
		struct srv_delay *d = xcalloc(1, sizeof(*d));
		struct timeval tv = { arg_n / 1000, (arg_n % 1000) * 1000 };

		pthread_mutex_lock(&srv->lock);
		srv->concurrent++;
		if (srv->concurrent > srv->max_concurrent)
			srv->max_concurrent = srv->concurrent;
		pthread_mutex_unlock(&srv->lock);
		d->srv = srv;
		d->req = req;
		d->ev = evtimer_new(srv->base, srv_delay_cb, d);
		evtimer_add(d->ev, &tv);
	} else if (strcmp(path, "/hang") == 0) {
		/* never answered; evhttp frees it when the client goes away */
	} else if (strcmp(path, "/flaky") == 0) {
		int calls;

		pthread_mutex_lock(&srv->lock);
		calls = ++srv->flaky_calls;
		pthread_mutex_unlock(&srv->lock);
		evhttp_add_header(out, "Retry-After", "0");
		srv_reply(req, calls == 1 ? 503 : 200, "{}");
	} else {
		srv_reply(req, 404, "{}");
	}
}

static void
srv_close_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len, void *arg)
{
	close(fd);
}

static void
srv_stop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct srv *srv = arg;

	event_base_loopbreak(srv->base);
}

static void *
srv_main(void *arg)
{
	struct srv *srv = arg;

	event_base_dispatch(srv->base);
	return NULL;
}

static int
srv_bound_port(evutil_socket_t fd)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	return ntohs(sin.sin_port);
}

static struct srv *
srv_start(void)
{
	struct srv *srv = xcalloc(1, sizeof(*srv));
	struct evhttp_bound_socket *bound;
	struct sockaddr_in sin;

	pthread_mutex_init(&srv->lock, NULL);
	srv->base = event_base_new();
	assert_non_null(srv->base);
	srv->http = evhttp_new(srv->base);
	evhttp_set_allowed_methods(srv->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_DELETE);
	evhttp_set_gencb(srv->http, srv_handler, srv);
	bound = evhttp_bind_socket_with_handle(srv->http, "127.0.0.1", 0);
	assert_non_null(bound);
	srv->port = srv_bound_port(evhttp_bound_socket_get_fd(bound));

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	srv->closer = evconnlistener_new_bind(srv->base, srv_close_cb, srv,
					      LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 16,
					      (struct sockaddr *)&sin, sizeof(sin));
	assert_non_null(srv->closer);
	srv->close_port = srv_bound_port(evconnlistener_get_fd(srv->closer));

	assert_int_equal(pipe(srv->stop_pipe), 0);
	srv->stop_ev = event_new(srv->base, srv->stop_pipe[0], EV_READ, srv_stop_cb, srv);
	event_add(srv->stop_ev, NULL);
	assert_int_equal(pthread_create(&srv->thread, NULL, srv_main, srv), 0);
	return srv;
}

static void
srv_stop(struct srv *srv)
{
	assert_int_equal(write(srv->stop_pipe[1], "x", 1), 1);
	pthread_join(srv->thread, NULL);
	event_free(srv->stop_ev);
	evconnlistener_free(srv->closer);
	evhttp_free(srv->http);
	event_base_free(srv->base);
	close(srv->stop_pipe[0]);
	close(srv->stop_pipe[1]);
	pthread_mutex_destroy(&srv->lock);
	free(srv);
}

struct fixture {
	struct srv *srv;
	struct http_sync *sync;
	char url[256];
};

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));

	f->srv = srv_start();
	f->sync = http_sync_new();
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	http_sync_free(f->sync);
	srv_stop(f->srv);
	free(f);
	return 0;
}

static const char *
url(struct fixture *f, const char *path)
{
	snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%d%s", f->srv->port, path);
	return f->url;
}

static void
test_http_sync_get_sends_auth_accept_and_user_agent(void **state)
{
	struct fixture *f = *state;
	struct http_request_spec spec = { .method = HTTP_GET, .url = url(f, "/echo") };
	struct http_response resp;

	spec.username = "user";
	spec.password = "pass";
	assert_int_equal(http_sync_perform(f->sync, &spec, &resp), 0);
	assert_int_equal(resp.outcome, HTTP_DONE);
	assert_int_equal(resp.status, 200);
	assert_string_equal(resp.body, "{\"echo\":true}");
	assert_int_equal(resp.body_len, strlen("{\"echo\":true}"));
	assert_string_equal(resp.content_type, "application/json");
	assert_int_equal(resp.retry_after_s, -1);
	assert_null(resp.etag);
	assert_string_equal(resp.error, "");
	assert_string_equal(f->srv->method, "GET");
	assert_string_equal(f->srv->auth, "Basic dXNlcjpwYXNz"); /* base64("user:pass") */
	assert_string_equal(f->srv->accept, "application/json");
	assert_true(strncmp(f->srv->user_agent, "trhub/", 6) == 0);
	assert_string_equal(f->srv->if_match, "");
	http_response_clear(&resp);
}

static void
test_http_sync_post_sends_form_body_content_type_and_if_match(void **state)
{
	struct fixture *f = *state;
	const char *body = "ActivitySid=WA1&Attributes=%7B%7D";
	struct http_request_spec spec = {
		.method = HTTP_POST,
		.url = url(f, "/echo"),
		.body = body,
		.body_len = strlen(body),
		.if_match = "\"7\"",
	};
	struct http_response resp;

	assert_int_equal(http_sync_perform(f->sync, &spec, &resp), 0);
	assert_int_equal(resp.status, 200);
	assert_string_equal(f->srv->method, "POST");
	assert_string_equal(f->srv->body, body);
	assert_string_equal(f->srv->content_type, "application/x-www-form-urlencoded");
	assert_string_equal(f->srv->if_match, "\"7\"");
	assert_string_equal(f->srv->auth, "");
	http_response_clear(&resp);
}

static void
test_http_sync_post_json_content_type(void **state)
{
	struct fixture *f = *state;
	const char *body = "{\"QueueSids\":[\"WQ1\"]}";
	struct http_request_spec spec = {
		.method = HTTP_POST,
		.url = url(f, "/echo"),
		.body = body,
		.body_len = strlen(body),
		.content_type = "application/json",
	};
	struct http_response resp;

	assert_int_equal(http_sync_perform(f->sync, &spec, &resp), 0);
	assert_string_equal(f->srv->content_type, "application/json");
	assert_string_equal(f->srv->body, body);
	http_response_clear(&resp);
}

static void
test_http_sync_delete_with_if_match(void **state)
{
	struct fixture *f = *state;
	struct http_request_spec spec = {
		.method = HTTP_DELETE,
		.url = url(f, "/echo"),
		.if_match = "5",
	};
	struct http_response resp;

	assert_int_equal(http_sync_perform(f->sync, &spec, &resp), 0);
	assert_string_equal(f->srv->method, "DELETE");
	assert_string_equal(f->srv->if_match, "5");
	http_response_clear(&resp);
}

static void
test_http_sync_captures_etag(void **state)
{
	struct fixture *f = *state;
	struct http_request_spec spec = { .url = url(f, "/etag") };
	struct http_response resp;

	assert_int_equal(http_sync_perform(f->sync, &spec, &resp), 0);
	assert_non_null(resp.etag);
	assert_string_equal(resp.etag, "\"v42\"");
	http_response_clear(&resp);
}

static void
test_http_sync_error_status_is_a_response(void **state)
{
	struct fixture *f = *state;
	struct http_request_spec spec = { .url = url(f, "/status/404") };
	struct http_response resp;

	assert_int_equal(http_sync_perform(f->sync, &spec, &resp), 0);
	assert_int_equal(resp.outcome, HTTP_DONE);
	assert_int_equal(resp.status, 404);
	assert_non_null(strstr(resp.body, "20404"));
	http_response_clear(&resp);
}

static void
test_http_sync_captures_retry_after_seconds(void **state)
{
	struct fixture *f = *state;
	struct http_request_spec spec = { .url = url(f, "/retry/7") };
	struct http_response resp;

	assert_int_equal(http_sync_perform(f->sync, &spec, &resp), 0);
	assert_int_equal(resp.status, 429);
	assert_int_equal(resp.retry_after_s, 7);
	http_response_clear(&resp);
}

static void
test_http_sync_captures_retry_after_http_date(void **state)
{
	struct fixture *f = *state;
	struct http_request_spec spec = { .url = url(f, "/retrydate") };
	struct http_response resp;

	assert_int_equal(http_sync_perform(f->sync, &spec, &resp), 0);
	assert_int_equal(resp.status, 503);
	assert_in_range(resp.retry_after_s, 25, 30);
	http_response_clear(&resp);
}

static void
test_http_sync_size_cap_with_content_length(void **state)
{
	struct fixture *f = *state;
	struct http_request_spec spec = { .url = url(f, "/big/100000"),
					  .max_response_bytes = 1000 };
	struct http_response resp;

	assert_int_equal(http_sync_perform(f->sync, &spec, &resp), -EFBIG);
	assert_int_equal(resp.outcome, HTTP_TOO_LARGE);
	assert_int_equal(resp.body_len, 0);
	assert_string_not_equal(resp.error, "");
	http_response_clear(&resp);
}

static void
test_http_sync_size_cap_in_write_callback(void **state)
{
	struct fixture *f = *state;
	struct http_request_spec spec = { .url = url(f, "/chunked/100000"),
					  .max_response_bytes = 1000 };
	struct http_response resp;

	assert_int_equal(http_sync_perform(f->sync, &spec, &resp), -EFBIG);
	assert_int_equal(resp.outcome, HTTP_TOO_LARGE);
	http_response_clear(&resp);
}

static void
test_http_sync_body_at_cap_is_accepted(void **state)
{
	struct fixture *f = *state;
	struct http_request_spec spec = { .url = url(f, "/chunked/1000"),
					  .max_response_bytes = 1000 };
	struct http_response resp;

	assert_int_equal(http_sync_perform(f->sync, &spec, &resp), 0);
	assert_int_equal(resp.body_len, 1000);
	assert_int_equal(strlen(resp.body), 1000);
	http_response_clear(&resp);
}

static void
test_http_sync_timeout(void **state)
{
	struct fixture *f = *state;
	struct http_request_spec spec = { .url = url(f, "/hang"), .timeout_ms = 200 };
	struct http_response resp;

	assert_int_equal(http_sync_perform(f->sync, &spec, &resp), -ETIMEDOUT);
	assert_int_equal(resp.outcome, HTTP_TIMEOUT);
	assert_non_null(resp.body);
	http_response_clear(&resp);
}

static void
test_http_sync_connect_refused(void **state)
{
	struct fixture *f = *state;
	struct http_request_spec spec = { 0 };
	struct http_response resp;
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	char u[64];
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	/* a port that was just free: bound, then closed without listening */
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	snprintf(u, sizeof(u), "http://127.0.0.1:%d/x", ntohs(sin.sin_port));
	close(fd);
	spec.url = u;
	assert_int_equal(http_sync_perform(f->sync, &spec, &resp), -ECONNREFUSED);
	assert_int_equal(resp.outcome, HTTP_CONNECT_FAILED);
	assert_int_equal(resp.status, 0);
	http_response_clear(&resp);
}

static void
test_http_sync_empty_reply_is_failed(void **state)
{
	struct fixture *f = *state;
	struct http_request_spec spec = { 0 };
	struct http_response resp;
	char u[64];

	snprintf(u, sizeof(u), "http://127.0.0.1:%d/x", f->srv->close_port);
	spec.url = u;
	assert_int_equal(http_sync_perform(f->sync, &spec, &resp), -EIO);
	assert_int_equal(resp.outcome, HTTP_FAILED);
	http_response_clear(&resp);
}

static void
test_http_sync_refuses_plain_http_to_remote_host(void **state)
{
	struct fixture *f = *state;
	struct http_request_spec spec = { .url = "http://192.0.2.1/v1/Workspaces" };
	struct http_response resp;

	assert_int_equal(http_sync_perform(f->sync, &spec, &resp), -EINVAL);
	assert_int_equal(resp.outcome, HTTP_FAILED);
	assert_non_null(strstr(resp.error, "plain http"));
	assert_non_null(resp.body);
	http_response_clear(&resp);
}

static void
test_http_sync_refuses_header_injection(void **state)
{
	struct fixture *f = *state;
	struct http_request_spec spec = { .url = url(f, "/echo"), .if_match = "1\r\nX-Evil: 1" };
	struct http_response resp;
	int before = f->srv->requests;

	assert_int_equal(http_sync_perform(f->sync, &spec, &resp), -EINVAL);
	assert_int_equal(f->srv->requests, before);
	http_response_clear(&resp);
}

static void
test_http_sync_reuses_connections(void **state)
{
	struct fixture *f = *state;
	struct http_request_spec spec = { .url = url(f, "/echo") };
	struct http_response resp;

	for (int i = 0; i < 3; i++) {
		assert_int_equal(http_sync_perform(f->sync, &spec, &resp), 0);
		http_response_clear(&resp);
	}
	assert_int_equal(f->srv->requests, 3);
	assert_int_equal(f->srv->connections, 1);
}

struct batch_ctx {
	struct fixture *f;
	int done;
	int ok;
	int retries;
	long statuses[64];
};

static void
batch_count_cb(struct http_batch *batch, const struct http_response *resp, void *arg)
{
	struct batch_ctx *c = arg;

	if (c->done < 64)
		c->statuses[c->done] = resp->status;
	c->done++;
	if (resp->outcome == HTTP_DONE && resp->status == 200)
		c->ok++;
}

static void
test_http_batch_respects_max_parallel(void **state)
{
	struct fixture *f = *state;
	struct http_batch *batch = http_batch_new(f->sync, 3);
	struct batch_ctx c = { .f = f };
	struct http_request_spec spec = { .url = url(f, "/slow/100") };

	for (int i = 0; i < 9; i++)
		assert_int_equal(http_batch_add(batch, &spec, 0, batch_count_cb, &c), 0);
	assert_int_equal(http_batch_run(batch), 0);
	assert_int_equal(c.done, 9);
	assert_int_equal(c.ok, 9);
	assert_int_equal(f->srv->requests, 9);
	assert_true(f->srv->max_concurrent <= 3);
	assert_true(f->srv->max_concurrent >= 2); /* it did run in parallel */
	http_batch_free(batch);
}

static void
test_http_batch_runs_serially_with_max_parallel_one(void **state)
{
	struct fixture *f = *state;
	struct http_batch *batch = http_batch_new(f->sync, 1);
	struct batch_ctx c = { .f = f };
	struct http_request_spec spec = { .url = url(f, "/slow/20") };

	for (int i = 0; i < 4; i++)
		assert_int_equal(http_batch_add(batch, &spec, 0, batch_count_cb, &c), 0);
	assert_int_equal(http_batch_run(batch), 0);
	assert_int_equal(c.ok, 4);
	assert_int_equal(f->srv->max_concurrent, 1);
	http_batch_free(batch);
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
batch_retry_cb(struct http_batch *batch, const struct http_response *resp, void *arg)
{
	struct batch_ctx *c = arg;

	c->done++;
	if (resp->status == 503) {
		struct http_request_spec spec = { .url = url(c->f, "/flaky") };

		c->retries++;
		/* spec lives on this stack frame only: the batch must copy it */
		assert_int_equal(http_batch_add(batch, &spec, 150, batch_retry_cb, c), 0);
		return;
	}
	if (resp->status == 200)
		c->ok++;
}

static void
test_http_batch_callback_adds_delayed_retry(void **state)
{
	struct fixture *f = *state;
	struct http_batch *batch = http_batch_new(f->sync, 2);
	struct batch_ctx c = { .f = f };
	struct http_request_spec spec = { .url = url(f, "/flaky") };
	uint64_t start = now_ms();

	assert_int_equal(http_batch_add(batch, &spec, 0, batch_retry_cb, &c), 0);
	assert_int_equal(http_batch_run(batch), 0);
	assert_int_equal(c.retries, 1);
	assert_int_equal(c.done, 2);
	assert_int_equal(c.ok, 1);
	assert_int_equal(f->srv->flaky_calls, 2);
	assert_true(now_ms() - start >= 150); /* the delay was honoured */
	http_batch_free(batch);
}

static void
test_http_batch_refused_spec_still_calls_back_once(void **state)
{
	struct fixture *f = *state;
	struct http_batch *batch = http_batch_new(f->sync, 2);
	struct batch_ctx c = { .f = f };
	struct http_request_spec bad = { .url = "http://198.51.100.7/x" };
	struct http_request_spec good = { .url = url(f, "/echo") };

	assert_int_equal(http_batch_add(batch, &bad, 0, batch_count_cb, &c), 0);
	assert_int_equal(http_batch_add(batch, &good, 0, batch_count_cb, &c), 0);
	assert_int_equal(http_batch_add(batch, &good, 0, NULL, &c), -EINVAL);
	assert_int_equal(http_batch_run(batch), 0);
	assert_int_equal(c.done, 2);
	assert_int_equal(c.ok, 1);
	assert_int_equal(f->srv->requests, 1);
	http_batch_free(batch);
}

static void
batch_outcome_cb(struct http_batch *batch, const struct http_response *resp, void *arg)
{
	struct batch_ctx *c = arg;

	/* statuses[] holds outcome * 1000 + status, in completion order */
	if (c->done < 64)
		c->statuses[c->done] = (long)resp->outcome * 1000 + resp->status;
	c->done++;
}

static void
test_http_batch_mixed_outcomes(void **state)
{
	struct fixture *f = *state;
	struct http_batch *batch = http_batch_new(f->sync, 4);
	struct batch_ctx c = { .f = f };
	char *ok_url = xstrdup(url(f, "/echo"));
	char *hang_url = xstrdup(url(f, "/hang"));
	char *err_url = xstrdup(url(f, "/status/500"));
	struct http_request_spec ok = { .url = ok_url };
	struct http_request_spec hang = { .url = hang_url, .timeout_ms = 100 };
	struct http_request_spec err = { .url = err_url };
	bool seen_ok = false;
	bool seen_timeout = false;
	bool seen_500 = false;

	assert_int_equal(http_batch_add(batch, &hang, 0, batch_outcome_cb, &c), 0);
	assert_int_equal(http_batch_add(batch, &ok, 0, batch_outcome_cb, &c), 0);
	assert_int_equal(http_batch_add(batch, &err, 0, batch_outcome_cb, &c), 0);
	assert_int_equal(http_batch_run(batch), 0);
	assert_int_equal(c.done, 3);
	for (int i = 0; i < 3; i++) {
		seen_ok |= c.statuses[i] == HTTP_DONE * 1000 + 200;
		seen_500 |= c.statuses[i] == HTTP_DONE * 1000 + 500;
		seen_timeout |= c.statuses[i] / 1000 == HTTP_TIMEOUT;
	}
	assert_true(seen_ok && seen_timeout && seen_500);
	/* the timed-out one finishes last */
	assert_int_equal(c.statuses[2] / 1000, HTTP_TIMEOUT);
	http_batch_free(batch);
	free(ok_url);
	free(hang_url);
	free(err_url);
}

static void
test_http_batch_free_with_queued_requests(void **state)
{
	struct fixture *f = *state;
	struct http_batch *batch = http_batch_new(f->sync, 1);
	struct batch_ctx c = { .f = f };
	struct http_request_spec spec = { .url = url(f, "/echo") };

	assert_int_equal(http_batch_add(batch, &spec, 0, batch_count_cb, &c), 0);
	assert_int_equal(http_batch_add(batch, &spec, 10000, batch_count_cb, &c), 0);
	http_batch_free(batch);
	assert_int_equal(c.done, 0);
	assert_int_equal(f->srv->requests, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_http_sync_get_sends_auth_accept_and_user_agent,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_http_sync_post_sends_form_body_content_type_and_if_match, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_http_sync_post_json_content_type, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_http_sync_delete_with_if_match, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_http_sync_captures_etag, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_sync_error_status_is_a_response, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_http_sync_captures_retry_after_seconds, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_http_sync_captures_retry_after_http_date,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_sync_size_cap_with_content_length, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_http_sync_size_cap_in_write_callback, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_http_sync_body_at_cap_is_accepted, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_http_sync_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_sync_connect_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_sync_empty_reply_is_failed, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_http_sync_refuses_plain_http_to_remote_host,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_sync_refuses_header_injection, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_http_sync_reuses_connections, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_batch_respects_max_parallel, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_http_batch_runs_serially_with_max_parallel_one,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_batch_callback_adds_delayed_retry, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_http_batch_refused_spec_still_calls_back_once,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_batch_mixed_outcomes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_batch_free_with_queued_requests, setup,
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
