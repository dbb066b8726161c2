#pragma once

/*
 * TaskRouter v1 REST handlers (/v1/Workspaces/...): the resources of
 * twilio-api.md section 3 with their JSON fields, filters, paging, ETag and
 * If-Match, Twilio error codes (20001 invalid parameter, 20404 not found,
 * 20412 precondition failed) and the statistics endpoints of 3.7.
 *
 * Mutating handlers reply first and then run routing, so a reply shows the
 * state the request produced (a new task is "pending") while whatever
 * routing does next is already visible to the client's following request.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "json.h"
#include "sim_http.h"

struct sim_tr;
struct sim_tr_worker;
struct sim_tr_task;

/* Registers the routes of every resource file with h. */
void sim_tr_rest_register(struct sim_http *h);

/* The JSON objects, also used by /sim/state and the /sim/ bulk routes. */
void sim_tr_rest_worker_json(struct sim_tr *tr, const struct sim_tr_worker *w, struct json_gen *g);
void sim_tr_rest_task_json(struct sim_tr *tr, const struct sim_tr_task *t, struct json_gen *g);

/*
 * Internal to the sim_tr_rest*.c files (one per resource; the shared helpers
 * are in sim_tr_rest.c). Each helper replies itself when it fails (400, 404,
 * 412) and says so by its result, as its comment in the .c file tells.
 */
struct sim_request;
struct sim_tr_queue;
struct sim_tr_workflow;
struct sim_tr_activity;
struct sim_tr_expr;
struct sim_tr_json_cache;
struct sim_tr_stats_window;
struct sim_pager;

#define SIM_TR_REST_MAX_PRIORITY 2147483647LL
#define SIM_TR_REST_MAX_TTL_S	 1209600
#define SIM_TR_REST_NAME_MAX	 64
#define SIM_TR_REST_MAX_MINUTES	 43200
/* A list generator whose page was larger than this is not kept for the next page. */
#define SIM_TR_REST_LIST_KEEP_BYTES (1024 * 1024)

extern const struct sim_route sim_tr_rest_workspace_routes[];
extern const size_t sim_tr_rest_workspace_nroutes;
extern const struct sim_route sim_tr_rest_activity_routes[];
extern const size_t sim_tr_rest_activity_nroutes;
extern const struct sim_route sim_tr_rest_worker_routes[];
extern const size_t sim_tr_rest_worker_nroutes;
extern const struct sim_route sim_tr_rest_queue_routes[];
extern const size_t sim_tr_rest_queue_nroutes;
extern const struct sim_route sim_tr_rest_workflow_routes[];
extern const size_t sim_tr_rest_workflow_nroutes;
extern const struct sim_route sim_tr_rest_channel_routes[];
extern const size_t sim_tr_rest_channel_nroutes;
extern const struct sim_route sim_tr_rest_task_routes[];
extern const size_t sim_tr_rest_task_nroutes;
extern const struct sim_route sim_tr_rest_reservation_routes[];
extern const size_t sim_tr_rest_reservation_nroutes;
extern const struct sim_route sim_tr_rest_event_routes[];
extern const size_t sim_tr_rest_event_nroutes;
extern const struct sim_route sim_tr_rest_statistics_routes[];
extern const size_t sim_tr_rest_statistics_nroutes;

int sim_tr_rest_activity_param(struct sim_request *r, const char *name,
			       struct sim_tr_activity **out);
int sim_tr_rest_attributes(struct sim_request *r, const char *v);
int sim_tr_rest_bool(struct sim_request *r, const char *name, bool *present, bool *out);
void sim_tr_rest_cache_check(struct json_gen *fresh, const char *what, const char *sid,
			     const char *cached, size_t len);
bool sim_tr_rest_cache_valid(const struct sim_tr *tr, const struct sim_tr_json_cache *c);
void sim_tr_rest_etag(int64_t version, char out[24]);
int sim_tr_rest_expr_param(struct sim_request *r, const char *name, struct sim_tr_expr **out);
bool sim_tr_rest_if_match(struct sim_request *r, int64_t version);
void sim_tr_rest_kv_iso(struct json_gen *g, struct sim_tr *tr, const char *key, int64_t ms);
void __attribute__((format(printf, 4, 5)))
sim_tr_rest_kv_url(struct json_gen *g, struct sim_tr *tr, const char *key, const char *fmt, ...);
struct json_gen *sim_tr_rest_list_gen(struct sim_tr *tr);
void sim_tr_rest_list_gen_done(struct sim_tr *tr);
void sim_tr_rest_not_found(struct sim_request *r);
const char *sim_tr_rest_param(struct sim_request *r, const char *name);
const char *sim_tr_rest_query(struct sim_request *r, const char *name);
int sim_tr_rest_queue_filter(struct sim_request *r, struct sim_tr_queue **out);
struct sim_tr_queue *sim_tr_rest_queue_of(struct sim_request *r);
void sim_tr_rest_reply_cause(struct sim_request *r, char *cause);
void sim_tr_rest_reply_list(struct sim_request *r, struct json_gen *g);
struct json_gen *sim_tr_rest_scratch(struct sim_tr *tr);
struct sim_tr_task *sim_tr_rest_task_of(struct sim_request *r);
struct sim_tr *sim_tr_rest_tr(struct sim_request *r);
bool sim_tr_rest_truthy(const char *v);
int sim_tr_rest_window(struct sim_request *r, struct sim_tr_stats_window *w);
struct sim_tr_worker *sim_tr_rest_worker_of(struct sim_request *r, size_t i);
struct sim_tr_workflow *sim_tr_rest_workflow_of(struct sim_request *r);
bool sim_tr_rest_ws_ok(struct sim_request *r);
