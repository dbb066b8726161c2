/*
 * stream against raw socket clients: an evhttp server on 127.0.0.1:0 routes
 * /api/stream to stream_attach with a real model, wired as main wires it
 * (every ring event is broadcast as "event" with its sequence as id). The
 * clients are non-blocking sockets read between loop iterations; they undo
 * the chunked transfer coding and split the SSE stream into blocks, so the
 * tests check the bytes a browser would parse.
 */

#include <sys/socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
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
#include <unistd.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>

#include "buf.h"
#include "form.h"
#include "json.h"
#include "model.h"
#include "stream.h"
#include "tr_event.h"
#include "xmalloc.h"

#define WS1 "WS00000000000000000000000000000001"
#define WQ1 "WQ00000000000000000000000000000001"
#define T0  1715342400000LL

#define MAX_CLIENTS 8

struct client {
	int fd;
	struct buf raw;	 /* bytes received, not yet de-chunked */
	struct buf body; /* de-chunked body, not yet split into blocks */
	bool headers_done;
	bool chunked;
	int status;
	char headers[2048];
	bool eof;
	bool reading; /* false: a slow client that never reads */
	size_t blocks;
};

struct fixture {
	struct event_base *base;
	struct evhttp *http;
	int port;
	struct model *model;
	struct stream *stream;
	struct event *tick;
	struct event *deadline;
	bool expired;
	struct client *clients[MAX_CLIENTS];
	int small_sndbuf; /* set SO_SNDBUF on the next attached connection */
	int64_t now;
	int next_task;
};

/* Parses f as the event ingest does and applies it to m. */
/* A statistics source for snapshots, as daemon.c wires stats.c's. */
static const char *
fake_stats_document(void *arg, bool for_worker, size_t *len_out)
{
	*len_out = 16;
	return "{\"totalTasks\":2}";
}

static int
apply_form(struct model *m, const struct form *f)
{
	struct tr_event ev;
	int r = tr_event_parse(f, &ev, NULL);

	if (r < 0)
		return r;
	r = model_apply_event(m, &ev);
	tr_event_clear(&ev);
	return r;
}

static int64_t
fake_now(void *arg)
{
	return ((struct fixture *)arg)->now;
}

/* main's wiring: ring events go to the stream as "event" with their sequence as id. */
static void
listener(const struct model_change *c, void *arg)
{
	struct fixture *f = arg;
	struct json_gen *g;
	const char *text;
	size_t len = 0;

	if (c->kind != MODEL_CHANGE_EVENT || f->stream == NULL)
		return;
	g = json_gen_new();
	if (model_event_json(f->model, c->seq, g)) {
		text = json_gen_text(g, &len);
		stream_broadcast(f->stream, "event", c->seq, text, len);
	}
	json_gen_free(g);
}

static void
route_cb(struct evhttp_request *req, void *arg)
{
	struct fixture *f = arg;

	if (f->small_sndbuf > 0) {
		struct bufferevent *bev =
			evhttp_connection_get_bufferevent(evhttp_request_get_connection(req));
		int fd = bufferevent_getfd(bev);

		assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &f->small_sndbuf,
					    sizeof(f->small_sndbuf)),
				 0);
		f->small_sndbuf = 0;
	}
	/* "?worker=WK..." stands for a worker's session (the auth module sets it). */
	if (strncmp(evhttp_request_get_uri(req), "/api/stream?worker=", 19) == 0)
		stream_attach_worker(f->stream, req, evhttp_request_get_uri(req) + 19);
	else
		stream_attach(f->stream, req);
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
}

static void
deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	((struct fixture *)arg)->expired = true;
}

/* Moves complete chunks from raw to body. */
static void
client_parse(struct client *c)
{
	for (;;) {
		char *end;
		char *line_end;
		unsigned long size;
		size_t head;

		if (!c->headers_done) {
			end = strstr(c->raw.data, "\r\n\r\n");
			if (end == NULL)
				return;
			head = (size_t)(end - c->raw.data) + 4;
			snprintf(c->headers, sizeof(c->headers), "%.*s", (int)head, c->raw.data);
			c->status = (int)strtol(c->raw.data + 9, NULL, 10);
			c->chunked = strstr(c->headers, "Transfer-Encoding: chunked") != NULL;
			c->headers_done = true;
			buf_consume(&c->raw, head);
			continue;
		}
		if (!c->chunked) {
			buf_append(&c->body, c->raw.data, c->raw.len);
			buf_reset(&c->raw);
			return;
		}
		line_end = strstr(c->raw.data, "\r\n");
		if (line_end == NULL)
			return;
		size = strtoul(c->raw.data, NULL, 16);
		head = (size_t)(line_end - c->raw.data) + 2;
		if (c->raw.len < head + size + 2)
			return;
		buf_append(&c->body, c->raw.data + head, size);
		buf_consume(&c->raw, head + size + 2);
	}
}

static void
client_read(struct client *c)
{
	char tmp[65536];
	ssize_t n;

	if (c->fd < 0 || !c->reading || c->eof)
		return;
	for (;;) {
		n = read(c->fd, tmp, sizeof(tmp));
		if (n > 0) {
			buf_append(&c->raw, tmp, (size_t)n);
			continue;
		}
		if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
			c->eof = true;
		break;
	}
	client_parse(c);
}

static void
client_free(struct client *c)
{
	if (c == NULL)
		return;
	if (c->fd >= 0)
		close(c->fd);
	buf_clear(&c->raw);
	buf_clear(&c->body);
	free(c);
}

/* Connects and sends the request; extra is more header lines ("K: v\r\n") or "". */
static struct client *
client_connect(struct fixture *f, const char *path, const char *extra, int rcvbuf)
{
	struct client *c = xcalloc(1, sizeof(*c));
	struct sockaddr_in sin;
	char req[512];
	int i;

	buf_init(&c->raw);
	buf_init(&c->body);
	c->reading = true;
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(c->fd >= 0);
	if (rcvbuf > 0)
		assert_int_equal(setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)),
				 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)f->port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(c->fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n", path, extra);
	assert_int_equal(write(c->fd, req, strlen(req)), (ssize_t)strlen(req));
	assert_int_equal(fcntl(c->fd, F_SETFL, O_NONBLOCK), 0);
	for (i = 0; i < MAX_CLIENTS; i++) {
		if (f->clients[i] == NULL) {
			f->clients[i] = c;
			return c;
		}
	}
	fail_msg("too many test clients");
	return NULL;
}

static void
client_close(struct fixture *f, struct client *c)
{
	int i;

	for (i = 0; i < MAX_CLIENTS; i++)
		if (f->clients[i] == c)
			f->clients[i] = NULL;
	client_free(c);
}

/*
 * The next complete SSE block (text before a blank line, without it) as an
 * allocated string the caller frees, or NULL when none is complete yet.
 */
static char *
client_next_block(struct client *c)
{
	char *end = strstr(c->body.data, "\n\n");
	char *block;
	size_t n;

	if (end == NULL)
		return NULL;
	n = (size_t)(end - c->body.data);
	block = xstrndup(c->body.data, n);
	buf_consume(&c->body, n + 2);
	c->blocks++;
	return block;
}

static void
pump(struct fixture *f)
{
	int i;

	event_base_loop(f->base, EVLOOP_ONCE);
	for (i = 0; i < MAX_CLIENTS; i++)
		if (f->clients[i] != NULL)
			client_read(f->clients[i]);
}

/* Runs the loop (and reads the clients) until pred or timeout_ms; true when pred held. */
static bool
run_until(struct fixture *f, bool (*pred)(struct fixture *, void *), void *arg, int timeout_ms)
{
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };

	f->expired = false;
	evtimer_add(f->deadline, &tv);
	while (!pred(f, arg) && !f->expired)
		pump(f);
	evtimer_del(f->deadline);
	return pred(f, arg);
}

static bool
has_block(struct fixture *f, void *arg)
{
	struct client *c = arg;

	return strstr(c->body.data, "\n\n") != NULL;
}

static bool
is_eof(struct fixture *f, void *arg)
{
	return ((struct client *)arg)->eof;
}

/* Waits for and returns the client's next block (caller frees). */
static char *
next_block(struct fixture *f, struct client *c)
{
	assert_true(run_until(f, has_block, c, 3000));
	return client_next_block(c);
}

static void
expect_block(struct fixture *f, struct client *c, const char *want)
{
	char *b = next_block(f, c);

	assert_string_equal(b, want);
	free(b);
}

static bool
count_is(struct fixture *f, void *arg)
{
	return stream_client_count(f->stream) == *(size_t *)arg;
}

static void
wait_clients(struct fixture *f, size_t n)
{
	assert_true(run_until(f, count_is, &n, 3000));
}

/* Applies a task.created event for a new task; returns its ring sequence. */
static uint64_t
add_task(struct fixture *f)
{
	struct form *ev = form_new();
	char sid[40];
	char ts[24];
	uint64_t oldest = 0;
	uint64_t newest = 0;

	f->next_task++;
	f->now += 1000;
	snprintf(sid, sizeof(sid), "WT%032d", f->next_task);
	snprintf(ts, sizeof(ts), "%" PRId64, f->now);
	form_add(ev, "EventType", "task.created");
	form_add(ev, "TaskSid", sid);
	form_add(ev, "TimestampMs", ts);
	form_add(ev, "TaskAssignmentStatus", "pending");
	form_add(ev, "TaskQueueSid", WQ1);
	form_add(ev, "TaskQueueName", "Support");
	form_add(ev, "TaskPriority", "5");
	form_add(ev, "TaskAttributes", "{\"type\":\"call\"}");
	form_add(ev, "WorkspaceSid", WS1);
	assert_int_equal(apply_form(f->model, ev), MODEL_APPLIED);
	form_free(ev);
	model_event_range(f->model, &oldest, &newest);
	return newest;
}

static void
fixture_stream(struct fixture *f, const struct stream_options *o)
{
	stream_free(f->stream);
	f->stream = stream_new(f->base, f->model, o, NULL);
}

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	struct model_options mo = { .event_ring_size = 8, .now_ms = fake_now };
	struct stream_options so = { .max_clients = 4, .heartbeat_s = 30 };
	struct evhttp_bound_socket *bound;
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	struct timeval tick = { 0, 10000 };

	f->now = T0;
	mo.clock_arg = f;
	f->base = event_base_new();
	f->model = model_new(&mo);
	model_set_listener(f->model, listener, f);
	f->http = evhttp_new(f->base);
	evhttp_set_cb(f->http, "/api/stream", route_cb, f);
	bound = evhttp_bind_socket_with_handle(f->http, "127.0.0.1", 0);
	assert_non_null(bound);
	assert_int_equal(
		getsockname(evhttp_bound_socket_get_fd(bound), (struct sockaddr *)&sin, &len), 0);
	f->port = ntohs(sin.sin_port);
	f->tick = event_new(f->base, -1, EV_PERSIST, tick_cb, f);
	evtimer_add(f->tick, &tick);
	f->deadline = evtimer_new(f->base, deadline_cb, f);
	fixture_stream(f, &so);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	int i;

	stream_free(f->stream);
	for (i = 0; i < MAX_CLIENTS; i++)
		client_free(f->clients[i]);
	evhttp_free(f->http);
	model_free(f->model);
	event_free(f->tick);
	event_free(f->deadline);
	event_base_free(f->base);
	free(f);
	return 0;
}

/* Splits "event: x\nid: n\ndata: d" into its fields (copies into the arguments). */
static void
parse_block(const char *block, char *event, char *id, struct buf *data)
{
	const char *p = block;

	event[0] = id[0] = '\0';
	buf_reset(data);
	while (*p != '\0') {
		const char *nl = strchr(p, '\n');
		size_t n = nl != NULL ? (size_t)(nl - p) : strlen(p);

		if (strncmp(p, "event: ", 7) == 0)
			snprintf(event, 64, "%.*s", (int)(n - 7), p + 7);
		else if (strncmp(p, "id: ", 4) == 0)
			snprintf(id, 32, "%.*s", (int)(n - 4), p + 4);
		else if (strncmp(p, "data: ", 6) == 0) {
			if (data->len > 0)
				buf_putc(data, '\n');
			buf_append(data, p + 6, n - 6);
		}
		p += n;
		if (*p == '\n')
			p++;
	}
}

static void
test_stream_snapshot_on_connect(void **state)
{
	struct fixture *f = *state;
	struct client *c;
	struct json_doc *doc = NULL;
	const struct json_value *root;
	struct buf data;
	char event[64];
	char id[32];
	char want_id[32];
	char *b;
	int64_t n = -1;
	uint64_t seq;

	buf_init(&data);
	(void)add_task(f);
	seq = add_task(f);
	stream_set_stats(f->stream, fake_stats_document, NULL);
	c = client_connect(f, "/api/stream", "", 0);
	expect_block(f, c, "retry: 2000");
	assert_int_equal(c->status, 200);
	assert_non_null(strstr(c->headers, "Content-Type: text/event-stream"));
	assert_non_null(strstr(c->headers, "Cache-Control: no-cache"));
	assert_non_null(strstr(c->headers, "X-Accel-Buffering: no"));
	assert_true(c->chunked);

	b = next_block(f, c);
	parse_block(b, event, id, &data);
	assert_string_equal(event, "snapshot");
	snprintf(want_id, sizeof(want_id), "%" PRIu64, seq);
	assert_string_equal(id, want_id);
	assert_int_equal(json_parse(data.data, data.len, NULL, &doc, NULL), 0);
	root = json_doc_root(doc);
	assert_int_equal(json_array_len(json_get(root, "tasks")), 2);
	assert_int_equal(json_array_len(json_get(root, "events")), 2);
	assert_int_equal(json_get_int64(json_get(root, "stats"), "totalTasks", &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(json_get_int64(root, "last_event_id", &n), 0);
	assert_int_equal((uint64_t)n, seq);
	assert_true(json_is_array(json_get(root, "workers")));
	assert_true(json_is_array(json_get(root, "queues")));
	assert_true(json_is_array(json_get(root, "activities")));
	assert_true(json_is_object(json_get(root, "workspace")));
	assert_int_equal(stream_client_count(f->stream), 1);
	json_doc_free(doc);
	buf_clear(&data);
	free(b);
}

static void
skip_hello(struct fixture *f, struct client *c)
{
	free(next_block(f, c)); /* retry */
	free(next_block(f, c)); /* snapshot */
}

static void
test_stream_broadcast_framing_and_ids(void **state)
{
	struct fixture *f = *state;
	struct client *c[3];
	struct buf data;
	char event[64];
	char id[32];
	char want_id[32];
	uint64_t seq;
	int i;

	buf_init(&data);
	for (i = 0; i < 3; i++) {
		c[i] = client_connect(f, "/api/stream", "", 0);
		skip_hello(f, c[i]);
	}
	seq = add_task(f); /* broadcast by the listener */
	stream_broadcast(f->stream, "stats", 0, "{\"a\":1}", 7);
	stream_broadcast(f->stream, "task", 42, "line1\nline2\r\nline3\rline4", 24);
	stream_broadcast(f->stream, "bad\ntype", 1, "{}", 2); /* refused */
	stream_broadcast(f->stream, "worker", 0, "{}", 2);
	snprintf(want_id, sizeof(want_id), "%" PRIu64, seq);
	for (i = 0; i < 3; i++) {
		char *b = next_block(f, c[i]);

		parse_block(b, event, id, &data);
		assert_string_equal(event, "event");
		assert_string_equal(id, want_id);
		assert_true(json_is_valid(data.data, data.len));
		assert_non_null(strstr(data.data, "task.created"));
		free(b);
		expect_block(f, c[i], "event: stats\ndata: {\"a\":1}");
		expect_block(
			f, c[i],
			"event: task\nid: 42\ndata: line1\ndata: line2\ndata: line3\ndata: line4");
		expect_block(f, c[i], "event: worker\ndata: {}");
	}
	buf_clear(&data);
}

static void
test_stream_last_event_id_replays_from_the_ring(void **state)
{
	struct fixture *f = *state;
	struct client *c;
	char *b;
	int i;

	for (i = 0; i < 5; i++)
		(void)add_task(f); /* seq 1..5 */

	c = client_connect(f, "/api/stream", "Last-Event-ID: 3\r\n", 0);
	expect_block(f, c, "retry: 2000");
	b = next_block(f, c);
	assert_non_null(strstr(b, "event: event\nid: 4\ndata: {"));
	free(b);
	b = next_block(f, c);
	assert_non_null(strstr(b, "event: event\nid: 5\ndata: {"));
	free(b);
	/* Then live messages, no snapshot. */
	stream_broadcast(f->stream, "stats", 0, "{}", 2);
	expect_block(f, c, "event: stats\ndata: {}");

	/* The query parameter, for EventSource polyfills. */
	c = client_connect(f, "/api/stream?lastEventId=4", "", 0);
	expect_block(f, c, "retry: 2000");
	b = next_block(f, c);
	assert_non_null(strstr(b, "event: event\nid: 5\ndata: {"));
	free(b);

	/* Up to date: nothing to replay. */
	c = client_connect(f, "/api/stream", "Last-Event-ID: 5\r\n", 0);
	expect_block(f, c, "retry: 2000");
	stream_broadcast(f->stream, "stats", 0, "{}", 2);
	expect_block(f, c, "event: stats\ndata: {}");
}

static void
expect_snapshot(struct fixture *f, const char *extra)
{
	struct client *c = client_connect(f, "/api/stream", extra, 0);
	char *b;

	expect_block(f, c, "retry: 2000");
	b = next_block(f, c);
	assert_non_null(strstr(b, "event: snapshot\n"));
	free(b);
	client_close(f, c);
}

static void
test_stream_unknown_or_old_ids_get_a_snapshot(void **state)
{
	struct fixture *f = *state;
	struct client *c;
	uint64_t oldest = 0;
	uint64_t newest = 0;
	char hdr[64];
	char *b;
	int i;

	for (i = 0; i < 12; i++)
		(void)add_task(f);
	model_event_range(f->model, &oldest, &newest);
	assert_int_equal(newest, 12);
	assert_true(oldest > 2);

	snprintf(hdr, sizeof(hdr), "Last-Event-ID: %" PRIu64 "\r\n", oldest - 2); /* a gap */
	expect_snapshot(f, hdr);
	expect_snapshot(f, "Last-Event-ID: 99\r\n"); /* from before a restart */
	expect_snapshot(f, "Last-Event-ID: abc\r\n");
	expect_snapshot(f, "Last-Event-ID: 99999999999999999999999\r\n");

	/* Exactly what the ring still covers: replay. */
	snprintf(hdr, sizeof(hdr), "Last-Event-ID: %" PRIu64 "\r\n", oldest - 1);
	c = client_connect(f, "/api/stream", hdr, 0);
	expect_block(f, c, "retry: 2000");
	for (i = 0; i <= (int)(newest - oldest); i++) {
		char want[64];

		b = next_block(f, c);
		snprintf(want, sizeof(want), "event: event\nid: %" PRIu64 "\n",
			 oldest + (uint64_t)i);
		assert_non_null(strstr(b, want));
		free(b);
	}
}

static bool
has_ping(struct fixture *f, void *arg)
{
	struct client *c = arg;

	return strstr(c->body.data, ": ping\n\n") != NULL;
}

static void
test_stream_heartbeat_and_no_read_timeout(void **state)
{
	struct fixture *f = *state;
	struct stream_options so = { .heartbeat_s = 1 };
	struct client *c;

	/* The server's own timeout must not end an idle stream. */
	evhttp_set_timeout(f->http, 1);
	fixture_stream(f, &so);
	c = client_connect(f, "/api/stream", "", 0);
	skip_hello(f, c);
	assert_true(run_until(f, has_ping, c, 2500));
	buf_reset(&c->body);
	assert_true(run_until(f, has_ping, c, 2500));
	assert_false(c->eof);
	assert_int_equal(stream_client_count(f->stream), 1);
}

static bool
all_read(struct fixture *f, void *arg)
{
	struct client **c = arg;

	return c[0]->blocks >= 202 && c[1]->blocks >= 202;
}

static void
drain_blocks(struct client *c)
{
	char *b;

	while ((b = client_next_block(c)) != NULL)
		free(b);
}

static void
test_stream_slow_client_dropped_others_keep_receiving(void **state)
{
	struct fixture *f = *state;
	struct stream_options so = { .max_buffered_bytes = 16 * 1024, .heartbeat_s = 30 };
	struct client *fast[2];
	struct client *slow;
	char *msg = xmalloc(2048);
	int i;

	memset(msg, 'x', 2047);
	msg[0] = '"';
	msg[2046] = '"';
	msg[2047] = '\0';
	fixture_stream(f, &so);
	fast[0] = client_connect(f, "/api/stream", "", 0);
	fast[1] = client_connect(f, "/api/stream", "", 0);
	wait_clients(f, 2);
	f->small_sndbuf = 4096;
	slow = client_connect(f, "/api/stream", "", 4096);
	wait_clients(f, 3);
	slow->reading = false; /* never reads a byte */
	for (i = 0; i < 200; i++) {
		stream_broadcast(f->stream, "stats", 0, msg, strlen(msg));
		pump(f);
		drain_blocks(fast[0]);
		drain_blocks(fast[1]);
	}
	assert_true(run_until(f, all_read, fast, 5000));
	assert_int_equal(stream_client_count(f->stream), 2);
	/* The slow client's connection is closed by the server. */
	slow->reading = true;
	assert_true(run_until(f, is_eof, slow, 5000));
	assert_false(fast[0]->eof);
	stream_broadcast(f->stream, "stats", 0, "{}", 2);
	expect_block(f, fast[0], "event: stats\ndata: {}");
	free(msg);
}

static bool
got_status(struct fixture *f, void *arg)
{
	return ((struct client *)arg)->headers_done;
}

static bool
body_is_json(struct fixture *f, void *arg)
{
	struct client *c = arg;

	return c->body.len > 0 && json_is_valid(c->body.data, c->body.len);
}

static void
test_stream_max_clients_gets_503_json(void **state)
{
	struct fixture *f = *state;
	struct stream_options so = { .max_clients = 2 };
	struct client *a;
	struct client *b;
	struct client *c;
	struct json_doc *doc = NULL;
	const char *err = NULL;

	fixture_stream(f, &so);
	a = client_connect(f, "/api/stream", "", 0);
	b = client_connect(f, "/api/stream", "", 0);
	wait_clients(f, 2);
	c = client_connect(f, "/api/stream", "", 0);
	assert_true(run_until(f, got_status, c, 3000));
	assert_int_equal(c->status, 503);
	assert_non_null(strstr(c->headers, "Content-Type: application/json"));
	assert_true(run_until(f, body_is_json, c, 3000));
	assert_int_equal(json_parse(c->body.data, c->body.len, NULL, &doc, NULL), 0);
	assert_int_equal(json_get_string(json_doc_root(doc), "error", &err), 0);
	assert_string_equal(err, "unavailable");
	json_doc_free(doc);
	assert_int_equal(stream_client_count(f->stream), 2);

	/* A client leaving frees its place (close detection). */
	client_close(f, a);
	wait_clients(f, 1);
	c = client_connect(f, "/api/stream", "", 0);
	skip_hello(f, c);
	assert_int_equal(stream_client_count(f->stream), 2);
	(void)b;
}

static void
test_stream_free_with_clients_connected(void **state)
{
	struct fixture *f = *state;
	struct stream_options so = { .max_buffered_bytes = 4096 };
	struct client *a;
	struct client *slow;
	char big[1024];
	int i;

	fixture_stream(f, &so);
	a = client_connect(f, "/api/stream", "", 0);
	wait_clients(f, 1);
	f->small_sndbuf = 4096;
	slow = client_connect(f, "/api/stream", "", 4096);
	wait_clients(f, 2);
	skip_hello(f, a);
	slow->reading = false;
	memset(big, 'y', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	/* Enough to drop the slow client; freed before the reaper runs. */
	for (i = 0; i < 300 && stream_client_count(f->stream) == 2; i++) {
		stream_broadcast(f->stream, "stats", 0, big, strlen(big));
		event_base_loop(f->base, EVLOOP_NONBLOCK);
	}
	assert_int_equal(stream_client_count(f->stream), 1);
	stream_free(f->stream);
	f->stream = NULL;
	assert_true(run_until(f, is_eof, a, 3000));
}

/* stream_audience_cb: the message concerns the worker named by arg. */
static bool
concerns(const char *worker_sid, void *arg)
{
	return strcmp(worker_sid, arg) == 0;
}

static void
test_stream_worker_filter_sees_only_its_own(void **state)
{
	struct fixture *f = *state;
	struct client *sup;
	struct client *wk;
	char wk1[] = "WK1";
	char wk2[] = "WK2";
	char *snap;

	sup = client_connect(f, "/api/stream", "", 0);
	wk = client_connect(f, "/api/stream?worker=WK1", "", 0);
	skip_hello(f, sup);
	free(next_block(f, wk)); /* retry */
	snap = next_block(f, wk);
	assert_non_null(strstr(snap, "event: snapshot"));
	assert_non_null(strstr(snap, "\"queues\":[]")); /* a worker's snapshot: no queues */
	free(snap);
	stream_broadcast_for(f->stream, concerns, wk2, "worker", 0, "{\"sid\":\"WK2\"}", 13);
	stream_broadcast_for(f->stream, concerns, wk1, "worker", 0, "{\"sid\":\"WK1\"}", 13);
	stream_broadcast(f->stream, "event", 7, "{}", 2); /* supervisors only */
	stream_broadcast_for(f->stream, NULL, NULL, "task", 0, "{}", 2);
	stream_broadcast_for(f->stream, stream_audience_all, NULL, "stats", 0, "{}", 2);
	expect_block(f, sup, "event: worker\ndata: {\"sid\":\"WK2\"}");
	expect_block(f, sup, "event: worker\ndata: {\"sid\":\"WK1\"}");
	expect_block(f, sup, "event: event\nid: 7\ndata: {}");
	expect_block(f, sup, "event: task\ndata: {}");
	expect_block(f, sup, "event: stats\ndata: {}");
	expect_block(f, wk, "event: worker\ndata: {\"sid\":\"WK1\"}");
	expect_block(f, wk, "event: stats\ndata: {}");
	assert_null(client_next_block(wk));
}

static bool
first_dropped(struct fixture *f, void *arg)
{
	return stream_client_count(f->stream) < *(size_t *)arg;
}

static void
test_stream_budget_drops_the_slowest_first(void **state)
{
	struct fixture *f = *state;
	/* The per-client cap is far away: only the global budget can drop anyone. */
	struct stream_options so = { .max_buffered_bytes = 64 * 1024 * 1024,
				     .budget_bytes = 256 * 1024,
				     .heartbeat_s = 30 };
	struct client *fast;
	struct client *slowest;
	struct client *slow;
	char *msg = xmalloc(2048);
	size_t three = 3;
	int i;

	memset(msg, 'z', 2047);
	msg[0] = '"';
	msg[2046] = '"';
	msg[2047] = '\0';
	fixture_stream(f, &so);
	fast = client_connect(f, "/api/stream", "", 0);
	wait_clients(f, 1);
	f->small_sndbuf = 4096;
	slowest = client_connect(f, "/api/stream", "", 4096);
	wait_clients(f, 2);
	f->small_sndbuf = 4096;
	slow = client_connect(f, "/api/stream", "", 4096);
	wait_clients(f, 3);
	slowest->reading = false; /* never reads */
	for (i = 0; i < 600 && stream_client_count(f->stream) == 3; i++) {
		if (i == 60)
			slow->reading = false; /* reads a while, then stops: behind, but less */
		stream_broadcast(f->stream, "stats", 0, msg, strlen(msg));
		pump(f);
		drain_blocks(fast);
		drain_blocks(slow);
	}
	assert_true(run_until(f, first_dropped, &three, 3000));
	assert_int_equal(stream_client_count(f->stream), 2);
	slowest->reading = true;
	assert_true(run_until(f, is_eof, slowest, 5000)); /* the one furthest behind went */
	assert_false(slow->eof);
	assert_false(fast->eof);
	free(msg);
}

/*
 * ?batch=1: the supervisors' messages arrive as [type, id, data] items of
 * "batch" messages with increasing ids after the snapshot's batchId; a
 * client naming a kept batch gets the later ones and no snapshot; once a
 * change happened with no batched client connected, the same id gets a
 * snapshot (that change is in no batch).
 */
static void
test_stream_batches_and_their_resume(void **state)
{
	struct fixture *f = *state;
	struct client *c;
	struct client *c2;
	const char *p;
	char path[128];
	char want[256];
	uint64_t snap_id;
	size_t zero = 0;
	char *b;

	c = client_connect(f, "/api/stream?batch=1", "", 0);
	expect_block(f, c, "retry: 2000");
	b = next_block(f, c);
	assert_non_null(strstr(b, "event: snapshot\n"));
	p = strstr(b, "\"batchId\":");
	assert_non_null(p);
	snap_id = strtoull(p + 10, NULL, 10);
	free(b);

	stream_broadcast(f->stream, "stats", 0, "{\"a\":1}", 7);
	stream_broadcast(f->stream, "task", 0, "{\"sid\":\"WT1\"}", 13);
	snprintf(want, sizeof(want),
		 "event: batch\nid: %" PRIu64
		 "\ndata: [[\"stats\",0,{\"a\":1}],[\"task\",0,{\"sid\":\"WT1\"}]]",
		 snap_id + 1);
	expect_block(f, c, want);
	stream_broadcast(f->stream, "task", 0, "{\"sid\":\"WT2\"}", 13);
	snprintf(want, sizeof(want),
		 "event: batch\nid: %" PRIu64 "\ndata: [[\"task\",0,{\"sid\":\"WT2\"}]]",
		 snap_id + 2);
	expect_block(f, c, want);

	/* Resume after the first batch: the second is replayed, no snapshot. */
	snprintf(path, sizeof(path), "/api/stream?batch=1&lastEventId=%" PRIu64, snap_id + 1);
	c2 = client_connect(f, path, "", 0);
	expect_block(f, c2, "retry: 2000");
	expect_block(f, c2, want);

	/* Nobody batched left; a change; the same id now gets a snapshot. */
	client_close(f, c);
	client_close(f, c2);
	assert_true(run_until(f, count_is, &zero, 3000));
	stream_invalidate(f->stream);
	c = client_connect(f, path, "", 0);
	expect_block(f, c, "retry: 2000");
	b = next_block(f, c);
	assert_non_null(strstr(b, "event: snapshot\n"));
	free(b);
}

/*
 * A keyed item supersedes the pending items with the same key: the batch
 * holds each record's latest state once, in the order of the latest, and
 * unkeyed items (events) all; an unbatched client still gets every message,
 * and the full version of one whose batched version is brief.
 */
static void
test_stream_batch_keeps_a_records_latest_state(void **state)
{
	struct fixture *f = *state;
	struct client *c;
	struct client *plain;
	const char *p;
	char want[512];
	uint64_t snap_id;
	char *b;

	c = client_connect(f, "/api/stream?batch=1", "", 0);
	expect_block(f, c, "retry: 2000");
	b = next_block(f, c);
	p = strstr(b, "\"batchId\":");
	assert_non_null(p);
	snap_id = strtoull(p + 10, NULL, 10);
	free(b);
	plain = client_connect(f, "/api/stream", "", 0);
	expect_block(f, plain, "retry: 2000");
	free(next_block(f, plain)); /* its snapshot */

	/* One loop turn: all of these go in one batch. */
	stream_broadcast_keyed(f->stream, NULL, NULL, "task", 0, "{\"v\":1}", 7,
			       &(struct stream_batched){ .key = "task:WT1" });
	stream_broadcast(f->stream, "event", 0, "{\"e\":1}", 7);
	stream_broadcast_keyed(f->stream, NULL, NULL, "worker", 0, "{\"w\":1}", 7,
			       &(struct stream_batched){ .key = "worker:WK1" });
	stream_broadcast_keyed(f->stream, NULL, NULL, "reservation", 0, "{\"v\":2}", 7,
			       &(struct stream_batched){ .key = "task:WT1" });
	stream_broadcast_keyed(f->stream, NULL, NULL, "task", 0, "{\"t2\":1}", 8,
			       &(struct stream_batched){ .key = "task:WT2" });
	stream_broadcast(f->stream, "event", 0, "{\"e\":2}", 7);
	stream_broadcast_keyed(f->stream, NULL, NULL, "task", 0, "{\"v\":3}", 7,
			       &(struct stream_batched){ .key = "task:WT1" });
	snprintf(want, sizeof(want),
		 "event: batch\nid: %" PRIu64
		 "\ndata: [[\"event\",0,{\"e\":1}],[\"worker\",0,{\"w\":1}],"
		 "[\"task\",0,{\"t2\":1}],[\"event\",0,{\"e\":2}],[\"task\",0,{\"v\":3}]]",
		 snap_id + 1);
	expect_block(f, c, want);
	expect_block(f, plain, "event: task\ndata: {\"v\":1}");
	expect_block(f, plain, "event: event\ndata: {\"e\":1}");
	expect_block(f, plain, "event: worker\ndata: {\"w\":1}");
	expect_block(f, plain, "event: reservation\ndata: {\"v\":2}");
	expect_block(f, plain, "event: task\ndata: {\"t2\":1}");
	expect_block(f, plain, "event: event\ndata: {\"e\":2}");
	expect_block(f, plain, "event: task\ndata: {\"v\":3}");

	/*
	 * The next batch starts afresh: an earlier batch's item is not
	 * superseded. A brief version goes to the batched client only.
	 */
	stream_broadcast_keyed(f->stream, NULL, NULL, "task", 0, "{\"v\":4}", 7,
			       &(struct stream_batched){ .key = "task:WT1" });
	stream_broadcast_keyed(f->stream, NULL, NULL, "event", 9, "{\"e\":3,\"x\":0}", 13,
			       &(struct stream_batched){ .json = "{\"e\":3}", .len = 7 });
	snprintf(want, sizeof(want),
		 "event: batch\nid: %" PRIu64
		 "\ndata: [[\"task\",0,{\"v\":4}],[\"event\",9,{\"e\":3}]]",
		 snap_id + 2);
	expect_block(f, c, want);
	expect_block(f, plain, "event: task\ndata: {\"v\":4}");
	expect_block(f, plain, "event: event\nid: 9\ndata: {\"e\":3,\"x\":0}");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_stream_snapshot_on_connect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_broadcast_framing_and_ids, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_stream_last_event_id_replays_from_the_ring,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_unknown_or_old_ids_get_a_snapshot,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_heartbeat_and_no_read_timeout, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_stream_slow_client_dropped_others_keep_receiving, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_max_clients_gets_503_json, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_stream_worker_filter_sees_only_its_own, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_stream_budget_drops_the_slowest_first, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_stream_free_with_clients_connected, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_stream_batches_and_their_resume, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_stream_batch_keeps_a_records_latest_state,
						setup, teardown),
	};
	struct sigaction sa;

	/* the server writes to clients that went away */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) != 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
