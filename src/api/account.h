/* api/account.h: what the account, friend and group adapters share about
 * users (the User message itself lives in svc/users.h).
 * Threads: any. */
#ifndef TOMO_API_ACCOUNT_H
#define TOMO_API_ACCOUNT_H

#include <jansson.h>

#include "../svc/users.h"
#include "server.h"

/* Set "online": true on each User object in users (array) whose user has a
 * live socket: a snapshot read, never a wait on the loop thread. */
void tomo_account_fill_online(tomo_server *srv, json_t *users);

#endif
