#pragma once

/*
 * api: the read-only JSON and ops routes of trhubd (DESIGN.md "HTTP
 * surface"): /api/stats, /api/tasks, /api/workers, /api/queues,
 * /api/stream, /healthz, /readyz and /metrics. server.c's pipeline has
 * already checked method, size, route and role when a handler runs, so
 * handlers only build the answer (STYLE.md 6: handlers never re-check).
 *
 * Every handler answers the request exactly once before it returns, except
 * api_stream, which hands the request to the stream module.
 */

#include <stdbool.h>

#include <event2/http.h>

struct api;
struct stats;
struct model;
struct stream;
struct metrics;

/*
 * Readiness: true when ready; otherwise false with a static reason
 * ("rebuilding the model from Twilio") in *reason_out.
 */
typedef bool api_ready_cb(void *arg, const char **reason_out);
/*
 * Warnings for /readyz's detail: writes a JSON array (possibly empty) of
 * {"kind", "message"} objects into g.
 */
struct json_gen;
typedef void api_warnings_cb(void *arg, struct json_gen *g);

/*
 * model and metrics are borrowed and must outlive the api; stream is
 * borrowed and may be NULL (GET /api/stream then answers 503). The caller
 * owns the result (api_free).
 */
struct api *api_new(struct model *model, struct stream *stream, struct metrics *metrics);
/* NULL-safe. */
void api_free(struct api *a);
/* Until set, /readyz answers 503 "starting". */
void api_set_ready(struct api *a, api_ready_cb *cb, void *arg);
/* Where /api/stats reads its document (borrowed; until set, /api/stats is 503). */
void api_set_stats(struct api *a, const struct stats *stats);

/* /readyz then answers {"status": "ready", "warnings": [...]} (200 either way). */
void api_set_warnings(struct api *a, api_warnings_cb *cb, void *arg);
/*
 * More of /readyz's detail when ready: cb writes one value for key (the
 * writer lease: {"role", "instance", "holder"}). Not set: no such key.
 */
void api_set_ready_detail(struct api *a, const char *key, api_warnings_cb *cb, void *arg);

/* GET /api/stats: the latest KPI document, or 503 before the first refresh. */
void api_stats(struct api *a, struct evhttp_request *req);
/* GET /api/tasks, /api/workers, /api/queues: model snapshots. */
void api_tasks(struct api *a, struct evhttp_request *req);
void api_workers(struct api *a, struct evhttp_request *req);
void api_queues(struct api *a, struct evhttp_request *req);
/*
 * GET /api/stream: Server-Sent Events (the stream takes the request over);
 * worker_sid non-NULL limits the client to that worker (stream_attach_worker).
 */
void api_stream(struct api *a, struct evhttp_request *req, const char *worker_sid);
/* GET /healthz: 200 while the event loop runs. */
void api_healthz(struct api *a, struct evhttp_request *req);
/* GET /readyz: 200 when ready (with the warnings, if any), else 503 with the reason. */
void api_readyz(struct api *a, struct evhttp_request *req);
/* GET /metrics: Prometheus text format 0.0.4. */
void api_metrics(struct api *a, struct evhttp_request *req);
