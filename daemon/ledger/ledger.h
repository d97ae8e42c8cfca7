/*
 * ledger: secd's built-in handler.  Accounts, scrypt password hashes,
 * balances, transfers and their journal in SQLite; written only against
 * secd/handler.h, so the same struct could be a module's secd_handler
 * symbol.  docs/ledger.md is the operator's description.
 *
 * Ops: login {account, password?}, balance, transfer {to, amount,
 * idempotency_key, memo?}, history {limit?, before?}.
 *
 * Options (handler.options in secd.yaml, all text):
 *   database	path of the SQLite file, required; created (mode 0600) on
 *		first start, but not its directory.  A relative path is
 *		resolved against host->base_dir when the host gives one.
 *   threads	reader threads (login, balance, history), each with its
 *		own connection: 1 to 64, default the number of online CPUs
 *		(at most 64).  Transfers have one writer thread of their
 *		own besides.
 *   queue	calls waiting, 1 to 1048576, default 4096: the bound of
 *		the readers' queue and, separately, of the writer's.  A
 *		call that finds its queue full is answered at once with
 *		"unavailable" ("server busy").
 *   batch	most transfers committed together, 1 to 4096, default 512.
 *   idempotency_retention
 *		how long an idempotency key is remembered: a number and a
 *		unit s, m, h or d ("24h", "7d"), 1h to 3650d, default 7d.
 *   test_max_page_count
 *		for tests only: PRAGMA max_page_count on the writer's
 *		connection, to simulate a full disk.  Undocumented in
 *		secd.yaml(5); docs/ledger.md says what it is.
 *
 * submit() never blocks: it checks the arguments, answers what it can
 * answer without the database (bad_request, auth_required,
 * invalid_amount, same_account, busy) on the calling thread, and queues
 * the rest: transfers for the writer (ledger_writer.h), the others for
 * the readers.
 *
 * Answers: login -> reply_login, or auth_failed ("wrong account or
 * password", the same for an unknown account, which costs the same full
 * scrypt against a dummy hash), or locked (right password, account locked
 * by an administrator).  How a login proves itself follows
 * host->auth->methods: PASSWORD as above; CERTIFICATE: no password, and
 * peer->cert_sha256 must be bound (unrevoked) to the account in the
 * cert_bindings table, else auth_failed "wrong account or certificate"
 * (no scrypt); BOTH: the binding and the password, either failing as a
 * wrong password does, at the same cost; balance -> {"account", "balance", "currency"};
 * transfer -> {"transfer_id", "balance", "currency"} once durable, or
 * invalid_amount, same_account, currency_mismatch, no_such_account,
 * insufficient_funds, conflict; history -> {"currency", "entries",
 * "next_before"?}; database trouble -> unavailable, with the detail in
 * the log only.
 */
#ifndef LEDGER_H
#define LEDGER_H

#include <stdint.h>

#include "secd/handler.h"

extern const struct secd_handler ledger_handler;

#define LEDGER_BATCH_BOUNDS	13	/* 1, 2, 4, ... 4096 jobs */
#define LEDGER_COMMIT_BOUNDS	16	/* 0.1 ms ... 10 s */

/* What the writer has done since open(); for tests, benchmarks and
   secd's metrics. */
struct ledger_stats {
	uint64_t	batches;	/* batches the writer took on */
	uint64_t	commits;	/* ... of which committed */
	uint64_t	failed;		/* ... of which rolled back */
	uint64_t	applied;	/* transfers applied (and acknowledged) */
	uint64_t	replayed;	/* retries answered with the original */
	uint64_t	refused;	/* transfers refused (funds, conflict...) */
	uint64_t	unavailable;	/* transfers of failed batches */
	uint64_t	largest;	/* most jobs in one batch */
	uint64_t	rehashed;	/* password hashes upgraded */
	uint64_t	purged;		/* idempotency keys expired */

	/*
	 * Committed batches by size (jobs: transfers and password rehashes
	 * committed together) and by how long their COMMIT took (the fsync).
	 * Per bucket, not cumulative: [i] counts values <= bounds[i] and
	 * above bounds[i - 1]; the last counts those above every bound.
	 */
	uint64_t	batch_size[LEDGER_BATCH_BOUNDS + 1];
	uint64_t	batch_jobs;	/* sum of the sizes */
	uint64_t	commit_time[LEDGER_COMMIT_BOUNDS + 1];
	uint64_t	commit_ns;	/* sum of the durations */
};

/* The buckets' upper bounds: jobs, and nanoseconds. */
extern const uint64_t ledger_batch_bounds[LEDGER_BATCH_BOUNDS];
extern const uint64_t ledger_commit_bounds_ns[LEDGER_COMMIT_BOUNDS];

/*
 * ledger_stats(state, stats):
 * Copy the counters of the ledger ${state} (from ledger_handler.open) to
 * ${stats}.  Any thread, while the ledger is open.
 */
void ledger_stats(void *, struct ledger_stats *);

#endif /* !LEDGER_H */
