#pragma once

/*
 * Traffic generator (--calls-per-minute R, --agents N): a contact center
 * that behaves like one.
 *
 * Customers: conversations arrive as a Poisson process of rate R per minute,
 * 80 % calls (voice), 15 % chats, 5 % texts (sms), with attributes {"from",
 * "to", "direction": "inbound", and "call_sid" and "type": "inbound" for a
 * call or "type": "chat"/"sms" and "channelType"}, priority 0 (80 %), 1
 * (15 %) or 2 (5 %). Every caller has a patience (20 s plus an exponential
 * with a 130 s mean): still waiting then, the caller abandons (the task is
 * canceled with reason "hangup"). Chats and texts wait.
 *
 * Agents "agent-001".. (skills support, voice capacity 1, chat capacity 2;
 * starting Offline) go Available after 1..10 s. A reservation is accepted
 * after 2..8 s (a call with the conference instruction), rejected after
 * 1..5 s (3 %), or missed (2 %: it times out, the engine moves the agent to
 * the timeout activity, and it comes back 5..30 s later). Calls last
 * 30..180 s, chats 60..300 s (side by side), texts 40..200 s; then the task
 * wraps up (a call's agent goes to the "Wrap Up" activity) for 5..20 s (2..8
 * s for chats and texts) and completes. An agent with nothing left takes a
 * 60..240 s "Break" after 8 % of its tasks. "Wrap Up" and "Break" are added
 * to the workspace (unavailable) when there are agents. Everything goes
 * through the routing engine and sim timers, with sim->rng, so --seed makes
 * it reproducible. At about half a call per minute per agent (the demo's
 * default) the service level within 30 s is mostly 70..95 %.
 *
 * A person may take an agent over (sim_tr_traffic_claim): the generator then
 * leaves it alone until it is released.
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
