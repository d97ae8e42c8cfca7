/*
 * ledger_writer.c: one thread, one write connection, group commit.
 *
 * The queue is a ring of jobs guarded by mtx; the thread takes up to
 * batch_max of them at a time and works without the lock.  While it
 * commits (and waits for the fsync), new jobs pile up in the ring and
 * become the next batch: the busier the ledger, the bigger the batches,
 * and the fsync is shared by all of them.
 *
 * One batch:
 *
 *	BEGIN IMMEDIATE			(waits LEDGER_DB_WRITER_BUSY_MS at most)
 *	  [purge expired idempotency keys, at most once a minute]
 *	  SAVEPOINT t; transfer 1; RELEASE t
 *	  SAVEPOINT t; transfer 2; RELEASE t
 *	  ...
 *	COMMIT				(one fsync of the WAL)
 *	answer every call
 *
 * A transfer is refused (insufficient funds, unknown payee, ...) before it
 * writes anything, and a refused or replayed transfer does not disturb the
 * others.  A constraint failure halfway through one transfer (a bug: the
 * checks before it should make that impossible) rolls back to its
 * savepoint and answers that call "internal".  Any other error fails the
 * batch: ROLLBACK, every call "unavailable", nothing applied; except that
 * an I/O error from COMMIT itself is answered "internal", because the WAL
 * frames may have reached the disk before the error and a crash could then
 * bring the transfer back (it would carry its idempotency key, so the
 * client's retry with the same key is still safe).
 *
 * Replies wait for COMMIT even for refusals: a refusal was decided against
 * a state that includes the batch's earlier transfers, which a failed
 * commit takes back.
 *
 * Ids.  Within a batch the writer holds the database's write lock, so the
 * next journal id is read once (max + 1) and counted up in memory: a
 * transfer's id is the id of the payer's journal entry, the payee's entry
 * gets the next one.  History's cursor relies on that (ledger.c).
 *
 * Statements are prepared once per connection and bound to the call's own
 * strings (SQLITE_STATIC: the call stays valid until it is answered, which
 * is after COMMIT); a batch allocates nothing.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "ledger_cache.h"
#include "ledger_db.h"
#include "ledger_writer.h"

#define W_PURGE_EVERY_MS	60000	/* between purges of expired keys */
#define W_PURGE_MAX		1000	/* keys deleted per purge, at most */
#define W_RELOG_MS		60000	/* repeat a fault's log line after */

#define W_MSG_DB	"the ledger database is unavailable"
#define W_MSG_COMMIT	"the ledger could not confirm the commit; retry " \
			"with the same idempotency key"
#define W_MSG_BUSY	"server busy"
#define W_MSG_STOPPING	"server shutting down"

/* The prepared statements of the write connection. */
enum {
	W_BEGIN,
	W_COMMIT,
	W_ROLLBACK,
	W_SAVEPOINT,
	W_RELEASE,
	W_ROLLBACK_TO,
	W_MAXID,
	W_KEY,
	W_ACCOUNT,
	W_SET_BALANCE,
	W_ADD_TRANSFER,
	W_ADD_ENTRY,
	W_ADD_KEY,
	W_PURGE,
	W_REHASH,
	W_DATA_VERSION,
	W_NSTMT
};

static const char *const w_sql[W_NSTMT] = {
	[W_BEGIN] = "BEGIN IMMEDIATE",
	[W_COMMIT] = "COMMIT",
	[W_ROLLBACK] = "ROLLBACK",
	[W_SAVEPOINT] = "SAVEPOINT t",
	[W_RELEASE] = "RELEASE t",
	[W_ROLLBACK_TO] = "ROLLBACK TO t",
	[W_MAXID] = "SELECT coalesce(max(id), 0) FROM journal",
	/* The live key, with what its transfer was and what it answered. */
	[W_KEY] = "SELECT t.id, t.to_account, t.amount, t.memo, t.currency, "
	    "j.balance_after FROM idempotency i "
	    "JOIN transfers t ON t.id = i.transfer_id "
	    "JOIN journal j ON j.transfer_id = t.id "
	    "AND j.account = t.from_account "
	    "WHERE i.account = ?1 AND i.key = ?2 AND i.created > ?3",
	[W_ACCOUNT] = "SELECT balance, currency FROM accounts WHERE name = ?1",
	[W_SET_BALANCE] = "UPDATE accounts SET balance = ?2 WHERE name = ?1",
	[W_ADD_TRANSFER] = "INSERT INTO transfers (id, time, from_account, "
	    "to_account, amount, currency, memo, idempotency_key) VALUES "
	    "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[W_ADD_ENTRY] = "INSERT INTO journal (id, time, account, kind, amount, "
	    "balance_after, counterparty, memo, transfer_id) VALUES "
	    "(?1, ?2, ?3, 'transfer', ?4, ?5, ?6, ?7, ?8)",
	/* An expired key that is still there gives way to the new use. */
	[W_ADD_KEY] = "INSERT INTO idempotency (account, key, transfer_id, "
	    "created) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (account, key) DO "
	    "UPDATE SET transfer_id = excluded.transfer_id, "
	    "created = excluded.created",
	[W_PURGE] = "DELETE FROM idempotency WHERE (account, key) IN "
	    "(SELECT account, key FROM idempotency WHERE created <= ?1 "
	    "ORDER BY created LIMIT ?2)",
	[W_REHASH] = ("UPDATE accounts SET password_hash = ?3 "
	    "WHERE name = ?1 AND password_hash = ?2"),
	/* Changes when another connection commits (ledger_cache.h). */
	[W_DATA_VERSION] = "PRAGMA data_version",
};

/* A password hash to upgrade; from ledger_writer_rehash. */
struct ledger_rehash {
	char	*account;
	char	*oldhash;
	char	*newhash;
};

/* A queued job: exactly one of the two is set. */
struct ledger_wjob {
	struct secd_call	*call;	/* a transfer */
	struct ledger_rehash	*rh;
};

/* How one transfer of a batch ended. */
enum w_outcome {
	W_APPLIED,
	W_REPLAYED,
	W_REFUSED,
	W_DBERR			/* w->rc says which */
};

/* A transfer of the batch being worked on, and its answer. */
struct ledger_wslot {
	struct secd_call *call;
	const char	*from;
	const char	*to;
	const char	*key;
	const char	*memo;		/* NULL for none */
	int64_t		 amount;
	/* The answer: code NULL for success. */
	const char	*code;
	char		 msg[200];
	int64_t		 transfer_id;
	int64_t		 balance;
	char		 currency[4];
	int		 applied;	/* changed both balances: */
	int64_t		 to_balance;	/* ... the payee's new one */
};

struct ledger_writer {
	const struct secd_host *host;
	char		*path;
	size_t		 queue_max;
	size_t		 batch_max;
	int64_t		 retention_ms;
	int64_t		 max_page_count;

	/* The queue, the flags and the counters.  Guarded by mtx. */
	pthread_mutex_t	 mtx;
	pthread_cond_t	 cv;
	struct ledger_wjob *queue;	/* ring of queue_max */
	size_t		 qhead;
	size_t		 qlen;
	int		 stopping;
	int		 waiting;	/* the thread sleeps on cv */
	struct ledger_stats stats;

	/* The balances answered from memory (ledger_cache.h), or NULL. */
	struct ledger_cache *cache;
	int64_t		 next_check;	/* ms: look for others' commits */
	int64_t		 data_version;	/* last seen; -1: none yet */

	pthread_t	 thread;
	int		 started;
	int		 sync_ok;	/* mtx and cv initialised */

	/* The thread's own, untouched by anyone else while it runs. */
	sqlite3		*db;
	sqlite3_stmt	*st[W_NSTMT];
	struct ledger_wjob *jobs;	/* batch_max: the batch taken */
	struct ledger_wslot *slots;	/* batch_max: its transfers */
	int		 rc;		/* the last error's result code */
	char		 errmsg[256];	/* ... and its message */
	int64_t		 next_purge;	/* ms; 0: at the first batch */
	int		 faulted;	/* in a fault episode */
	int		 fault_rc;	/* the error last logged */
	int64_t		 fault_logged;	/* when, ms */
	uint64_t	 fault_batches;	/* batches failed in the episode */
	uint64_t	 fault_calls;	/* calls answered unavailable in it */
};

static void
w_log(const struct ledger_writer *w, enum secd_log_level level,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
w_log(const struct ledger_writer *w, enum secd_log_level level,
    const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (w->host->log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	w->host->log(w->host, level, "ledger: writer: %s", line);
}

/* Remember the connection's error rc (with its message) for the log. */
static int
w_err(struct ledger_writer *w, int rc)
{

	w->rc = rc;
	snprintf(w->errmsg, sizeof(w->errmsg), "%s",
	    w->db != NULL ? sqlite3_errmsg(w->db) : sqlite3_errstr(rc));
	return rc;
}

/* Run statement i, which returns no rows; 0, or the error's code. */
static int
w_exec(struct ledger_writer *w, int i)
{
	sqlite3_stmt *st = w->st[i];
	int rc;

	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE || rc == SQLITE_ROW) {
		sqlite3_reset(st);
		return 0;
	}
	w_err(w, rc);
	sqlite3_reset(st);
	return rc;
}

static void
w_close(struct ledger_writer *w)
{
	int i;

	for (i = 0; i < W_NSTMT; i++) {
		sqlite3_finalize(w->st[i]);
		w->st[i] = NULL;
	}
	sqlite3_close(w->db);
	w->db = NULL;
	/* Whatever is opened next may hold other balances. */
	w->data_version = -1;
	if (w->cache != NULL)
		ledger_cache_flush(w->cache);
}

/* (Re)open the connection; on failure w->rc and w->errmsg say why. */
static int
w_open(struct ledger_writer *w, int flags, char *err, size_t errlen)
{
	char sql[64];
	int i;

	if ((w->db = ledger_db_open(w->path, flags, err, errlen)) == NULL) {
		w->rc = SQLITE_CANTOPEN;
		snprintf(w->errmsg, sizeof(w->errmsg), "%s", err);
		return -1;
	}
	/* Short: the calls of a batch wait for the lock too. */
	sqlite3_busy_timeout(w->db, LEDGER_DB_WRITER_BUSY_MS);
	/* Every transfer touches two random leaves of the journal's and
	   the keys' indexes: keep them in memory (64 MiB at most). */
	if (ledger_db_exec(w->db, "PRAGMA cache_size = -65536"))
		goto fail;
	/* The savepoints' sub-journal, and the statement journals, in
	   memory: on disk they cost a pwrite per page per transfer. */
	if (ledger_db_exec(w->db, "PRAGMA temp_store = MEMORY"))
		goto fail;
	if (w->max_page_count > 0) {
		snprintf(sql, sizeof(sql), "PRAGMA max_page_count = %" PRId64,
		    w->max_page_count);
		if (ledger_db_exec(w->db, sql))
			goto fail;
	}
	for (i = 0; i < W_NSTMT; i++)
		if (sqlite3_prepare_v3(w->db, w_sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &w->st[i], NULL) != SQLITE_OK)
			goto fail;
	return 0;

fail:
	w_err(w, sqlite3_extended_errcode(w->db));
	snprintf(err, errlen, "database %s: %s", w->path, w->errmsg);
	w_close(w);
	return -1;
}

/* Fill s from its call; ledger.c has checked the arguments. */
static void
w_slot_init(struct ledger_wslot *s, struct secd_call *call)
{
	s->call = call;
	s->code = NULL;
	s->msg[0] = '\0';
	s->transfer_id = s->balance = s->to_balance = 0;
	s->applied = 0;
	s->currency[0] = '\0';
	s->from = call->account;
	s->to = secd_arg_str(call, "to");
	s->key = secd_arg_str(call, "idempotency_key");
	s->memo = secd_arg_str(call, "memo");
	if (s->memo != NULL && s->memo[0] == '\0')
		s->memo = NULL;
	(void)secd_arg_int(call, "amount", &s->amount);
}

static enum w_outcome
w_refuse(struct ledger_wslot *s, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum w_outcome
w_refuse(struct ledger_wslot *s, const char *code, const char *fmt, ...)
{
	va_list ap;

	s->code = code;
	va_start(ap, fmt);
	vsnprintf(s->msg, sizeof(s->msg), fmt, ap);
	va_end(ap);
	return W_REFUSED;
}

/* Two memos (NULL: none) are the same. */
static int
w_memo_eq(const char *a, const char *b)
{

	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/*
 * Look the key up.  W_REPLAYED (s holds the original answer), W_REFUSED
 * (conflict), W_APPLIED meaning "not found, go on", or W_DBERR.
 */
static enum w_outcome
w_key_lookup(struct ledger_writer *w, struct ledger_wslot *s, int64_t now)
{
	sqlite3_stmt *st = w->st[W_KEY];
	const char *to, *memo, *cur;
	enum w_outcome out;
	int rc;

	sqlite3_bind_text(st, 1, s->from, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, s->key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, now - w->retention_ms);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(st);
		return W_APPLIED;
	}
	if (rc != SQLITE_ROW) {
		w_err(w, rc);
		sqlite3_reset(st);
		return W_DBERR;
	}
	to = (const char *)sqlite3_column_text(st, 1);
	memo = (const char *)sqlite3_column_text(st, 3);
	cur = (const char *)sqlite3_column_text(st, 4);
	if (to != NULL && strcmp(to, s->to) == 0 &&
	    sqlite3_column_int64(st, 2) == s->amount &&
	    w_memo_eq(memo, s->memo)) {
		s->transfer_id = sqlite3_column_int64(st, 0);
		s->balance = sqlite3_column_int64(st, 5);
		snprintf(s->currency, sizeof(s->currency), "%s",
		    cur != NULL ? cur : "");
		out = W_REPLAYED;
	} else {
		out = w_refuse(s, "conflict", "idempotency key %s was used "
		    "for a different transfer", s->key);
	}
	sqlite3_reset(st);
	return out;
}

/* Read an account: 1 found, 0 not found, -1 error (w->rc). */
static int
w_account(struct ledger_writer *w, const char *name, int64_t *balance,
    char currency[4])
{
	sqlite3_stmt *st = w->st[W_ACCOUNT];
	const char *cur;
	int rc;

	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*balance = sqlite3_column_int64(st, 0);
		cur = (const char *)sqlite3_column_text(st, 1);
		snprintf(currency, 4, "%s", cur != NULL ? cur : "");
		sqlite3_reset(st);
		return 1;
	}
	if (rc == SQLITE_DONE) {
		sqlite3_reset(st);
		return 0;
	}
	w_err(w, rc);
	sqlite3_reset(st);
	return -1;
}

static int
w_set_balance(struct ledger_writer *w, const char *name, int64_t balance)
{
	sqlite3_stmt *st = w->st[W_SET_BALANCE];

	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, balance);
	return w_exec(w, W_SET_BALANCE);
}

static int
w_add_entry(struct ledger_writer *w, int64_t id, int64_t now,
    const char *account, int64_t amount, int64_t balance_after,
    const char *counterparty, const char *memo, int64_t transfer_id)
{
	sqlite3_stmt *st = w->st[W_ADD_ENTRY];

	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_text(st, 3, account, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, amount);
	sqlite3_bind_int64(st, 5, balance_after);
	sqlite3_bind_text(st, 6, counterparty, -1, SQLITE_STATIC);
	if (memo != NULL)
		sqlite3_bind_text(st, 7, memo, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 7);
	sqlite3_bind_int64(st, 8, transfer_id);
	return w_exec(w, W_ADD_ENTRY);
}

/* Decide and, if it is to be, apply the transfer of s as id. */
static enum w_outcome
w_transfer_apply(struct ledger_writer *w, struct ledger_wslot *s,
    int64_t now, int64_t id)
{
	sqlite3_stmt *st;
	enum w_outcome out;
	int64_t balance, to_balance;
	char to_currency[4];
	int rc;

	if ((out = w_key_lookup(w, s, now)) != W_APPLIED)
		return out;

	if ((rc = w_account(w, s->from, &balance, s->currency)) < 0)
		return W_DBERR;
	if (rc == 0)
		return w_refuse(s, "no_such_account", "the session's account "
		    "no longer exists");
	if ((rc = w_account(w, s->to, &to_balance, to_currency)) < 0)
		return W_DBERR;
	if (rc == 0)
		return w_refuse(s, "no_such_account", "no account %s", s->to);
	if (strcmp(to_currency, s->currency) != 0)
		return w_refuse(s, "currency_mismatch", "account %s holds %s, "
		    "not %s", s->to, to_currency, s->currency);
	if (balance < s->amount)
		return w_refuse(s, "insufficient_funds", "balance %" PRId64
		    " is less than %" PRId64, balance, s->amount);
	if (to_balance > LEDGER_AMOUNT_MAX - s->amount)
		return w_refuse(s, "invalid_amount", "account %s cannot hold "
		    "more than %" PRId64 " minor units", s->to,
		    LEDGER_AMOUNT_MAX);

	if (w_set_balance(w, s->from, balance - s->amount) ||
	    w_set_balance(w, s->to, to_balance + s->amount))
		return W_DBERR;

	st = w->st[W_ADD_TRANSFER];
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_text(st, 3, s->from, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, s->to, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, s->amount);
	sqlite3_bind_text(st, 6, s->currency, -1, SQLITE_STATIC);
	if (s->memo != NULL)
		sqlite3_bind_text(st, 7, s->memo, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 7);
	sqlite3_bind_text(st, 8, s->key, -1, SQLITE_STATIC);
	if (w_exec(w, W_ADD_TRANSFER))
		return W_DBERR;

	if (w_add_entry(w, id, now, s->from, -s->amount, balance - s->amount,
	    s->to, s->memo, id) ||
	    w_add_entry(w, id + 1, now, s->to, s->amount,
	    to_balance + s->amount, s->from, s->memo, id))
		return W_DBERR;

	st = w->st[W_ADD_KEY];
	sqlite3_bind_text(st, 1, s->from, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, s->key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, id);
	sqlite3_bind_int64(st, 4, now);
	if (w_exec(w, W_ADD_KEY))
		return W_DBERR;

	s->transfer_id = id;
	s->balance = balance - s->amount;
	s->to_balance = to_balance + s->amount;
	s->applied = 1;
	return W_APPLIED;
}

/*
 * One transfer inside its savepoint.  Return 0 when s has its answer, -1
 * when the batch must fail (w->rc).
 */
static int
w_transfer(struct ledger_writer *w, struct ledger_wslot *s, int64_t now,
    int64_t *next_id, struct ledger_stats *st)
{
	enum w_outcome out;

	if (w_exec(w, W_SAVEPOINT))
		return -1;
	out = w_transfer_apply(w, s, now, *next_id);
	switch (out) {
	case W_APPLIED:
		*next_id += 2;
		st->applied++;
		break;
	case W_REPLAYED:
		st->replayed++;
		break;
	case W_REFUSED:
		st->refused++;
		break;
	case W_DBERR:
		/* Only a constraint leaves the rest of the batch worth
		   keeping; and only if SQLite kept the transaction. */
		if ((w->rc & 0xff) != SQLITE_CONSTRAINT ||
		    sqlite3_get_autocommit(w->db))
			return -1;
		w_log(w, SECD_LOG_ERR, "transfer %s -> %s, key %s: %s; "
		    "undone", s->from, s->to, s->key, w->errmsg);
		if (w_exec(w, W_ROLLBACK_TO))
			return -1;
		s->code = "internal";
		snprintf(s->msg, sizeof(s->msg), "internal error; see the "
		    "server log");
		break;
	}
	return w_exec(w, W_RELEASE) ? -1 : 0;
}

/* Upgrade one password hash; only an error that fails the batch is -1. */
static int
w_rehash(struct ledger_writer *w, const struct ledger_rehash *rh,
    struct ledger_stats *st)
{
	sqlite3_stmt *s = w->st[W_REHASH];

	if (w_exec(w, W_SAVEPOINT))
		return -1;
	sqlite3_bind_text(s, 1, rh->account, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, rh->oldhash, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, rh->newhash, -1, SQLITE_STATIC);
	if (w_exec(w, W_REHASH)) {
		if ((w->rc & 0xff) != SQLITE_CONSTRAINT ||
		    sqlite3_get_autocommit(w->db))
			return -1;
		w_log(w, SECD_LOG_ERR, "account %s: new password hash: %s",
		    rh->account, w->errmsg);
		if (w_exec(w, W_ROLLBACK_TO))
			return -1;
	} else if (sqlite3_changes(w->db) == 1)
		st->rehashed++;
	return w_exec(w, W_RELEASE) ? -1 : 0;
}

/* Delete expired keys; set *more if there may be more to delete. */
static int
w_purge(struct ledger_writer *w, int64_t now, int *more,
    struct ledger_stats *st)
{
	sqlite3_stmt *s = w->st[W_PURGE];
	int n;

	sqlite3_bind_int64(s, 1, now - w->retention_ms);
	sqlite3_bind_int(s, 2, W_PURGE_MAX);
	if (w_exec(w, W_PURGE))
		return -1;
	n = sqlite3_changes(w->db);
	st->purged += (uint64_t)n;
	*more = n == W_PURGE_MAX;
	return 0;
}

static int
w_next_id(struct ledger_writer *w, int64_t *id)
{
	sqlite3_stmt *st = w->st[W_MAXID];
	int rc;

	if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
		w_err(w, rc);
		sqlite3_reset(st);
		return -1;
	}
	*id = sqlite3_column_int64(st, 0) + 1;
	sqlite3_reset(st);
	return 0;
}

static void
w_rehash_free(struct ledger_rehash *rh)
{

	if (rh == NULL)
		return;
	if (rh->oldhash != NULL)
		explicit_bzero(rh->oldhash, strlen(rh->oldhash));
	if (rh->newhash != NULL)
		explicit_bzero(rh->newhash, strlen(rh->newhash));
	free(rh->account);
	free(rh->oldhash);
	free(rh->newhash);
	free(rh);
}

/* The batch failed: say so, once per episode (and once a minute). */
static void
w_fault(struct ledger_writer *w, const char *during, size_t ncalls)
{
	int64_t now = ledger_db_now_ms();
	const char *what;

	if (!w->faulted || w->rc != w->fault_rc ||
	    now - w->fault_logged >= W_RELOG_MS) {
		/* The message, and SQLite's name for the code if the
		   message does not say it already. */
		what = sqlite3_errstr(w->rc);
		if (strstr(w->errmsg, what) != NULL)
			what = NULL;
		w_log(w, SECD_LOG_ERR, "database %s: %s: %s%s%s%s; transfers "
		    "are answered \"unavailable\" until it works again",
		    w->path, during, w->errmsg, what != NULL ? " (" : "",
		    what != NULL ? what : "", what != NULL ? ")" : "");
		w->fault_logged = now;
		w->fault_rc = w->rc;
	}
	w->faulted = 1;
	w->fault_batches++;
	w->fault_calls += ncalls;
}

static void
w_recovered(struct ledger_writer *w)
{

	if (!w->faulted)
		return;
	w_log(w, SECD_LOG_NOTICE, "database %s works again, after %" PRIu64
	    " failed batches (%" PRIu64 " transfers answered unavailable)",
	    w->path, w->fault_batches, w->fault_calls);
	w->faulted = 0;
	w->fault_batches = w->fault_calls = 0;
}

/*
 * After COMMIT: store the new balances of the batch in the cache, in the
 * order applied (so the last one of an account stays), before any answer.
 */
static void
w_cache_put(struct ledger_writer *w, size_t nslots)
{
	const struct ledger_wslot *s;
	size_t i;

	if (w->cache == NULL)
		return;
	for (i = 0; i < nslots; i++) {
		s = &w->slots[i];
		if (s->code != NULL || !s->applied)
			continue;
		ledger_cache_put(w->cache, s->from, s->balance, s->currency);
		ledger_cache_put(w->cache, s->to, s->to_balance, s->currency);
	}
}

/*
 * Has another process committed to the database since the last look?
 * Then the cache may hold balances that are no longer true: flush it.
 * Without a connection nothing can be known: flush as well.
 */
static void
w_check_others(struct ledger_writer *w)
{
	sqlite3_stmt *st;
	int64_t v;

	if (w->cache == NULL)
		return;
	if (w->db == NULL) {
		ledger_cache_flush(w->cache);
		return;
	}
	st = w->st[W_DATA_VERSION];
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_reset(st);
		ledger_cache_flush(w->cache);
		return;
	}
	v = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (v != w->data_version) {
		if (w->data_version != -1)
			ledger_cache_flush(w->cache);
		w->data_version = v;
	}
}

/* Answer every transfer of the batch. */
static void
w_answer(struct ledger_writer *w, size_t nslots)
{
	const struct secd_host *host = w->host;
	struct ledger_wslot *s;
	size_t i;

	for (i = 0; i < nslots; i++) {
		s = &w->slots[i];
		if (s->code != NULL) {
			host->reply_error(s->call, s->code, s->msg,
			    strcmp(s->code, "unavailable") == 0 ? 1 : -1);
		} else {
			const struct secd_value fields[] = {
				SECD_INT("transfer_id", s->transfer_id),
				SECD_INT("balance", s->balance),
				SECD_STR("currency", s->currency),
			};

			host->reply(s->call, fields,
			    sizeof(fields) / sizeof(fields[0]));
		}
	}
}

const uint64_t ledger_batch_bounds[LEDGER_BATCH_BOUNDS] = {
	1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096
};

const uint64_t ledger_commit_bounds_ns[LEDGER_COMMIT_BOUNDS] = {
	100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000,
	25000000, 50000000, 100000000, 250000000, 500000000, 1000000000,
	2500000000ULL, 5000000000ULL, 10000000000ULL
};

static uint64_t
w_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The bucket of v among n ascending bounds; n for "above them all". */
static size_t
w_bucket(const uint64_t *bounds, size_t n, uint64_t v)
{
	size_t i;

	for (i = 0; i < n && v > bounds[i]; i++)
		;
	return i;
}

/* Work off the n jobs of w->jobs: one transaction, one commit. */
static void
w_batch(struct ledger_writer *w, size_t n)
{
	struct ledger_stats st;
	const char *during = "BEGIN";
	char err[256];
	int64_t now, next_id;
	size_t i, nslots = 0;
	int more = 0, purged = 0, commit_io;
	uint64_t t0, commit_ns;

	memset(&st, 0, sizeof(st));
	for (i = 0; i < n; i++)
		if (w->jobs[i].call != NULL)
			w_slot_init(&w->slots[nslots++], w->jobs[i].call);

	now = ledger_db_now_ms();
	/* Renamed or deleted: whatever is at the path now is the ledger
	   (or nothing is, and the batch fails until it is back). */
	if (w->db != NULL && ledger_db_moved(w->db)) {
		w_close(w);
		w_log(w, SECD_LOG_WARNING, "database %s was moved or deleted; "
		    "opening the path again", w->path);
	}
	if (w->db == NULL && w_open(w, 0, err, sizeof(err))) {
		during = "opening it";
		goto fail;
	}
	if (w_exec(w, W_BEGIN))
		goto fail;
	during = "purging expired idempotency keys";
	if (now >= w->next_purge) {
		if (w_purge(w, now, &more, &st))
			goto fail;
		purged = 1;
	}
	during = "reading the next journal id";
	if (w_next_id(w, &next_id))
		goto fail;
	during = "applying a transfer";
	for (i = 0, nslots = 0; i < n; i++) {
		if (w->jobs[i].call != NULL) {
			if (w_transfer(w, &w->slots[nslots++], now, &next_id,
			    &st))
				goto fail;
		} else if (w_rehash(w, w->jobs[i].rh, &st))
			goto fail;
	}
	during = "COMMIT";
	t0 = w_now_ns();
	if (w_exec(w, W_COMMIT))
		goto fail;
	commit_ns = w_now_ns() - t0;

	if (purged)
		w->next_purge = more ? now : now + W_PURGE_EVERY_MS;
	w_recovered(w);
	pthread_mutex_lock(&w->mtx);
	w->stats.batches++;
	w->stats.commits++;
	w->stats.applied += st.applied;
	w->stats.replayed += st.replayed;
	w->stats.refused += st.refused;
	w->stats.rehashed += st.rehashed;
	w->stats.purged += st.purged;
	if (n > w->stats.largest)
		w->stats.largest = n;
	w->stats.batch_size[w_bucket(ledger_batch_bounds,
	    LEDGER_BATCH_BOUNDS, n)]++;
	w->stats.batch_jobs += n;
	w->stats.commit_time[w_bucket(ledger_commit_bounds_ns,
	    LEDGER_COMMIT_BOUNDS, commit_ns)]++;
	w->stats.commit_ns += commit_ns;
	pthread_mutex_unlock(&w->mtx);
	w_cache_put(w, nslots);
	w_answer(w, nslots);
	goto done;

fail:
	commit_io = strcmp(during, "COMMIT") == 0 &&
	    (w->rc & 0xff) == SQLITE_IOERR;
	if (w->db != NULL && !sqlite3_get_autocommit(w->db))
		(void)sqlite3_exec(w->db, "ROLLBACK", NULL, NULL, NULL);
	for (i = 0, nslots = 0; i < n; i++)
		if (w->jobs[i].call != NULL)
			nslots++;
	w_fault(w, during, nslots);
	if (w->db != NULL && !ledger_db_keeps_connection(w->rc))
		w_close(w);
	/* A COMMIT that failed may still have reached the disk. */
	if (w->cache != NULL)
		ledger_cache_flush(w->cache);
	pthread_mutex_lock(&w->mtx);
	w->stats.batches++;
	w->stats.failed++;
	w->stats.unavailable += nslots;
	if (n > w->stats.largest)
		w->stats.largest = n;
	pthread_mutex_unlock(&w->mtx);
	for (i = 0; i < nslots; i++) {
		struct ledger_wslot *s = &w->slots[i];

		s->code = commit_io ? "internal" : "unavailable";
		snprintf(s->msg, sizeof(s->msg), "%s", commit_io ?
		    W_MSG_COMMIT : W_MSG_DB);
	}
	w_answer(w, nslots);

done:
	for (i = 0; i < n; i++) {
		w_rehash_free(w->jobs[i].rh);
		w->jobs[i].rh = NULL;
		w->jobs[i].call = NULL;
	}
}

static int64_t
w_now_ms(void)
{
	return (int64_t)(w_now_ns() / 1000000u);
}

/*
 * Sleep until a job comes, or (with a cache) until the next look for
 * other processes' commits is due.  Called and returns with mtx held.
 */
static void
w_wait(struct ledger_writer *w)
{
	struct timespec until;
	int64_t now;

	w->waiting = 1;
	if (w->cache == NULL) {
		pthread_cond_wait(&w->cv, &w->mtx);
	} else if ((now = w_now_ms()) < w->next_check) {
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += (w->next_check - now) / 1000;
		until.tv_nsec += ((w->next_check - now) % 1000) * 1000000;
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
		(void)pthread_cond_timedwait(&w->cv, &w->mtx, &until);
	}
	w->waiting = 0;
}

static void *
w_main(void *arg)
{
	struct ledger_writer *w = arg;
	size_t n, i;
	int64_t now;

	for (;;) {
		pthread_mutex_lock(&w->mtx);
		while (w->qlen == 0 && !w->stopping &&
		    (w->cache == NULL || w_now_ms() < w->next_check))
			w_wait(w);
		if (w->qlen == 0 && w->stopping) {
			/* Stopping, and everything queued is answered. */
			pthread_mutex_unlock(&w->mtx);
			break;
		}
		n = w->qlen < w->batch_max ? w->qlen : w->batch_max;
		for (i = 0; i < n; i++) {
			w->jobs[i] = w->queue[w->qhead];
			w->qhead = (w->qhead + 1) % w->queue_max;
		}
		w->qlen -= n;
		pthread_mutex_unlock(&w->mtx);

		/* Before the batch: its answers must not be overtaken by a
		   flush that an older outside commit calls for. */
		if (w->cache != NULL && (now = w_now_ms()) >= w->next_check) {
			w_check_others(w);
			w->next_check = now + LEDGER_CACHE_CHECK_MS;
		}
		if (n > 0)
			w_batch(w, n);
	}
	return NULL;
}

/* Queue job; return NULL, or the reason it was refused. */
static const char *
w_enqueue(struct ledger_writer *w, const struct ledger_wjob *job)
{
	const char *refusal = NULL;

	pthread_mutex_lock(&w->mtx);
	if (w->stopping)
		refusal = W_MSG_STOPPING;
	else if (w->qlen == w->queue_max)
		refusal = W_MSG_BUSY;
	else {
		w->queue[(w->qhead + w->qlen) % w->queue_max] = *job;
		w->qlen++;
		if (w->waiting)
			pthread_cond_signal(&w->cv);
	}
	pthread_mutex_unlock(&w->mtx);
	return refusal;
}

void
ledger_writer_transfer(struct ledger_writer *w, struct secd_call *call)
{
	struct ledger_wjob job = { call, NULL };
	const char *refusal;

	if ((refusal = w_enqueue(w, &job)) != NULL)
		w->host->reply_error(call, "unavailable", refusal,
		    strcmp(refusal, W_MSG_BUSY) == 0 ? 1 : -1);
}

void
ledger_writer_rehash(struct ledger_writer *w, const char *account,
    const char *oldhash, const char *newhash)
{
	struct ledger_wjob job = { NULL, NULL };
	struct ledger_rehash *rh;

	if ((rh = calloc(1, sizeof(*rh))) == NULL ||
	    (rh->account = strdup(account)) == NULL ||
	    (rh->oldhash = strdup(oldhash)) == NULL ||
	    (rh->newhash = strdup(newhash)) == NULL) {
		w_rehash_free(rh);
		return;
	}
	job.rh = rh;
	if (w_enqueue(w, &job) != NULL)
		w_rehash_free(rh);
}

void
ledger_writer_stats(struct ledger_writer *w, struct ledger_stats *stats)
{

	pthread_mutex_lock(&w->mtx);
	*stats = w->stats;
	pthread_mutex_unlock(&w->mtx);
}

struct ledger_writer *
ledger_writer_start(const struct ledger_writer_conf *conf, char *err,
    size_t errlen)
{
	struct ledger_writer *w;
	sigset_t all, old;
	pthread_condattr_t cattr;
	int rc;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		goto nomem;
	w->host = conf->host;
	w->queue_max = conf->queue_max;
	w->batch_max = conf->batch_max;
	w->retention_ms = conf->retention_ms;
	w->max_page_count = conf->max_page_count;
	w->cache = conf->cache;
	w->data_version = -1;
	if ((w->path = strdup(conf->path)) == NULL ||
	    (w->queue = calloc(w->queue_max, sizeof(*w->queue))) == NULL ||
	    (w->jobs = calloc(w->batch_max, sizeof(*w->jobs))) == NULL ||
	    (w->slots = calloc(w->batch_max, sizeof(*w->slots))) == NULL)
		goto nomem;

	/* The writer creates the file and migrates its schema. */
	if (w_open(w, LEDGER_DB_CREATE, err, errlen))
		goto fail;

	if ((rc = pthread_mutex_init(&w->mtx, NULL)) != 0) {
		snprintf(err, errlen, "ledger: mutex: %s", strerror(rc));
		goto fail;
	}
	/* A monotonic clock for the timed waits (w_wait). */
	if ((rc = pthread_condattr_init(&cattr)) != 0) {
		pthread_mutex_destroy(&w->mtx);
		snprintf(err, errlen, "ledger: condition: %s", strerror(rc));
		goto fail;
	}
	if ((rc = pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC)) == 0)
		rc = pthread_cond_init(&w->cv, &cattr);
	pthread_condattr_destroy(&cattr);
	if (rc != 0) {
		pthread_mutex_destroy(&w->mtx);
		snprintf(err, errlen, "ledger: condition: %s", strerror(rc));
		goto fail;
	}
	w->sync_ok = 1;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&w->thread, NULL, w_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		snprintf(err, errlen, "ledger: cannot start the writer "
		    "thread: %s", strerror(rc));
		goto fail;
	}
	w->started = 1;
	return w;

nomem:
	snprintf(err, errlen, "ledger: out of memory");
fail:
	ledger_writer_free(w);
	return NULL;
}

void
ledger_writer_stop(struct ledger_writer *w)
{

	if (w == NULL || !w->started)
		return;
	pthread_mutex_lock(&w->mtx);
	w->stopping = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mtx);
	pthread_join(w->thread, NULL);
	w->started = 0;
	w_log(w, SECD_LOG_INFO, "stopped: transfers applied %" PRIu64
	    ", commits %" PRIu64 ", failed batches %" PRIu64,
	    w->stats.applied, w->stats.commits, w->stats.failed);
}

void
ledger_writer_free(struct ledger_writer *w)
{
	size_t i;

	if (w == NULL)
		return;
	ledger_writer_stop(w);
	/* Nothing is queued after a stop; but a failed start may leave
	   rehash jobs nobody took. */
	if (w->queue != NULL)
		for (i = 0; i < w->qlen; i++)
			w_rehash_free(w->queue[(w->qhead + i) %
			    w->queue_max].rh);
	if (w->db != NULL)
		w_close(w);
	if (w->sync_ok) {
		pthread_cond_destroy(&w->cv);
		pthread_mutex_destroy(&w->mtx);
	}
	free(w->slots);
	free(w->jobs);
	free(w->queue);
	free(w->path);
	free(w);
}
