/* svc/storage.h: storage objects (Nakama semantics): write, read, delete and
 * list JSON objects keyed by (collection, key, owner), with the permission
 * rules that follow from the caller.
 * Owns: the storage table's queries, the storage metrics
 *       (storage_writes_total, storage_write_rejects_total,
 *       storage_deletes_total). Limits, cursor format and version hash: see
 *       svc/storage_util.h.
 * Threads: worker (blocks on the database).
 *
 * Caller rules (Nakama's client vs authoritative paths):
 * - a user writes and deletes only its own objects, never one stored with
 *   permission_write 0, reads public objects (read 2) and its own readable
 *   ones (read 1), and lists the same;
 * - the system (runtime, console) writes and deletes as any owner (user_id
 *   "" or NULL = the system user, the nil UUID), ignores permission_write,
 *   reads and lists every object whatever its read permission; deleting
 *   an object that does not exist without a version is a no-op for it.
 * Owners must exist: a write for a user id with no account (a deleted user
 * whose token is still signed, a runtime typo) fails with INTERNAL "Error
 * writing storage objects.", as Nakama's foreign key makes it fail, and
 * leaves no row behind.
 *
 * Results are the canonical protojson messages (json_t, new references):
 * StorageObjectAcks {acks}, StorageObjects {objects}, StorageObjectList
 * {objects, cursor}; zero values are omitted. */
#ifndef TOMO_SVC_STORAGE_H
#define TOMO_SVC_STORAGE_H

#include <stdint.h>

#include "svc.h"
#include "storage_util.h"

/* One object to write. */
typedef struct tomo_storage_write_op {
    const char *collection, *key;
    /* Owner. User caller: NULL/"" or the caller's own id. System caller:
     * NULL/"" = the system user, else a UUID (any case). */
    const char *user_id;
    const char *value;   /* JSON object text */
    const char *version; /* NULL/"": unconditional; "*": create only; else if-match */
    int64_t permission_read;  /* 0..2 (Nakama's default is 1) */
    int64_t permission_write; /* 0..1 (Nakama's default is 1) */
} tomo_storage_write_op;

/* One object id to read or delete. */
typedef struct tomo_storage_id {
    const char *collection, *key;
    /* Read: the owner, NULL/"" = the system user. Delete: as for writes. */
    const char *user_id;
    const char *version; /* delete only: NULL/"" = any version */
} tomo_storage_id;

/* Write a batch, all or nothing, with optimistic concurrency (version) and
 * permission checks; n may be 0 (*out = NULL then). *out = StorageObjectAcks.
 * INVALID_ARGUMENT for bad input or a rejected write (Nakama's messages:
 * "Storage write rejected - version check failed." / "... - permission
 * denied."). */
int tomo_svc_storage_write(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                           const tomo_storage_write_op *ops, size_t n, struct json_t **out,
                           tomo_err *err);

/* Read objects by id; unreadable or missing ones are left out; answered in
 * request order, an id asked twice answered once. *out = StorageObjects, or
 * NULL when nothing was found (or n is 0). */
int tomo_svc_storage_read(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                          const tomo_storage_id *ids, size_t n, struct json_t **out,
                          tomo_err *err);

/* Delete a batch, all or nothing. */
int tomo_svc_storage_delete(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                            const tomo_storage_id *ids, size_t n, tomo_err *err);

/* nk.multi_update: account updates, storage writes and deletes and wallet
 * changes in ONE transaction, all or nothing (Nakama's order: accounts,
 * writes, deletes, wallets). The system only. */
struct tomo_account_update;
struct tomo_wallet_change;
typedef struct tomo_multi_account {
    const char *user_id;
    const struct tomo_account_update *update;
} tomo_multi_account;
typedef struct tomo_multi_update {
    const tomo_multi_account *accounts;
    size_t naccounts;
    const tomo_storage_write_op *writes;
    size_t nwrites;
    const tomo_storage_id *deletes;
    size_t ndeletes;
    const struct tomo_wallet_change *wallets;
    size_t nwallets;
    int update_ledger;
} tomo_multi_update;
/* *acks = StorageObjectAcks (NULL without writes); *wallets = array of
 * {user_id, updated, previous} (empty without wallet changes). Errors are
 * the parts' (svc/account.h, the writes and deletes above, svc/wallet.h);
 * nothing is kept after one. */
int tomo_svc_multi_update(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                          const tomo_multi_update *m, struct json_t **acks,
                          struct json_t **wallets, tomo_err *err);

/* A keyset-paged listing of a collection: owner NULL/"" = every owner
 * (users: public objects only), else that owner's objects (users: all their
 * own readable ones, or another user's public ones). limit 1..100; cursor
 * NULL/"" = from the start, else one this listing handed out.
 * *out = StorageObjectList. */
int tomo_svc_storage_list(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                          const char *collection, const char *owner, int64_t limit,
                          const char *cursor, struct json_t **out, tomo_err *err);

/* The console's storage browser (the system only): every object matching
 * the filters that are set (collection, key: exact, or a prefix when it
 * ends in '%'; user_id: the owner), ordered by (collection, key, user_id),
 * keyset-paged. limit 1..1000. *out = StorageList {objects, total_count,
 * next_cursor} (total_count counts every match). */
int tomo_svc_storage_search(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                            const char *collection, const char *key, const char *user_id,
                            int64_t limit, const char *cursor, struct json_t **out,
                            tomo_err *err);
/* Every collection name in use, sorted: StorageCollectionsList {collections}. */
int tomo_svc_storage_collections(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                                 struct json_t **out, tomo_err *err);

#endif
