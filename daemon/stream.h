#pragma once

/*
 * stream: Server-Sent Events to browsers (GET /api/stream). A client gets a
 * snapshot on connect (event "snapshot"), then "stats", "event", "task",
 * "worker", "reservation" messages, each with an id so Last-Event-ID resumes
 * from the model's event ring (older ids get a fresh snapshot). Heartbeat
 * comments keep proxies from closing idle streams. A client whose unsent
 * output exceeds the cap is dropped, never buffered without bound. The number
 * of clients is capped (503 beyond).
 */

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <event2/http.h>

struct stream;
struct model;
struct metrics;

struct stream_options {
	size_t max_clients;	   /* default 256 */
	size_t max_buffered_bytes; /* per client; default 1 MiB */
	int heartbeat_s;	   /* default 15 */
};

struct stream *stream_new(struct event_base *base, struct model *model,
			  const struct stream_options *options, struct metrics *metrics);
/* Closes every client. NULL-safe. */
void stream_free(struct stream *st);
/* Takes over an evhttp request for GET /api/stream. */
void stream_attach(struct stream *st, struct evhttp_request *req);
/* Sends "event: type\nid: id\ndata: json\n\n" to every client; id 0 = none. */
void stream_broadcast(struct stream *st, const char *type, uint64_t id, const char *json,
		      size_t len);
size_t stream_client_count(const struct stream *st);
