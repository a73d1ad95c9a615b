/* bench/scenarios.h: the scenario table of tomo-bench.
 * Owns: nothing; each lg_sc_* lives in its sc_<name>.c.
 * Threads: run() on the main thread, on_phase() on worker threads. */
#ifndef LG_SCENARIOS_H
#define LG_SCENARIOS_H

#include "lg.h"

extern const lg_scenario lg_sc_idle;
extern const lg_scenario lg_sc_relay;
extern const lg_scenario lg_sc_auth;
extern const lg_scenario lg_sc_chat;
extern const lg_scenario lg_sc_storage;
extern const lg_scenario lg_sc_leaderboard;
extern const lg_scenario lg_sc_http;
extern const lg_scenario lg_sc_selftest;
extern const lg_scenario lg_sc_social;
extern const lg_scenario lg_sc_matchmaker;
extern const lg_scenario lg_sc_amatch;

#endif
