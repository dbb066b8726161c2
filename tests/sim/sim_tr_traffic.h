#pragma once

/*
 * Traffic generator (--calls-per-minute R, --agents N).
 *
 * Callers: tasks arrive as a Poisson process of rate R per minute with
 * attributes {"from": "+1555...", "to": "+1800...", "call_sid": "CA...",
 * "type": "inbound", "direction": "inbound"}, priority 0 (80 %), 1 (15 %) or
 * 2 (5 %). A third of the callers are impatient: if their task is still
 * pending or reserved after a random 15..120 s they hang up (the task is
 * canceled with reason "hangup").
 *
 * Agents "agent-001".. (skills support, starting Offline) go Available after
 * 1..10 s. On a reservation an agent usually accepts after 1..8 s with the
 * conference instruction (PostWorkActivitySid = Available), talks 20..240 s,
 * ends the conference (the task wraps up), wraps up 3..15 s and completes
 * the task. About 5 % of reservations are rejected and 3 % left to time out;
 * after about 10 % of completed tasks the agent takes a 30..180 s break
 * (Unavailable). Everything goes through the routing engine and sim timers,
 * with sim->rng, so --seed makes it reproducible.
 *
 * Timers hold SIDs, not pointers: when one fires the generator looks the
 * object up again and does nothing if it is gone or has moved on.
 */

#include <stdbool.h>

struct json_gen;
struct sim_tr;
struct sim_tr_reservation;
struct sim_tr_traffic;

struct sim_tr_traffic *sim_tr_traffic_new(struct sim_tr *tr);
/* Cancels every timer. NULL-safe. */
void sim_tr_traffic_free(struct sim_tr_traffic *tf);
/* Creates the agents and arms the caller arrivals if the options ask for it. */
void sim_tr_traffic_begin(struct sim_tr_traffic *tf);
/* Engine hook: a reservation was just created (called for every reservation). */
void sim_tr_traffic_reservation_created(struct sim_tr *tr, struct sim_tr_reservation *res);
/*
 * Agent takeover: claim (true) stops the generator driving the agent whose
 * worker SID or friendly name is worker (its pending timer is cancelled and
 * its reservations are left to whoever claimed it); release (false) resumes
 * it from the worker's current state. *sid_out is the worker SID (borrowed).
 * Returns 0, or -ENOENT when worker is not one of the generator's agents.
 */
int sim_tr_traffic_claim(struct sim_tr *tr, const char *worker, bool claim, const char **sid_out);
/* [{"worker_sid", "friendly_name", "claimed"}] for every generator agent. */
void sim_tr_traffic_agents_json(struct sim_tr *tr, struct json_gen *g);
