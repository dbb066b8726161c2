/*
 * api: trhubd's read-only JSON and ops routes (api.h). Snapshots are
 * written by the model into one generator reused across requests (the loop
 * is single-threaded and every handler finishes before returning), so a
 * poll of /api/tasks allocates only what the text needs.
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
	struct json_gen *gen;
	struct buf text;
};

struct api *
api_new(struct model *model, struct stream *stream, struct metrics *metrics)
{
	struct api *a = xcalloc(1, sizeof(*a));

	a->model = model;
	a->stream = stream;
	a->metrics = metrics;
	a->gen = json_gen_new();
	buf_init(&a->text);
	return a;
}

void
api_free(struct api *a)
{
	if (a == NULL)
		return;
	json_gen_free(a->gen);
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

/* Sends what the generator holds as a 200 JSON answer and resets it. */
static void
api_send_gen(struct api *a, struct evhttp_request *req)
{
	size_t len = 0;
	const char *text = json_gen_text(a->gen, &len);

	server_reply_json(req, 200, text, len);
	json_gen_reset(a->gen);
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
	json_gen_reset(a->gen);
	model_tasks_json(a->model, a->gen);
	api_send_gen(a, req);
}

void
api_workers(struct api *a, struct evhttp_request *req)
{
	json_gen_reset(a->gen);
	model_workers_json(a->model, a->gen);
	api_send_gen(a, req);
}

void
api_queues(struct api *a, struct evhttp_request *req)
{
	json_gen_reset(a->gen);
	model_queues_json(a->model, a->gen);
	api_send_gen(a, req);
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

	if (a->ready != NULL && a->ready(a->ready_arg, &reason)) {
		if (a->warnings == NULL && a->detail == NULL) {
			server_reply_json(req, 200, body, sizeof(body) - 1);
			return;
		}
		json_gen_reset(a->gen);
		json_gen_object_open(a->gen);
		json_gen_kv_string(a->gen, "status", "ready");
		if (a->warnings != NULL) {
			json_gen_key(a->gen, "warnings");
			a->warnings(a->warnings_arg, a->gen);
		}
		if (a->detail != NULL) {
			json_gen_key(a->gen, a->detail_key);
			a->detail(a->detail_arg, a->gen);
		}
		json_gen_object_close(a->gen);
		api_send_gen(a, req);
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
