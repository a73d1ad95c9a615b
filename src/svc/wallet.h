/* svc/wallet.h: the account wallet (a JSON object of integer balances on
 * the users row) and its ledger (wallet_ledger: one row per recorded
 * change).
 * Owns: the wallet column's read-modify-write and the wallet_ledger table.
 * Threads: worker (blocks on the database).
 *
 * Nakama's rules: a changeset is an object of whole numbers added to the
 * matching keys (missing keys start at 0); a result below zero rejects the
 * whole update; the caller gets the whole wallet after and before. Only the
 * system caller (the runtime, the console) changes wallets. */
#ifndef TOMO_SVC_WALLET_H
#define TOMO_SVC_WALLET_H

#include "svc.h"

/* Apply changeset (object key -> integer, borrowed) to user_id's wallet in
 * one transaction (conn must not be inside one). metadata: JSON object text
 * or NULL ("{}"), recorded with the ledger row when update_ledger is set.
 * *updated / *previous (new references, either out may be NULL) get the
 * whole wallets. Errors: INVALID_ARGUMENT for a bad changeset, NOT_FOUND
 * "user not found", INVALID_ARGUMENT "wallet update rejected negative value
 * at path '<key>'", PERMISSION_DENIED for a user caller. */
int tomo_svc_wallet_update(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                           const char *user_id, struct json_t *changeset, const char *metadata,
                           int update_ledger, struct json_t **updated, struct json_t **previous,
                           tomo_err *err);

/* One change of a wallet (the changeset borrowed; metadata as above). */
typedef struct tomo_wallet_change {
    const char *user_id;
    struct json_t *changeset;
    const char *metadata;
} tomo_wallet_change;
/* The same change inside the caller's transaction (db inside one; the
 * caller commits, or rolls back after an error). No caller check: the
 * system's callers only (svc/storage.h tomo_svc_multi_update). */
int tomo_svc_wallet_update_tx(tomo_svc *svc, tomo_dbconn *db, const tomo_wallet_change *c,
                              int update_ledger, struct json_t **updated,
                              struct json_t **previous, tomo_err *err);

/* A page of user_id's ledger, newest first: *items = array of {id, user_id,
 * create_time, update_time (unix seconds), changeset, metadata (objects)};
 * *next_cursor (malloc'd) is "" at the end. limit 1..100. */
int tomo_svc_wallet_ledger_list(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                                const char *user_id, int limit, const char *cursor,
                                struct json_t **items, char **next_cursor, tomo_err *err);

/* Delete one ledger item of user_id (the wallet itself is unchanged);
 * deleting one that does not exist succeeds. System caller only. */
int tomo_svc_wallet_ledger_delete(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                                  const char *user_id, const char *ledger_id, tomo_err *err);

#endif
