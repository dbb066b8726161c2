#pragma once

/*
 * TaskRouter emulation: the workspace model (activities, workers, queues,
 * workflows, tasks, reservations, events), its REST routes, the routing
 * engine, statistics computed from that state, conferences (API 2010) made
 * by the conference instruction, signed event callbacks in causal order, and
 * the traffic generator (--calls-per-minute, --agents).
 */

#include "json.h"

struct sim;
struct sim_tr;

/* Builds the start-up workspace from sim->opt (seeded workers, default queue and workflow). */
struct sim_tr *sim_tr_new(struct sim *sim);
void sim_tr_free(struct sim_tr *tr);
/* The default workflow's SID (WW...), printed by sim_main as TWILIO_WORKFLOW_SID. */
const char *sim_tr_workflow_sid(struct sim_tr *tr);
/* Back to the start-up workspace (same SIDs for the workspace itself). */
void sim_tr_reset(struct sim_tr *tr);
/* TaskRouter, Conferences and TaskRouter-specific /sim/ routes. */
void sim_tr_register_routes(struct sim *sim);
/* Starts the traffic generator if the options ask for it. */
void sim_tr_traffic_start(struct sim_tr *tr);
/* Whole model for GET /sim/state ("taskrouter"): tasks, workers, reservations, conferences. */
void sim_tr_state_json(struct sim_tr *tr, struct json_gen *g);
/* Event callback delivery counters for GET /sim/counters ("callbacks"). */
void sim_tr_callbacks_json(struct sim_tr *tr, struct json_gen *g);
