#pragma once

/*
 * The emulator's /sim/... control API (no auth, JSON in and out): reset,
 * faults, counters, the virtual clock, a state dump and a health check. The
 * wire form is documented in trhub-sim(1). TaskRouter-specific control
 * routes (seeding, bulk tasks) are registered by sim_tr, and the Sync rate
 * limit switch by sim_sync.
 */

struct sim;

/* Registers the routes on sim->http; call once after sim->http exists. */
void sim_control_register_routes(struct sim *sim);
