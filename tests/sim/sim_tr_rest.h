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

#include <stddef.h>

#include "json.h"
#include "sim_http.h"

struct sim_tr;
struct sim_tr_worker;
struct sim_tr_task;

extern const struct sim_route sim_tr_rest_routes[];
extern const size_t sim_tr_rest_nroutes;

/* The JSON objects, also used by /sim/state and the /sim/ bulk routes. */
void sim_tr_rest_worker_json(struct sim_tr *tr, const struct sim_tr_worker *w, struct json_gen *g);
void sim_tr_rest_task_json(struct sim_tr *tr, const struct sim_tr_task *t, struct json_gen *g);
