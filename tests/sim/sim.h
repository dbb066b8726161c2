#pragma once

/*
 * trhub-sim: a local emulator of the Twilio REST APIs trhub uses (TaskRouter
 * v1, Sync v1, API 2010 Conferences) on one loopback port, with an honest
 * routing engine, signed event callbacks and a traffic generator.
 *
 * Module map (one concept per file, prefix = file name):
 *   sim_main.c     options, start-up, listening, sd_notify READY=1, shutdown
 *   sim_http.c     evhttp server: route table, Basic auth, faults, counters,
 *                  reply helpers, paging envelopes          (sim_http.h)
 *   sim_clock.c    virtual clock and one-shot timers         (sim_clock.h)
 *   sim_control.c  /sim/... control API (reset, faults, counters, clock)
 *   sim_sync.c     Sync services, documents, maps, map items (sim_sync.h)
 *   sim_tr*.c      TaskRouter state, REST, routing engine, statistics, event
 *                  callbacks, conferences, traffic generator (sim_tr.h); the
 *                  REST handlers one file per resource, sim_tr_rest_*.c, with
 *                  their shared helpers in sim_tr_rest.c (sim_tr_rest.h)
 *
 * Everything runs on one event_base; nothing blocks.
 */

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>

#include "rng.h"

struct sim_clock;
struct sim_http;
struct sim_sync;
struct sim_tr;
struct http_async;

struct sim_options {
	char *listen;	   /* "127.0.0.1:0" */
	char *account_sid; /* AC... */
	char *auth_token;
	char *api_key; /* SK... */
	char *api_secret;
	char *workspace_sid;	   /* WS... */
	char *sync_service_sid;	   /* IS... */
	char *event_callback_url;  /* or NULL */
	int workers;		   /* seeded workers, all Offline */
	int reservation_timeout_s; /* default workflow's TaskReservationTimeout */
	uint64_t seed;
	bool seed_set;
	double calls_per_minute; /* traffic generator: callers */
	int agents;		 /* traffic generator: simulated agents */
	int task_removal_s;	 /* finished tasks removed after this (300) */
};

struct sim {
	struct event_base *base;
	struct sim_options opt;
	struct rng rng;
	struct sim_clock *clock;
	struct sim_http *http;
	struct http_async *client; /* outgoing event callbacks */
	struct sim_sync *sync;
	struct sim_tr *tr;
	char *base_url; /* "http://127.0.0.1:PORT", no trailing slash */
};

/*
 * Resets TaskRouter, Sync, faults, counters and the clock offset to start-up
 * state, in this order: sim_tr_reset (which must cancel or forget every timer
 * it holds), sim_sync_reset, faults and counters, sim_clock_reset (which
 * frees any timer still pending), then sim_tr_traffic_start again.
 */
void sim_reset(struct sim *sim);
/* Generates a SID with the simulator's PRNG (deterministic under --seed). */
void sim_new_sid(struct sim *sim, char out[35], const char *prefix);
