/*
 * ledger.c: the built-in handler: a bounded queue served by worker threads.
 *
 * secd calls submit() on its event-loop threads, which must never wait for
 * a disk or a password hash.  So submit() only checks the call's
 * arguments and either answers at once (bad arguments, not logged in,
 * queue full, shutting down) or appends the call to one bounded FIFO.
 * The ledger's own pthreads, each with its own SQLite connection and
 * prepared statements, take calls from the FIFO and answer them.  The
 * mutex guards only the FIFO and the stopping flag, and is never held
 * across a database access, a hash or an answer.
 *
 * A call belongs to the ledger from submit() until it is answered; after
 * the answer neither the call nor any string in it (the password, the
 * account name) is touched again, because the host frees them.
 *
 * Login costs one scrypt whatever happens: for an unknown account it runs
 * against a dummy hash made at open() with the current parameters, so an
 * observer cannot tell "no such account" from "wrong password" by the
 * reply (same code and message) or, to within noise, by its timing.
 */
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/wc_port.h>

#include "ledger.h"
#include "ledger_db.h"
#include "ledger_hash.h"

#define LEDGER_THREADS_MAX	64
#define LEDGER_QUEUE_DEFAULT	4096
#define LEDGER_QUEUE_MAX	1048576

/* Client-visible messages; never more specific than these. */
#define LEDGER_MSG_AUTH		"wrong account or password"
#define LEDGER_MSG_DB		"the ledger database is unavailable"
#define LEDGER_MSG_BUSY		"server busy"
#define LEDGER_MSG_STOPPING	"server shutting down"

struct ledger;

/* One worker thread and the connection only it uses. */
struct ledger_worker {
	struct ledger	*l;
	pthread_t	 thread;
	sqlite3		*db;
	sqlite3_stmt	*st_login;	/* password_hash, locked_until */
	sqlite3_stmt	*st_balance;	/* balance, currency */
};

struct ledger {
	const struct secd_host *host;
	char		*path;		/* database file */
	unsigned int	 nthreads;
	size_t		 queue_max;

	/* The FIFO: a ring of queue_max calls.  Guarded by mtx. */
	pthread_mutex_t	 mtx;
	pthread_cond_t	 cv;		/* signalled on append and on stop */
	struct secd_call **queue;
	size_t		 qhead;
	size_t		 qlen;
	int		 stopping;

	struct ledger_worker *workers;	/* nthreads of them */
	unsigned int	 nstarted;	/* threads running */
	char		 dummy[LEDGER_HASH_STRMAX];
};

static const char *const ledger_ops[] = { "login", "balance", NULL };

/* Options parsed from handler.options. */
struct ledger_opts {
	const char	*database;
	unsigned int	 threads;
	size_t		 queue;
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
		} else {
			snprintf(err, errlen, "%s: unknown ledger option "
			    "\"%.64s\" (expected database, threads or queue)",
			    where, opt->key);
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

/* Open w's connection and prepare its statements. */
static int
ledger_worker_open(struct ledger_worker *w, int flags, char *err,
    size_t errlen)
{
	struct ledger *l = w->l;

	if ((w->db = ledger_db_open(l->path, flags, err, errlen)) == NULL)
		return -1;
	if (sqlite3_prepare_v3(w->db, "SELECT password_hash, locked_until "
	    "FROM accounts WHERE name = ?1", -1, SQLITE_PREPARE_PERSISTENT,
	    &w->st_login, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(w->db, "SELECT balance, currency "
	    "FROM accounts WHERE name = ?1", -1, SQLITE_PREPARE_PERSISTENT,
	    &w->st_balance, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "database %s: %s", l->path,
		    sqlite3_errmsg(w->db));
		return -1;
	}
	return 0;
}

static void
ledger_worker_close(struct ledger_worker *w)
{

	sqlite3_finalize(w->st_login);
	sqlite3_finalize(w->st_balance);
	sqlite3_close(w->db);
	w->st_login = w->st_balance = NULL;
	w->db = NULL;
}

/*
 * Serve login: one scrypt whether or not the account exists; the same
 * answer for an unknown account and a wrong password.
 */
static void
ledger_serve_login(struct ledger_worker *w, struct secd_call *call)
{
	struct ledger *l = w->l;
	const struct secd_host *host = l->host;
	const char *account = secd_arg_str(call, "account");
	const char *password = secd_arg_str(call, "password");
	char hash[LEDGER_HASH_STRMAX];
	const unsigned char *t;
	int64_t locked_until = 0, now;
	int found = 0, ok, rc;

	hash[0] = '\0';
	sqlite3_bind_text(w->st_login, 1, account, -1, SQLITE_STATIC);
	rc = sqlite3_step(w->st_login);
	if (rc == SQLITE_ROW) {
		t = sqlite3_column_text(w->st_login, 0);
		locked_until = sqlite3_column_int64(w->st_login, 1);
		if (t != NULL && strlen((const char *)t) < sizeof(hash)) {
			memcpy(hash, t, strlen((const char *)t) + 1);
			found = 1;
		} else {
			ledger_log(l, SECD_LOG_ERR, "account %s: password "
			    "hash missing or too long", account);
		}
	} else if (rc != SQLITE_DONE) {
		ledger_log(l, SECD_LOG_ERR, "login %s: database %s: %s",
		    account, l->path, sqlite3_errmsg(w->db));
		sqlite3_reset(w->st_login);
		sqlite3_clear_bindings(w->st_login);
		host->reply_error(call, "unavailable", LEDGER_MSG_DB, 1);
		return;
	}
	sqlite3_reset(w->st_login);
	sqlite3_clear_bindings(w->st_login);

	ok = 0;
	if (found) {
		ok = ledger_hash_verify(hash, password, strlen(password));
		if (ok < 0) {
			ledger_log(l, SECD_LOG_ERR, "account %s: unusable "
			    "password hash; set a new password", account);
			found = 0;
		}
	}
	if (!found) {
		/* Spend the same work, and throw the result away. */
		(void)ledger_hash_verify(l->dummy, password,
		    strlen(password));
		ok = 0;
	}
	explicit_bzero(hash, sizeof(hash));

	if (ok != 1) {
		host->reply_error(call, "auth_failed", LEDGER_MSG_AUTH, -1);
		return;
	}
	/* Only someone who knows the password learns of the lock. */
	now = ledger_db_now_ms();
	if (locked_until > now) {
		host->reply_error(call, "locked", "account is locked",
		    (locked_until - now + 999) / 1000);
		return;
	}
	host->reply_login(call, account);
}

static void
ledger_serve_balance(struct ledger_worker *w, struct secd_call *call)
{
	struct ledger *l = w->l;
	const struct secd_host *host = l->host;
	char currency[4];
	const unsigned char *t;
	int64_t balance;
	int rc;

	sqlite3_bind_text(w->st_balance, 1, call->account, -1, SQLITE_STATIC);
	rc = sqlite3_step(w->st_balance);
	if (rc == SQLITE_ROW) {
		balance = sqlite3_column_int64(w->st_balance, 0);
		t = sqlite3_column_text(w->st_balance, 1);
		snprintf(currency, sizeof(currency), "%s",
		    t != NULL ? (const char *)t : "");
	} else if (rc != SQLITE_DONE) {
		ledger_log(l, SECD_LOG_ERR, "balance %s: database %s: %s",
		    call->account, l->path, sqlite3_errmsg(w->db));
	}
	sqlite3_reset(w->st_balance);
	sqlite3_clear_bindings(w->st_balance);

	if (rc == SQLITE_ROW) {
		const struct secd_value fields[] = {
			SECD_STR("account", call->account),
			SECD_INT("balance", balance),
			SECD_STR("currency", currency),
		};

		host->reply(call, fields, sizeof(fields) / sizeof(fields[0]));
	} else if (rc == SQLITE_DONE) {
		host->reply_error(call, "no_such_account",
		    "the session's account no longer exists", -1);
	} else {
		host->reply_error(call, "unavailable", LEDGER_MSG_DB, 1);
	}
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

		/* submit() let only these two ops in. */
		if (strcmp(call->op, "login") == 0)
			ledger_serve_login(w, call);
		else
			ledger_serve_balance(w, call);
	}
	return NULL;
}

/* Stop the workers and wait for them; they finish their current call. */
static void
ledger_stop(struct ledger *l)
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
	if (l->workers != NULL)
		for (i = 0; i < l->nthreads; i++)
			ledger_worker_close(&l->workers[i]);
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

	/* The first connection creates and migrates; the rest just open. */
	for (i = 0; i < l->nthreads; i++) {
		l->workers[i].l = l;
		if (ledger_worker_open(&l->workers[i],
		    i == 0 ? LEDGER_DB_CREATE : 0, err, errlen))
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

	/* Workers take no signals: those are the main thread's business. */
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

	ledger_log(l, SECD_LOG_INFO, "database %s, %u threads, queue %zu, "
	    "scrypt N=%" PRIu64 " r=%" PRIu32 " p=%" PRIu32, l->path,
	    l->nthreads, l->queue_max, host->auth->scrypt_n,
	    host->auth->scrypt_r, host->auth->scrypt_p);
	*state = l;
	return 0;

err4:
	ledger_stop(l);
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
	ledger_stop(l);
	pthread_cond_destroy(&l->cv);
	pthread_mutex_destroy(&l->mtx);
	ledger_free(l);
	wolfCrypt_Cleanup();
}

/* Check a call's arguments; answer and return -1 if they are wrong. */
static int
ledger_check_call(struct ledger *l, struct secd_call *call)
{
	const struct secd_host *host = l->host;
	const char *account, *password;
	size_t plen;

	if (strcmp(call->op, "login") == 0) {
		account = secd_arg_str(call, "account");
		password = secd_arg_str(call, "password");
		if (account == NULL || password == NULL) {
			host->reply_error(call, "bad_request", "login needs "
			    "\"account\" and \"password\" strings", -1);
			return -1;
		}
		if (!ledger_db_name_valid(account)) {
			host->reply_error(call, "bad_request", "an account "
			    "name is 1 to 64 of A-Z a-z 0-9 . _ @ -", -1);
			return -1;
		}
		plen = strnlen(password, LEDGER_PASSWORD_MAX + 1);
		if (plen == 0 || plen > LEDGER_PASSWORD_MAX) {
			host->reply_error(call, "bad_request", "a password "
			    "is 1 to 1024 bytes", -1);
			return -1;
		}
		return 0;
	}
	if (strcmp(call->op, "balance") == 0) {
		if (call->account == NULL) {
			host->reply_error(call, "auth_required",
			    "log in first", -1);
			return -1;
		}
		return 0;
	}
	host->reply_error(call, "unknown_op", "the ledger does not serve "
	    "this op", -1);
	return -1;
}

static void
ledger_submit(void *state, struct secd_call *call)
{
	struct ledger *l = state;
	const char *refusal = NULL;
	int64_t retry_after = -1;

	if (ledger_check_call(l, call))
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
