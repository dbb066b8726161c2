/*
 * api: trhubd's read-only JSON and ops routes (api.h). Each snapshot is
 * written by the model into a generator of its own, whose text goes to the
 * connection by reference and is freed once it has been sent: a snapshot of
 * 10,000 tasks exists once, for as long as the client takes to read it, and
 * not again in the connection's buffer or in a generator kept for the next
 * poll (which kept the largest answer's text resident for good).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>

#include <event2/http.h>

#include "api.h"
#include "buf.h"
#include "json.h"
#include "metrics.h"
#include "model.h"
#include "server.h"
#include "stats.h"
#include "stream.h"
#include "xmalloc.h"

struct api {
	struct model *model;
	struct stream *stream;
	const struct stats *stats;
	struct metrics *metrics;
	api_ready_cb *ready;
	void *ready_arg;
	api_warnings_cb *warnings;
	void *warnings_arg;
	const char *detail_key; /* static */
	api_warnings_cb *detail;
	void *detail_arg;
	struct buf text;
};

struct api *
api_new(struct model *model, struct stream *stream, struct metrics *metrics)
{
	struct api *a = xcalloc(1, sizeof(*a));

	a->model = model;
	a->stream = stream;
	a->metrics = metrics;
	buf_init(&a->text);
	return a;
}

void
api_free(struct api *a)
{
	if (a == NULL)
		return;
	buf_clear(&a->text);
	free(a);
}

void
api_set_stats(struct api *a, const struct stats *stats)
{
	a->stats = stats;
}

void
api_set_warnings(struct api *a, api_warnings_cb *cb, void *arg)
{
	a->warnings = cb;
	a->warnings_arg = arg;
}

void
api_set_ready_detail(struct api *a, const char *key, api_warnings_cb *cb, void *arg)
{
	a->detail_key = key;
	a->detail = cb;
	a->detail_arg = arg;
}

void
api_set_ready(struct api *a, api_ready_cb *cb, void *arg)
{
	a->ready = cb;
	a->ready_arg = arg;
}

void
api_stats(struct api *a, struct evhttp_request *req)
{
	size_t len = 0;
	const char *json = stats_document(a->stats, &len);

	if (json == NULL) {
		server_reply_error(req, 503, "not_ready", "no statistics fetched yet");
		return;
	}
	server_reply_json(req, 200, json, len);
}

void
api_tasks(struct api *a, struct evhttp_request *req)
{
	struct json_gen *g = json_gen_new();

	model_tasks_json(a->model, g);
	server_reply_json_gen(req, 200, g);
}

void
api_workers(struct api *a, struct evhttp_request *req)
{
	struct json_gen *g = json_gen_new();

	model_workers_json(a->model, g);
	server_reply_json_gen(req, 200, g);
}

void
api_queues(struct api *a, struct evhttp_request *req)
{
	struct json_gen *g = json_gen_new();

	model_queues_json(a->model, g);
	server_reply_json_gen(req, 200, g);
}

void
api_stream(struct api *a, struct evhttp_request *req, const char *worker_sid)
{
	if (a->stream == NULL) {
		server_reply_error(req, 503, "unavailable", "event stream not available");
		return;
	}
	stream_attach_worker(a->stream, req, worker_sid);
}

void
api_healthz(struct api *a, struct evhttp_request *req)
{
	static const char body[] = "{\"status\":\"ok\"}";

	server_reply_json(req, 200, body, sizeof(body) - 1);
}

void
api_readyz(struct api *a, struct evhttp_request *req)
{
	static const char body[] = "{\"status\":\"ready\"}";
	const char *reason = "starting";
	struct json_gen *g = NULL;

	if (a->ready != NULL && a->ready(a->ready_arg, &reason)) {
		if (a->warnings == NULL && a->detail == NULL) {
			server_reply_json(req, 200, body, sizeof(body) - 1);
			return;
		}
		g = json_gen_new();
		json_gen_object_open(g);
		json_gen_kv_string(g, "status", "ready");
		if (a->warnings != NULL) {
			json_gen_key(g, "warnings");
			a->warnings(a->warnings_arg, g);
		}
		if (a->detail != NULL) {
			json_gen_key(g, a->detail_key);
			a->detail(a->detail_arg, g);
		}
		json_gen_object_close(g);
		server_reply_json_gen(req, 200, g);
		return;
	}
	server_reply_error(req, 503, "not_ready", reason);
}

void
api_metrics(struct api *a, struct evhttp_request *req)
{
	buf_reset(&a->text);
	metrics_render(a->metrics, &a->text);
	server_reply_text(req, 200, "text/plain; version=0.0.4; charset=utf-8", a->text.data,
			  a->text.len);
}
