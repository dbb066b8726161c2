/*
 * stream: Server-Sent Events (GET /api/stream) on evhttp chunked replies.
 *
 * What must stay true:
 * - A broadcast costs O(clients) and formats its message once: the text
 *   lives in one reference-counted struct stream_msg, framed once as an
 *   HTTP chunk, and each client gets one reference to it. A client whose
 *   connection has nothing unsent (the usual case) keeps it in its pending
 *   list, and at the end of the loop turn the stream writes each client's
 *   pending texts with one sendmsg (stream_write_cb): no allocation, no
 *   event per client. What the socket does not take, and every message of
 *   a client that has bytes unsent, goes to the connection's output as a
 *   reference (evbuffer_add_reference; evhttp's chunk API is not used, it
 *   would allocate framing per client and message), which the front door's
 *   filter writes when the socket takes more. The last holder to let go of
 *   a message frees it, whenever that is. The snapshot is such a message
 *   too, built at most once per model change (stream_invalidate) and
 *   shared by every client that connects until the next change.
 * - Output is never buffered without bound: before every write the
 *   client's unsent bytes (server_request_unsent) are checked, and a client
 *   above max_buffered_bytes is dropped. The snapshot a client gets on
 *   connect may be larger than the cap; its size is allowed on top of the
 *   cap until the client has drained below the cap once. All clients
 *   together stay under budget_bytes (messages once, plus 1,040 bytes per
 *   queued or pending reference): over it the slowest go first. A client whose socket
 *   takes no byte for write_timeout_s is closed (the server's connection
 *   filter). There is no read timeout: a stream client never sends
 *   anything after its request, and the server closes it if it does.
 * - Client lifetime (the zombie pattern, STYLE.md 4): evhttp owns the
 *   connection and the request. When the peer goes away, evhttp calls our
 *   close callback while it frees the connection; the client record is
 *   freed there, and a request evhttp detached instead of freeing (a close
 *   during a chunked reply) is released with evhttp_send_reply_end. When
 *   we drop a client ourselves (too slow) it is only marked and moved to the
 *   zombie list; a zero-delay event frees the connection and the record
 *   after the broadcast that found it slow has returned, with our close
 *   callback removed first so nothing runs twice.
 * - Resume: ring events are sent as "event" messages whose id is the
 *   model's ring sequence number. A Last-Event-ID the ring still covers
 *   (every later event is still in it) replays those events; anything else
 *   (too old, from before a restart, unparsable) gets a fresh snapshot.
 * - Batches (stream.h): a batched client's resume uses batch ids instead.
 *   A batch is built once per flush and shared like any message; the ring
 *   of sent batches holds references to the same messages. A change while
 *   no batched client is connected is in no batch, so the ring is emptied
 *   and the id moves on (stream_batch_skip): resuming across it is refused.
 *   A new unfiltered client first flushes what is pending to the others, so
 *   its snapshot holds exactly the batches up to the one it names. A keyed
 *   item (stream_broadcast_keyed) marks the pending item with its key dead
 *   (a hash map from key to item); the flush leaves dead items out. What a
 *   batched client ends with is the same: only a record's earlier states go.
 */

#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>

#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "buf.h"
#include "date.h"
#include "form.h"
#include "hmap.h"
#include "json.h"
#include "log.h"
#include "metrics.h"
#include "model.h"
#include "queue.h"
#include "server.h"
#include "stream.h"
#include "xmalloc.h"

#define STREAM_DEFAULT_MAX_CLIENTS	  256
#define STREAM_DEFAULT_MAX_BUFFERED_BYTES (1024 * 1024)
#define STREAM_DEFAULT_HEARTBEAT_S	  15
#define STREAM_DEFAULT_WRITE_TIMEOUT_S	  60
#define STREAM_MAX_TYPE_BYTES		  64
#define STREAM_MAX_EVENT_ID_BYTES	  20
#define STREAM_DEFAULT_BUDGET_BYTES	  (32 * 1024 * 1024)
#define STREAM_TRIM_DELAY_S		  1
#define STREAM_DEFAULT_BATCH_MS		  25
/* A batch this large is sent at once, whatever the time since the last. */
#define STREAM_BATCH_MAX_BYTES (256 * 1024)
/* A batch item's key ("task:WT...", stream_broadcast_keyed); a longer one is no key. */
#define STREAM_KEY_MAX 48
/* Sent batches kept for Last-Event-ID replay: at most this many, and bytes. */
#define STREAM_RING_MAX	      1024
#define STREAM_RING_MAX_BYTES (2 * 1024 * 1024)
#define STREAM_STR_(x)	      #x
#define STREAM_STR(x)	      STREAM_STR_(x)
/*
 * Bytes one reference costs in a client's buffer: libevent 2.1 allocates a
 * chain of at least 1,024 bytes for it (measured: 1,040 with malloc's own).
 */
#define STREAM_REF_COST 1040
/* Messages a client may have waiting for the stream's own write of this loop turn. */
#define STREAM_PEND_MAX 16

/* Static messages, as HTTP chunks ("8" is the size of ": ping\n\n"). */
static const char stream_ping[] = "8\r\n: ping\n\n\r\n";
#define STREAM_PING_HDR 3

/* A pending batch item: where its text is in st->batch, and what it supersedes. */
struct stream_item {
	size_t off; /* of its "[type,id,data]" text in st->batch */
	size_t len;
	bool dead;		  /* superseded by a later item with the same key */
	char key[STREAM_KEY_MAX]; /* "" for none */
};

/* One formatted message shared by every client buffer that references it. */
struct stream_msg {
	struct stream *st; /* for the budget; kept alive while messages are (st->n_msgs) */
	unsigned refs;
	char *text; /* the HTTP chunk: size line, the SSE text, CRLF */
	size_t len; /* all of it */
	size_t hdr; /* the size line's length: the SSE text starts here */
};

struct stream_client {
	struct stream *st;
	struct evhttp_request *req;
	struct evhttp_connection *conn;
	struct bufferevent *bev;
	size_t allowance; /* bytes allowed over the cap: the snapshot, until drained */
	bool zombie;	  /* dropped by us, freed by the reaper */
	char *worker_sid; /* only this worker's messages (NULL: everything) */
	bool chunked;	  /* the reply is chunked (HTTP/1.1): send whole chunks */
	bool batched;	  /* asked for "batch" messages (?batch=1); never a worker's */
	size_t refs;	  /* references sent since its output was last seen empty */
	size_t frees;	  /* a zombie: what dropping it will free (stream.zombie_bytes) */
	int fd;		  /* the socket the stream writes itself (server_request_socket), or -1 */
	/* Shared messages for this loop turn's write (stream_write_cb), in order; references. */
	struct stream_msg *pend[STREAM_PEND_MAX];
	size_t npend;
	size_t pend_bytes;
	char peer[64];
	TAILQ_ENTRY(stream_client) link;
};

TAILQ_HEAD(stream_clients, stream_client);

struct stream {
	struct event_base *base;
	struct model *model;
	stream_stats_cb *stats;
	void *stats_arg;
	struct metrics *metrics;
	size_t max_clients;
	size_t max_buffered_bytes;
	int heartbeat_s;
	int write_timeout_s;
	struct stream_clients clients; /* live */
	size_t nclients;
	struct stream_clients zombies; /* dropped, waiting for the reaper */
	struct event *heartbeat_ev;
	struct event *reap_ev;
	struct event *write_ev; /* writes every client's pending messages, once per loop turn */
	struct json_gen *gen;
	struct stream_msg *snapshot;	 /* the current full snapshot, shared; NULL: stale */
	size_t budget_bytes;		 /* for all messages alive, each counted once */
	size_t held_bytes;		 /* text of every message alive */
	size_t n_msgs;			 /* messages alive: st outlives them (stream_free) */
	size_t n_refs;			 /* references to them in client buffers */
	size_t zombie_bytes;		 /* counted above but on its way out with dropped clients */
	bool freed;			 /* stream_free ran; the last message frees st */
	struct event *trim_ev;		 /* gives freed memory back after clients left */
	stream_snapshot_extra_cb *extra; /* more keys in the full snapshot (the charts' series) */
	void *extra_arg;
	/* Batches for the clients that asked for them (stream.h, stream_attach). */
	size_t nbatched;	   /* live batched clients */
	struct buf batch;	   /* pending items, ["type",id,data] joined by commas */
	size_t batch_n;		   /* items in it */
	struct stream_item *items; /* batch_n of them, in order */
	size_t items_cap;
	struct hmap *keys;	  /* key -> 1 + the index of its live item */
	size_t batch_dead;	  /* items superseded (left out when the batch goes) */
	uint64_t batch_id;	  /* id of the newest batch (sent, or skipped) */
	int batch_ms;		  /* at most one batch per this many ms */
	int64_t batch_last_ms;	  /* monotonic time of the last batch */
	struct event *batch_ev;	  /* sends the pending batch */
	struct stream_msg **ring; /* sent batches for replay, circular, oldest at ring_head */
	size_t ring_head;
	size_t ring_n;
	size_t ring_bytes;
};

/*
 * A message with room for len bytes of SSE text at msg->text + msg->hdr,
 * which the caller writes, and one reference for the caller. It is framed
 * once as an HTTP chunk, so that a chunked reply takes one reference to it
 * per client and nothing else: evhttp's own chunk API would allocate a
 * framing buffer per client and message.
 */
static struct stream_msg *
stream_msg_alloc(struct stream *st, size_t len)
{
	struct stream_msg *msg = xcalloc(1, sizeof(*msg));
	char size_line[24];
	int n = snprintf(size_line, sizeof(size_line), "%zx\r\n", len);

	msg->st = st;
	msg->refs = 1;
	msg->hdr = (size_t)n;
	msg->len = msg->hdr + len + 2;
	msg->text = xmalloc(msg->len);
	memcpy(msg->text, size_line, msg->hdr);
	memcpy(msg->text + msg->hdr + len, "\r\n", 2);
	st->held_bytes += msg->len;
	st->n_msgs++;
	return msg;
}

/* A message for the SSE text (len bytes; taken over). */
static struct stream_msg *
stream_msg_new(struct stream *st, char *text, size_t len)
{
	struct stream_msg *msg = stream_msg_alloc(st, len);

	memcpy(msg->text + msg->hdr, text, len);
	free(text);
	return msg;
}

static void
stream_msg_unref(struct stream_msg *msg)
{
	if (msg == NULL || --msg->refs > 0)
		return;
	msg->st->held_bytes -= msg->len;
	if (--msg->st->n_msgs == 0 && msg->st->freed)
		free(msg->st); /* buffers freed after stream_free let go of the last one */
	free(msg->text);
	free(msg);
}

/* The shared snapshot no longer holds: the next client that needs one rebuilds it. */
static void
stream_snapshot_stale(struct stream *st)
{
	if (st->snapshot == NULL)
		return;
	stream_msg_unref(st->snapshot);
	st->snapshot = NULL;
}

/* evbuffer_add_reference cleanup: a buffer let go of its reference. */
/* Lets go of one reference a client held (queued or pending). */
static void
stream_msg_release(struct stream_msg *msg)
{
	msg->st->n_refs--;
	stream_msg_unref(msg);
}

static void
stream_msg_cleanup_cb(const void *data, size_t datalen, void *extra)
{
	stream_msg_release(extra);
}

/*
 * What the stream holds: every message once, plus what each reference to
 * one costs in a client's buffer (an evbuffer chain).
 */
static size_t
stream_held(const struct stream *st)
{
	return st->held_bytes + st->n_refs * STREAM_REF_COST;
}

/* True when what stays (held less what dropped clients will free) is over the budget. */
static bool
stream_over_budget(const struct stream *st)
{
	size_t held = stream_held(st);

	return held > st->zombie_bytes && held - st->zombie_bytes > st->budget_bytes;
}

/* True when type can be an SSE event name: 1..64 bytes, no CR, LF or NUL. */
static bool
stream_type_ok(const char *type)
{
	size_t n;

	if (type == NULL)
		return false;
	n = strlen(type);
	return n > 0 && n <= STREAM_MAX_TYPE_BYTES && strpbrk(type, "\r\n") == NULL;
}

static void
stream_put(char *out, size_t *pos, const char *s, size_t n)
{
	if (out != NULL)
		memcpy(out + *pos, s, n);
	*pos += n;
}

/*
 * Writes the SSE text of one event (type and id lines when given, each line
 * of data as a "data:" line, a blank line) to out, or only measures it when
 * out is NULL; returns its length. Measuring first lets a message be written
 * once into a buffer of its exact size.
 */
static size_t
stream_sse_frame(char *out, const char *type, uint64_t id, const char *data, size_t len)
{
	char num[32];
	size_t pos = 0;
	size_t start = 0;
	size_t i;
	int n;

	if (type != NULL) {
		stream_put(out, &pos, "event: ", 7);
		stream_put(out, &pos, type, strlen(type));
		stream_put(out, &pos, "\n", 1);
	}
	if (id != 0) {
		n = snprintf(num, sizeof(num), "id: %" PRIu64 "\n", id);
		stream_put(out, &pos, num, (size_t)n);
	}
	for (i = 0; i <= len; i++) {
		if (i < len && data[i] != '\n' && data[i] != '\r')
			continue;
		stream_put(out, &pos, "data: ", 6);
		stream_put(out, &pos, data + start, i - start);
		stream_put(out, &pos, "\n", 1);
		if (i + 1 < len && data[i] == '\r' && data[i + 1] == '\n')
			i++;
		start = i + 1;
	}
	stream_put(out, &pos, "\n", 1);
	return pos;
}

/*
 * Appends one SSE message. data is split at CR, LF and CRLF into "data:"
 * lines (the SSE line rules), so any text arrives as sent.
 */
static void
stream_format(struct buf *b, const char *type, uint64_t id, const char *data, size_t len)
{
	size_t n = stream_sse_frame(NULL, type, id, data, len);

	buf_reserve(b, n);
	(void)stream_sse_frame(b->data + b->len, type, id, data, len);
	b->len += n;
	b->data[b->len] = '\0';
}

/*
 * A message for one SSE event, framed as stream_format does, written once
 * into its own buffer: a 5 MB snapshot costs 5 MB here, not a formatting
 * buffer and a copy of it as well.
 */
static struct stream_msg *
stream_msg_sse(struct stream *st, const char *type, uint64_t id, const char *data, size_t len)
{
	struct stream_msg *msg = stream_msg_alloc(st, stream_sse_frame(NULL, type, id, data, len));

	(void)stream_sse_frame(msg->text + msg->hdr, type, id, data, len);
	return msg;
}

/* Unsent bytes of the client: its connection's, and its messages pending our write. */
static size_t
stream_client_queued(const struct stream_client *cl)
{
	/* Messages are pending only while the connection has nothing unsent. */
	if (cl->npend > 0)
		return cl->pend_bytes;
	return server_request_unsent(cl->req);
}

/* What of msg the client gets: the HTTP chunk, or only the SSE text when not chunked. */
static char *
stream_msg_data(const struct stream_client *cl, const struct stream_msg *msg, size_t *len)
{
	*len = cl->chunked ? msg->len : msg->len - msg->hdr - 2;
	return cl->chunked ? msg->text : msg->text + msg->hdr;
}

/* The client's output: whatever the connection writes next (the reply was started). */
static struct evbuffer *
stream_client_output(const struct stream_client *cl)
{
	return bufferevent_get_output(cl->bev);
}

/* Puts len bytes of msg at data on the client's output, handing over one reference. */
static void
stream_client_queue_ref(struct stream_client *cl, struct stream_msg *msg, const char *data,
			size_t len)
{
	if (evbuffer_add_reference(stream_client_output(cl), data, len, stream_msg_cleanup_cb,
				   msg) != 0) {
		stream_msg_release(msg);
		log_warning("sse client %s: cannot queue a message", cl->peer);
	}
}

/*
 * Moves the client's pending messages, from the first-th on (skipping off
 * bytes of that one: the socket took them), to its connection's output, in
 * order, where the connection's filter writes them when the socket can
 * take them (and closes a stalled one).
 */
static void
stream_client_spill(struct stream_client *cl, size_t first, size_t off)
{
	size_t i;

	for (i = first; i < cl->npend; i++) {
		size_t len = 0;
		const char *data = stream_msg_data(cl, cl->pend[i], &len);

		stream_client_queue_ref(cl, cl->pend[i], data + off, len - off);
		off = 0;
	}
	cl->npend = 0;
	cl->pend_bytes = 0;
}

/* Lets go of the pending messages of a client that is going away. */
static void
stream_client_pend_clear(struct stream_client *cl)
{
	size_t i;

	for (i = 0; i < cl->npend; i++)
		stream_msg_release(cl->pend[i]);
	cl->npend = 0;
	cl->pend_bytes = 0;
}

/* After clients left, glibc keeps freed heap unless asked: ask once things settle. */
static void
stream_trim_cb(evutil_socket_t fd, short what, void *arg)
{
#ifdef __GLIBC__
	(void)malloc_trim(0);
#endif
}

static void
stream_client_free(struct stream_client *cl)
{
	struct timeval tv = { STREAM_TRIM_DELAY_S, 0 };

	if (!evtimer_pending(cl->st->trim_ev, NULL))
		(void)evtimer_add(cl->st->trim_ev, &tv); /* cannot fail for a timer */
	cl->st->zombie_bytes -= cl->frees;
	stream_client_pend_clear(cl);
	free(cl->worker_sid);
	free(cl);
}

/* Takes a live client out of the live list, keeping the count and metrics right. */
static void
stream_client_unlink_live(struct stream *st, struct stream_client *cl)
{
	TAILQ_REMOVE(&st->clients, cl, link);
	st->nclients--;
	if (cl->batched)
		st->nbatched--;
	if (st->metrics != NULL)
		metrics_sse_clients(st->metrics, -1);
}

/* Takes cl out of whichever list holds it (close callback). */
static void
stream_client_unlink(struct stream_client *cl)
{
	struct stream *st = cl->st;

	if (cl->zombie)
		TAILQ_REMOVE(&st->zombies, cl, link);
	else
		stream_client_unlink_live(st, cl);
}

/* Marks a live client for the reaper; it gets no more output. */
static void
stream_client_drop(struct stream_client *cl, size_t queued)
{
	struct stream *st = cl->st;

	log_info("sse client %s dropped: %zu bytes unsent (cap %zu; all clients hold %zu of "
		 "the %zu-byte stream budget)",
		 cl->peer, queued, st->max_buffered_bytes + cl->allowance, stream_held(st),
		 st->budget_bytes);
	stream_client_spill(cl, 0, 0); /* freed with the connection, like the rest */
	stream_client_unlink_live(st, cl);
	cl->zombie = true;
	cl->frees = queued + cl->refs * STREAM_REF_COST;
	st->zombie_bytes += cl->frees;
	TAILQ_INSERT_TAIL(&st->zombies, cl, link);
	if (st->metrics != NULL)
		metrics_sse_dropped(st->metrics);
	event_active(st->reap_ev, EV_TIMEOUT, 0);
}

/* Closes the connection of a client we let go of (drop or stream_free) and frees it. */
static void
stream_client_close(struct stream_client *cl)
{
	evhttp_connection_set_closecb(cl->conn, NULL, NULL);
	/* Frees the connection and the request still attached to it. */
	evhttp_connection_free(cl->conn);
	stream_client_free(cl);
}

static void
stream_reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct stream *st = arg;
	struct stream_client *cl;

	while ((cl = TAILQ_FIRST(&st->zombies)) != NULL) {
		TAILQ_REMOVE(&st->zombies, cl, link);
		stream_client_close(cl);
	}
}

/*
 * evhttp is freeing the connection (peer closed, error, timeout, evhttp_free).
 * The request is freed with it, unless evhttp detached it because our
 * chunked reply was still open; then ending the reply frees it.
 */
static void
stream_client_close_cb(struct evhttp_connection *conn, void *arg)
{
	struct stream_client *cl = arg;

	log_trace(LOG_TRACE_STREAM, "sse client %s closed", cl->peer);
	stream_client_unlink(cl);
	if (evhttp_request_get_connection(cl->req) == NULL)
		evhttp_send_reply_end(cl->req);
	stream_client_free(cl);
}

/*
 * Checks cl's backlog before a write: true when it may take more, else the
 * client is dropped and false returned.
 */
static bool
stream_client_writable(struct stream_client *cl)
{
	struct stream *st = cl->st;
	size_t queued = stream_client_queued(cl);

	if (queued == 0)
		cl->refs = 0;
	if (queued <= st->max_buffered_bytes)
		cl->allowance =
			0; /* drained below the cap once: the snapshot allowance is used up */
	if (queued > st->max_buffered_bytes + cl->allowance) {
		stream_client_drop(cl, queued);
		return false;
	}
	return true;
}

/*
 * Over the global budget (every message alive counted once, however many
 * clients hold it, plus what each client's references to them cost), the
 * clients furthest behind go first, until what dropping them frees (their
 * bytes and references, counted as on their way out until the reaper has
 * closed them) brings the rest under the budget.
 */
static void
stream_enforce_budget(struct stream *st)
{
	while (stream_over_budget(st)) {
		struct stream_client *cl;
		struct stream_client *slowest = NULL;
		size_t most = 0;

		TAILQ_FOREACH(cl, &st->clients, link) {
			size_t q = stream_client_queued(cl);

			if (q > most) {
				most = q;
				slowest = cl;
			}
		}
		if (slowest == NULL)
			return; /* what is left is the cached snapshot: nobody holds more */
		stream_client_drop(slowest, most);
	}
}

/* True when a filtered client may see a message for audience (NULL: supervisors only). */
static bool
stream_client_wants(const struct stream_client *cl, stream_audience_cb *audience, void *arg)
{
	if (cl->worker_sid == NULL)
		return true;
	return audience != NULL && audience(cl->worker_sid, arg);
}

bool
stream_audience_all(const char *worker_sid, void *arg)
{
	return true;
}

/*
 * Sends a shared message (a reference, no copy): the chunk, or its text
 * when not chunked. A client whose connection has nothing unsent keeps it
 * in its pending list, written by the stream itself at the end of the loop
 * turn (stream_write_cb: one sendmsg per client for everything of the turn,
 * no allocation); otherwise, or with the list full, it goes behind what is
 * unsent on the connection's output.
 */
static void
stream_client_send_msg(struct stream_client *cl, struct stream_msg *msg)
{
	struct stream *st = cl->st;
	size_t len = 0;
	const char *data = stream_msg_data(cl, msg, &len);

	if (!stream_client_writable(cl))
		return;
	msg->refs++;
	st->n_refs++;
	cl->refs++;
	if (cl->fd >= 0 && cl->npend < STREAM_PEND_MAX &&
	    (cl->npend > 0 || server_request_unsent(cl->req) == 0)) {
		cl->pend[cl->npend++] = msg;
		cl->pend_bytes += len;
		if (cl->npend == 1)
			event_active(st->write_ev, EV_TIMEOUT, 0);
		return;
	}
	stream_client_spill(cl, 0, 0); /* what is pending goes first */
	stream_client_queue_ref(cl, msg, data, len);
}

/* Sends a static chunk (hdr: its size line's length); nothing to free. */
static void
stream_client_send_static(struct stream_client *cl, const char *chunk, size_t len, size_t hdr)
{
	const char *data = cl->chunked ? chunk : chunk + hdr;

	if (!cl->chunked)
		len -= hdr + 2;
	stream_client_spill(cl, 0, 0); /* what is pending goes first */
	if (evbuffer_add_reference(stream_client_output(cl), data, len, NULL, NULL) != 0)
		log_warning("sse client %s: cannot queue a message", cl->peer);
}

/*
 * Writes a client's pending messages with one sendmsg. What the socket
 * took is released; the rest (a partly written message from where the
 * socket stopped) goes to the connection's output, as when it was unsent to
 * begin with. An error also leaves everything there: the connection's own
 * write finds it and closes the connection through evhttp.
 */
static void
stream_client_write(struct stream_client *cl)
{
	struct iovec iov[STREAM_PEND_MAX];
	struct msghdr mh;
	ssize_t n = -1;
	size_t done;
	size_t i;

	memset(&mh, 0, sizeof(mh));
	for (i = 0; i < cl->npend; i++) {
		size_t len = 0;

		iov[i].iov_base = stream_msg_data(cl, cl->pend[i], &len);
		iov[i].iov_len = len;
	}
	mh.msg_iov = iov;
	mh.msg_iovlen = cl->npend;
	if (server_request_unsent(cl->req) == 0) {
		do {
			n = sendmsg(cl->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		} while (n < 0 && errno == EINTR);
	}
	done = n > 0 ? (size_t)n : 0;
	for (i = 0; i < cl->npend && done >= iov[i].iov_len; i++) {
		done -= iov[i].iov_len;
		stream_msg_release(cl->pend[i]);
	}
	stream_client_spill(cl, i, done);
}

/* The end of a loop turn that gave clients messages: each client's write. */
static void
stream_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct stream *st = arg;
	struct stream_client *cl;

	TAILQ_FOREACH(cl, &st->clients, link) {
		if (cl->npend > 0)
			stream_client_write(cl);
	}
}

/* --- batches (clients that asked for ?batch=1) ------------------------------------ */

/* Lets go of every batch kept for replay. */
static void
stream_ring_clear(struct stream *st)
{
	while (st->ring_n > 0) {
		struct stream_msg *m = st->ring[st->ring_head];

		st->ring_bytes -= m->len;
		stream_msg_unref(m);
		st->ring_head = (st->ring_head + 1) % STREAM_RING_MAX;
		st->ring_n--;
	}
	st->ring_head = 0;
}

/* Keeps a sent batch for replay (a reference), dropping the oldest over the bounds. */
static void
stream_ring_push(struct stream *st, struct stream_msg *msg)
{
	if (msg->len > STREAM_RING_MAX_BYTES) {
		stream_ring_clear(st); /* an id before this one can no longer be replayed */
		return;
	}
	while (st->ring_n > 0 && (st->ring_n == STREAM_RING_MAX ||
				  st->ring_bytes + msg->len > STREAM_RING_MAX_BYTES)) {
		struct stream_msg *m = st->ring[st->ring_head];

		st->ring_bytes -= m->len;
		stream_msg_unref(m);
		st->ring_head = (st->ring_head + 1) % STREAM_RING_MAX;
		st->ring_n--;
	}
	st->ring[(st->ring_head + st->ring_n) % STREAM_RING_MAX] = msg;
	st->ring_n++;
	st->ring_bytes += msg->len;
	msg->refs++;
}

/*
 * Sends the pending items as one "batch" message to every batched client,
 * with the next batch id, and keeps it for replay. The shared snapshot names
 * the newest batch id, so it goes stale too.
 */
static void
stream_batch_flush(struct stream *st)
{
	struct stream_client *cl;
	struct stream_client *next;
	struct stream_msg *msg;

	if (st->batch_n == 0)
		return;
	(void)evtimer_del(st->batch_ev);
	st->batch_last_ms = date_monotonic_ms();
	st->batch_id++;
	if (st->batch_dead > 0) {
		/* The live items only, in their order. */
		struct buf live;
		bool first = true;

		buf_init(&live);
		buf_putc(&live, '[');
		for (size_t i = 0; i < st->batch_n; i++) {
			if (st->items[i].dead)
				continue;
			if (!first)
				buf_putc(&live, ',');
			first = false;
			buf_append(&live, st->batch.data + st->items[i].off, st->items[i].len);
		}
		buf_putc(&live, ']');
		buf_clear(&st->batch);
		st->batch = live;
	} else {
		buf_putc(&st->batch, ']');
	}
	for (size_t i = 0; i < st->batch_n; i++) {
		if (st->items[i].key[0] != '\0')
			(void)hmap_remove(st->keys, st->items[i].key);
	}
	msg = stream_msg_sse(st, "batch", st->batch_id, st->batch.data, st->batch.len);
	buf_reset(&st->batch);
	st->batch_n = 0;
	st->batch_dead = 0;
	stream_snapshot_stale(st); /* it names the batch id */
	TAILQ_FOREACH_SAFE(cl, &st->clients, link, next) {
		if (cl->batched)
			stream_client_send_msg(cl, msg);
	}
	stream_ring_push(st, msg);
	stream_msg_unref(msg);
	if (stream_over_budget(st))
		stream_enforce_budget(st);
}

static void
stream_batch_cb(evutil_socket_t fd, short what, void *arg)
{
	stream_batch_flush(arg);
}

/*
 * A change no batched client will get as a batch (none is connected): the
 * batch id moves on and the kept batches go, so that a client that comes
 * back gets a snapshot instead of a replay with a hole in it.
 */
static void
stream_batch_skip(struct stream *st)
{
	stream_ring_clear(st);
	st->batch_id++;
	stream_snapshot_stale(st); /* it names the batch id */
}

/*
 * Adds one message for the unfiltered clients to the pending batch. The
 * batch goes at the end of this loop turn when the last one went at least
 * batch_ms ago, else batch_ms after the last one (so a lone event is not
 * delayed, and a busy second makes at most 1000 / batch_ms messages). With
 * no batched client the items are not kept, and the batch id moves on so
 * that no client can resume across what it did not get. An item with a key
 * supersedes the pending items with the same key: they are left out of the
 * batch (stream_broadcast_keyed).
 */
static void
stream_batch_add(struct stream *st, const char *type, uint64_t id, const char *json, size_t len,
		 const char *key)
{
	int64_t wait;
	struct timeval tv;
	struct stream_item *it;

	if (st->nbatched == 0) {
		stream_batch_skip(st);
		return;
	}
	if (key != NULL && (key[0] == '\0' || strlen(key) >= STREAM_KEY_MAX))
		key = NULL;
	if (key != NULL) {
		void *prev = hmap_put(st->keys, key, (void *)(uintptr_t)(st->batch_n + 1));

		if (prev != NULL) {
			st->items[(uintptr_t)prev - 1].dead = true;
			st->batch_dead++;
		}
	}
	if (st->batch_n == st->items_cap) {
		st->items_cap = st->items_cap > 0 ? st->items_cap * 2 : 64;
		st->items = xreallocarray(st->items, st->items_cap, sizeof(*st->items));
	}
	buf_putc(&st->batch, st->batch_n == 0 ? '[' : ',');
	it = &st->items[st->batch_n];
	it->off = st->batch.len;
	it->dead = false;
	it->key[0] = '\0';
	if (key != NULL)
		(void)snprintf(it->key, sizeof(it->key), "%s", key);
	buf_printf(&st->batch, "[\"%s\",%" PRIu64 ",", type, id);
	if (len > 0)
		buf_append(&st->batch, json, len);
	else
		buf_puts(&st->batch, "null");
	buf_putc(&st->batch, ']');
	it->len = st->batch.len - it->off;
	st->batch_n++;
	if (st->batch.len >= STREAM_BATCH_MAX_BYTES) {
		stream_batch_flush(st);
		return;
	}
	if (evtimer_pending(st->batch_ev, NULL))
		return;
	wait = st->batch_last_ms + st->batch_ms - date_monotonic_ms();
	if (wait < 0)
		wait = 0;
	tv.tv_sec = (time_t)(wait / 1000);
	tv.tv_usec = (suseconds_t)(wait % 1000) * 1000;
	if (evtimer_add(st->batch_ev, &tv) != 0)
		stream_batch_flush(st);
}

/* True when the kept batches hold every one after last_id (replay is possible). */
static bool
stream_ring_covers(const struct stream *st, uint64_t last_id)
{
	uint64_t first = st->batch_id - st->ring_n + 1; /* the oldest kept */

	return last_id != 0 && last_id <= st->batch_id && last_id + 1 >= first;
}

/* Replays the kept batches after last_id to a new batched client; their bytes. */
static size_t
stream_ring_replay(struct stream_client *cl, uint64_t last_id)
{
	struct stream *st = cl->st;
	uint64_t first = st->batch_id - st->ring_n + 1;
	size_t total = 0;
	size_t i;

	for (i = 0; i < st->ring_n; i++) {
		if (first + i > last_id)
			total += st->ring[(st->ring_head + i) % STREAM_RING_MAX]->len;
	}
	for (i = 0; i < st->ring_n; i++) {
		if (first + i <= last_id)
			continue;
		cl->allowance = total; /* the whole replay may sit on top of the cap */
		stream_client_send_msg(cl, st->ring[(st->ring_head + i) % STREAM_RING_MAX]);
	}
	return total;
}

static void
stream_heartbeat_cb(evutil_socket_t fd, short what, void *arg)
{
	struct stream *st = arg;
	struct stream_client *cl;
	struct stream_client *next;

	TAILQ_FOREACH_SAFE(cl, &st->clients, link, next) {
		if (!stream_client_writable(cl))
			continue;
		/* A static string: referenced, never copied, nothing to free. */
		stream_client_send_static(cl, stream_ping, sizeof(stream_ping) - 1,
					  STREAM_PING_HDR);
	}
}

/* Parses a Last-Event-ID value: decimal digits only; 0 when absent or unusable. */
static uint64_t
stream_parse_event_id(const char *s)
{
	uint64_t v = 0;
	size_t i;

	if (s == NULL || s[0] == '\0' || strlen(s) > STREAM_MAX_EVENT_ID_BYTES)
		return 0;
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return 0;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	return v;
}

uint64_t
stream_event_id_parse(const char *h, const char *query, bool *batched)
{
	struct form *f = NULL;
	const char *b;
	uint64_t id = 0;

	if (batched != NULL)
		*batched = false;
	if (query != NULL && form_parse(query, strlen(query), NULL, &f, NULL) < 0)
		f = NULL;
	if (f != NULL && batched != NULL) {
		b = form_get(f, "batch");
		*batched = b != NULL && strcmp(b, "1") == 0;
	}
	if (h != NULL)
		id = stream_parse_event_id(h);
	else if (f != NULL)
		id = stream_parse_event_id(form_get(f, "lastEventId"));
	form_free(f);
	return id;
}

/*
 * Last-Event-ID header, else the lastEventId query parameter; 0 when none.
 * *batched: the query asks for batches (batch=1).
 */
static uint64_t
stream_last_event_id(struct evhttp_request *req, bool *batched)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);

	return stream_event_id_parse(
		evhttp_find_header(evhttp_request_get_input_headers(req), "Last-Event-ID"),
		uri != NULL ? evhttp_uri_get_query(uri) : NULL, batched);
}

/*
 * The worker's part of the open tasks: those it holds a reservation for, as
 * it may see them (only its own reservations: model_worker_tasks_json).
 */
static void
stream_worker_tasks_json(struct stream *st, const char *worker_sid, struct json_gen *g)
{
	model_worker_tasks_json(st->model, worker_sid, g);
}

/*
 * The snapshot event: one JSON object (stream.h lists its keys). A worker's
 * has its own worker and the tasks it is on; everything else is shared.
 */
static void
stream_snapshot_json(struct stream *st, const char *worker_sid, struct json_gen *g,
		     uint64_t *newest_out)
{
	uint64_t oldest = 0;
	uint64_t newest = 0;
	uint64_t seq;
	const char *stats;
	size_t stats_len = 0;

	model_event_range(st->model, &oldest, &newest);
	json_gen_object_open(g);
	json_gen_kv_int(g, "last_event_id", (int64_t)newest);
	if (worker_sid ==
	    NULL) /* the batch this state includes: a batched client resumes after it */
		json_gen_kv_int(g, "batchId", (int64_t)st->batch_id);
	json_gen_key(g, "stats");
	stats = st->stats != NULL ? st->stats(st->stats_arg, worker_sid != NULL, &stats_len) : NULL;
	if (stats == NULL || json_gen_raw(g, stats, stats_len) < 0)
		json_gen_null(g);
	json_gen_key(g, "workspace");
	model_workspace_json(st->model, g);
	json_gen_key(g, "tasks");
	if (worker_sid == NULL)
		model_tasks_json(st->model, g);
	else
		stream_worker_tasks_json(st, worker_sid, g);
	json_gen_key(g, "workers");
	if (worker_sid == NULL) {
		model_workers_json(st->model, g);
	} else {
		/* A login whose worker TaskRouter does not (yet) know gets none, not null. */
		json_gen_array_open(g);
		if (model_worker_json_exists(st->model, worker_sid))
			model_worker_json(st->model, worker_sid, g);
		json_gen_array_close(g);
	}
	json_gen_key(g, "queues");
	if (worker_sid == NULL) {
		model_queues_json(st->model, g);
	} else {
		json_gen_array_open(g);
		json_gen_array_close(g);
	}
	json_gen_key(g, "activities");
	model_activities_json(st->model, g);
	json_gen_key(g, "events");
	json_gen_array_open(g);
	if (newest > 0 && worker_sid == NULL) {
		seq = newest - oldest + 1 > STREAM_SNAPSHOT_EVENTS
			      ? newest - STREAM_SNAPSHOT_EVENTS + 1
			      : oldest;
		for (; seq <= newest; seq++)
			(void)model_event_json(st->model, seq,
					       g); /* false: left the ring meanwhile */
	}
	json_gen_array_close(g);
	if (st->extra != NULL && worker_sid == NULL)
		st->extra(g, st->extra_arg);
	json_gen_object_close(g);
	*newest_out = newest;
}

void
stream_set_snapshot_extra(struct stream *st, stream_snapshot_extra_cb *cb, void *arg)
{
	st->extra = cb;
	st->extra_arg = arg;
}

/* A formatted snapshot message for worker_sid (NULL: the full one). */
static struct stream_msg *
stream_snapshot_msg(struct stream *st, const char *worker_sid)
{
	/*
	 * A generator of its own, freed here: st->gen, reused for the small
	 * texts, would keep the largest snapshot's text resident for good.
	 */
	struct json_gen *g = json_gen_new();
	struct stream_msg *msg;
	uint64_t newest = 0;
	const char *text;
	size_t len = 0;

	stream_snapshot_json(st, worker_sid, g, &newest);
	text = json_gen_text(g, &len);
	msg = stream_msg_sse(st, "snapshot", newest, text, len);
	json_gen_free(g);
	return msg;
}

void
stream_invalidate(struct stream *st)
{
	if (st == NULL)
		return;
	if (st->nbatched == 0)
		stream_batch_skip(st); /* nobody will get this change in a batch */
	stream_snapshot_stale(st);
}

/* The first output of a new client: retry, then a replay or a snapshot. */
static void
stream_client_hello(struct stream_client *cl, uint64_t last_id)
{
	/* "retry: 2000\n\n" is 13 bytes: the chunk size "d". */
	static const char retry[] = "d\r\nretry: " STREAM_STR(STREAM_RETRY_MS) "\n\n\r\n";
	struct stream *st = cl->st;
	struct stream_msg *msg = NULL;
	struct buf b;
	uint64_t oldest = 0;
	uint64_t newest = 0;
	uint64_t seq;
	const char *text;
	size_t len = 0;
	bool replay;

	stream_client_send_static(cl, retry, sizeof(retry) - 1, 3);
	if (cl->batched && stream_ring_covers(st, last_id)) {
		log_trace(LOG_TRACE_STREAM, "sse client %s resumes after batch %" PRIu64, cl->peer,
			  last_id);
		(void)stream_ring_replay(cl, last_id); /* sets the allowance */
		return;
	}
	model_event_range(st->model, &oldest, &newest);
	/* Replay only when every event after last_id is still in the ring. */
	replay = cl->worker_sid == NULL && !cl->batched && last_id != 0 && newest != 0 &&
		 last_id <= newest && last_id + 1 >= oldest;
	if (replay) {
		buf_init(&b);
		for (seq = last_id + 1; seq <= newest; seq++) {
			json_gen_reset(st->gen);
			if (!model_event_json(st->model, seq, st->gen))
				continue;
			text = json_gen_text(st->gen, &len);
			stream_format(&b, "event", seq, text, len);
		}
		json_gen_reset(st->gen);
		log_trace(LOG_TRACE_STREAM,
			  "sse client %s resumes after %" PRIu64 ": %" PRIu64 " events replayed",
			  cl->peer, last_id, newest - last_id);
		len = b.len;
		msg = stream_msg_new(st, buf_steal(&b, NULL), len);
	} else if (cl->worker_sid != NULL) {
		msg = stream_snapshot_msg(st, cl->worker_sid); /* its own, not shared */
	} else {
		/* Built once per change, shared by every client that connects meanwhile. */
		if (st->snapshot == NULL)
			st->snapshot = stream_snapshot_msg(st, NULL);
		msg = st->snapshot;
		msg->refs++;
		log_trace(LOG_TRACE_STREAM, "sse client %s: snapshot of %zu bytes", cl->peer,
			  msg->len);
	}
	stream_client_send_msg(cl, msg);
	/* After the send: its own check saw the queue below the cap and spent any allowance. */
	cl->allowance = msg->len;
	stream_msg_unref(msg);
}

/* 503 with the DESIGN.md error shape. */
static void
stream_reply_busy(struct evhttp_request *req)
{
	static const char body[] = "{\"error\":\"unavailable\",\"detail\":\"too many stream "
				   "clients, try again later\"}";
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	struct evbuffer *b = evbuffer_new();

	evhttp_add_header(h, "Content-Type", "application/json");
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_add_header(h, "Retry-After", "5");
	if (b != NULL)
		(void)evbuffer_add(b, body, sizeof(body) - 1);
	evhttp_send_reply(req, 503, "Service Unavailable", b);
	if (b != NULL)
		evbuffer_free(b);
}

void
stream_attach(struct stream *st, struct evhttp_request *req)
{
	stream_attach_worker(st, req, NULL);
}

void
stream_attach_worker(struct stream *st, struct evhttp_request *req, const char *worker_sid)
{
	struct evhttp_connection *conn = evhttp_request_get_connection(req);
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	struct stream_client *cl;
	char *addr = NULL;
	uint16_t port = 0;
	bool batched = false;
	uint64_t last_id;

	if (conn == NULL)
		return;
	if (st->nclients >= st->max_clients) {
		log_info("sse client refused: %zu clients connected", st->nclients);
		stream_reply_busy(req);
		return;
	}
	cl = xcalloc(1, sizeof(*cl));
	cl->st = st;
	cl->req = req;
	cl->conn = conn;
	cl->bev = evhttp_connection_get_bufferevent(conn);
	cl->fd = server_request_socket(req);
	cl->worker_sid = worker_sid != NULL ? xstrdup(worker_sid) : NULL;
	evhttp_connection_get_peer(conn, &addr, &port);
	(void)snprintf(cl->peer, sizeof(cl->peer), "%s:%u", addr != NULL ? addr : "?",
		       (unsigned)port);

	evhttp_add_header(h, "Content-Type", "text/event-stream; charset=utf-8");
	evhttp_add_header(h, "Cache-Control", "no-cache");
	evhttp_add_header(h, "X-Accel-Buffering", "no");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	evhttp_send_reply_start(req, 200, "OK");
	/* evhttp chunks an HTTP/1.1 reply: the messages then go as whole chunks. */
	{
		const char *te = evhttp_find_header(h, "Transfer-Encoding");

		cl->chunked = te != NULL && strcasecmp(te, "chunked") == 0;
	}
	/* No read timeout (the client never writes again); a write timeout for stuck peers. */
	server_request_set_write_timeout(req, st->write_timeout_s);
	evhttp_connection_set_closecb(conn, stream_client_close_cb, cl);

	last_id = stream_last_event_id(req, &batched);
	cl->batched = batched && worker_sid == NULL;
	/*
	 * What is pending goes to the others first: this client's snapshot then
	 * holds all of it and names the batch it ends with, and no batch it
	 * already holds can follow it.
	 */
	if (worker_sid == NULL)
		stream_batch_flush(st);
	TAILQ_INSERT_TAIL(&st->clients, cl, link);
	st->nclients++;
	if (cl->batched)
		st->nbatched++;
	if (st->metrics != NULL)
		metrics_sse_clients(st->metrics, 1);
	log_trace(LOG_TRACE_STREAM, "sse client %s connected (%zu)", cl->peer, st->nclients);
	stream_client_hello(cl, last_id);
	if (stream_over_budget(st))
		stream_enforce_budget(st);
}

void
stream_broadcast_for(struct stream *st, stream_audience_cb *audience, void *arg, const char *type,
		     uint64_t id, const char *json, size_t len)
{
	stream_broadcast_keyed(st, audience, arg, type, id, json, len, NULL);
}

size_t
stream_batched_clients(const struct stream *st)
{
	return st != NULL ? st->nbatched : 0;
}

void
stream_broadcast_keyed(struct stream *st, stream_audience_cb *audience, void *arg, const char *type,
		       uint64_t id, const char *json, size_t len, const struct stream_batched *bt)
{
	struct stream_client *cl;
	struct stream_client *next;
	struct stream_msg *msg;

	if (st == NULL)
		return;
	stream_snapshot_stale(st); /* a broadcast is a change: the next snapshot is rebuilt */
	if (TAILQ_EMPTY(&st->clients)) {
		stream_batch_skip(st);
		return;
	}
	if (!stream_type_ok(type) || (json == NULL && len > 0)) {
		log_warning("sse broadcast refused: bad event type or data");
		return;
	}
	/* the batched clients' share */
	if (bt != NULL && bt->json != NULL)
		stream_batch_add(st, type, id, bt->json, bt->len, bt->key);
	else
		stream_batch_add(st, type, id, json, len, bt != NULL ? bt->key : NULL);
	msg = NULL;
	TAILQ_FOREACH_SAFE(cl, &st->clients, link, next) {
		if (cl->batched || !stream_client_wants(cl, audience, arg))
			continue;
		if (msg == NULL) /* ours, for the loop */
			msg = stream_msg_sse(st, type, id, json != NULL ? json : "", len);
		stream_client_send_msg(cl, msg);
	}
	stream_msg_unref(msg);
	if (stream_over_budget(st))
		stream_enforce_budget(st);
}

/* Sends one message to the filtered clients: those of worker_sid, or all of them (NULL). */
static void
stream_broadcast_filtered(struct stream *st, const char *type, uint64_t id, const char *json,
			  size_t len, const char *worker_sid)
{
	struct stream_client *cl;
	struct stream_client *next;
	struct stream_msg *msg;

	if (!stream_type_ok(type) || (json == NULL && len > 0)) {
		log_warning("sse broadcast refused: bad event type or data");
		return;
	}
	msg = stream_msg_sse(st, type, id, json != NULL ? json : "", len); /* ours, for the loop */
	TAILQ_FOREACH_SAFE(cl, &st->clients, link, next) {
		if (cl->worker_sid != NULL &&
		    (worker_sid == NULL || strcmp(cl->worker_sid, worker_sid) == 0))
			stream_client_send_msg(cl, msg);
	}
	stream_msg_unref(msg);
	if (st->held_bytes > st->budget_bytes)
		stream_enforce_budget(st);
}

void
stream_broadcast_worker(struct stream *st, const char *type, uint64_t id, const char *json,
			size_t len, const char *worker_sid)
{
	if (st == NULL || worker_sid == NULL || stream_worker_clients(st, worker_sid) == 0)
		return;
	stream_broadcast_filtered(st, type, id, json, len, worker_sid);
}

void
stream_broadcast_workers(struct stream *st, const char *type, uint64_t id, const char *json,
			 size_t len)
{
	struct stream_client *cl;

	if (st == NULL)
		return;
	TAILQ_FOREACH(cl, &st->clients, link) {
		if (cl->worker_sid != NULL) {
			stream_broadcast_filtered(st, type, id, json, len, NULL);
			return;
		}
	}
}

size_t
stream_worker_clients(const struct stream *st, const char *worker_sid)
{
	const struct stream_client *cl;
	size_t n = 0;

	if (st == NULL || worker_sid == NULL)
		return 0;
	TAILQ_FOREACH(cl, &st->clients, link) {
		if (cl->worker_sid != NULL && strcmp(cl->worker_sid, worker_sid) == 0)
			n++;
	}
	return n;
}

void
stream_broadcast(struct stream *st, const char *type, uint64_t id, const char *json, size_t len)
{
	stream_broadcast_for(st, NULL, NULL, type, id, json, len);
}

size_t
stream_client_count(const struct stream *st)
{
	return st != NULL ? st->nclients : 0;
}

struct stream *
stream_new(struct event_base *base, struct model *model, const struct stream_options *options,
	   struct metrics *metrics)
{
	struct stream *st = xcalloc(1, sizeof(*st));
	struct timeval tv;

	st->base = base;
	st->model = model;
	st->metrics = metrics;
	st->max_clients = STREAM_DEFAULT_MAX_CLIENTS;
	st->max_buffered_bytes = STREAM_DEFAULT_MAX_BUFFERED_BYTES;
	st->heartbeat_s = STREAM_DEFAULT_HEARTBEAT_S;
	st->write_timeout_s = STREAM_DEFAULT_WRITE_TIMEOUT_S;
	st->budget_bytes = STREAM_DEFAULT_BUDGET_BYTES;
	st->batch_ms = STREAM_DEFAULT_BATCH_MS;
	if (options != NULL) {
		if (options->batch_ms > 0)
			st->batch_ms = options->batch_ms;
		if (options->budget_bytes > 0)
			st->budget_bytes = options->budget_bytes;
		if (options->max_clients > 0)
			st->max_clients = options->max_clients;
		if (options->max_buffered_bytes > 0)
			st->max_buffered_bytes = options->max_buffered_bytes;
		if (options->heartbeat_s > 0)
			st->heartbeat_s = options->heartbeat_s;
		if (options->write_timeout_s > 0)
			st->write_timeout_s = options->write_timeout_s;
	}
	TAILQ_INIT(&st->clients);
	TAILQ_INIT(&st->zombies);
	st->heartbeat_ev = event_new(base, -1, EV_PERSIST, stream_heartbeat_cb, st);
	st->reap_ev = event_new(base, -1, 0, stream_reap_cb, st);
	st->write_ev = event_new(base, -1, 0, stream_write_cb, st);
	st->trim_ev = evtimer_new(base, stream_trim_cb, st);
	st->batch_ev = evtimer_new(base, stream_batch_cb, st);
	buf_init(&st->batch);
	st->keys = hmap_new();
	st->ring = xcalloc(STREAM_RING_MAX, sizeof(*st->ring));
	/*
	 * Batch ids start at the wall clock in microseconds: an id a client kept
	 * from an earlier run of trhubd is below every id of this one (it gets a
	 * snapshot), and the ids stay exact in a JavaScript number.
	 */
	gettimeofday(&tv, NULL);
	st->batch_id = (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec;
	if (st->heartbeat_ev == NULL || st->reap_ev == NULL || st->write_ev == NULL ||
	    st->trim_ev == NULL || st->batch_ev == NULL)
		fatalx("stream: cannot create libevent objects");
	st->gen = json_gen_new();
	tv.tv_sec = st->heartbeat_s;
	tv.tv_usec = 0;
	if (event_add(st->heartbeat_ev, &tv) != 0)
		fatalx("stream: cannot start the heartbeat timer");
	return st;
}

void
stream_set_stats(struct stream *st, stream_stats_cb *cb, void *arg)
{
	st->stats = cb;
	st->stats_arg = arg;
}

void
stream_free(struct stream *st)
{
	struct stream_client *cl;
	struct stream_client *next;

	if (st == NULL)
		return;
	event_free(st->heartbeat_ev);
	event_free(st->reap_ev);
	event_free(st->write_ev);
	event_free(st->batch_ev);
	stream_ring_clear(st);
	free(st->ring);
	buf_clear(&st->batch);
	free(st->items);
	hmap_free(st->keys);
	stream_snapshot_stale(st);
	/* Whole lists go at once: the records are freed, the heads reset after. */
	TAILQ_FOREACH_SAFE(cl, &st->zombies, link, next) {
		stream_client_close(cl);
	}
	TAILQ_INIT(&st->zombies);
	TAILQ_FOREACH_SAFE(cl, &st->clients, link, next) {
		if (st->metrics != NULL)
			metrics_sse_clients(st->metrics, -1);
		stream_client_close(cl);
	}
	TAILQ_INIT(&st->clients);
	st->nclients = 0;
	json_gen_free(st->gen);
	event_free(st->trim_ev);
	/* Buffers finalised later may still hold messages; the last one frees st. */
	st->freed = true;
	if (st->n_msgs == 0)
		free(st);
}
