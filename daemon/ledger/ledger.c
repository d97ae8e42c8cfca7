/*
 * ledger.c: the built-in handler: readers on a bounded queue, one writer.
 *
 * secd calls submit() on its event-loop threads, which must never wait for
 * a disk or a password hash.  So submit() only checks the call's
 * arguments and either answers at once (bad arguments, not logged in,
 * an amount that cannot be, queue full, shutting down) or queues the call:
 *
 *   - login, balance and history go to one bounded FIFO served by the
 *     reader threads, each with its own SQLite connection and prepared
 *     statements.  Every read runs in autocommit mode, so it takes a fresh
 *     WAL snapshot and sees every transfer acknowledged before it began.
 *   - transfer goes to the single writer (ledger_writer.c), which commits
 *     transfers in groups and answers each once its group is durable.
 *
 * The FIFO's mutex guards only the FIFO and the stopping flag, and is
 * never held across a database access, a hash or an answer.
 *
 * A call belongs to the ledger from submit() until it is answered; after
 * the answer neither the call nor any string in it (the password, the
 * account name) is touched again, because the host frees them.
 *
 * A login with a password costs one scrypt whatever happens: for an
 * unknown account it runs against a dummy hash made at open() with the
 * current parameters, so an observer cannot tell "no such account" from
 * "wrong password" by the reply (same code and message) or, to within
 * noise, by its timing.  A successful login whose stored hash was made
 * with other parameters than the auth section's hashes the password again
 * (on the reader: it is scrypt work) and hands the new hash to the
 * writer.  With auth.methods "certificate" a login is one read (is the
 * client certificate's fingerprint bound to the account, unrevoked?) and
 * no scrypt; with "both" it is that read and the scrypt, always both
 * (ledger_serve_login).
 *
 * History.  An entry's transfer_id is the transfer's id for a transfer
 * (the same number both sides see, and the one the transfer's reply gave),
 * and the journal id for a deposit or withdrawal.  The writer makes a
 * transfer's id the journal id of the payer's entry and gives the payee's
 * entry the next id, so for every entry of one account "transfer_id <
 * before" is exactly "journal id < before": the payee's entry (id + 1) is
 * the only one whose journal id differs from its transfer_id, and the id
 * between (the payer's entry) belongs to another account.  The cursor is
 * therefore a plain index range on journal (account, id).
 */
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/wc_port.h>

#include "ledger.h"
#include "ledger_cache.h"
#include "ledger_db.h"
#include "ledger_hash.h"
#include "ledger_writer.h"

#define LEDGER_THREADS_MAX	64
#define LEDGER_QUEUE_DEFAULT	4096
#define LEDGER_QUEUE_MAX	1048576
#define LEDGER_BATCH_DEFAULT	512
#define LEDGER_BATCH_MAX	4096
#define LEDGER_RETENTION_DEFAULT (INT64_C(7) * 86400 * 1000)	/* 7d */
#define LEDGER_RETENTION_MIN	(INT64_C(3600) * 1000)		/* 1h */
#define LEDGER_RETENTION_MAX	(INT64_C(3650) * 86400 * 1000)	/* 10y */
#define LEDGER_CACHE_DEFAULT	65536
#define LEDGER_CACHE_MAX	16777216
#define LEDGER_HISTORY_DEFAULT	20
#define LEDGER_HISTORY_MAX	100
#define LEDGER_TIME_MAX		INT64_C(253402300799)	/* 9999-12-31 */

/* Counterparties of entries that are not transfers; '@' starts no
   account name that "secd account add" creates. */
#define LEDGER_CP_DEPOSIT	"@deposit"
#define LEDGER_CP_WITHDRAW	"@withdraw"

/* Client-visible messages; never more specific than these. */
#define LEDGER_MSG_AUTH		"wrong account or password"
#define LEDGER_MSG_AUTH_CERT	"wrong account or certificate"
#define LEDGER_MSG_DB		"the ledger database is unavailable"
#define LEDGER_MSG_BUSY		"server busy"
#define LEDGER_MSG_STOPPING	"server shutting down"
#define LEDGER_MSG_GONE		"the session's account no longer exists"

struct ledger;

/* One history page's reply values, built in place (per reader). */
struct ledger_page {
	struct secd_value entries[LEDGER_HISTORY_MAX];
	struct secd_value fields[LEDGER_HISTORY_MAX][6];
	char		 time[LEDGER_HISTORY_MAX][24];
	char		 counterparty[LEDGER_HISTORY_MAX][LEDGER_NAME_MAX + 1];
	char		 memo[LEDGER_HISTORY_MAX][LEDGER_MEMO_MAX + 1];
};

/* One reader thread and the connection only it uses. */
struct ledger_worker {
	struct ledger	*l;
	pthread_t	 thread;
	sqlite3		*db;		/* NULL until (re)opened */
	sqlite3_stmt	*st_login;	/* password_hash, locked_until,
					   certificate bound */
	sqlite3_stmt	*st_balance;	/* balance, currency */
	sqlite3_stmt	*st_history;	/* journal entries, newest first */
	struct ledger_page *page;
	int		 faulted;	/* the last database access failed */
	int64_t		 moved_check;	/* when to look for a moved file, ms */
};

struct ledger {
	const struct secd_host *host;
	char		*path;		/* database file */
	unsigned int	 nthreads;
	size_t		 queue_max;

	/* The readers' FIFO: a ring of queue_max calls.  Guarded by mtx. */
	pthread_mutex_t	 mtx;
	pthread_cond_t	 cv;		/* signalled on append and on stop */
	struct secd_call **queue;
	size_t		 qhead;
	size_t		 qlen;
	int		 stopping;

	struct ledger_worker *workers;	/* nthreads of them */
	unsigned int	 nstarted;	/* threads running */
	struct ledger_writer *writer;
	struct ledger_cache *cache;	/* balances in memory, or NULL */
	char		 dummy[LEDGER_HASH_STRMAX];
};

static const char *const ledger_ops[] = { "login", "balance", "transfer",
    "history", NULL };

/* Options parsed from handler.options. */
struct ledger_opts {
	const char	*database;
	unsigned int	 threads;
	size_t		 queue;
	size_t		 batch;
	int64_t		 retention_ms;
	int64_t		 max_page_count;
	size_t		 cache;		/* accounts; 0: no cache */
};

static void
ledger_log(const struct ledger *l, enum secd_log_level level,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
ledger_log(const struct ledger *l, enum secd_log_level level,
    const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (l->host->log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	l->host->log(l->host, level, "ledger: %s", line);
}

/* Parse a decimal from min to max, nothing else; 0 or -1. */
static int
ledger_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > max)
			return -1;
	}
	if (v < min)
		return -1;
	*out = v;
	return 0;
}

/* Parse a duration, "90m", "24h", "7d", "3600s", into ms; 0 or -1. */
static int
ledger_parse_duration(const char *s, int64_t min, int64_t max, int64_t *out)
{
	char num[24];
	uint64_t v, unit;
	size_t len = strlen(s);

	if (len < 2 || len >= sizeof(num))
		return -1;
	switch (s[len - 1]) {
	case 's':
		unit = 1000;
		break;
	case 'm':
		unit = 60 * 1000;
		break;
	case 'h':
		unit = 3600 * 1000;
		break;
	case 'd':
		unit = 86400 * 1000;
		break;
	default:
		return -1;
	}
	memcpy(num, s, len - 1);
	num[len - 1] = '\0';
	if (ledger_parse_uint(num, 1, (uint64_t)max / unit, &v))
		return -1;
	if ((int64_t)(v * unit) < min)
		return -1;
	*out = (int64_t)(v * unit);
	return 0;
}

static unsigned int
ledger_default_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		return 1;
	return n > LEDGER_THREADS_MAX ? LEDGER_THREADS_MAX : (unsigned int)n;
}

static int
ledger_parse_options(const struct secd_option *options, size_t noptions,
    struct ledger_opts *o, char *err, size_t errlen)
{
	const struct secd_option *opt;
	const char *where;
	uint64_t v;
	size_t i, j;

	o->database = NULL;
	o->threads = ledger_default_threads();
	o->queue = LEDGER_QUEUE_DEFAULT;
	o->batch = LEDGER_BATCH_DEFAULT;
	o->retention_ms = LEDGER_RETENTION_DEFAULT;
	o->max_page_count = 0;
	o->cache = LEDGER_CACHE_DEFAULT;

	for (i = 0; i < noptions; i++) {
		opt = &options[i];
		where = opt->where != NULL ? opt->where : "handler.options";
		if (opt->key == NULL || opt->value == NULL) {
			snprintf(err, errlen, "%s: ledger option without a "
			    "key or value", where);
			return -1;
		}
		for (j = 0; j < i; j++) {
			if (strcmp(options[j].key, opt->key) == 0) {
				snprintf(err, errlen, "%s: ledger option %s "
				    "given twice", where, opt->key);
				return -1;
			}
		}
		if (strcmp(opt->key, "database") == 0) {
			if (opt->value[0] == '\0') {
				snprintf(err, errlen, "%s: ledger option "
				    "database: expected a file path, found "
				    "an empty string", where);
				return -1;
			}
			o->database = opt->value;
		} else if (strcmp(opt->key, "threads") == 0) {
			if (ledger_parse_uint(opt->value, 1,
			    LEDGER_THREADS_MAX, &v)) {
				snprintf(err, errlen, "%s: ledger option "
				    "threads: expected an integer from 1 to "
				    "%d, found \"%.32s\"", where,
				    LEDGER_THREADS_MAX, opt->value);
				return -1;
			}
			o->threads = (unsigned int)v;
		} else if (strcmp(opt->key, "queue") == 0) {
			if (ledger_parse_uint(opt->value, 1,
			    LEDGER_QUEUE_MAX, &v)) {
				snprintf(err, errlen, "%s: ledger option "
				    "queue: expected an integer from 1 to "
				    "%d, found \"%.32s\"", where,
				    LEDGER_QUEUE_MAX, opt->value);
				return -1;
			}
			o->queue = (size_t)v;
		} else if (strcmp(opt->key, "batch") == 0) {
			if (ledger_parse_uint(opt->value, 1,
			    LEDGER_BATCH_MAX, &v)) {
				snprintf(err, errlen, "%s: ledger option "
				    "batch: expected an integer from 1 to "
				    "%d, found \"%.32s\"", where,
				    LEDGER_BATCH_MAX, opt->value);
				return -1;
			}
			o->batch = (size_t)v;
		} else if (strcmp(opt->key, "idempotency_retention") == 0) {
			if (ledger_parse_duration(opt->value,
			    LEDGER_RETENTION_MIN, LEDGER_RETENTION_MAX,
			    &o->retention_ms)) {
				snprintf(err, errlen, "%s: ledger option "
				    "idempotency_retention: expected a "
				    "duration from 1h to 3650d, such as 24h "
				    "or 7d, found \"%.32s\"", where,
				    opt->value);
				return -1;
			}
		} else if (strcmp(opt->key, "balance_cache") == 0) {
			if (ledger_parse_uint(opt->value, 0,
			    LEDGER_CACHE_MAX, &v)) {
				snprintf(err, errlen, "%s: ledger option "
				    "balance_cache: expected an integer from "
				    "0 to %d, found \"%.32s\"", where,
				    LEDGER_CACHE_MAX, opt->value);
				return -1;
			}
			o->cache = (size_t)v;
		} else if (strcmp(opt->key, "test_max_page_count") == 0) {
			if (ledger_parse_uint(opt->value, 1, INT32_MAX, &v)) {
				snprintf(err, errlen, "%s: ledger option "
				    "test_max_page_count: expected an integer "
				    "from 1 to %d, found \"%.32s\"", where,
				    INT32_MAX, opt->value);
				return -1;
			}
			o->max_page_count = (int64_t)v;
		} else {
			snprintf(err, errlen, "%s: unknown ledger option "
			    "\"%.64s\" (expected database, threads, queue, "
			    "batch, idempotency_retention or balance_cache)",
			    where,
			    opt->key);
			return -1;
		}
	}
	if (o->database == NULL) {
		snprintf(err, errlen, "handler.options.database is required: "
		    "the path of the ledger's SQLite file");
		return -1;
	}
	return 0;
}

/* Join base and path unless path is absolute or base is NULL. */
static char *
ledger_resolve(const char *base, const char *path)
{
	char *s;

	if (path[0] == '/' || base == NULL || base[0] == '\0')
		return strdup(path);
	if (asprintf(&s, "%s/%s", base, path) < 0)
		return NULL;
	return s;
}

static void
ledger_worker_close(struct ledger_worker *w)
{

	sqlite3_finalize(w->st_login);
	sqlite3_finalize(w->st_balance);
	sqlite3_finalize(w->st_history);
	sqlite3_close(w->db);
	w->st_login = w->st_balance = w->st_history = NULL;
	w->db = NULL;
}

/* Open w's connection and prepare its statements. */
static int
ledger_worker_open(struct ledger_worker *w, char *err, size_t errlen)
{
	struct ledger *l = w->l;

	if ((w->db = ledger_db_open(l->path, 0, err, errlen)) == NULL)
		return -1;
	/* One statement, one snapshot: the account and its binding. */
	if (sqlite3_prepare_v3(w->db, "SELECT password_hash, locked_until, "
	    "EXISTS (SELECT 1 FROM cert_bindings WHERE account = ?1 AND "
	    "sha256 = ?2 AND revoked IS NULL) FROM accounts WHERE name = ?1",
	    -1, SQLITE_PREPARE_PERSISTENT, &w->st_login, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(w->db, "SELECT balance, currency "
	    "FROM accounts WHERE name = ?1", -1, SQLITE_PREPARE_PERSISTENT,
	    &w->st_balance, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(w->db, "SELECT id, time, kind, counterparty, "
	    "amount, balance_after, memo, transfer_id FROM journal "
	    "WHERE account = ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3", -1,
	    SQLITE_PREPARE_PERSISTENT, &w->st_history, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "database %s: %s", l->path,
		    sqlite3_errmsg(w->db));
		ledger_worker_close(w);
		return -1;
	}
	return 0;
}

/* A cheap monotonic clock, in ms. */
static int64_t
ledger_now_coarse_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC_COARSE, &ts) != 0)
		return 0;
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Make sure w has a connection (it loses it after an error that leaves
 * it useless); on failure log once per episode.  0 or -1.
 */
static int
ledger_worker_ready(struct ledger_worker *w, const char *what,
    const char *account)
{
	char err[512];

	/*
	 * Read what the writer writes: if the file was moved (see
	 * ledger_db_moved), open the path again.  One stat, so once a
	 * second rather than for every read; the writer checks before
	 * every batch, and acknowledges nothing written to a moved file.
	 */
	if (w->db != NULL && ledger_now_coarse_ms() >= w->moved_check) {
		w->moved_check = ledger_now_coarse_ms() + 1000;
		if (ledger_db_moved(w->db))
			ledger_worker_close(w);
	}
	if (w->db != NULL)
		return 0;
	if (ledger_worker_open(w, err, sizeof(err)) == 0)
		return 0;
	if (!w->faulted)
		ledger_log(w->l, SECD_LOG_ERR, "%s %s: %s", what, account,
		    err);
	w->faulted = 1;
	return -1;
}

/* A read failed with rc: log (once per episode), maybe drop the conn. */
static void
ledger_worker_fault(struct ledger_worker *w, int rc, const char *what,
    const char *account)
{

	if (!w->faulted)
		ledger_log(w->l, SECD_LOG_ERR, "%s %s: database %s: %s", what,
		    account, w->l->path, sqlite3_errmsg(w->db));
	w->faulted = 1;
	if (!ledger_db_keeps_connection(rc))
		ledger_worker_close(w);
}

static void
ledger_worker_ok(struct ledger_worker *w)
{

	if (w->faulted)
		ledger_log(w->l, SECD_LOG_NOTICE, "database %s: reading works "
		    "again", w->l->path);
	w->faulted = 0;
}

/*
 * Serve login, by host->auth->methods (the host has checked the call's
 * shape: a password exactly when the methods use one, a certificate
 * verified in this connection's own handshake when they use one):
 *
 *   PASSWORD	one scrypt whether or not the account exists; the same
 *		answer for an unknown account and a wrong password.
 *   CERTIFICATE success iff the account exists and peer->cert_sha256 is
 *		bound to it and not revoked: one primary-key read and one
 *		index probe, the same work for an unknown account, an
 *		unbound and a revoked certificate, and no scrypt at all.
 *   BOTH	the bound certificate and the password.  The scrypt runs
 *		whatever the certificate check said, so a failure of either
 *		costs the same and reads the same as a wrong password.
 *
 * The account's administrative lock is only told to someone who has
 * proved everything the methods ask for.
 */
static void
ledger_serve_login(struct ledger_worker *w, struct secd_call *call)
{
	struct ledger *l = w->l;
	const struct secd_host *host = l->host;
	uint32_t methods = host->auth->methods;
	const char *account = secd_arg_str(call, "account");
	const char *password = secd_arg_str(call, "password");
	const char *cert = call->peer != NULL ? call->peer->cert_sha256 :
	    NULL;
	const char *failed = methods == SECD_AUTH_CERTIFICATE ?
	    LEDGER_MSG_AUTH_CERT : LEDGER_MSG_AUTH;
	char hash[LEDGER_HASH_STRMAX], newhash[LEDGER_HASH_STRMAX];
	const unsigned char *t;
	int64_t locked_until = 0, now;
	int found = 0, bound = 0, ok, rc;

	hash[0] = '\0';
	/* A NULL fingerprint binds nothing (the statement compares with
	   NULL); so does one that is not 64 lowercase hex digits. */
	if (methods == SECD_AUTH_PASSWORD ||
	    (cert != NULL && !ledger_db_sha256_valid(cert)))
		cert = NULL;
	if (ledger_worker_ready(w, "login", account)) {
		host->reply_error(call, "unavailable", LEDGER_MSG_DB, 1);
		return;
	}
	sqlite3_bind_text(w->st_login, 1, account, -1, SQLITE_STATIC);
	if (cert != NULL)
		sqlite3_bind_text(w->st_login, 2, cert, -1, SQLITE_STATIC);
	rc = sqlite3_step(w->st_login);
	if (rc == SQLITE_ROW) {
		t = sqlite3_column_text(w->st_login, 0);
		locked_until = sqlite3_column_int64(w->st_login, 1);
		bound = sqlite3_column_int(w->st_login, 2) == 1;
		if (t != NULL && strlen((const char *)t) < sizeof(hash)) {
			memcpy(hash, t, strlen((const char *)t) + 1);
			found = 1;
		} else {
			ledger_log(l, SECD_LOG_ERR, "account %s: password "
			    "hash missing or too long", account);
		}
	} else if (rc != SQLITE_DONE) {
		sqlite3_reset(w->st_login);
		sqlite3_clear_bindings(w->st_login);
		ledger_worker_fault(w, rc, "login", account);
		host->reply_error(call, "unavailable", LEDGER_MSG_DB, 1);
		return;
	}
	sqlite3_reset(w->st_login);
	sqlite3_clear_bindings(w->st_login);
	ledger_worker_ok(w);

	if (methods == SECD_AUTH_CERTIFICATE) {
		/* The account's row, hash or not, and a live binding. */
		ok = rc == SQLITE_ROW && bound;
	} else {
		ok = 0;
		if (found) {
			ok = ledger_hash_verify(hash, password,
			    strlen(password));
			if (ok < 0) {
				ledger_log(l, SECD_LOG_ERR, "account %s: "
				    "unusable password hash; set a new "
				    "password", account);
				found = 0;
			}
		}
		if (!found) {
			/* Spend the same work, and throw the result away. */
			(void)ledger_hash_verify(l->dummy, password,
			    strlen(password));
			ok = 0;
		} else if (ok != 1 && ledger_hash_needs_rehash(hash,
		    host->auth)) {
			/*
			 * A hash from before the parameters changed may be
			 * cheaper than the dummy, which would tell a name
			 * that exists from one that does not by the time a
			 * wrong password takes.  Spend today's cost as well
			 * (a right password spends it rehashing, below).
			 */
			(void)ledger_hash_verify(l->dummy, password,
			    strlen(password));
		}
		/* With BOTH the scrypt above ran whatever the binding. */
		if (methods == SECD_AUTH_BOTH && !bound)
			ok = 0;
	}

	if (ok != 1) {
		explicit_bzero(hash, sizeof(hash));
		host->reply_error(call, "auth_failed", failed, -1);
		return;
	}
	/* Only someone who proved who they are learns of the lock. */
	now = ledger_db_now_ms();
	if (locked_until > now) {
		explicit_bzero(hash, sizeof(hash));
		host->reply_error(call, "locked", "account is locked",
		    (locked_until - now + 999) / 1000);
		return;
	}
	/* The password is known now: bring its hash up to date. */
	if (password != NULL && ledger_hash_needs_rehash(hash, host->auth) &&
	    ledger_hash_make(newhash, sizeof(newhash), password,
	    strlen(password), host->auth) == 0) {
		ledger_writer_rehash(l->writer, account, hash, newhash);
		explicit_bzero(newhash, sizeof(newhash));
	}
	explicit_bzero(hash, sizeof(hash));
	host->reply_login(call, account);
}

static void
ledger_serve_balance(struct ledger_worker *w, struct secd_call *call)
{
	struct ledger *l = w->l;
	const struct secd_host *host = l->host;
	char currency[4];
	const unsigned char *t;
	int64_t balance = 0;
	uint64_t epoch = 0;
	int rc;

	if (ledger_worker_ready(w, "balance", call->account)) {
		host->reply_error(call, "unavailable", LEDGER_MSG_DB, 1);
		return;
	}
	/* The epoch before the read: see ledger_cache_fill. */
	if (l->cache != NULL)
		epoch = ledger_cache_epoch(l->cache);
	sqlite3_bind_text(w->st_balance, 1, call->account, -1, SQLITE_STATIC);
	rc = sqlite3_step(w->st_balance);
	if (rc == SQLITE_ROW) {
		balance = sqlite3_column_int64(w->st_balance, 0);
		t = sqlite3_column_text(w->st_balance, 1);
		snprintf(currency, sizeof(currency), "%s",
		    t != NULL ? (const char *)t : "");
	}
	sqlite3_reset(w->st_balance);
	sqlite3_clear_bindings(w->st_balance);
	if (rc == SQLITE_ROW && l->cache != NULL)
		ledger_cache_fill(l->cache, epoch, call->account, balance,
		    currency);

	if (rc == SQLITE_ROW) {
		const struct secd_value fields[] = {
			SECD_STR("account", call->account),
			SECD_INT("balance", balance),
			SECD_STR("currency", currency),
		};

		ledger_worker_ok(w);
		host->reply(call, fields, sizeof(fields) / sizeof(fields[0]));
	} else if (rc == SQLITE_DONE) {
		ledger_worker_ok(w);
		host->reply_error(call, "no_such_account", LEDGER_MSG_GONE, -1);
	} else {
		ledger_worker_fault(w, rc, "balance", call->account);
		host->reply_error(call, "unavailable", LEDGER_MSG_DB, 1);
	}
}

/*
 * Answer balance from the cache, on the caller's thread (a worker loop:
 * a mutex and a table lookup, nothing that waits).  0 on a miss.
 */
static int
ledger_serve_cached_balance(struct ledger *l, struct secd_call *call)
{
	char currency[4];
	int64_t balance;

	if (!ledger_cache_get(l->cache, call->account, &balance, currency))
		return 0;
	{
		const struct secd_value fields[] = {
			SECD_STR("account", call->account),
			SECD_INT("balance", balance),
			SECD_STR("currency", currency),
		};

		l->host->reply(call, fields,
		    sizeof(fields) / sizeof(fields[0]));
	}
	return 1;
}

/* Write ms (Unix) as protocol.md's time, "2026-11-24T03:06:39Z". */
static void
ledger_time_format(int64_t ms, char *buf, size_t len)
{
	struct tm tm;
	time_t t;
	int64_t s = ms / 1000;

	if (s < 0)
		s = 0;
	if (s > LEDGER_TIME_MAX)
		s = LEDGER_TIME_MAX;
	t = (time_t)s;
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "1970-01-01T00:00:00Z");
}

/*
 * Fill entry i of w's page from the current row of st_history.  The
 * values point into the page; memo is left out when there is none.
 */
static void
ledger_page_entry(struct ledger_worker *w, size_t i)
{
	sqlite3_stmt *st = w->st_history;
	struct ledger_page *p = w->page;
	struct secd_value *f = p->fields[i];
	const char *kind, *cp, *memo;
	int64_t id;
	size_t n = 0;

	kind = (const char *)sqlite3_column_text(st, 2);
	if (kind != NULL && strcmp(kind, "transfer") == 0) {
		id = sqlite3_column_int64(st, 7);
		cp = (const char *)sqlite3_column_text(st, 3);
	} else {
		id = sqlite3_column_int64(st, 0);
		cp = kind != NULL && strcmp(kind, "withdraw") == 0 ?
		    LEDGER_CP_WITHDRAW : LEDGER_CP_DEPOSIT;
	}
	snprintf(p->counterparty[i], sizeof(p->counterparty[i]), "%s",
	    cp != NULL ? cp : "");
	ledger_time_format(sqlite3_column_int64(st, 1), p->time[i],
	    sizeof(p->time[i]));
	memo = (const char *)sqlite3_column_text(st, 6);

	f[n++] = (struct secd_value)SECD_INT("transfer_id", id);
	f[n++] = (struct secd_value)SECD_STR("time", p->time[i]);
	f[n++] = (struct secd_value)SECD_STR("counterparty",
	    p->counterparty[i]);
	f[n++] = (struct secd_value)SECD_INT("amount",
	    sqlite3_column_int64(st, 4));
	f[n++] = (struct secd_value)SECD_INT("balance",
	    sqlite3_column_int64(st, 5));
	/* The writer stores only valid memos; a row edited behind its
	   back could hold anything, which the protocol cannot carry. */
	if (memo != NULL && memo[0] != '\0' &&
	    ledger_db_text_valid(memo, LEDGER_MEMO_MAX)) {
		snprintf(p->memo[i], sizeof(p->memo[i]), "%s", memo);
		f[n++] = (struct secd_value)SECD_STR("memo", p->memo[i]);
	}
	p->entries[i].key = NULL;
	p->entries[i].type = SECD_V_OBJECT;
	p->entries[i].u.list.items = f;
	p->entries[i].u.list.n = n;
}

/*
 * Serve history: the account's currency, then up to limit + 1 entries
 * older than before (the extra one only says whether there is a next
 * page).  Two statements, two snapshots: harmless, since an account's
 * currency never changes and the page is one statement.
 */
static void
ledger_serve_history(struct ledger_worker *w, struct secd_call *call)
{
	struct ledger *l = w->l;
	const struct secd_host *host = l->host;
	sqlite3_stmt *st;
	char currency[4];
	const unsigned char *t;
	int64_t limit = LEDGER_HISTORY_DEFAULT, before = INT64_MAX;
	size_t n = 0;
	int rc, more = 0;

	(void)secd_arg_int(call, "limit", &limit);
	(void)secd_arg_int(call, "before", &before);
	if (ledger_worker_ready(w, "history", call->account)) {
		host->reply_error(call, "unavailable", LEDGER_MSG_DB, 1);
		return;
	}

	st = w->st_balance;
	sqlite3_bind_text(st, 1, call->account, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		t = sqlite3_column_text(st, 1);
		snprintf(currency, sizeof(currency), "%s",
		    t != NULL ? (const char *)t : "");
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc == SQLITE_DONE) {
		ledger_worker_ok(w);
		host->reply_error(call, "no_such_account", LEDGER_MSG_GONE, -1);
		return;
	}
	if (rc != SQLITE_ROW)
		goto dberr;

	st = w->st_history;
	sqlite3_bind_text(st, 1, call->account, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, before);
	sqlite3_bind_int64(st, 3, limit + 1);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == (size_t)limit) {
			more = 1;
			break;
		}
		ledger_page_entry(w, n++);
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		goto dberr;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	ledger_worker_ok(w);

	{
		struct secd_value fields[3] = {
			SECD_STR("currency", currency),
			{ .key = "entries", .type = SECD_V_ARRAY,
			    .u.list = { w->page->entries, n } },
			SECD_INT("next_before", more ?
			    w->page->fields[n - 1][0].u.i : 0),
		};

		host->reply(call, fields, more ? 3 : 2);
	}
	return;

dberr:
	ledger_worker_fault(w, rc, "history", call->account);
	host->reply_error(call, "unavailable", LEDGER_MSG_DB, 1);
}

static void *
ledger_worker_main(void *arg)
{
	struct ledger_worker *w = arg;
	struct ledger *l = w->l;
	struct secd_call *call;

	for (;;) {
		pthread_mutex_lock(&l->mtx);
		while (l->qlen == 0 && !l->stopping)
			pthread_cond_wait(&l->cv, &l->mtx);
		if (l->qlen == 0) {
			pthread_mutex_unlock(&l->mtx);
			break;
		}
		call = l->queue[l->qhead];
		l->qhead = (l->qhead + 1) % l->queue_max;
		l->qlen--;
		pthread_mutex_unlock(&l->mtx);

		/* submit() let only these three ops in. */
		if (strcmp(call->op, "login") == 0)
			ledger_serve_login(w, call);
		else if (strcmp(call->op, "balance") == 0)
			ledger_serve_balance(w, call);
		else
			ledger_serve_history(w, call);
	}
	return NULL;
}

/* Stop the readers and wait for them; they finish their current call. */
static void
ledger_stop_readers(struct ledger *l)
{
	struct secd_call *call;
	unsigned int i;

	pthread_mutex_lock(&l->mtx);
	l->stopping = 1;
	pthread_cond_broadcast(&l->cv);
	/* Calls nobody has started get an answer now, not after a hash. */
	while (l->qlen > 0) {
		call = l->queue[l->qhead];
		l->qhead = (l->qhead + 1) % l->queue_max;
		l->qlen--;
		pthread_mutex_unlock(&l->mtx);
		l->host->reply_error(call, "unavailable", LEDGER_MSG_STOPPING,
		    -1);
		pthread_mutex_lock(&l->mtx);
	}
	pthread_mutex_unlock(&l->mtx);
	for (i = 0; i < l->nstarted; i++)
		pthread_join(l->workers[i].thread, NULL);
	l->nstarted = 0;
}

/* Free everything; the threads must have stopped. */
static void
ledger_free(struct ledger *l)
{
	unsigned int i;

	if (l == NULL)
		return;
	ledger_writer_free(l->writer);
	ledger_cache_free(l->cache);
	if (l->workers != NULL)
		for (i = 0; i < l->nthreads; i++) {
			ledger_worker_close(&l->workers[i]);
			free(l->workers[i].page);
		}
	free(l->workers);
	free(l->queue);
	free(l->path);
	explicit_bzero(l->dummy, sizeof(l->dummy));
	free(l);
}

static int
ledger_open(const struct secd_host *host, const struct secd_option *options,
    size_t noptions, void **state, char *err, size_t errlen)
{
	struct ledger_writer_conf wc;
	struct ledger_opts o;
	struct ledger *l;
	sigset_t all, old;
	unsigned int i;
	char why[128];
	int rc;

	*state = NULL;
	if (host == NULL || host->abi != SECD_HANDLER_ABI ||
	    host->auth == NULL || host->reply == NULL ||
	    host->reply_login == NULL || host->reply_error == NULL) {
		snprintf(err, errlen, "ledger: the host does not offer "
		    "handler ABI %d", SECD_HANDLER_ABI);
		goto err0;
	}
	if (ledger_parse_options(options, noptions, &o, err, errlen))
		goto err0;
	if (host->auth->methods != SECD_AUTH_PASSWORD &&
	    host->auth->methods != SECD_AUTH_CERTIFICATE &&
	    host->auth->methods != SECD_AUTH_BOTH) {
		snprintf(err, errlen, "ledger: unknown auth.methods %" PRIu32
		    " (expected password, certificate or both)",
		    host->auth->methods);
		goto err0;
	}
	if (ledger_hash_params_check(host->auth->scrypt_n,
	    host->auth->scrypt_r, host->auth->scrypt_p, why, sizeof(why))) {
		snprintf(err, errlen, "auth: %s", why);
		goto err0;
	}

	if ((l = calloc(1, sizeof(*l))) == NULL) {
		snprintf(err, errlen, "ledger: out of memory");
		goto err0;
	}
	l->host = host;
	l->nthreads = o.threads;
	l->queue_max = o.queue;
	if ((l->path = ledger_resolve(host->base_dir, o.database)) == NULL ||
	    (l->queue = calloc(l->queue_max, sizeof(*l->queue))) == NULL ||
	    (l->workers = calloc(l->nthreads, sizeof(*l->workers))) == NULL) {
		snprintf(err, errlen, "ledger: out of memory");
		goto err1;
	}

	if (wolfCrypt_Init() != 0) {
		snprintf(err, errlen, "ledger: wolfCrypt_Init failed");
		goto err1;
	}
	/* A hash nobody knows the password of, at today's parameters. */
	if (ledger_hash_make(l->dummy, sizeof(l->dummy), "secd-ledger-dummy",
	    strlen("secd-ledger-dummy"), host->auth)) {
		snprintf(err, errlen, "ledger: scrypt failed at N=%" PRIu64
		    ", r=%" PRIu32 ", p=%" PRIu32 " (out of memory?)",
		    host->auth->scrypt_n, host->auth->scrypt_r,
		    host->auth->scrypt_p);
		goto err2;
	}

	/* The writer creates and migrates; the readers just open. */
	wc.host = host;
	wc.path = l->path;
	wc.queue_max = o.queue;
	wc.batch_max = o.batch;
	wc.retention_ms = o.retention_ms;
	wc.max_page_count = o.max_page_count;
	if (o.cache > 0 && (l->cache = ledger_cache_new(o.cache)) == NULL) {
		snprintf(err, errlen, "ledger: out of memory");
		goto err2;
	}
	wc.cache = l->cache;
	if ((l->writer = ledger_writer_start(&wc, err, errlen)) == NULL)
		goto err2;
	for (i = 0; i < l->nthreads; i++) {
		l->workers[i].l = l;
		if ((l->workers[i].page = malloc(sizeof(struct ledger_page))) ==
		    NULL) {
			snprintf(err, errlen, "ledger: out of memory");
			goto err2;
		}
		if (ledger_worker_open(&l->workers[i], err, errlen))
			goto err2;
	}

	if ((rc = pthread_mutex_init(&l->mtx, NULL)) != 0) {
		snprintf(err, errlen, "ledger: mutex: %s", strerror(rc));
		goto err2;
	}
	if ((rc = pthread_cond_init(&l->cv, NULL)) != 0) {
		snprintf(err, errlen, "ledger: condition: %s", strerror(rc));
		goto err3;
	}

	/* Readers take no signals: those are the main thread's business. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (i = 0; i < l->nthreads; i++) {
		rc = pthread_create(&l->workers[i].thread, NULL,
		    ledger_worker_main, &l->workers[i]);
		if (rc != 0) {
			pthread_sigmask(SIG_SETMASK, &old, NULL);
			snprintf(err, errlen, "ledger: cannot start thread "
			    "%u of %u: %s", i + 1, l->nthreads, strerror(rc));
			goto err4;
		}
		l->nstarted++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);

	ledger_log(l, SECD_LOG_INFO, "database %s, %u reader threads and a "
	    "writer, queue %zu, batch %zu, idempotency keys kept %" PRId64
	    "s, balances cached %zu, scrypt N=%" PRIu64 " r=%" PRIu32
	    " p=%" PRIu32, l->path, l->nthreads, l->queue_max, o.batch,
	    o.retention_ms / 1000, o.cache, host->auth->scrypt_n,
	    host->auth->scrypt_r, host->auth->scrypt_p);
	*state = l;
	return 0;

err4:
	ledger_stop_readers(l);
	pthread_cond_destroy(&l->cv);
err3:
	pthread_mutex_destroy(&l->mtx);
err2:
	wolfCrypt_Cleanup();
err1:
	ledger_free(l);
err0:
	return -1;
}

static void
ledger_close(void *state)
{
	struct ledger *l = state;

	if (l == NULL)
		return;
	/* Readers first: a login may still hand the writer a rehash. */
	ledger_stop_readers(l);
	ledger_writer_stop(l->writer);
	pthread_cond_destroy(&l->cv);
	pthread_mutex_destroy(&l->mtx);
	ledger_free(l);
	wolfCrypt_Cleanup();
}

void
ledger_stats(void *state, struct ledger_stats *stats)
{
	struct ledger *l = state;

	ledger_writer_stats(l->writer, stats);
}

/* Refuse call with code and message on the calling thread; -1. */
static int
ledger_refuse(struct ledger *l, struct secd_call *call, const char *code,
    const char *message)
{

	l->host->reply_error(call, code, message, -1);
	return -1;
}

static int
ledger_check_transfer(struct ledger *l, struct secd_call *call)
{
	const char *to = secd_arg_str(call, "to");
	const char *key = secd_arg_str(call, "idempotency_key");
	const struct secd_value *memo = secd_arg(call, "memo");
	int64_t amount;

	if (to == NULL || !ledger_db_name_valid(to))
		return ledger_refuse(l, call, "bad_request", "to: must be an "
		    "account name, 1 to 64 of A-Z a-z 0-9 . _ @ -");
	if (secd_arg_int(call, "amount", &amount))
		return ledger_refuse(l, call, "bad_request", "amount: must "
		    "be an integer count of minor units");
	if (key == NULL || !ledger_db_key_valid(key))
		return ledger_refuse(l, call, "bad_request", "idempotency_key: "
		    "must be 1 to 64 of A-Z a-z 0-9 . _ : -");
	/* The codec enforces the memo's limits; this is the ledger's own
	   guard, since it stores what it is given. */
	if (memo != NULL && (memo->type != SECD_V_STR ||
	    !ledger_db_text_valid(memo->u.s, LEDGER_MEMO_MAX)))
		return ledger_refuse(l, call, "bad_request", "memo: must be at "
		    "most 256 bytes of UTF-8 without control characters");
	if (amount < 1)
		return ledger_refuse(l, call, "invalid_amount", "amount must "
		    "be at least 1 minor unit");
	if (amount > LEDGER_AMOUNT_MAX)
		return ledger_refuse(l, call, "invalid_amount", "amount must "
		    "be at most 9007199254740991 minor units");
	if (strcmp(to, call->account) == 0)
		return ledger_refuse(l, call, "same_account", "cannot transfer "
		    "to the same account");
	return 0;
}

static int
ledger_check_history(struct ledger *l, struct secd_call *call)
{
	const struct secd_value *v;

	if ((v = secd_arg(call, "limit")) != NULL &&
	    (v->type != SECD_V_INT || v->u.i < 1 ||
	    v->u.i > LEDGER_HISTORY_MAX))
		return ledger_refuse(l, call, "bad_request", "limit: must be "
		    "between 1 and 100");
	if ((v = secd_arg(call, "before")) != NULL &&
	    (v->type != SECD_V_INT || v->u.i < 1))
		return ledger_refuse(l, call, "bad_request", "before: must be "
		    "a positive transfer_id");
	return 0;
}

/*
 * A login's arguments, by auth.methods.  The host has held the call to
 * the methods already (dispatch.c); these are the ledger's own guards,
 * since it is also a handler a host could drive otherwise: a password
 * exactly when the methods use one.  A missing or malformed certificate
 * fingerprint is not refused here but binds nothing in
 * ledger_serve_login, so it fails at the same cost as a wrong one.
 */
static int
ledger_check_login(struct ledger *l, struct secd_call *call)
{
	uint32_t methods = l->host->auth->methods;
	const char *account = secd_arg_str(call, "account");
	const struct secd_value *pw = secd_arg(call, "password");
	size_t plen;

	if (account == NULL)
		return ledger_refuse(l, call, "bad_request", "login needs "
		    "an \"account\" string");
	if (!ledger_db_name_valid(account))
		return ledger_refuse(l, call, "bad_request", "an account "
		    "name is 1 to 64 of A-Z a-z 0-9 . _ @ -");
	if (methods == SECD_AUTH_CERTIFICATE) {
		if (pw != NULL)
			return ledger_refuse(l, call, "bad_request",
			    "password: not accepted: this server logs in by "
			    "client certificate");
	} else {
		if (pw == NULL || pw->type != SECD_V_STR)
			return ledger_refuse(l, call, "bad_request",
			    "password: required by this server");
		plen = strnlen(pw->u.s, LEDGER_PASSWORD_MAX + 1);
		if (plen == 0 || plen > LEDGER_PASSWORD_MAX)
			return ledger_refuse(l, call, "bad_request", "a "
			    "password is 1 to 1024 bytes");
	}
	return 0;
}

/* Check a call's arguments; answer and return -1 if they are wrong. */
static int
ledger_check_call(struct ledger *l, struct secd_call *call)
{

	if (strcmp(call->op, "login") == 0)
		return ledger_check_login(l, call);
	if (strcmp(call->op, "balance") != 0 &&
	    strcmp(call->op, "transfer") != 0 &&
	    strcmp(call->op, "history") != 0)
		return ledger_refuse(l, call, "unknown_op", "the ledger does "
		    "not serve this op");
	if (call->account == NULL)
		return ledger_refuse(l, call, "auth_required", "log in first");
	if (strcmp(call->op, "transfer") == 0)
		return ledger_check_transfer(l, call);
	if (strcmp(call->op, "history") == 0)
		return ledger_check_history(l, call);
	return 0;
}

static void
ledger_submit(void *state, struct secd_call *call)
{
	struct ledger *l = state;
	const char *refusal = NULL;
	int64_t retry_after = -1;

	if (ledger_check_call(l, call))
		return;
	if (strcmp(call->op, "transfer") == 0) {
		ledger_writer_transfer(l->writer, call);
		return;
	}
	if (l->cache != NULL && strcmp(call->op, "balance") == 0 &&
	    ledger_serve_cached_balance(l, call))
		return;

	pthread_mutex_lock(&l->mtx);
	if (l->stopping)
		refusal = LEDGER_MSG_STOPPING;
	else if (l->qlen == l->queue_max) {
		refusal = LEDGER_MSG_BUSY;
		retry_after = 1;
	} else {
		l->queue[(l->qhead + l->qlen) % l->queue_max] = call;
		l->qlen++;
		pthread_cond_signal(&l->cv);
	}
	pthread_mutex_unlock(&l->mtx);

	if (refusal != NULL)
		l->host->reply_error(call, "unavailable", refusal,
		    retry_after);
}

const struct secd_handler ledger_handler = {
	.abi = SECD_HANDLER_ABI,
	.name = "ledger",
	.ops = ledger_ops,
	.open = ledger_open,
	.close = ledger_close,
	.submit = ledger_submit,
};
