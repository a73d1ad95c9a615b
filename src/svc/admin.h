/* svc/admin.h: the operator's views of accounts (the console): search
 * across accounts and the export of everything stored for one user.
 * Owns: the account search and export queries.
 * Borrows: svc/account.h, svc/storage.h, svc/friend.h, svc/group.h,
 *          svc/wallet.h for the parts they own.
 * Threads: worker (blocks on the database).
 * Caller: the system only (PERMISSION_DENIED for a user caller). Results are
 * new references the caller releases. */
#ifndef TOMO_SVC_ADMIN_H
#define TOMO_SVC_ADMIN_H

#include "svc.h"

/* AccountList {users, total_count, next_cursor} ordered by username.
 * filter: "" = every account; a UUID = that account; with a '%' a
 * case-blind LIKE pattern on the username; otherwise an exact username,
 * email, custom id or device id. limit 1..100; cursor "" or one this call
 * handed out. The system user (the nil UUID) is never listed. */
int tomo_svc_admin_accounts_list(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                                 const char *filter, const char *cursor, int limit,
                                 struct json_t **out, tomo_err *err);

/* AccountExport {account, objects, friends, groups, messages,
 * leaderboard_records, notifications, wallet_ledgers}. NOT_FOUND "Account
 * not found.". */
int tomo_svc_admin_account_export(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                                  const char *user_id, struct json_t **out, tomo_err *err);

/* Delete every account but the system user's, each as
 * tomo_svc_account_delete does (its sessions end, its records, storage,
 * friends and memberships go). *deleted (may be NULL) gets the count. */
int tomo_svc_admin_accounts_delete_all(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                                       int64_t *deleted, tomo_err *err);

/* The console's DeleteAllData: every account (as above), then what is
 * left that no account owned: storage, groups, chat messages,
 * notifications, wallet ledgers, leaderboard and tournament records (the
 * rank cache follows). Leaderboard and tournament definitions stay (the
 * modules that create them at start-up are not run again), and so do the
 * console's own users. */
int tomo_svc_admin_delete_all(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                              tomo_err *err);

/* Delete every storage object (the console's DeleteStorage). */
int tomo_svc_admin_storage_delete_all(tomo_svc *svc, tomo_dbconn *db, const tomo_caller *caller,
                                      tomo_err *err);

#endif
