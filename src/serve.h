/* serve.h: the `serve` command: start-up, run, graceful shutdown.
 * Owns: the tomo_server instance of this process.
 * Threads: main thread, which becomes the loop thread. */
#ifndef TOMO_SERVE_H
#define TOMO_SERVE_H

#include "core/config.h"

/* Runs until SIGTERM/SIGINT; returns the process exit code. */
int tomo_serve(tomo_config *cfg);
/* 1 if console.address is not a loopback address. */
int tomo_serve_console_public(const tomo_config *cfg);

#endif
