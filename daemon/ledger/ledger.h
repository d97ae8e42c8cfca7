/*
 * ledger: secd's built-in handler.  Accounts, scrypt password hashes and
 * balances in SQLite; written only against secd/handler.h, so the same
 * struct could be a module's secd_handler symbol.
 *
 * Ops: login {account, password}, balance.
 *
 * Options (handler.options in secd.yaml, all text):
 *   database	path of the SQLite file, required; created (mode 0600) on
 *		first start, but not its directory.  A relative path is
 *		resolved against host->base_dir when the host gives one.
 *   threads	worker threads, each with its own connection: 1 to 64,
 *		default the number of online CPUs (at most 64).
 *   queue	calls waiting for a worker, 1 to 1048576, default 4096.
 *		A call that finds the queue full is answered at once with
 *		"unavailable" ("server busy").
 *
 * submit() never blocks: it checks the arguments, answers what it can
 * answer without the database (bad_request, auth_required, busy) on the
 * calling thread, and queues the rest for the workers.
 *
 * Answers: login -> reply_login, or auth_failed ("wrong account or
 * password", the same for an unknown account, which costs the same full
 * scrypt against a dummy hash), or locked (right password, account locked
 * by an administrator); balance -> {"account", "balance", "currency"};
 * database trouble -> unavailable, with the detail in the log only.
 */
#ifndef LEDGER_H
#define LEDGER_H

#include "secd/handler.h"

extern const struct secd_handler ledger_handler;

#endif /* !LEDGER_H */
