/*
 * check_ledger.c: the ledger handler, driven through its ABI only.
 *
 * A test host implements struct secd_host: its reply functions record the
 * answer in the call's test record and signal a condition variable, so a
 * test submits calls the way secd's workers do and waits for answers the
 * way secd's loops do.  Each test gets a fresh directory for its
 * database.  scrypt runs with N = 1024 unless a test needs hashing to be
 * slow (queue full, shutdown, timing).
 *
 * Besides the ABI the tests use what ledger.h, ledger_admin.h and
 * ledger_check.h export (the writer's counters, deposits, the invariant
 * check) and, to break things on purpose, raw sqlite3 connections of
 * their own.
 */
#include <sys/stat.h>
#include <sys/time.h>

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "secd/handler.h"

#include "ledger.h"
#include "ledger_admin.h"
#include "ledger_amount.h"
#include "ledger_cache.h"
#include "ledger_check.h"
#include "ledger_db.h"
#include "ledger_hash.h"

#define T_WAIT_SECONDS	30

/* What the host saw of one call. */
enum tkind { T_NONE, T_REPLY, T_LOGIN, T_ERROR };

/* One history entry as the host saw it. */
struct tentry {
	size_t		 nfields;
	char		 keys[6][16];
	int64_t		 transfer_id;
	char		 time[32];
	char		 counterparty[80];
	int64_t		 amount;
	int64_t		 balance;
	int		 has_memo;
	char		 memo[300];
};

/* A history reply's entries; allocated by t_history_init. */
struct thist {
	size_t		 n;
	struct tentry	 e[100];
};

struct tcall {
	struct secd_call call;		/* first: the host casts back */
	struct secd_value args[4];
	char		 account[80];
	char		 password[80];
	char		 to[80];
	char		 key[80];
	char		 memo[300];
	int		 answers;	/* how many times answered */
	enum tkind	 kind;
	char		 code[32];
	char		 message[256];
	int64_t		 retry_after;
	char		 login[80];
	size_t		 nfields;
	char		 keys[8][16];
	char		 racct[80];
	int64_t		 balance;
	char		 currency[8];
	int64_t		 transfer_id;
	int		 has_next;
	int64_t		 next_before;
	int		 has_entries;
	struct thist	*h;		/* history replies only */
	int		 has_cv;	/* t_wait_call waits on cv */
	pthread_cond_t	 cv;
};

static pthread_mutex_t t_mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t t_cv = PTHREAD_COND_INITIALIZER;
static int t_answered;			/* answers of all calls */
static char t_logbuf[16384];		/* every log line, appended */

static char t_dir[64];
static char t_db[128];

static const struct secd_auth t_auth_fast = { 1024, 8, 1, SECD_AUTH_PASSWORD };
static const struct secd_auth t_auth_slow = { 65536, 8, 1, SECD_AUTH_PASSWORD };

/* Test host: record, count, signal. */

static void t_log(const struct secd_host *, enum secd_log_level,
    const char *, ...) __attribute__((format(printf, 3, 4)));

static void
t_log(const struct secd_host *host, enum secd_log_level level,
    const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	size_t len;

	(void)host;
	(void)level;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&t_mtx);
	len = strlen(t_logbuf);
	snprintf(t_logbuf + len, sizeof(t_logbuf) - len, "%s\n", line);
	pthread_mutex_unlock(&t_mtx);
}

static void
t_answered_one(struct tcall *t)
{

	t->answers++;
	t_answered++;
	/* A call's own waiter, woken alone: with 64 threads waiting, one
	   broadcast per answer would cost more than the ledger does. */
	if (t->has_cv)
		pthread_cond_signal(&t->cv);
	pthread_cond_broadcast(&t_cv);
}

static void
t_entry(struct tentry *e, const struct secd_value *v)
{
	const struct secd_value *f;
	size_t i;

	memset(e, 0, sizeof(*e));
	e->nfields = v->u.list.n;
	for (i = 0; i < v->u.list.n; i++) {
		f = &v->u.list.items[i];
		if (i < 6)
			snprintf(e->keys[i], sizeof(e->keys[i]), "%s", f->key);
		if (strcmp(f->key, "transfer_id") == 0)
			e->transfer_id = f->u.i;
		else if (strcmp(f->key, "time") == 0)
			snprintf(e->time, sizeof(e->time), "%s", f->u.s);
		else if (strcmp(f->key, "counterparty") == 0)
			snprintf(e->counterparty, sizeof(e->counterparty),
			    "%s", f->u.s);
		else if (strcmp(f->key, "amount") == 0)
			e->amount = f->u.i;
		else if (strcmp(f->key, "balance") == 0)
			e->balance = f->u.i;
		else if (strcmp(f->key, "memo") == 0) {
			e->has_memo = 1;
			snprintf(e->memo, sizeof(e->memo), "%s", f->u.s);
		}
	}
}

static void
t_reply(struct secd_call *call, const struct secd_value *fields, size_t n)
{
	struct tcall *t = (struct tcall *)call;
	const struct secd_value *f;
	size_t i, j;

	pthread_mutex_lock(&t_mtx);
	t->kind = T_REPLY;
	t->nfields = n;
	for (i = 0; i < n; i++) {
		f = &fields[i];
		if (i < 8)
			snprintf(t->keys[i], sizeof(t->keys[i]), "%s", f->key);
		if (strcmp(f->key, "account") == 0 && f->type == SECD_V_STR)
			snprintf(t->racct, sizeof(t->racct), "%s", f->u.s);
		if (strcmp(f->key, "balance") == 0 && f->type == SECD_V_INT)
			t->balance = f->u.i;
		if (strcmp(f->key, "transfer_id") == 0 &&
		    f->type == SECD_V_INT)
			t->transfer_id = f->u.i;
		if (strcmp(f->key, "next_before") == 0 &&
		    f->type == SECD_V_INT) {
			t->has_next = 1;
			t->next_before = f->u.i;
		}
		if (strcmp(f->key, "currency") == 0 && f->type == SECD_V_STR)
			snprintf(t->currency, sizeof(t->currency), "%s",
			    f->u.s);
		if (strcmp(f->key, "entries") == 0 &&
		    f->type == SECD_V_ARRAY) {
			t->has_entries = 1;
			for (j = 0; t->h != NULL && j < f->u.list.n &&
			    j < 100; j++) {
				if (f->u.list.items[j].type != SECD_V_OBJECT)
					t->h->e[j].nfields = 99;
				else
					t_entry(&t->h->e[j],
					    &f->u.list.items[j]);
			}
			if (t->h != NULL)
				t->h->n = f->u.list.n;
		}
	}
	t_answered_one(t);
	pthread_mutex_unlock(&t_mtx);
}

static void
t_reply_login(struct secd_call *call, const char *account)
{
	struct tcall *t = (struct tcall *)call;

	pthread_mutex_lock(&t_mtx);
	t->kind = T_LOGIN;
	snprintf(t->login, sizeof(t->login), "%s", account);
	t_answered_one(t);
	pthread_mutex_unlock(&t_mtx);
}

static void
t_reply_error(struct secd_call *call, const char *code, const char *message,
    int64_t retry_after)
{
	struct tcall *t = (struct tcall *)call;

	pthread_mutex_lock(&t_mtx);
	t->kind = T_ERROR;
	snprintf(t->code, sizeof(t->code), "%s", code);
	snprintf(t->message, sizeof(t->message), "%s", message);
	t->retry_after = retry_after;
	t_answered_one(t);
	pthread_mutex_unlock(&t_mtx);
}

static struct secd_host t_host = {
	.abi = SECD_HANDLER_ABI,
	.auth = &t_auth_fast,
	.log = t_log,
	.reply = t_reply,
	.reply_login = t_reply_login,
	.reply_error = t_reply_error,
};

static const struct secd_peer t_peer = { "192.0.2.1:50000", NULL, NULL };

/* Calls. */

static void
t_login_init(struct tcall *t, const char *account, const char *password)
{

	memset(t, 0, sizeof(*t));
	snprintf(t->account, sizeof(t->account), "%s", account);
	snprintf(t->password, sizeof(t->password), "%s", password);
	t->args[0] = (struct secd_value)SECD_STR("account", t->account);
	t->args[1] = (struct secd_value)SECD_STR("password", t->password);
	t->call.op = "login";
	t->call.args = t->args;
	t->call.nargs = 2;
	t->call.peer = &t_peer;
	t->call.request_id = "1";
}

static void
t_balance_init(struct tcall *t, const char *account)
{

	memset(t, 0, sizeof(*t));
	if (account != NULL)
		snprintf(t->account, sizeof(t->account), "%s", account);
	t->call.op = "balance";
	t->call.account = account != NULL ? t->account : NULL;
	t->call.peer = &t_peer;
	t->call.request_id = "2";
}

/* A transfer from account; memo NULL for none. */
static void
t_transfer_init(struct tcall *t, const char *account, const char *to,
    int64_t amount, const char *key, const char *memo)
{
	size_t n = 0;

	memset(t, 0, sizeof(*t));
	snprintf(t->account, sizeof(t->account), "%s", account);
	snprintf(t->to, sizeof(t->to), "%s", to);
	snprintf(t->key, sizeof(t->key), "%s", key);
	t->args[n++] = (struct secd_value)SECD_STR("to", t->to);
	t->args[n++] = (struct secd_value)SECD_INT("amount", amount);
	t->args[n++] = (struct secd_value)SECD_STR("idempotency_key", t->key);
	if (memo != NULL) {
		snprintf(t->memo, sizeof(t->memo), "%s", memo);
		t->args[n++] = (struct secd_value)SECD_STR("memo", t->memo);
	}
	t->call.op = "transfer";
	t->call.args = t->args;
	t->call.nargs = n;
	t->call.account = t->account;
	t->call.peer = &t_peer;
	t->call.request_id = "5";
}

/* A transfer that t_wait_call waits for on its own condition. */
static void
t_transfer_init_cv(struct tcall *t, const char *account, const char *to,
    int64_t amount, const char *key, const char *memo)
{

	t_transfer_init(t, account, to, amount, key, memo);
	ck_assert_int_eq(pthread_cond_init(&t->cv, NULL), 0);
	t->has_cv = 1;
}

/* A history call of account; limit and before 0 for absent. */
static void
t_history_init(struct tcall *t, const char *account, int64_t limit,
    int64_t before)
{
	size_t n = 0;

	memset(t, 0, sizeof(*t));
	/* The caller frees it. */
	ck_assert_ptr_nonnull(t->h = calloc(1, sizeof(*t->h)));
	snprintf(t->account, sizeof(t->account), "%s", account);
	if (limit != 0)
		t->args[n++] = (struct secd_value)SECD_INT("limit", limit);
	if (before != 0)
		t->args[n++] = (struct secd_value)SECD_INT("before", before);
	t->call.op = "history";
	t->call.args = t->args;
	t->call.nargs = n;
	t->call.account = t->account;
	t->call.peer = &t_peer;
	t->call.request_id = "10";
}

/* Wait until t has been answered. */
static void
t_wait_call(struct tcall *t)
{
	struct timespec ts;
	int rc = 0;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += T_WAIT_SECONDS;
	pthread_mutex_lock(&t_mtx);
	while (t->answers == 0 && rc == 0)
		rc = pthread_cond_timedwait(t->has_cv ? &t->cv : &t_cv,
		    &t_mtx, &ts);
	pthread_mutex_unlock(&t_mtx);
	ck_assert_msg(rc == 0, "no answer within %d s", T_WAIT_SECONDS);
}

/* Wait until all calls together have had total answers. */
static int
t_wait_total(int total)
{
	struct timespec ts;
	int rc = 0;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += T_WAIT_SECONDS;
	pthread_mutex_lock(&t_mtx);
	while (t_answered < total && rc == 0)
		rc = pthread_cond_timedwait(&t_cv, &t_mtx, &ts);
	rc = t_answered >= total ? 0 : -1;
	pthread_mutex_unlock(&t_mtx);
	return rc;
}

static int
t_total(void)
{
	int n;

	pthread_mutex_lock(&t_mtx);
	n = t_answered;
	pthread_mutex_unlock(&t_mtx);
	return n;
}

/* Submit one call and wait for its answer. */
static void
t_run(void *state, struct tcall *t)
{
	int before = t_total();

	ledger_handler.submit(state, &t->call);
	ck_assert_int_eq(t_wait_total(before + 1), 0);
	ck_assert_int_eq(t->answers, 1);
}

/* Handler lifetime. */

/* Options from key, value pairs; where is "test.yaml:<pair number>:5". */
static int
t_open_opts(void **state, char *err, size_t errlen, const char *const *kv)
{
	struct secd_option opts[8];
	static char where[8][32];
	size_t n;

	for (n = 0; kv[2 * n] != NULL; n++) {
		snprintf(where[n], sizeof(where[n]), "test.yaml:%zu:5", n + 1);
		opts[n].key = kv[2 * n];
		opts[n].value = kv[2 * n + 1];
		opts[n].where = where[n];
	}
	err[0] = '\0';
	return ledger_handler.open(&t_host, opts, n, state, err, errlen);
}

static void *
t_open(const char *threads, const char *queue)
{
	const char *kv[] = { "database", t_db, "threads", threads, "queue",
	    queue, NULL };
	char err[256];
	void *state;

	if (t_open_opts(&state, err, sizeof(err), kv) != 0)
		ck_abort_msg("open: %s", err);
	ck_assert_ptr_nonnull(state);
	return state;
}

static void
t_add(const char *name, const char *password, const char *currency,
    int64_t balance)
{
	struct ledger_admin *a;
	char err[256];

	a = ledger_admin_open(t_db, LEDGER_DB_CREATE, t_host.auth, err,
	    sizeof(err));
	if (a == NULL)
		ck_abort_msg("admin open: %s", err);
	if (ledger_admin_add(a, name, password, strlen(password), currency,
	    balance, err, sizeof(err)) != 0)
		ck_abort_msg("add %s: %s", name, err);
	ledger_admin_free(a);
}

/* Run SQL on a connection of our own. */
static int
t_sql(const char *sql)
{
	sqlite3 *db;
	int rc;

	ck_assert_int_eq(sqlite3_open(t_db, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	sqlite3_close(db);
	return rc == SQLITE_OK ? 0 : -1;
}

static int64_t
t_sql_int(const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int64_t v = -1;

	ck_assert_int_eq(sqlite3_open(t_db, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL),
	    SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static double
t_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
t_setup(void)
{

	snprintf(t_dir, sizeof(t_dir), "/tmp/check_ledger.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(t_dir));
	snprintf(t_db, sizeof(t_db), "%s/ledger.db", t_dir);
	t_host.auth = &t_auth_fast;
	t_host.base_dir = NULL;
	t_answered = 0;
	t_logbuf[0] = '\0';
}

static void
t_teardown(void)
{
	struct dirent *de;
	char path[512];
	DIR *d;

	/* Everything a test made in its directory: the database, its WAL,
	   backup copies. */
	if ((d = opendir(t_dir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			snprintf(path, sizeof(path), "%s/%s", t_dir,
			    de->d_name);
			(void)unlink(path);
		}
		closedir(d);
	}
	(void)rmdir(t_dir);
}

/* Options and opening. */

START_TEST(test_ledger_open_requires_database)
{
	const char *kv[] = { "threads", "1", NULL };
	char err[256];
	void *state = (void *)1;

	ck_assert_int_eq(t_open_opts(&state, err, sizeof(err), kv), -1);
	ck_assert_ptr_null(state);
	ck_assert_str_eq(err, "handler.options.database is required: the "
	    "path of the ledger's SQLite file");
}
END_TEST

START_TEST(test_ledger_open_rejects_unknown_option)
{
	const char *kv[] = { "database", t_db, "colour", "red", NULL };
	char err[256];
	void *state;

	ck_assert_int_eq(t_open_opts(&state, err, sizeof(err), kv), -1);
	ck_assert_str_eq(err, "test.yaml:2:5: unknown ledger option "
	    "\"colour\" (expected database, threads, queue, batch, "
	    "idempotency_retention or balance_cache)");
	/* Options are checked before the file is touched. */
	ck_assert_int_eq(access(t_db, F_OK), -1);
}
END_TEST

START_TEST(test_ledger_open_rejects_bad_threads_and_queue)
{
	static const char *const bad[] = { "0", "65", "abc", "", "-1",
	    "1.5", " 2", "99999999999999999999999" };
	const char *kv[] = { "database", t_db, "threads", NULL, NULL };
	char err[256];
	void *state;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		kv[3] = bad[i];
		ck_assert_int_eq(t_open_opts(&state, err, sizeof(err), kv),
		    -1);
		ck_assert_msg(strstr(err, "test.yaml:2:5: ledger option "
		    "threads: expected an integer from 1 to 64") == err,
		    "threads=%s: %s", bad[i], err);
	}
	kv[2] = "queue";
	kv[3] = "0";
	ck_assert_int_eq(t_open_opts(&state, err, sizeof(err), kv), -1);
	ck_assert_ptr_nonnull(strstr(err, "test.yaml:2:5: ledger option "
	    "queue: expected an integer from 1 to 1048576, found \"0\""));
}
END_TEST

START_TEST(test_ledger_open_rejects_duplicate_option)
{
	const char *kv[] = { "database", t_db, "database", t_db, NULL };
	char err[256];
	void *state;

	ck_assert_int_eq(t_open_opts(&state, err, sizeof(err), kv), -1);
	ck_assert_str_eq(err, "test.yaml:2:5: ledger option database given "
	    "twice");
}
END_TEST

START_TEST(test_ledger_open_creates_file_not_directory)
{
	char path[192], err[256];
	const char *kv[] = { "database", path, NULL };
	void *state;

	snprintf(path, sizeof(path), "%s/missing/ledger.db", t_dir);
	ck_assert_int_eq(t_open_opts(&state, err, sizeof(err), kv), -1);
	ck_assert_ptr_nonnull(strstr(err, "does not exist (secd creates "
	    "the file, not its directory)"));
	ck_assert_ptr_null(strchr(err, '\n'));
	snprintf(path, sizeof(path), "%s/missing", t_dir);
	ck_assert_int_eq(access(path, F_OK), -1);
}
END_TEST

START_TEST(test_ledger_open_rejects_bad_auth_parameters)
{
	static const struct secd_auth bad = { 1000, 8, 1, SECD_AUTH_PASSWORD };
	const char *kv[] = { "database", t_db, NULL };
	char err[256];
	void *state;

	t_host.auth = &bad;
	ck_assert_int_eq(t_open_opts(&state, err, sizeof(err), kv), -1);
	ck_assert_str_eq(err, "auth: scrypt N must be a power of two from 2 "
	    "to 2^30");
}
END_TEST

START_TEST(test_ledger_open_resolves_relative_path_against_base_dir)
{
	const char *kv[] = { "database", "ledger.db", NULL };
	char err[256];
	void *state;

	t_host.base_dir = t_dir;
	ck_assert_int_eq(t_open_opts(&state, err, sizeof(err), kv), 0);
	ledger_handler.close(state);
	ck_assert_int_eq(access(t_db, F_OK), 0);
}
END_TEST

START_TEST(test_ledger_open_refuses_foreign_database)
{
	const char *kv[] = { "database", t_db, NULL };
	char err[256];
	void *state;

	ck_assert_int_eq(t_sql("CREATE TABLE users (x)"), 0);
	ck_assert_int_eq(t_open_opts(&state, err, sizeof(err), kv), -1);
	ck_assert_ptr_nonnull(strstr(err, "not a secd ledger"));
	/* And left it alone. */
	ck_assert_int_eq(t_sql_int("PRAGMA user_version"), 0);
}
END_TEST

START_TEST(test_ledger_open_refuses_non_database_file)
{
	const char *kv[] = { "database", t_db, NULL };
	char err[256];
	void *state;
	FILE *f;

	ck_assert_ptr_nonnull(f = fopen(t_db, "w"));
	fputs("this is not an SQLite database, but long enough to look at "
	    "the header of it and decide that it is not one at all.\n", f);
	fclose(f);
	ck_assert_int_eq(t_open_opts(&state, err, sizeof(err), kv), -1);
	ck_assert_msg(strstr(err, "file is not a database") != NULL, "%s",
	    err);
}
END_TEST

START_TEST(test_ledger_schema_version_stored_and_reopen_works)
{
	struct stat sb;
	void *state;

	state = t_open("1", "8");
	ledger_handler.close(state);
	ck_assert_int_eq(t_sql_int("PRAGMA user_version"), LEDGER_DB_VERSION);
	ck_assert_int_eq(t_sql_int("PRAGMA application_id"), LEDGER_DB_APPID);
	ck_assert_int_eq(t_sql_int("SELECT count(*) FROM sqlite_schema "
	    "WHERE name IN ('accounts', 'journal', 'transfers')"), 3);
	ck_assert_int_eq(stat(t_db, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0600);

	/* Reopening finds version 1 and changes nothing. */
	t_add("AAA", "123", "CNY", 10000);
	state = t_open("2", "8");
	ledger_handler.close(state);
	ck_assert_int_eq(t_sql_int("SELECT count(*) FROM accounts"), 1);
	ck_assert_int_eq(t_sql_int("PRAGMA user_version"), LEDGER_DB_VERSION);
}
END_TEST

START_TEST(test_ledger_open_refuses_newer_schema)
{
	const char *kv[] = { "database", t_db, NULL };
	char err[256];
	void *state;

	ledger_handler.close(t_open("1", "1"));
	ck_assert_int_eq(t_sql("PRAGMA user_version = 99"), 0);
	ck_assert_int_eq(t_open_opts(&state, err, sizeof(err), kv), -1);
	ck_assert_ptr_nonnull(strstr(err, "schema version 99 is newer than "
	    "this secd's (3)"));
}
END_TEST

START_TEST(test_ledger_connections_use_wal_and_full_sync)
{
	struct ledger_admin *a;
	sqlite3_stmt *st;
	char err[256];

	ck_assert_ptr_nonnull(a = ledger_admin_open(t_db, LEDGER_DB_CREATE,
	    NULL, err, sizeof(err)));
	ck_assert_int_eq(sqlite3_prepare_v2(ledger_admin_db(a),
	    "SELECT * FROM pragma_journal_mode, pragma_synchronous, "
	    "pragma_foreign_keys", -1, &st, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	ck_assert_str_eq((const char *)sqlite3_column_text(st, 0), "wal");
	ck_assert_int_eq(sqlite3_column_int(st, 1), 2);	/* FULL */
	ck_assert_int_eq(sqlite3_column_int(st, 2), 1);
	sqlite3_finalize(st);
	ledger_admin_free(a);
}
END_TEST

/* Login and balance. */

START_TEST(test_ledger_login_right_password)
{
	struct tcall t;
	void *state;

	t_add("AAA", "123", "CNY", 10000);
	state = t_open("2", "16");
	t_login_init(&t, "AAA", "123");
	t_run(state, &t);
	ck_assert_int_eq(t.kind, T_LOGIN);
	ck_assert_str_eq(t.login, "AAA");
	ledger_handler.close(state);
	ck_assert_int_eq(t.answers, 1);
}
END_TEST

START_TEST(test_ledger_wrong_password_and_unknown_account_answer_alike)
{
	struct tcall wrong, unknown;
	void *state;

	t_add("AAA", "123", "CNY", 10000);
	state = t_open("1", "16");
	t_login_init(&wrong, "AAA", "124");
	t_login_init(&unknown, "BBB", "123");
	t_run(state, &wrong);
	t_run(state, &unknown);
	ledger_handler.close(state);

	ck_assert_int_eq(wrong.kind, T_ERROR);
	ck_assert_int_eq(unknown.kind, T_ERROR);
	ck_assert_str_eq(wrong.code, "auth_failed");
	ck_assert_str_eq(unknown.code, "auth_failed");
	ck_assert_str_eq(wrong.message, unknown.message);
	ck_assert_int_eq(wrong.retry_after, unknown.retry_after);
	/* Nothing about either was logged, and never a password. */
	ck_assert_ptr_null(strstr(t_logbuf, "124"));
}
END_TEST

/* Median time of three logins, in seconds. */
static double
t_login_time(void *state, const char *account, const char *password)
{
	double d[3], x;
	struct tcall t;
	int i, j;

	for (i = 0; i < 3; i++) {
		t_login_init(&t, account, password);
		d[i] = t_now();
		t_run(state, &t);
		d[i] = t_now() - d[i];
		ck_assert_str_eq(t.code, "auth_failed");
	}
	for (i = 0; i < 3; i++)
		for (j = i + 1; j < 3; j++)
			if (d[j] < d[i]) {
				x = d[i];
				d[i] = d[j];
				d[j] = x;
			}
	return d[1];
}

START_TEST(test_ledger_unknown_account_costs_a_full_scrypt)
{
	static const struct secd_auth mid = { 16384, 8, 1, SECD_AUTH_PASSWORD };
	double wrong, unknown;
	void *state;

	t_host.auth = &mid;
	t_add("AAA", "123", "CNY", 10000);
	state = t_open("1", "16");
	wrong = t_login_time(state, "AAA", "124");
	unknown = t_login_time(state, "BBB", "123");
	ledger_handler.close(state);
	/* A skipped hash would make "unknown" 100 times faster. */
	ck_assert_msg(unknown > wrong / 3 && unknown < wrong * 3,
	    "wrong password %.4fs, unknown account %.4fs", wrong, unknown);
}
END_TEST

START_TEST(test_ledger_balance_of_the_demo_account)
{
	struct tcall login, bal;
	void *state;

	t_add("AAA", "123", "CNY", 10000);
	state = t_open("2", "16");
	t_login_init(&login, "AAA", "123");
	t_run(state, &login);
	ck_assert_int_eq(login.kind, T_LOGIN);

	/* The host marks the session; the call carries its account. */
	t_balance_init(&bal, login.login);
	t_run(state, &bal);
	ledger_handler.close(state);
	ck_assert_int_eq(bal.kind, T_REPLY);
	ck_assert_uint_eq(bal.nfields, 3);
	ck_assert_str_eq(bal.keys[0], "account");
	ck_assert_str_eq(bal.keys[1], "balance");
	ck_assert_str_eq(bal.keys[2], "currency");
	ck_assert_str_eq(bal.racct, "AAA");
	ck_assert_int_eq(bal.balance, 10000);
	ck_assert_str_eq(bal.currency, "CNY");
}
END_TEST

START_TEST(test_ledger_balance_without_account_is_auth_required)
{
	struct tcall t;
	void *state;

	state = t_open("1", "1");
	t_balance_init(&t, NULL);
	ledger_handler.submit(state, &t.call);
	/* Answered on the submitting thread: nothing to queue. */
	ck_assert_int_eq(t.answers, 1);
	ck_assert_str_eq(t.code, "auth_required");
	ledger_handler.close(state);
}
END_TEST

START_TEST(test_ledger_balance_of_vanished_account)
{
	struct tcall t;
	void *state;

	state = t_open("1", "4");
	t_balance_init(&t, "ghost");
	t_run(state, &t);
	ledger_handler.close(state);
	ck_assert_str_eq(t.code, "no_such_account");
}
END_TEST

START_TEST(test_ledger_login_rejects_bad_arguments)
{
	struct tcall t;
	void *state;
	char longpw[1100];

	state = t_open("1", "4");

	t_login_init(&t, "AAA", "123");
	t.call.nargs = 1;		/* no password */
	ledger_handler.submit(state, &t.call);
	ck_assert_int_eq(t.answers, 1);
	ck_assert_str_eq(t.code, "bad_request");

	t_login_init(&t, "AAA", "123");
	t.args[0] = (struct secd_value)SECD_INT("account", 7);
	ledger_handler.submit(state, &t.call);
	ck_assert_str_eq(t.code, "bad_request");

	t_login_init(&t, "A A", "123");
	ledger_handler.submit(state, &t.call);
	ck_assert_str_eq(t.code, "bad_request");

	t_login_init(&t, "AAA", "");
	ledger_handler.submit(state, &t.call);
	ck_assert_str_eq(t.code, "bad_request");

	memset(longpw, 'x', sizeof(longpw) - 1);
	longpw[sizeof(longpw) - 1] = '\0';
	t_login_init(&t, "AAA", "");
	t.args[1].u.s = longpw;
	ledger_handler.submit(state, &t.call);
	ck_assert_int_eq(t.answers, 1);
	ck_assert_str_eq(t.code, "bad_request");

	t_login_init(&t, "AAA", "123");
	t.call.op = "statement";
	t.call.account = "AAA";
	ledger_handler.submit(state, &t.call);
	ck_assert_str_eq(t.code, "unknown_op");

	ledger_handler.close(state);
	ck_assert_int_eq(t_total(), 6);
}
END_TEST

START_TEST(test_ledger_locked_account_needs_the_password_to_learn_it)
{
	struct tcall right, wrong;
	void *state;

	t_add("AAA", "123", "CNY", 10000);
	ck_assert_int_eq(t_sql("UPDATE accounts SET locked_until = "
	    "(CAST(strftime('%s', 'now') AS INTEGER) + 60) * 1000 WHERE name = 'AAA'"), 0);
	state = t_open("1", "4");
	t_login_init(&right, "AAA", "123");
	t_login_init(&wrong, "AAA", "12");
	t_run(state, &right);
	t_run(state, &wrong);
	ledger_handler.close(state);
	ck_assert_str_eq(right.code, "locked");
	ck_assert_int_ge(right.retry_after, 59);
	ck_assert_int_le(right.retry_after, 61);
	ck_assert_str_eq(wrong.code, "auth_failed");
}
END_TEST

START_TEST(test_ledger_unusable_hash_fails_login_and_is_logged)
{
	struct tcall t;
	void *state;

	t_add("AAA", "123", "CNY", 10000);
	ck_assert_int_eq(t_sql("UPDATE accounts SET password_hash = "
	    "'$scrypt$ln=99,r=8,p=1$AAAA$AAAA' WHERE name = 'AAA'"), 0);
	state = t_open("1", "4");
	t_login_init(&t, "AAA", "123");
	t_run(state, &t);
	ledger_handler.close(state);
	ck_assert_str_eq(t.code, "auth_failed");
	ck_assert_ptr_nonnull(strstr(t_logbuf, "ledger: account AAA: "
	    "unusable password hash"));
}
END_TEST

START_TEST(test_ledger_database_error_is_unavailable_and_logged)
{
	struct tcall login, bal;
	void *state;

	t_add("AAA", "hunter2-secret", "CNY", 10000);
	state = t_open("1", "4");
	/* Pull the table out from under the prepared statements. */
	ck_assert_int_eq(t_sql("DROP TABLE journal; DROP TABLE transfers; "
	    "DROP TABLE accounts"), 0);
	t_login_init(&login, "AAA", "hunter2-secret");
	t_balance_init(&bal, "AAA");
	t_run(state, &login);
	t_run(state, &bal);
	ledger_handler.close(state);
	ck_assert_str_eq(login.code, "unavailable");
	ck_assert_str_eq(login.message, "the ledger database is unavailable");
	ck_assert_str_eq(bal.code, "unavailable");
	ck_assert_ptr_nonnull(strstr(t_logbuf, "ledger: login AAA: database "));
	ck_assert_ptr_nonnull(strstr(t_logbuf, "no such table"));
	ck_assert_ptr_null(strstr(t_logbuf, "hunter2"));
}
END_TEST

/* Queueing, concurrency, shutdown. */

START_TEST(test_ledger_queue_full_is_unavailable_at_once)
{
	struct tcall t[3];
	void *state;
	int i, busy = 0;

	t_host.auth = &t_auth_slow;
	t_add("AAA", "123", "CNY", 10000);
	int at_once[3];

	state = t_open("1", "1");
	for (i = 0; i < 3; i++)
		t_login_init(&t[i], "AAA", "123");
	/*
	 * One worker, one queue slot, and a hash of 100 ms or more: the
	 * worker holds at most one call and the queue one more, so of three
	 * calls submitted back to back at least one cannot fit, and that
	 * one is answered before submit() returns.
	 */
	for (i = 0; i < 3; i++) {
		ledger_handler.submit(state, &t[i].call);
		pthread_mutex_lock(&t_mtx);
		at_once[i] = t[i].answers;
		pthread_mutex_unlock(&t_mtx);
	}
	ck_assert_int_eq(at_once[0], 0);
	ck_assert_int_eq(t_wait_total(3), 0);
	ledger_handler.close(state);
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(t[i].answers, 1);
		if (t[i].kind == T_LOGIN)
			continue;
		ck_assert_int_eq(at_once[i], 1);
		ck_assert_str_eq(t[i].code, "unavailable");
		ck_assert_str_eq(t[i].message, "server busy");
		ck_assert_int_eq(t[i].retry_after, 1);
		busy++;
	}
	ck_assert_int_ge(busy, 1);
	ck_assert_int_eq(t[0].kind, T_LOGIN);
	ck_assert_int_eq(t_total(), 3);
}
END_TEST

#define T_SUBMITTERS	6
#define T_PER_SUBMITTER	40

struct t_submitter {
	void		*state;
	struct tcall	*calls;
};

static void *
t_submit_main(void *arg)
{
	struct t_submitter *s = arg;
	int i;

	for (i = 0; i < T_PER_SUBMITTER; i++)
		ledger_handler.submit(s->state, &s->calls[i].call);
	return NULL;
}

START_TEST(test_ledger_concurrent_calls_answered_exactly_once)
{
	struct t_submitter sub[T_SUBMITTERS];
	pthread_t th[T_SUBMITTERS];
	struct tcall *calls, *t;
	void *state;
	int i, n = T_SUBMITTERS * T_PER_SUBMITTER;

	t_add("AAA", "123", "CNY", 10000);
	t_add("BBB", "456", "USD", 1);
	ck_assert_ptr_nonnull(calls = calloc((size_t)n, sizeof(*calls)));
	for (i = 0; i < n; i++) {
		switch (i % 4) {
		case 0:
			t_login_init(&calls[i], "AAA", "123");
			break;
		case 1:
			t_login_init(&calls[i], "BBB", "wrong");
			break;
		case 2:
			t_login_init(&calls[i], "nobody", "123");
			break;
		default:
			t_balance_init(&calls[i], "BBB");
			break;
		}
	}
	state = t_open("4", "4096");
	for (i = 0; i < T_SUBMITTERS; i++) {
		sub[i].state = state;
		sub[i].calls = calls + i * T_PER_SUBMITTER;
		ck_assert_int_eq(pthread_create(&th[i], NULL, t_submit_main,
		    &sub[i]), 0);
	}
	for (i = 0; i < T_SUBMITTERS; i++)
		pthread_join(th[i], NULL);
	ck_assert_int_eq(t_wait_total(n), 0);
	ledger_handler.close(state);

	ck_assert_int_eq(t_total(), n);
	for (i = 0; i < n; i++) {
		t = &calls[i];
		ck_assert_int_eq(t->answers, 1);
		switch (i % 4) {
		case 0:
			ck_assert_int_eq(t->kind, T_LOGIN);
			ck_assert_str_eq(t->login, "AAA");
			break;
		case 1:
		case 2:
			ck_assert_str_eq(t->code, "auth_failed");
			break;
		default:
			ck_assert_int_eq(t->kind, T_REPLY);
			ck_assert_int_eq(t->balance, 1);
			ck_assert_str_eq(t->currency, "USD");
			break;
		}
	}
	free(calls);
}
END_TEST

START_TEST(test_ledger_close_answers_calls_in_flight)
{
	static const struct secd_auth mid = { 8192, 8, 1, SECD_AUTH_PASSWORD };
	struct tcall *calls;
	void *state;
	int i, n = 40, stopped = 0, done = 0;

	t_host.auth = &mid;
	t_add("AAA", "123", "CNY", 10000);
	ck_assert_ptr_nonnull(calls = calloc((size_t)n, sizeof(*calls)));
	state = t_open("2", "100");
	for (i = 0; i < n; i++) {
		t_login_init(&calls[i], "AAA", "123");
		ledger_handler.submit(state, &calls[i].call);
	}
	ledger_handler.close(state);

	/* Everything answered by the time close() returns, exactly once. */
	ck_assert_int_eq(t_total(), n);
	for (i = 0; i < n; i++) {
		ck_assert_int_eq(calls[i].answers, 1);
		if (calls[i].kind == T_LOGIN)
			done++;
		else {
			ck_assert_str_eq(calls[i].code, "unavailable");
			ck_assert_str_eq(calls[i].message,
			    "server shutting down");
			stopped++;
		}
	}
	ck_assert_int_gt(stopped, 0);
	ck_assert_int_eq(done + stopped, n);
	free(calls);
}
END_TEST

/* Password hashes. */

START_TEST(test_ledger_hash_format_and_verify)
{
	static const struct secd_auth other = { 1024, 8, 2, SECD_AUTH_PASSWORD };
	struct ledger_hash h;
	char s[LEDGER_HASH_STRMAX];

	ck_assert_int_eq(ledger_hash_make(s, sizeof(s), "123", 3,
	    &t_auth_fast), 0);
	ck_assert_msg(strncmp(s, "$scrypt$ln=10,r=8,p=1$", 22) == 0, "%s", s);
	/* 16-byte salt: 22 characters; 32-byte hash: 43. */
	ck_assert_uint_eq(strlen(s), 22 + 22 + 1 + 43);
	ck_assert_int_eq(ledger_hash_parse(s, &h), 0);
	ck_assert_uint_eq(h.ln, 10);
	ck_assert_uint_eq(h.saltlen, 16);
	ck_assert_uint_eq(h.hashlen, 32);
	ck_assert_int_eq(ledger_hash_verify(s, "123", 3), 1);
	ck_assert_int_eq(ledger_hash_verify(s, "124", 3), 0);
	ck_assert_int_eq(ledger_hash_verify(s, "1234", 4), 0);
	ck_assert_int_eq(ledger_hash_needs_rehash(s, &t_auth_fast), 0);
	ck_assert_int_eq(ledger_hash_needs_rehash(s, &other), 1);
	ck_assert_int_eq(ledger_hash_needs_rehash("junk", &t_auth_fast), 1);
}
END_TEST

START_TEST(test_ledger_hash_salts_differ)
{
	char a[LEDGER_HASH_STRMAX], b[LEDGER_HASH_STRMAX];

	ck_assert_int_eq(ledger_hash_make(a, sizeof(a), "123", 3,
	    &t_auth_fast), 0);
	ck_assert_int_eq(ledger_hash_make(b, sizeof(b), "123", 3,
	    &t_auth_fast), 0);
	ck_assert_str_ne(a, b);
}
END_TEST

START_TEST(test_ledger_hash_known_answer)
{
	/* RFC 7914 section 12, third vector: P = "pleaseletmein",
	   S = "SodiumChloride", N = 16384, r = 8, p = 1, dkLen = 64. */
	static const char *rfc = "$scrypt$ln=14,r=8,p=1$U29kaXVtQ2hsb3JpZGU$"
	    "cCO9yzr9c0hGHAbNgf046/2o+7qQT44+qbVD9lRdofLVQylVYT8Pz2LUlwUkKpr5"
	    "5h6F3A1lHkDfzwF7RVdYhw";

	ck_assert_int_eq(ledger_hash_verify(rfc, "pleaseletmein", 13), 1);
	ck_assert_int_eq(ledger_hash_verify(rfc, "pleaseletmeim", 13), 0);
}
END_TEST

START_TEST(test_ledger_hash_old_parameters_still_verify)
{
	static const struct secd_auth old = { 2048, 4, 2, SECD_AUTH_PASSWORD };
	char s[LEDGER_HASH_STRMAX];

	ck_assert_int_eq(ledger_hash_make(s, sizeof(s), "pw", 2, &old), 0);
	ck_assert_msg(strncmp(s, "$scrypt$ln=11,r=4,p=2$", 22) == 0, "%s", s);
	ck_assert_int_eq(ledger_hash_verify(s, "pw", 2), 1);
	ck_assert_int_eq(ledger_hash_needs_rehash(s, &t_auth_fast), 1);
}
END_TEST

#define T_S "AAAAAAAAAAAAAAAAAAAAAA"
#define T_H "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

START_TEST(test_ledger_hash_rejects_malformed_strings)
{
	static const char *const bad[] = {
		"",
		"$scrypt$",
		"$bcrypt$ln=10,r=8,p=1$" T_S "$" T_H,
		"$scrypt$ln=10,r=8,p=1$" T_S,
		"$scrypt$ln=10,r=8,p=1$" T_S "$",
		"$scrypt$ln=10,r=8,p=1$$" T_H,
		"$scrypt$ln=10,r=8,p=1$" T_S "$" T_H "$",
		"$scrypt$ln=10,r=8$" T_S "$" T_H,
		"$scrypt$r=8,ln=10,p=1$" T_S "$" T_H,
		"$scrypt$ln=010,r=8,p=1$" T_S "$" T_H,
		"$scrypt$ln=+10,r=8,p=1$" T_S "$" T_H,
		"$scrypt$ln=0,r=8,p=1$" T_S "$" T_H,
		"$scrypt$ln=31,r=8,p=1$" T_S "$" T_H,
		"$scrypt$ln=10,r=0,p=1$" T_S "$" T_H,
		"$scrypt$ln=10,r=8,p=0$" T_S "$" T_H,
		"$scrypt$ln=10,r=8,p=99999999999$" T_S "$" T_H,
		"$scrypt$ln=16,r=1,p=1$" T_S "$" T_H,	/* N >= 2^(16 r) */
		"$scrypt$ln=24,r=128,p=1$" T_S "$" T_H,	/* 2 GiB */
		"$scrypt$ln=10,r=8,p=1$" T_S "==$" T_H,	/* padding */
		"$scrypt$ln=10,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAB$" T_H, /* stray bits */
		"$scrypt$ln=10,r=8,p=1$AAAAAAAAAA$" T_H,	/* 7-byte salt */
		"$scrypt$ln=10,r=8,p=1$AAAAAAAAAAAAAAAAAAAAA$" T_H, /* len % 4 = 1 */
		"$scrypt$ln=10,r=8,p=1$" T_S "$" T_H T_H "AA", /* 66 bytes */
		"$scrypt$ln=10,r=8,p=1$AAAAAAAAAAAAAAAAAAAAA-$" T_H,
		"$scrypt$ln=10,r=8,p=1 $" T_S "$" T_H,
		"$SCRYPT$ln=10,r=8,p=1$" T_S "$" T_H,
	};
	struct ledger_hash h;
	size_t i;

	ck_assert_int_eq(ledger_hash_parse("$scrypt$ln=10,r=8,p=1$" T_S "$"
	    T_H, &h), 0);
	ck_assert_int_eq(ledger_hash_verify("$scrypt$ln=10,r=8,p=1$" T_S "$"
	    T_H, "x", 1), 0);
	/* 64 bytes is the longest output accepted. */
	ck_assert_int_eq(ledger_hash_parse("$scrypt$ln=10,r=8,p=1$" T_S "$"
	    T_H T_H, &h), 0);
	ck_assert_uint_eq(h.hashlen, 64);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(ledger_hash_parse(bad[i], &h) == -1,
		    "accepted %s", bad[i]);
		ck_assert_int_eq(ledger_hash_verify(bad[i], "x", 1), -1);
	}
}
END_TEST

START_TEST(test_ledger_base64_is_canonical)
{
	static const char *const plain[] = { "", "f", "fo", "foo", "foob",
	    "fooba", "foobar" };
	static const char *const coded[] = { "", "Zg", "Zm8", "Zm9v",
	    "Zm9vYg", "Zm9vYmE", "Zm9vYmFy" };
	static const char *const bad[] = { "Zh", "Zm9", "Zg==", "Z", "Zm9v!",
	    "Zm 9v", "Zm9=" };
	uint8_t out[16];
	char enc[16];
	size_t i;

	for (i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
		ck_assert_int_eq(ledger_b64_encode((const uint8_t *)plain[i],
		    strlen(plain[i]), enc, sizeof(enc)),
		    (int)strlen(coded[i]));
		ck_assert_str_eq(enc, coded[i]);
		ck_assert_int_eq(ledger_b64_decode(coded[i], strlen(coded[i]),
		    out, sizeof(out)), (int)strlen(plain[i]));
		ck_assert(memcmp(out, plain[i], strlen(plain[i])) == 0);
	}
	ck_assert_int_eq(ledger_b64_decode("Zm9v", 4, out, 3), 3);
	ck_assert_int_eq(ledger_b64_decode("Zm9v", 4, out, 2), -1);
	ck_assert_int_eq(ledger_b64_encode((const uint8_t *)"foo", 3, enc, 4),
	    -1);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(ledger_b64_decode(bad[i], strlen(bad[i]), out,
		    sizeof(out)) == -1, "accepted %s", bad[i]);
}
END_TEST

START_TEST(test_ledger_ct_equal)
{

	ck_assert_int_eq(ledger_ct_equal("abcd", "abcd", 4), 1);
	ck_assert_int_eq(ledger_ct_equal("abcd", "abce", 4), 0);
	ck_assert_int_eq(ledger_ct_equal("\x80", "\x00", 1), 0);
	ck_assert_int_eq(ledger_ct_equal("x", "y", 0), 1);
}
END_TEST

/* Amounts and names. */

START_TEST(test_ledger_amount_parse)
{
	static const struct { const char *s; int64_t v; } good[] = {
		{ "0", 0 }, { "100", 10000 }, { "100.5", 10050 },
		{ "100.00", 10000 }, { "0.01", 1 }, { "007", 700 },
		{ "90071992547409.91", LEDGER_AMOUNT_MAX },
	};
	static const char *const bad[] = { "", "1e3", "-1", "+1", "100.001",
	    "100.", ".5", " 1", "1 ", "1,00", "0x10", "90071992547409.92",
	    "90071992547410", "99999999999999999999999999", "1..0", "nan",
	    "1.0.0" };
	int64_t v;
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		v = -1;
		ck_assert_msg(ledger_amount_parse(good[i].s, &v) == 0,
		    "rejected %s", good[i].s);
		ck_assert_int_eq(v, good[i].v);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(ledger_amount_parse(bad[i], &v) == -1,
		    "accepted \"%s\"", bad[i]);
}
END_TEST

START_TEST(test_ledger_amount_format)
{
	char buf[LEDGER_AMOUNT_BUFSZ];

	ck_assert_int_eq(ledger_amount_format(10000, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "100.00");
	ck_assert_int_eq(ledger_amount_format(5, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "0.05");
	ck_assert_int_eq(ledger_amount_format(-150, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "-1.50");
	ck_assert_int_eq(ledger_amount_format(LEDGER_AMOUNT_MAX, buf,
	    sizeof(buf)), 0);
	ck_assert_str_eq(buf, "90071992547409.91");
	ck_assert_int_eq(ledger_amount_format(INT64_MIN, buf, sizeof(buf)),
	    0);
	ck_assert_str_eq(buf, "-92233720368547758.08");
	ck_assert_int_eq(ledger_amount_format(10000, buf, 6), -1);
}
END_TEST

START_TEST(test_ledger_names_and_currencies)
{
	char name[70];

	ck_assert(ledger_db_name_valid("AAA"));
	ck_assert(ledger_db_name_valid("a.b_c@d-e9"));
	ck_assert(!ledger_db_name_valid(""));
	ck_assert(!ledger_db_name_valid("a b"));
	ck_assert(!ledger_db_name_valid("a/b"));
	ck_assert(!ledger_db_name_valid("\xc3\xa9"));
	memset(name, 'a', 64);
	name[64] = '\0';
	ck_assert(ledger_db_name_valid(name));
	name[64] = 'a';
	name[65] = '\0';
	ck_assert(!ledger_db_name_valid(name));

	ck_assert(ledger_currency_valid("CNY"));
	ck_assert(!ledger_currency_valid("cny"));
	ck_assert(!ledger_currency_valid("CN"));
	ck_assert(!ledger_currency_valid("CNYY"));
	ck_assert(!ledger_currency_valid(""));
}
END_TEST

START_TEST(test_ledger_memo_and_key_rules)
{
	static const char *const good[] = { "", "lunch", "caf\xc3\xa9",
	    "\xe4\xb8\xad\xe6\x96\x87", "\xf0\x9f\x92\xb0", "tab-less" };
	static const char *const bad[] = { "a\tb", "a\nb", "\x7f",
	    "\xc2\x85", "\xc2\x9f", "\xc0\x80", "\xed\xa0\x80",
	    "\xf4\x90\x80\x80", "\xe4\xb8", "\x80", "\xff" };
	char memo[300];
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ck_assert_msg(ledger_db_text_valid(good[i], LEDGER_MEMO_MAX),
		    "refused good %zu", i);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(!ledger_db_text_valid(bad[i], LEDGER_MEMO_MAX),
		    "accepted bad %zu", i);
	/* 256 bytes, counted in bytes: a character may not straddle it. */
	memset(memo, 'x', 256);
	memo[256] = '\0';
	ck_assert(ledger_db_text_valid(memo, LEDGER_MEMO_MAX));
	memo[256] = 'x';
	memo[257] = '\0';
	ck_assert(!ledger_db_text_valid(memo, LEDGER_MEMO_MAX));
	memcpy(memo + 255, "\xc3\xa9", 3);
	ck_assert(!ledger_db_text_valid(memo, LEDGER_MEMO_MAX));
	memcpy(memo + 254, "\xc3\xa9", 3);
	ck_assert(ledger_db_text_valid(memo, LEDGER_MEMO_MAX));

	ck_assert(ledger_db_key_valid("c0ffee:1"));
	ck_assert(ledger_db_key_valid("A-z_0.9:"));
	ck_assert(!ledger_db_key_valid(""));
	ck_assert(!ledger_db_key_valid("a b"));
	ck_assert(!ledger_db_key_valid("a/b"));
	ck_assert(!ledger_db_key_valid("a@b"));
	memset(memo, 'k', 64);
	memo[64] = '\0';
	ck_assert(ledger_db_key_valid(memo));
	memo[64] = 'k';
	memo[65] = '\0';
	ck_assert(!ledger_db_key_valid(memo));
}
END_TEST

/* Administration. */

struct t_list {
	int	n;
	char	names[4][LEDGER_NAME_MAX + 1];
};

static int
t_list_cb(const struct ledger_account *acct, void *arg)
{
	struct t_list *l = arg;

	if (l->n < 4)
		snprintf(l->names[l->n], sizeof(l->names[0]), "%s",
		    acct->name);
	l->n++;
	return 0;
}

START_TEST(test_ledger_admin_add_show_list)
{
	struct ledger_account acct;
	struct ledger_admin *a;
	struct t_list list = { 0 };
	char err[256];

	ck_assert_ptr_nonnull(a = ledger_admin_open(t_db, LEDGER_DB_CREATE,
	    &t_auth_fast, err, sizeof(err)));
	ck_assert_int_eq(ledger_admin_add(a, "AAA", "123", 3, "CNY", 10000,
	    err, sizeof(err)), 0);
	ck_assert_int_eq(ledger_admin_add(a, "BBB", "456", 3, "USD", 0,
	    err, sizeof(err)), 0);

	ck_assert_int_eq(ledger_admin_add(a, "AAA", "123", 3, "CNY", 1,
	    err, sizeof(err)), -1);
	ck_assert_str_eq(err, "account AAA already exists");
	ck_assert_int_eq(ledger_admin_add(a, "C C", "1", 1, "CNY", 1,
	    err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "bad account name \"C C\""));
	ck_assert_int_eq(ledger_admin_add(a, "CCC", "1", 1, "cny", 1,
	    err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "bad currency \"cny\""));
	ck_assert_int_eq(ledger_admin_add(a, "CCC", "", 0, "CNY", 1,
	    err, sizeof(err)), -1);
	ck_assert_int_eq(ledger_admin_add(a, "CCC", "1", 1, "CNY",
	    LEDGER_AMOUNT_MAX + 1, err, sizeof(err)), -1);

	ck_assert_int_eq(ledger_admin_show(a, "AAA", &acct, err,
	    sizeof(err)), 0);
	ck_assert_str_eq(acct.name, "AAA");
	ck_assert_str_eq(acct.currency, "CNY");
	ck_assert_int_eq(acct.balance, 10000);
	ck_assert_int_eq(acct.journal_entries, 1);
	ck_assert_int_eq(acct.journal_sum, acct.balance);
	ck_assert_str_eq(acct.hash_params, "scrypt ln=10,r=8,p=1");
	ck_assert_int_eq(acct.needs_rehash, 0);
	ck_assert_int_gt(acct.created, INT64_C(1600000000000));

	ck_assert_int_eq(ledger_admin_show(a, "BBB", &acct, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(acct.journal_entries, 0);
	ck_assert_int_eq(acct.journal_sum, 0);

	ck_assert_int_eq(ledger_admin_show(a, "ZZZ", &acct, err,
	    sizeof(err)), -1);
	ck_assert_str_eq(err, "no such account ZZZ");

	ck_assert_int_eq(ledger_admin_list(a, t_list_cb, &list, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(list.n, 2);
	ck_assert_str_eq(list.names[0], "AAA");
	ck_assert_str_eq(list.names[1], "BBB");
	ledger_admin_free(a);

	/* The initial balance is a journal deposit with its reason. */
	ck_assert_int_eq(t_sql_int("SELECT count(*) FROM journal WHERE "
	    "account = 'AAA' AND kind = 'deposit' AND amount = 10000 AND "
	    "balance_after = 10000 AND reason = 'initial balance'"), 1);
}
END_TEST

START_TEST(test_ledger_admin_passwd_changes_login)
{
	struct ledger_admin *a;
	struct tcall old, new;
	char err[256];
	void *state;

	t_add("AAA", "123", "CNY", 10000);
	ck_assert_ptr_nonnull(a = ledger_admin_open(t_db, LEDGER_DB_CREATE,
	    &t_auth_fast, err, sizeof(err)));
	ck_assert_int_eq(ledger_admin_passwd(a, "BBB", "x", 1, err,
	    sizeof(err)), -1);
	ck_assert_str_eq(err, "no such account BBB");
	ck_assert_int_eq(ledger_admin_passwd(a, "AAA", "new pass", 8, err,
	    sizeof(err)), 0);
	ledger_admin_free(a);

	state = t_open("1", "4");
	t_login_init(&old, "AAA", "123");
	t_login_init(&new, "AAA", "new pass");
	t_run(state, &old);
	t_run(state, &new);
	ledger_handler.close(state);
	ck_assert_str_eq(old.code, "auth_failed");
	ck_assert_int_eq(new.kind, T_LOGIN);
}
END_TEST

START_TEST(test_ledger_schema_enforces_invariants)
{

	t_add("AAA", "123", "CNY", 10000);
	t_add("BBB", "123", "CNY", 0);
	/* Balances cannot go negative or leave 2^53. */
	ck_assert_int_eq(t_sql("UPDATE accounts SET balance = -1"), -1);
	ck_assert_int_eq(t_sql("UPDATE accounts SET balance = "
	    "9007199254740992"), -1);
	ck_assert_int_eq(t_sql("UPDATE accounts SET balance = 5.5"), -1);
	ck_assert_int_eq(t_sql("UPDATE accounts SET currency = 'yen'"), -1);
	ck_assert_int_eq(t_sql("INSERT INTO accounts (name, password_hash, "
	    "currency, balance, created) VALUES ('a b', '$x', 'CNY', 0, 0)"),
	    -1);
	/* The journal is append-only and typed. */
	ck_assert_int_eq(t_sql("UPDATE journal SET amount = 1"), -1);
	ck_assert_int_eq(t_sql("DELETE FROM journal"), -1);
	ck_assert_int_eq(t_sql("PRAGMA foreign_keys = ON; INSERT INTO "
	    "journal (time, account, kind, amount, balance_after) VALUES "
	    "(0, 'AAA', 'gift', 1, 1)"), -1);
	ck_assert_int_eq(t_sql("INSERT INTO journal (time, account, kind, "
	    "amount, balance_after) VALUES (0, 'AAA', 'deposit', -1, 1)"), -1);
	ck_assert_int_eq(t_sql("INSERT INTO journal (time, account, kind, "
	    "amount, balance_after) VALUES (0, 'AAA', 'transfer', -1, 1)"),
	    -1);
	ck_assert_int_eq(t_sql("PRAGMA foreign_keys = ON; INSERT INTO "
	    "journal (time, account, kind, amount, balance_after) VALUES "
	    "(0, 'nobody', 'deposit', 1, 1)"), -1);
	/* A transfer: never to self; its key is live once per payer. */
	ck_assert_int_eq(t_sql("INSERT INTO transfers (id, time, "
	    "from_account, to_account, amount, currency, idempotency_key) "
	    "VALUES (1, 0, 'AAA', 'BBB', 1, 'CNY', 'k1')"), 0);
	ck_assert_int_eq(t_sql("INSERT INTO transfers (time, from_account, "
	    "to_account, amount, currency, idempotency_key) VALUES "
	    "(0, 'AAA', 'AAA', 1, 'CNY', 'k2')"), -1);
	ck_assert_int_eq(t_sql("INSERT INTO idempotency (account, key, "
	    "transfer_id, created) VALUES ('AAA', 'k1', 1, 0)"), 0);
	ck_assert_int_eq(t_sql("INSERT INTO idempotency (account, key, "
	    "transfer_id, created) VALUES ('AAA', 'k1', 1, 5)"), -1);
	ck_assert_int_eq(t_sql("INSERT INTO idempotency (account, key, "
	    "transfer_id, created) VALUES ('BBB', 'k1', 1, 0)"), 0);
	/* Once a key has expired, another transfer may carry it. */
	ck_assert_int_eq(t_sql("INSERT INTO transfers (id, time, "
	    "from_account, to_account, amount, currency, idempotency_key) "
	    "VALUES (3, 0, 'AAA', 'BBB', 2, 'CNY', 'k1')"), 0);
	ck_assert_int_eq(t_sql("INSERT INTO journal (time, account, kind, "
	    "amount, balance_after, counterparty, transfer_id) VALUES "
	    "(0, 'AAA', 'transfer', -1, 9999, 'BBB', 1)"), 0);
	ck_assert_int_eq(t_sql("UPDATE transfers SET amount = 5"), -1);
	ck_assert_int_eq(t_sql("DELETE FROM transfers"), -1);
}
END_TEST

/* Transfers. */

/* Open with key, value pairs after the database. */
static void *
t_open_kv(const char *const *kv)
{
	const char *all[20];
	char err[256];
	void *state;
	size_t n = 0, i;

	all[n++] = "database";
	all[n++] = t_db;
	for (i = 0; kv != NULL && kv[i] != NULL && n < 18; i++)
		all[n++] = kv[i];
	all[n] = NULL;
	if (t_open_opts(&state, err, sizeof(err), all) != 0)
		ck_abort_msg("open: %s", err);
	return state;
}

/* Submit a transfer and wait for its answer. */
static void
t_xfer(void *state, struct tcall *t, const char *from, const char *to,
    int64_t amount, const char *key, const char *memo)
{

	t_transfer_init(t, from, to, amount, key, memo);
	ledger_handler.submit(state, &t->call);
	t_wait_call(t);
	ck_assert_int_eq(t->answers, 1);
}

static int64_t t_sql_intf(const char *, ...)
    __attribute__((format(printf, 1, 2)));

static int64_t
t_sql_intf(const char *fmt, ...)
{
	char sql[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	return t_sql_int(sql);
}

static int64_t
t_balance_of(const char *name)
{

	return t_sql_intf("SELECT balance FROM accounts WHERE name = '%s'",
	    name);
}

/* Report lines of the last t_check, one per line. */
static char t_check_lines[16384];

static void
t_check_line(void *arg, enum ledger_check_line kind, const char *line)
{
	size_t len = strlen(t_check_lines);

	(void)arg;
	snprintf(t_check_lines + len, sizeof(t_check_lines) - len, "%s %s\n",
	    kind == LEDGER_CHECK_OK ? "ok" : "FAIL", line);
}

/* Run ledger_check on the database at path; return its violations. */
static int64_t
t_check_path(const char *path, struct ledger_check_report *r)
{
	struct ledger_check_report mine;
	struct ledger_admin *a;
	char err[256];

	if (r == NULL)
		r = &mine;
	t_check_lines[0] = '\0';
	a = ledger_admin_open(path, 0, NULL, err, sizeof(err));
	if (a == NULL)
		ck_abort_msg("check: %s", err);
	if (ledger_check(ledger_admin_db(a), t_check_line, NULL, r, err,
	    sizeof(err)) != 0)
		ck_abort_msg("check: %s", err);
	ledger_admin_free(a);
	return r->violations;
}

static int64_t
t_check(struct ledger_check_report *r)
{

	return t_check_path(t_db, r);
}

START_TEST(test_ledger_transfer_moves_money_and_journals_both_sides)
{
	struct tcall t, bal;
	void *state;
	int64_t tid;

	t_add("AAA", "123", "CNY", 10000);
	t_add("BBB", "456", "CNY", 0);
	state = t_open("2", "16");
	t_xfer(state, &t, "AAA", "BBB", 1000, "c0ffee:1", "lunch");
	ck_assert_int_eq(t.kind, T_REPLY);
	ck_assert_uint_eq(t.nfields, 3);
	ck_assert_str_eq(t.keys[0], "transfer_id");
	ck_assert_str_eq(t.keys[1], "balance");
	ck_assert_str_eq(t.keys[2], "currency");
	ck_assert_int_eq(t.balance, 9000);
	ck_assert_str_eq(t.currency, "CNY");
	tid = t.transfer_id;
	ck_assert_int_ge(tid, 1);

	/* Acknowledged means readable: a read right after sees it. */
	t_balance_init(&bal, "AAA");
	t_run(state, &bal);
	ck_assert_int_eq(bal.balance, 9000);
	ledger_handler.close(state);

	ck_assert_int_eq(t_balance_of("AAA"), 9000);
	ck_assert_int_eq(t_balance_of("BBB"), 1000);
	/* The transfer's id is the payer's entry; the payee's is next. */
	ck_assert_int_eq(t_sql_intf("SELECT count(*) FROM journal WHERE "
	    "id = %" PRId64 " AND account = 'AAA' AND kind = 'transfer' AND "
	    "amount = -1000 AND balance_after = 9000 AND counterparty = "
	    "'BBB' AND memo = 'lunch' AND transfer_id = %" PRId64, tid, tid),
	    1);
	ck_assert_int_eq(t_sql_intf("SELECT count(*) FROM journal WHERE "
	    "id = %" PRId64 " AND account = 'BBB' AND kind = 'transfer' AND "
	    "amount = 1000 AND balance_after = 1000 AND counterparty = "
	    "'AAA' AND memo = 'lunch' AND transfer_id = %" PRId64, tid + 1,
	    tid), 1);
	ck_assert_int_eq(t_sql_intf("SELECT count(*) FROM transfers WHERE "
	    "id = %" PRId64 " AND from_account = 'AAA' AND to_account = 'BBB' "
	    "AND amount = 1000 AND currency = 'CNY' AND memo = 'lunch' AND "
	    "idempotency_key = 'c0ffee:1'", tid), 1);
	ck_assert_int_eq(t_sql_intf("SELECT transfer_id FROM idempotency "
	    "WHERE account = 'AAA' AND key = 'c0ffee:1'"), tid);
	ck_assert_int_eq(t_check(NULL), 0);
}
END_TEST

START_TEST(test_ledger_transfer_refusals_have_their_own_codes)
{
	static const struct {
		const char *to;
		int64_t amount;
		const char *memo;
		const char *code;
		const char *message;	/* NULL: not checked */
		int at_once;		/* answered on the submitting thread */
	} cases[] = {
		{ "BBB", 0, NULL, "invalid_amount",
		  "amount must be at least 1 minor unit", 1 },
		{ "BBB", -5, NULL, "invalid_amount",
		  "amount must be at least 1 minor unit", 1 },
		{ "BBB", LEDGER_AMOUNT_MAX + 1, NULL, "invalid_amount", NULL,
		  1 },
		{ "AAA", 100, NULL, "same_account",
		  "cannot transfer to the same account", 1 },
		{ "USD1", 100, NULL, "currency_mismatch",
		  "account USD1 holds USD, not CNY", 0 },
		{ "ZZZ", 100, NULL, "no_such_account", "no account ZZZ", 0 },
		{ "BBB", 1000000, NULL, "insufficient_funds",
		  "balance 10000 is less than 1000000", 0 },
		{ "B B", 100, NULL, "bad_request", NULL, 1 },
		{ "BBB", 100, "tab\there", "bad_request", NULL, 1 },
	};
	char key[32], longmemo[258];
	struct tcall t;
	void *state;
	size_t i;

	t_add("AAA", "123", "CNY", 10000);
	t_add("BBB", "456", "CNY", 0);
	t_add("USD1", "789", "USD", 500);
	state = t_open("1", "16");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(key, sizeof(key), "c0ffee:%zu", i);
		t_transfer_init(&t, "AAA", cases[i].to, cases[i].amount, key,
		    cases[i].memo);
		ledger_handler.submit(state, &t.call);
		if (cases[i].at_once)
			ck_assert_msg(t.answers == 1, "case %zu queued", i);
		t_wait_call(&t);
		ck_assert_int_eq(t.answers, 1);
		ck_assert_int_eq(t.kind, T_ERROR);
		ck_assert_msg(strcmp(t.code, cases[i].code) == 0,
		    "case %zu: %s: %s", i, t.code, t.message);
		if (cases[i].message != NULL)
			ck_assert_str_eq(t.message, cases[i].message);
		ck_assert_int_eq(t.retry_after, -1);
	}

	/* The memo's limit is the codec's, checked again here. */
	memset(longmemo, 'x', 257);
	longmemo[257] = '\0';
	t_transfer_init(&t, "AAA", "BBB", 100, "m1", NULL);
	t.args[3] = (struct secd_value)SECD_STR("memo", longmemo);
	t.call.nargs = 4;
	ledger_handler.submit(state, &t.call);
	ck_assert_int_eq(t.answers, 1);
	ck_assert_str_eq(t.code, "bad_request");
	/* A bad idempotency key, and no login. */
	t_transfer_init(&t, "AAA", "BBB", 100, "no spaces", NULL);
	ledger_handler.submit(state, &t.call);
	ck_assert_str_eq(t.code, "bad_request");
	t_transfer_init(&t, "AAA", "BBB", 100, "k", NULL);
	t.call.account = NULL;
	ledger_handler.submit(state, &t.call);
	ck_assert_str_eq(t.code, "auth_required");

	/* A refusal does not use up its key. */
	t_xfer(state, &t, "AAA", "BBB", 10000, "c0ffee:6", NULL);
	ck_assert_int_eq(t.kind, T_REPLY);
	ck_assert_int_eq(t.balance, 0);
	ledger_handler.close(state);

	ck_assert_int_eq(t_balance_of("AAA"), 0);
	ck_assert_int_eq(t_balance_of("BBB"), 10000);
	ck_assert_int_eq(t_balance_of("USD1"), 500);
	ck_assert_int_eq(t_sql_int("SELECT count(*) FROM transfers"), 1);
	ck_assert_int_eq(t_check(NULL), 0);
}
END_TEST

START_TEST(test_ledger_transfer_retry_returns_the_original_reply)
{
	struct tcall first, other, again, conflict;
	void *state;

	t_add("AAA", "123", "CNY", 10000);
	t_add("BBB", "456", "CNY", 0);
	state = t_open("1", "16");
	t_xfer(state, &first, "AAA", "BBB", 1000, "c0ffee:1", "lunch");
	ck_assert_int_eq(first.kind, T_REPLY);
	t_xfer(state, &other, "AAA", "BBB", 500, "c0ffee:2", NULL);
	ck_assert_int_eq(other.balance, 8500);

	/* The original reply: its id, and the balance right after it. */
	t_xfer(state, &again, "AAA", "BBB", 1000, "c0ffee:1", "lunch");
	ck_assert_int_eq(again.kind, T_REPLY);
	ck_assert_uint_eq(again.nfields, 3);
	ck_assert_int_eq(again.transfer_id, first.transfer_id);
	ck_assert_int_eq(again.balance, 9000);
	ck_assert_str_eq(again.currency, "CNY");

	/* The same key with other contents: conflict. */
	t_xfer(state, &conflict, "AAA", "BBB", 2500, "c0ffee:1", NULL);
	ck_assert_str_eq(conflict.code, "conflict");
	ck_assert_str_eq(conflict.message, "idempotency key c0ffee:1 was used "
	    "for a different transfer");
	t_xfer(state, &conflict, "AAA", "BBB", 1000, "c0ffee:1", NULL);
	ck_assert_str_eq(conflict.code, "conflict");
	t_xfer(state, &conflict, "AAA", "BBB", 1000, "c0ffee:1", "dinner");
	ck_assert_str_eq(conflict.code, "conflict");
	/* "" is the same as no memo. */
	t_xfer(state, &again, "AAA", "BBB", 500, "c0ffee:2", "");
	ck_assert_int_eq(again.transfer_id, other.transfer_id);

	/* Keys are per sending account. */
	t_xfer(state, &again, "BBB", "AAA", 1, "c0ffee:1", NULL);
	ck_assert_int_eq(again.kind, T_REPLY);
	ck_assert_int_ne(again.transfer_id, first.transfer_id);

	/* And a retry after a restart still finds the original. */
	ledger_handler.close(state);
	state = t_open("1", "16");
	t_xfer(state, &again, "AAA", "BBB", 1000, "c0ffee:1", "lunch");
	ck_assert_int_eq(again.transfer_id, first.transfer_id);
	ck_assert_int_eq(again.balance, 9000);
	t_xfer(state, &conflict, "AAA", "BBB", 999, "c0ffee:1", "lunch");
	ck_assert_str_eq(conflict.code, "conflict");
	ledger_handler.close(state);

	ck_assert_int_eq(t_sql_int("SELECT count(*) FROM transfers"), 3);
	ck_assert_int_eq(t_balance_of("AAA"), 8501);
	ck_assert_int_eq(t_check(NULL), 0);
}
END_TEST

START_TEST(test_ledger_open_checks_retention_and_batch)
{
	static const char *const bad_retention[] = { "30m", "59m", "0h", "7",
	    "7w", "abc", "", "h", "-1d", "3651d", "1.5h", "99999999999999999d" };
	const char *kv[] = { "database", t_db, "idempotency_retention", NULL,
	    NULL };
	char err[256];
	void *state;
	size_t i;

	for (i = 0; i < sizeof(bad_retention) / sizeof(bad_retention[0]);
	    i++) {
		kv[3] = bad_retention[i];
		ck_assert_int_eq(t_open_opts(&state, err, sizeof(err), kv),
		    -1);
		ck_assert_msg(strstr(err, "test.yaml:2:5: ledger option "
		    "idempotency_retention: expected a duration from 1h to "
		    "3650d") == err, "%s: %s", bad_retention[i], err);
	}
	kv[3] = "60m";
	ck_assert_int_eq(t_open_opts(&state, err, sizeof(err), kv), 0);
	ledger_handler.close(state);
	kv[3] = "3650d";
	ck_assert_int_eq(t_open_opts(&state, err, sizeof(err), kv), 0);
	ledger_handler.close(state);
	ck_assert_ptr_nonnull(strstr(t_logbuf, "idempotency keys kept "
	    "315360000s"));

	kv[2] = "batch";
	kv[3] = "4097";
	ck_assert_int_eq(t_open_opts(&state, err, sizeof(err), kv), -1);
	ck_assert_str_eq(err, "test.yaml:2:5: ledger option batch: expected "
	    "an integer from 1 to 4096, found \"4097\"");
	kv[2] = "test_max_page_count";
	kv[3] = "0";
	ck_assert_int_eq(t_open_opts(&state, err, sizeof(err), kv), -1);
}
END_TEST

START_TEST(test_ledger_idempotency_keys_expire_after_retention)
{
	const char *kv[] = { "threads", "1", "idempotency_retention", "1h",
	    NULL };
	struct ledger_stats st;
	struct tcall first, again;
	void *state;

	t_add("AAA", "123", "CNY", 10000);
	t_add("BBB", "456", "CNY", 0);
	state = t_open_kv(kv);
	t_xfer(state, &first, "AAA", "BBB", 1000, "k1", NULL);
	ck_assert_int_eq(first.kind, T_REPLY);
	t_xfer(state, &again, "AAA", "BBB", 1000, "k2", NULL);
	ck_assert_int_eq(again.kind, T_REPLY);

	/* 30 minutes old: still remembered. */
	ck_assert_int_eq(t_sql("UPDATE idempotency SET created = created - "
	    "1800000 WHERE key = 'k1'"), 0);
	t_xfer(state, &again, "AAA", "BBB", 5, "k1", NULL);
	ck_assert_str_eq(again.code, "conflict");

	/* Two hours old: expired, so the key is free for a new transfer,
	   even before the writer purges it. */
	ck_assert_int_eq(t_sql("UPDATE idempotency SET created = created - "
	    "7200000 WHERE key = 'k1'"), 0);
	t_xfer(state, &again, "AAA", "BBB", 1000, "k1", NULL);
	ck_assert_int_eq(again.kind, T_REPLY);
	ck_assert_int_ne(again.transfer_id, first.transfer_id);
	ck_assert_int_eq(again.balance, 7000);
	ledger_handler.close(state);
	ck_assert_int_eq(t_sql_intf("SELECT transfer_id FROM idempotency "
	    "WHERE account = 'AAA' AND key = 'k1'"), again.transfer_id);

	/* The writer deletes expired keys (at its first batch, then once a
	   minute); the transfers themselves stay. */
	ck_assert_int_eq(t_sql("UPDATE idempotency SET created = created - "
	    "7200000 WHERE key = 'k2'"), 0);
	state = t_open_kv(kv);
	t_xfer(state, &again, "AAA", "BBB", 1, "k3", NULL);
	ck_assert_int_eq(again.kind, T_REPLY);
	ledger_stats(state, &st);
	ck_assert_int_eq(st.purged, 1);
	ledger_handler.close(state);
	ck_assert_int_eq(t_sql_int("SELECT count(*) FROM idempotency WHERE "
	    "key = 'k2'"), 0);
	ck_assert_int_eq(t_sql_int("SELECT count(*) FROM idempotency"), 2);
	ck_assert_int_eq(t_sql_int("SELECT count(*) FROM transfers"), 4);
	ck_assert_int_eq(t_check(NULL), 0);
}
END_TEST

/* Concurrency. */

#define T_NACCT		16

struct t_worker {
	void		*state;
	int		 index;
	int		 n;		/* transfers to make */
	int		 nacct;
	int		 ok;
	int		 insufficient;
	int		 other;
	char		 other_code[32];
	int		 stale;		/* reads that missed an ack */
	int		 pair;		/* only A<index> -> B<index>, and read */
};

static void *
t_worker_main(void *arg)
{
	struct t_worker *w = arg;
	struct tcall t, bal;
	char from[16], to[16], key[48];
	unsigned int seed = (unsigned int)w->index * 7919u + 1;
	int i, j;

	for (i = 0; i < w->n; i++) {
		if (w->pair) {
			snprintf(from, sizeof(from), "A%d", w->index);
			snprintf(to, sizeof(to), "B%d", w->index);
		} else {
			j = rand_r(&seed) % w->nacct;
			snprintf(from, sizeof(from), "T%d", j);
			j = (j + 1 + rand_r(&seed) % (w->nacct - 1)) %
			    w->nacct;
			snprintf(to, sizeof(to), "T%d", j);
		}
		snprintf(key, sizeof(key), "w%d:%d", w->index, i);
		t_transfer_init_cv(&t, from, to, 1 + rand_r(&seed) % 3000, key,
		    i % 3 == 0 ? "memo" : NULL);
		ledger_handler.submit(w->state, &t.call);
		t_wait_call(&t);
		pthread_cond_destroy(&t.cv);
		if (t.answers != 1)
			w->other++;
		else if (t.kind == T_REPLY)
			w->ok++;
		else if (strcmp(t.code, "insufficient_funds") == 0)
			w->insufficient++;
		else {
			w->other++;
			snprintf(w->other_code, sizeof(w->other_code), "%s",
			    t.code);
		}
		if (w->pair && t.kind == T_REPLY) {
			/* Nobody else touches A<index>: a read after the
			   ack must show exactly the acked balance. */
			t_balance_init(&bal, from);
			ledger_handler.submit(w->state, &bal.call);
			t_wait_call(&bal);
			if (bal.kind != T_REPLY || bal.balance != t.balance)
				w->stale++;
		}
	}
	return NULL;
}

/* Run nthreads workers of n transfers each; fill w. */
static void
t_run_workers(void *state, struct t_worker *w, int nthreads, int n,
    int nacct, int pair)
{
	pthread_t th[64];
	int i;

	for (i = 0; i < nthreads; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].state = state;
		w[i].index = i;
		w[i].n = n;
		w[i].nacct = nacct;
		w[i].pair = pair;
		ck_assert_int_eq(pthread_create(&th[i], NULL, t_worker_main,
		    &w[i]), 0);
	}
	for (i = 0; i < nthreads; i++)
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
}

START_TEST(test_ledger_concurrent_transfers_conserve_money)
{
	const char *kv[] = { "threads", "2", NULL };
	struct ledger_check_report r;
	struct ledger_stats st;
	struct t_worker w[8];
	char name[16];
	void *state;
	int i, ok = 0;

	for (i = 0; i < T_NACCT; i++) {
		snprintf(name, sizeof(name), "T%d", i);
		t_add(name, "pw", "CNY", 100000);
	}
	state = t_open_kv(kv);
	t_run_workers(state, w, 8, 500, T_NACCT, 0);
	ledger_stats(state, &st);
	ledger_handler.close(state);
	for (i = 0; i < 8; i++) {
		ck_assert_msg(w[i].other == 0, "worker %d: %d answers of "
		    "another kind (%s)", i, w[i].other, w[i].other_code);
		ok += w[i].ok;
	}
	ck_assert_int_gt(ok, 1000);
	ck_assert_int_eq(st.applied, (uint64_t)ok);
	/* Group commit: fewer commits than transfers. */
	ck_assert_msg(st.commits < st.applied, "%" PRIu64 " commits for %"
	    PRIu64 " transfers", st.commits, st.applied);
	ck_assert_uint_gt(st.largest, 1);
	ck_assert_int_eq(t_sql_int("SELECT sum(balance) FROM accounts"),
	    T_NACCT * 100000);
	ck_assert_int_eq(t_sql_int("SELECT count(*) FROM accounts WHERE "
	    "balance < 0"), 0);
	ck_assert_int_eq(t_sql_int("SELECT count(*) FROM transfers"), ok);
	ck_assert_int_eq(t_check(&r), 0);
	ck_assert_int_eq(r.transfers, ok);
	ck_assert_int_eq(r.entries, 2 * ok + T_NACCT);
}
END_TEST

START_TEST(test_ledger_reads_see_every_acknowledged_transfer)
{
	const char *kv[] = { "threads", "3", NULL };
	struct t_worker w[6];
	char name[16];
	void *state;
	int i;

	for (i = 0; i < 6; i++) {
		snprintf(name, sizeof(name), "A%d", i);
		t_add(name, "pw", "CNY", 10000000);
		snprintf(name, sizeof(name), "B%d", i);
		t_add(name, "pw", "CNY", 0);
	}
	state = t_open_kv(kv);
	t_run_workers(state, w, 6, 150, 0, 1);
	ledger_handler.close(state);
	for (i = 0; i < 6; i++) {
		ck_assert_int_eq(w[i].other, 0);
		ck_assert_int_eq(w[i].ok, 150);
		ck_assert_int_eq(w[i].stale, 0);
	}
	ck_assert_int_eq(t_check(NULL), 0);
}
END_TEST

START_TEST(test_ledger_group_commit_batches_queued_transfers)
{
	const char *kv[] = { "threads", "1", "queue", "1000", NULL };
	const char *kv1[] = { "threads", "1", "queue", "1000", "batch", "1",
	    NULL };
	struct ledger_stats st;
	struct tcall *t;
	char key[16];
	void *state;
	int i, pass;

	t_add("AAA", "123", "CNY", 1000000);
	t_add("BBB", "456", "CNY", 0);
	ck_assert_ptr_nonnull(t = calloc(300, sizeof(*t)));
	for (pass = 0; pass < 2; pass++) {
		state = t_open_kv(pass == 0 ? kv : kv1);
		for (i = 0; i < 300; i++) {
			snprintf(key, sizeof(key), "g%d:%d", pass, i);
			t_transfer_init(&t[i], "AAA", "BBB", 1, key, NULL);
			ledger_handler.submit(state, &t[i].call);
		}
		for (i = 0; i < 300; i++) {
			t_wait_call(&t[i]);
			ck_assert_int_eq(t[i].kind, T_REPLY);
		}
		ledger_stats(state, &st);
		ledger_handler.close(state);
		ck_assert_int_eq(st.applied, 300);
		ck_assert_int_eq(st.failed, 0);
		if (pass == 0) {
			/* Queued while the first commit ran: a few big
			   batches, not 300 commits. */
			ck_assert_msg(st.commits <= 30, "%" PRIu64 " commits",
			    st.commits);
			ck_assert_uint_gt(st.largest, 10);
		} else {
			ck_assert_int_eq(st.commits, 300);
			ck_assert_int_eq(st.largest, 1);
		}
	}
	free(t);
	/* Each transfer's reply came in its own order: the balance after
	   the last is what remains. */
	ck_assert_int_eq(t_balance_of("AAA"), 1000000 - 600);
	ck_assert_int_eq(t_check(NULL), 0);
}
END_TEST

START_TEST(test_ledger_close_commits_what_is_queued)
{
	const char *kv[] = { "threads", "1", "queue", "500", NULL };
	struct tcall *t;
	char key[16];
	void *state;
	int i;

	t_add("AAA", "123", "CNY", 1000000);
	t_add("BBB", "456", "CNY", 0);
	ck_assert_ptr_nonnull(t = calloc(200, sizeof(*t)));
	state = t_open_kv(kv);
	for (i = 0; i < 200; i++) {
		snprintf(key, sizeof(key), "q%d", i);
		t_transfer_init(&t[i], "AAA", "BBB", 10, key, NULL);
		ledger_handler.submit(state, &t[i].call);
	}
	ledger_handler.close(state);
	/* Every call answered once, and committed. */
	for (i = 0; i < 200; i++) {
		ck_assert_int_eq(t[i].answers, 1);
		ck_assert_int_eq(t[i].kind, T_REPLY);
	}
	free(t);
	ck_assert_int_eq(t_sql_int("SELECT count(*) FROM transfers"), 200);
	ck_assert_ptr_nonnull(strstr(t_logbuf, "ledger: writer: stopped: "
	    "transfers applied 200, "));
}
END_TEST

/* History. */

/* Is s protocol.md's time, within a minute of now? */
static int
t_time_ok(const char *s)
{
	struct tm tm;
	char z = 0;
	time_t t;

	if (strlen(s) != 20)
		return 0;
	memset(&tm, 0, sizeof(tm));
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%c", &tm.tm_year, &tm.tm_mon,
	    &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &z) != 7 ||
	    z != 'Z')
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	t = timegm(&tm);
	return t > time(NULL) - 60 && t <= time(NULL) + 1;
}

static void
t_assert_entry(const struct tentry *e, int64_t id, const char *cp,
    int64_t amount, int64_t balance, const char *memo)
{
	static const char *const keys[] = { "transfer_id", "time",
	    "counterparty", "amount", "balance", "memo" };
	size_t i;

	ck_assert_uint_eq(e->nfields, memo != NULL ? 6 : 5);
	for (i = 0; i < e->nfields; i++)
		ck_assert_str_eq(e->keys[i], keys[i]);
	ck_assert_int_eq(e->transfer_id, id);
	ck_assert_msg(t_time_ok(e->time), "time %s", e->time);
	ck_assert_str_eq(e->counterparty, cp);
	ck_assert_int_eq(e->amount, amount);
	ck_assert_int_eq(e->balance, balance);
	ck_assert_int_eq(e->has_memo, memo != NULL);
	if (memo != NULL)
		ck_assert_str_eq(e->memo, memo);
}

START_TEST(test_ledger_history_pages_newest_first)
{
	struct tcall t1, t2, t3, h;
	void *state;
	int64_t dep;

	t_add("AAA", "123", "CNY", 10000);
	t_add("BBB", "456", "CNY", 0);
	t_add("CCC", "789", "CNY", 100000);
	dep = t_sql_int("SELECT id FROM journal WHERE account = 'AAA'");
	state = t_open("2", "16");
	t_xfer(state, &t1, "CCC", "AAA", 500, "h1", NULL);
	t_xfer(state, &t2, "CCC", "AAA", 9500, "h2", "salary");
	t_xfer(state, &t3, "AAA", "BBB", 1000, "h3", "lunch");
	ck_assert_int_eq(t3.balance, 19000);

	t_history_init(&h, "AAA", 2, 0);
	t_run(state, &h);
	ck_assert_int_eq(h.kind, T_REPLY);
	ck_assert_uint_eq(h.nfields, 3);
	ck_assert_str_eq(h.keys[0], "currency");
	ck_assert_str_eq(h.keys[1], "entries");
	ck_assert_str_eq(h.keys[2], "next_before");
	ck_assert_str_eq(h.currency, "CNY");
	ck_assert_uint_eq(h.h->n, 2);
	t_assert_entry(&h.h->e[0], t3.transfer_id, "BBB", -1000, 19000,
	    "lunch");
	t_assert_entry(&h.h->e[1], t2.transfer_id, "CCC", 9500, 20000,
	    "salary");
	ck_assert_int_eq(h.next_before, t2.transfer_id);
	free(h.h);

	/* The next page: strictly older, and the last, so no cursor. */
	t_history_init(&h, "AAA", 2, t2.transfer_id);
	t_run(state, &h);
	ck_assert_uint_eq(h.nfields, 2);
	ck_assert_int_eq(h.has_next, 0);
	ck_assert_uint_eq(h.h->n, 2);
	t_assert_entry(&h.h->e[0], t1.transfer_id, "CCC", 500, 10500, NULL);
	t_assert_entry(&h.h->e[1], dep, "@deposit", 10000, 10000, NULL);
	free(h.h);

	/* The payee sees the same transfer_id, positive. */
	t_history_init(&h, "BBB", 0, 0);
	t_run(state, &h);
	ck_assert_uint_eq(h.h->n, 1);
	ck_assert_int_eq(h.has_next, 0);
	t_assert_entry(&h.h->e[0], t3.transfer_id, "AAA", 1000, 1000,
	    "lunch");
	free(h.h);
	/* ... and so does the payer of t1 and t2, walking one by one. */
	t_history_init(&h, "CCC", 1, 0);
	t_run(state, &h);
	t_assert_entry(&h.h->e[0], t2.transfer_id, "AAA", -9500, 90000,
	    "salary");
	ck_assert_int_eq(h.next_before, t2.transfer_id);
	free(h.h);
	t_history_init(&h, "CCC", 1, t2.transfer_id);
	t_run(state, &h);
	t_assert_entry(&h.h->e[0], t1.transfer_id, "AAA", -500, 99500, NULL);
	ck_assert_int_eq(h.next_before, t1.transfer_id);
	free(h.h);
	t_history_init(&h, "CCC", 1, t1.transfer_id);
	t_run(state, &h);
	ck_assert_uint_eq(h.h->n, 1);
	ck_assert_str_eq(h.h->e[0].counterparty, "@deposit");
	ck_assert_int_eq(h.has_next, 0);
	free(h.h);

	/* Nothing older than the first entry. */
	t_history_init(&h, "AAA", 5, 1);
	t_run(state, &h);
	ck_assert_int_eq(h.kind, T_REPLY);
	ck_assert_int_eq(h.has_entries, 1);
	ck_assert_uint_eq(h.h->n, 0);
	ck_assert_int_eq(h.has_next, 0);
	free(h.h);
	ledger_handler.close(state);
}
END_TEST

START_TEST(test_ledger_history_limits)
{
	static const int64_t bad[][2] = { { -1, 0 }, { 101, 0 },
	    { 5, -1 }, { 5, -100 } };
	struct ledger_admin *a;
	struct ledger_adjustment adj;
	struct tcall h;
	char err[256];
	void *state;
	size_t i;

	t_add("DDD", "123", "CNY", 0);
	ck_assert_ptr_nonnull(a = ledger_admin_open(t_db, 0, NULL, err,
	    sizeof(err)));
	for (i = 0; i < 120; i++)
		ck_assert_int_eq(ledger_admin_deposit(a, "DDD", 1, "coin", &adj,
		    err, sizeof(err)), 0);
	ledger_admin_free(a);

	state = t_open("1", "16");
	/* Default 20. */
	t_history_init(&h, "DDD", 0, 0);
	t_run(state, &h);
	ck_assert_uint_eq(h.h->n, 20);
	ck_assert_int_eq(h.h->e[0].balance, 120);
	ck_assert_int_eq(h.next_before, h.h->e[19].transfer_id);
	free(h.h);
	/* At most 100. */
	t_history_init(&h, "DDD", 100, 0);
	t_run(state, &h);
	ck_assert_uint_eq(h.h->n, 100);
	ck_assert_int_eq(h.h->e[99].balance, 21);
	ck_assert_int_eq(h.has_next, 1);
	free(h.h);
	t_history_init(&h, "DDD", 100, h.next_before);
	t_run(state, &h);
	ck_assert_uint_eq(h.h->n, 20);
	ck_assert_int_eq(h.h->e[19].balance, 1);
	ck_assert_int_eq(h.has_next, 0);
	free(h.h);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		t_history_init(&h, "DDD", bad[i][0], bad[i][1]);
		ledger_handler.submit(state, &h.call);
		ck_assert_int_eq(h.answers, 1);
		ck_assert_str_eq(h.code, "bad_request");
		free(h.h);
	}
	t_history_init(&h, "DDD", 0, 0);
	h.call.account = NULL;
	ledger_handler.submit(state, &h.call);
	ck_assert_str_eq(h.code, "auth_required");
	free(h.h);
	t_history_init(&h, "ghost", 0, 0);
	t_run(state, &h);
	ck_assert_str_eq(h.code, "no_such_account");
	free(h.h);
	ledger_handler.close(state);
}
END_TEST

/* Deposits, withdrawals and the invariant check. */

/*
 * A balance read once is answered from memory, inside submit() itself;
 * a transfer leaves both accounts' new balances there before its answer.
 */
START_TEST(test_ledger_balance_cache_answers_at_once_and_follows_transfers)
{
	struct tcall b, x;
	void *state;

	t_add("AAA", "123", "CNY", 10000);
	t_add("BBB", "456", "CNY", 500);
	state = t_open("1", "4");
	t_balance_init(&b, "AAA");
	t_run(state, &b);			/* a miss: the reader fills */
	ck_assert_int_eq(b.balance, 10000);

	t_balance_init(&b, "AAA");
	ledger_handler.submit(state, &b.call);
	ck_assert_int_eq(b.answers, 1);		/* before submit returned */
	ck_assert_int_eq(b.kind, T_REPLY);
	ck_assert_uint_eq(b.nfields, 3);
	ck_assert_str_eq(b.racct, "AAA");
	ck_assert_int_eq(b.balance, 10000);
	ck_assert_str_eq(b.currency, "CNY");

	t_xfer(state, &x, "AAA", "BBB", 2500, "k1", NULL);
	ck_assert_int_eq(x.kind, T_REPLY);
	t_balance_init(&b, "AAA");
	ledger_handler.submit(state, &b.call);
	ck_assert_int_eq(b.answers, 1);
	ck_assert_int_eq(b.balance, 7500);
	/* The payee too, though it never asked before. */
	t_balance_init(&b, "BBB");
	ledger_handler.submit(state, &b.call);
	ck_assert_int_eq(b.answers, 1);
	ck_assert_int_eq(b.balance, 3000);
	/* A refused transfer changes nothing. */
	t_xfer(state, &x, "AAA", "BBB", 999999, "k2", NULL);
	ck_assert_str_eq(x.code, "insufficient_funds");
	t_balance_init(&b, "AAA");
	ledger_handler.submit(state, &b.call);
	ck_assert_int_eq(b.answers, 1);
	ck_assert_int_eq(b.balance, 7500);
	ledger_handler.close(state);
	ck_assert_int_eq(t_balance_of("AAA"), 7500);
}
END_TEST

/* Another process's deposit shows in balance soon, not never. */
START_TEST(test_ledger_balance_cache_sees_other_processes)
{
	struct ledger_adjustment adj;
	struct ledger_admin *a;
	struct tcall b;
	char err[256];
	void *state;
	int i;

	t_add("AAA", "123", "CNY", 10000);
	state = t_open("1", "4");
	t_balance_init(&b, "AAA");
	t_run(state, &b);
	t_balance_init(&b, "AAA");
	ledger_handler.submit(state, &b.call);
	ck_assert_int_eq(b.answers, 1);		/* cached */

	ck_assert_ptr_nonnull(a = ledger_admin_open(t_db, 0, NULL, err,
	    sizeof(err)));
	ck_assert_int_eq(ledger_admin_deposit(a, "AAA", 550, "desk", &adj,
	    err, sizeof(err)), 0);
	ledger_admin_free(a);
	/* The writer looks every LEDGER_CACHE_CHECK_MS: a few seconds is
	   ample on the busiest machine. */
	for (i = 0; i < 200; i++) {
		t_balance_init(&b, "AAA");
		t_run(state, &b);
		if (b.balance == 10550)
			break;
		usleep(20000);
	}
	ck_assert_int_eq(b.balance, 10550);
	/* And then it is cached again. */
	t_balance_init(&b, "AAA");
	t_run(state, &b);
	t_balance_init(&b, "AAA");
	ledger_handler.submit(state, &b.call);
	ck_assert_int_eq(b.answers, 1);
	ck_assert_int_eq(b.balance, 10550);
	ledger_handler.close(state);
}
END_TEST

/* balance_cache: 0 turns it off: every balance reads the database. */
START_TEST(test_ledger_balance_cache_can_be_turned_off)
{
	const char *kv[] = { "balance_cache", "0", "threads", "1", NULL };
	const char *bad[] = { "database", t_db, "balance_cache", "-1", NULL };
	struct tcall b;
	char err[256];
	void *state;

	ck_assert_int_eq(t_open_opts(&state, err, sizeof(err), bad), -1);
	ck_assert_str_eq(err, "test.yaml:2:5: ledger option balance_cache: "
	    "expected an integer from 0 to 16777216, found \"-1\"");

	t_add("AAA", "123", "CNY", 10000);
	state = t_open_kv(kv);
	t_balance_init(&b, "AAA");
	t_run(state, &b);
	ck_assert_int_eq(t_sql("UPDATE accounts SET balance = 123 WHERE "
	    "name = 'AAA'"), 0);
	/* Straight after the change: only a database read can know. */
	t_balance_init(&b, "AAA");
	t_run(state, &b);
	ck_assert_int_eq(b.balance, 123);
	ledger_handler.close(state);
}
END_TEST

/*
 * The cache itself: a reader's fill loses to any put or flush since it
 * took its epoch (so a slow read never brings back an old balance), and
 * the size is bounded, least recently used out first.
 */
START_TEST(test_ledger_cache_fill_never_overwrites_newer)
{
	struct ledger_cache *c;
	char cur[4];
	int64_t v;
	uint64_t e;

	ck_assert_ptr_nonnull(c = ledger_cache_new(2));
	ck_assert_int_eq(ledger_cache_get(c, "AAA", &v, cur), 0);

	e = ledger_cache_epoch(c);		/* a reader starts */
	ledger_cache_put(c, "AAA", 70, "CNY");	/* the writer commits */
	ledger_cache_fill(c, e, "AAA", 100, "CNY");	/* the reader's old read */
	ck_assert_int_eq(ledger_cache_get(c, "AAA", &v, cur), 1);
	ck_assert_int_eq(v, 70);
	ck_assert_str_eq(cur, "CNY");

	e = ledger_cache_epoch(c);
	ledger_cache_flush(c);
	ledger_cache_fill(c, e, "BBB", 5, "USD");
	ck_assert_int_eq(ledger_cache_get(c, "AAA", &v, cur), 0);
	ck_assert_int_eq(ledger_cache_get(c, "BBB", &v, cur), 0);

	e = ledger_cache_epoch(c);
	ledger_cache_fill(c, e, "BBB", 5, "USD");
	ck_assert_int_eq(ledger_cache_get(c, "BBB", &v, cur), 1);
	ck_assert_int_eq(v, 5);
	ck_assert_str_eq(cur, "USD");

	/* Bounded: a third account drops the least recently used. */
	ledger_cache_put(c, "CCC", 1, "CNY");
	ck_assert_int_eq(ledger_cache_get(c, "BBB", &v, cur), 1);
	ledger_cache_put(c, "DDD", 2, "CNY");
	ck_assert_uint_eq(ledger_cache_count(c), 2);
	ck_assert_int_eq(ledger_cache_get(c, "CCC", &v, cur), 0);
	ck_assert_int_eq(ledger_cache_get(c, "BBB", &v, cur), 1);
	ck_assert_int_eq(ledger_cache_get(c, "DDD", &v, cur), 1);
	ledger_cache_free(c);
}
END_TEST

START_TEST(test_ledger_deposit_and_withdraw)
{
	struct ledger_check_report r;
	struct ledger_adjustment adj;
	struct ledger_admin *a;
	struct tcall h;
	char err[256];
	void *state;

	t_add("AAA", "123", "CNY", 10000);
	ck_assert_ptr_nonnull(a = ledger_admin_open(t_db, 0, NULL, err,
	    sizeof(err)));
	ck_assert_int_eq(ledger_admin_deposit(a, "AAA", 550, "cash at desk 3",
	    &adj, err, sizeof(err)), 0);
	ck_assert_int_eq(adj.balance, 10550);
	ck_assert_str_eq(adj.currency, "CNY");
	ck_assert_int_eq(t_sql_intf("SELECT count(*) FROM journal WHERE id = "
	    "%" PRId64 " AND kind = 'deposit' AND amount = 550 AND "
	    "balance_after = 10550 AND reason = 'cash at desk 3'", adj.entry),
	    1);

	/* Never below zero. */
	ck_assert_int_eq(ledger_admin_withdraw(a, "AAA", 10551, "too much",
	    &adj, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "account AAA holds 105.50 CNY, less than "
	    "105.51; nothing withdrawn");
	ck_assert_int_eq(ledger_admin_withdraw(a, "AAA", 10000, "cash out",
	    &adj, err, sizeof(err)), 0);
	ck_assert_int_eq(adj.balance, 550);
	ck_assert_int_eq(t_sql_intf("SELECT amount FROM journal WHERE id = %"
	    PRId64 " AND kind = 'withdraw'", adj.entry), -10000);

	/* Refusals. */
	ck_assert_int_eq(ledger_admin_deposit(a, "ZZZ", 1, "x", &adj, err,
	    sizeof(err)), -1);
	ck_assert_str_eq(err, "no such account ZZZ");
	ck_assert_int_eq(ledger_admin_deposit(a, "AAA", 1, "", &adj, err,
	    sizeof(err)), -1);
	ck_assert_int_eq(ledger_admin_deposit(a, "AAA", 1, "line\nbreak", &adj,
	    err, sizeof(err)), -1);
	ck_assert_int_eq(ledger_admin_deposit(a, "AAA", 0, "zero", &adj, err,
	    sizeof(err)), -1);
	ck_assert_int_eq(ledger_admin_deposit(a, "AAA", LEDGER_AMOUNT_MAX,
	    "too much", &adj, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "nothing deposited"));
	ck_assert_int_eq(ledger_admin_add(a, "@deposit", "x", 1, "CNY", 0,
	    err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "names beginning with @ are "
	    "reserved"));
	ledger_admin_free(a);
	ck_assert_int_eq(t_balance_of("AAA"), 550);

	/* History shows them, as from @deposit and @withdraw. */
	state = t_open("1", "4");
	t_history_init(&h, "AAA", 0, 0);
	t_run(state, &h);
	ledger_handler.close(state);
	ck_assert_uint_eq(h.h->n, 3);
	ck_assert_str_eq(h.h->e[0].counterparty, "@withdraw");
	ck_assert_int_eq(h.h->e[0].amount, -10000);
	ck_assert_int_eq(h.h->e[0].has_memo, 0);
	ck_assert_str_eq(h.h->e[1].counterparty, "@deposit");
	ck_assert_int_eq(h.h->e[1].amount, 550);
	free(h.h);

	ck_assert_int_eq(t_check(&r), 0);
	ck_assert_ptr_nonnull(strstr(t_check_lines, "ok money: CNY 5.50 held "
	    "= 105.50 deposited - 100.00 withdrawn\n"));
}
END_TEST

START_TEST(test_ledger_check_reports_every_invariant)
{
	static const char *const names[] = { "integrity", "balances", "chain",
	    "transfers", "orphans", "money" };
	struct ledger_check_report r;
	struct tcall t;
	char want[32];
	void *state;
	size_t i;

	t_add("AAA", "123", "CNY", 10000);
	t_add("BBB", "456", "CNY", 0);
	t_add("USD1", "789", "USD", 700);
	state = t_open("1", "16");
	t_xfer(state, &t, "AAA", "BBB", 1000, "k1", NULL);
	t_xfer(state, &t, "BBB", "AAA", 10, "k2", "back");
	ledger_handler.close(state);
	ck_assert_int_eq(t_check(&r), 0);
	ck_assert_int_eq(r.accounts, 3);
	ck_assert_int_eq(r.entries, 2 + 4);
	ck_assert_int_eq(r.transfers, 2);
	ck_assert_int_eq(r.keys, 2);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(want, sizeof(want), "ok %s: ", names[i]);
		ck_assert_msg(strstr(t_check_lines, want) != NULL, "%s\n%s",
		    want, t_check_lines);
	}
	ck_assert_ptr_null(strstr(t_check_lines, "FAIL"));
	ck_assert_ptr_nonnull(strstr(t_check_lines, "CNY 100.00 held = 100.00 "
	    "deposited - 0.00 withdrawn; USD 7.00 held"));
}
END_TEST

START_TEST(test_ledger_check_detects_a_balance_changed_behind_its_back)
{
	struct ledger_check_report r;
	struct tcall t;
	void *state;

	t_add("AAA", "123", "CNY", 10000);
	t_add("BBB", "456", "CNY", 0);
	state = t_open("1", "16");
	t_xfer(state, &t, "AAA", "BBB", 1000, "k1", NULL);
	ledger_handler.close(state);
	ck_assert_int_eq(t_check(NULL), 0);

	/* No trigger guards accounts.balance. */
	ck_assert_int_eq(t_sql("UPDATE accounts SET balance = balance + 1 "
	    "WHERE name = 'BBB'"), 0);
	ck_assert_int_eq(t_check(&r), 2);
	ck_assert_msg(strstr(t_check_lines, "FAIL balances: account BBB: "
	    "balance 1001 but its journal sums to 1000\n") != NULL, "%s",
	    t_check_lines);
	ck_assert_ptr_nonnull(strstr(t_check_lines, "FAIL money: CNY: "
	    "accounts hold 100.01, but deposits 100.00 minus withdrawals 0.00 "
	    "make 100.00\n"));
	ck_assert_ptr_nonnull(strstr(t_check_lines, "ok chain: "));
}
END_TEST

START_TEST(test_ledger_check_detects_broken_transfers_and_chains)
{
	struct ledger_check_report r;
	struct tcall t1, t2, t3;
	char want[128];
	void *state;

	t_add("AAA", "123", "CNY", 10000);
	t_add("BBB", "456", "CNY", 0);
	state = t_open("1", "16");
	t_xfer(state, &t1, "AAA", "BBB", 1000, "k1", NULL);
	t_xfer(state, &t2, "AAA", "BBB", 2000, "k2", NULL);
	t_xfer(state, &t3, "AAA", "BBB", 3000, "k3", NULL);
	ledger_handler.close(state);

	/* The journal's triggers refuse edits; a raw connection drops them
	   first, as an attacker with the file could. */
	ck_assert_int_eq(t_sql("DROP TRIGGER journal_no_update; "
	    "DROP TRIGGER journal_no_delete"), 0);
	/* t1's payee entry gains 1: its two entries no longer cancel. */
	snprintf(want, sizeof(want), "UPDATE journal SET amount = 1001 "
	    "WHERE id = %" PRId64, t1.transfer_id + 1);
	ck_assert_int_eq(t_sql(want), 0);
	/* t2 loses its payer's entry. */
	snprintf(want, sizeof(want), "DELETE FROM journal WHERE id = %" PRId64,
	    t2.transfer_id);
	ck_assert_int_eq(t_sql(want), 0);
	ck_assert_int_ge(t_check(&r), 3);

	snprintf(want, sizeof(want), "FAIL transfers: transfer %" PRId64
	    " (AAA -> BBB): its entries", t1.transfer_id);
	ck_assert_msg(strstr(t_check_lines, want) != NULL, "%s", t_check_lines);
	snprintf(want, sizeof(want), "FAIL transfers: transfer %" PRId64
	    " (AAA -> BBB): 1 journal entries, expected 2", t2.transfer_id);
	ck_assert_msg(strstr(t_check_lines, want) != NULL, "%s", t_check_lines);
	/* BBB's chain breaks at t1's entry, AAA's balance disagrees. */
	snprintf(want, sizeof(want), "FAIL chain: account BBB: journal entry %"
	    PRId64 " (+1001)", t1.transfer_id + 1);
	ck_assert_msg(strstr(t_check_lines, want) != NULL, "%s", t_check_lines);
	ck_assert_ptr_nonnull(strstr(t_check_lines, "FAIL balances: account "
	    "AAA: balance 4000 but its journal sums to 6000"));
}
END_TEST

/* Backup. */

struct t_backup {
	char		 dest[192];
	int		 rc;
	int64_t		 pages;
	char		 err[256];
	void		*state;
};

START_TEST(test_ledger_backup_while_transfers_run)
{
	const char *kv[] = { "threads", "2", NULL };
	struct ledger_check_report r;
	struct ledger_stats st;
	struct t_worker w[4];
	struct ledger_admin *a;
	struct t_backup b;
	pthread_t th[4];
	struct stat sb;
	char name[16], err[256];
	void *state;
	int i, ok = 0;

	for (i = 0; i < T_NACCT; i++) {
		snprintf(name, sizeof(name), "T%d", i);
		t_add(name, "pw", "CNY", 100000);
	}
	snprintf(b.dest, sizeof(b.dest), "%s/copy.db", t_dir);
	state = t_open_kv(kv);
	for (i = 0; i < 4; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].state = state;
		w[i].index = i;
		w[i].n = 400;
		w[i].nacct = T_NACCT;
		ck_assert_int_eq(pthread_create(&th[i], NULL, t_worker_main,
		    &w[i]), 0);
	}
	/* Back up in the middle of it. */
	do {
		usleep(10000);
		ledger_stats(state, &st);
	} while (st.applied < 100);
	ck_assert_ptr_nonnull(a = ledger_admin_open(t_db, 0, NULL, err,
	    sizeof(err)));
	b.rc = ledger_admin_backup(a, b.dest, &b.pages, b.err,
	    sizeof(b.err));
	ck_assert_msg(b.rc == 0, "%s", b.err);
	ck_assert_int_gt(b.pages, 1);
	/* Never over an existing file. */
	ck_assert_int_eq(ledger_admin_backup(a, b.dest, &b.pages, err,
	    sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "copy.db exists; refusing to "
	    "overwrite it"));
	ledger_admin_free(a);
	for (i = 0; i < 4; i++) {
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
		ck_assert_int_eq(w[i].other, 0);
		ok += w[i].ok;
	}
	ledger_handler.close(state);

	ck_assert_int_eq(stat(b.dest, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0600);
	ck_assert_int_eq(t_check_path(b.dest, &r), 0);
	ck_assert_int_eq(r.accounts, T_NACCT);
	ck_assert_int_ge(r.transfers, 100);
	ck_assert_int_le(r.transfers, ok);
	ck_assert_int_eq(t_check(&r), 0);
	ck_assert_int_eq(r.transfers, ok);
}
END_TEST

/* Faults. */

/* How often s occurs in the log. */
static int
t_log_count(const char *s)
{
	const char *p = t_logbuf;
	int n = 0;

	pthread_mutex_lock(&t_mtx);
	while ((p = strstr(p, s)) != NULL) {
		n++;
		p += strlen(s);
	}
	pthread_mutex_unlock(&t_mtx);
	return n;
}

START_TEST(test_ledger_full_disk_is_unavailable_then_recovers)
{
	const char *kv[] = { "threads", "1", "test_max_page_count", NULL,
	    NULL };
	char pages[32], key[32];
	struct ledger_stats st;
	struct tcall t;
	void *state;
	int i, full = -1;

	t_add("AAA", "123", "CNY", 1000000);
	t_add("BBB", "456", "CNY", 0);
	/* Space that can be freed later, as an operator would. */
	ck_assert_int_eq(t_sql("CREATE TABLE filler (x BLOB); "
	    "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c "
	    "WHERE i < 64) INSERT INTO filler SELECT zeroblob(4000) FROM c"),
	    0);
	snprintf(pages, sizeof(pages), "%" PRId64,
	    t_sql_int("PRAGMA page_count"));
	kv[3] = pages;
	state = t_open_kv(kv);

	/* The file cannot grow: soon a transfer needs a page it cannot
	   have. */
	for (i = 0; i < 2000 && full < 0; i++) {
		snprintf(key, sizeof(key), "f%d", i);
		t_xfer(state, &t, "AAA", "BBB", 1, key, "fill");
		if (t.kind == T_ERROR)
			full = i;
	}
	ck_assert_int_ge(full, 0);
	ck_assert_str_eq(t.code, "unavailable");
	ck_assert_str_eq(t.message, "the ledger database is unavailable");
	ck_assert_int_eq(t.retry_after, 1);
	/* Nothing of it applied, nothing half-applied. */
	ck_assert_int_eq(t_sql_intf("SELECT count(*) FROM transfers WHERE "
	    "idempotency_key = 'f%d'", full), 0);
	ck_assert_int_eq(t_balance_of("AAA"), 1000000 - full);
	ck_assert_int_eq(t_check(NULL), 0);
	ck_assert_int_eq(t_log_count("database or disk is full"), 1);

	/* Still full: unavailable again, logged once per episode. */
	t_xfer(state, &t, "AAA", "BBB", 1, key, "fill");
	ck_assert_str_eq(t.code, "unavailable");
	ck_assert_int_eq(t_log_count("database or disk is full"), 1);

	/* Free space; the next batch simply works, the same key too. */
	ck_assert_int_eq(t_sql("DROP TABLE filler"), 0);
	t_xfer(state, &t, "AAA", "BBB", 1, key, "fill");
	ck_assert_int_eq(t.kind, T_REPLY);
	ck_assert_int_eq(t.balance, 1000000 - full - 1);
	ledger_stats(state, &st);
	ledger_handler.close(state);
	ck_assert_int_eq(st.failed, 2);
	ck_assert_int_eq(st.unavailable, 2);
	ck_assert_int_eq(st.applied, (uint64_t)full + 1);
	ck_assert_int_eq(t_log_count("works again, after 2 failed batches"),
	    1);
	ck_assert_int_eq(t_check(NULL), 0);
}
END_TEST

START_TEST(test_ledger_locked_database_is_unavailable_then_recovers)
{
	struct tcall t, bal;
	sqlite3 *db;
	void *state;
	double t0, dt;

	t_add("AAA", "123", "CNY", 10000);
	t_add("BBB", "456", "CNY", 0);
	state = t_open("1", "16");
	ck_assert_int_eq(sqlite3_open(t_db, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "BEGIN EXCLUSIVE; UPDATE accounts "
	    "SET locked_until = 0", NULL, NULL, NULL), SQLITE_OK);

	/* The writer waits its busy timeout (1 s), then gives up. */
	t0 = t_now();
	t_xfer(state, &t, "AAA", "BBB", 100, "l1", NULL);
	dt = t_now() - t0;
	ck_assert_str_eq(t.code, "unavailable");
	ck_assert_msg(dt > 0.8 && dt < 5, "answered after %.2fs", dt);
	t_xfer(state, &t, "AAA", "BBB", 100, "l1", NULL);
	ck_assert_str_eq(t.code, "unavailable");
	ck_assert_int_eq(t_log_count("database is locked"), 1);

	/* Reads do not wait for the lock (WAL). */
	t_balance_init(&bal, "AAA");
	t_run(state, &bal);
	ck_assert_int_eq(bal.balance, 10000);

	ck_assert_int_eq(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
	t_xfer(state, &t, "AAA", "BBB", 100, "l1", NULL);
	ck_assert_int_eq(t.kind, T_REPLY);
	ck_assert_int_eq(t.balance, 9900);
	ledger_handler.close(state);
	ck_assert_int_eq(t_log_count("ledger: writer: database "), 2);
	ck_assert_msg(t_log_count("works again, after") == 1, "%s", t_logbuf);
	ck_assert_int_eq(t_check(NULL), 0);
}
END_TEST

START_TEST(test_ledger_moved_database_is_unavailable_then_recovers)
{
	char moved[192];
	struct tcall t;
	void *state;

	t_add("AAA", "123", "CNY", 10000);
	t_add("BBB", "456", "CNY", 0);
	state = t_open("1", "16");
	t_xfer(state, &t, "AAA", "BBB", 100, "m1", NULL);
	ck_assert_int_eq(t.kind, T_REPLY);

	/* Moved away: writing to it would write to a file nobody finds. */
	snprintf(moved, sizeof(moved), "%s.away", t_db);
	ck_assert_int_eq(rename(t_db, moved), 0);
	t_xfer(state, &t, "AAA", "BBB", 100, "m2", NULL);
	ck_assert_str_eq(t.code, "unavailable");
	/* Gone: the writer cannot open it again, and does not create an
	   empty ledger in its place. */
	t_xfer(state, &t, "AAA", "BBB", 100, "m2", NULL);
	ck_assert_str_eq(t.code, "unavailable");
	ck_assert_int_eq(access(t_db, F_OK), -1);

	ck_assert_int_eq(rename(moved, t_db), 0);
	t_xfer(state, &t, "AAA", "BBB", 100, "m2", NULL);
	ck_assert_int_eq(t.kind, T_REPLY);
	ck_assert_int_eq(t.balance, 9800);
	ledger_handler.close(state);
	ck_assert_msg(t_log_count("works again, after") == 1, "%s", t_logbuf);
	ck_assert_int_eq(t_check(NULL), 0);
}
END_TEST

START_TEST(test_ledger_writer_queue_full_is_unavailable_at_once)
{
	const char *kv[] = { "threads", "1", "queue", "2", "batch", "1", NULL };
	struct tcall t[4];
	char key[8];
	sqlite3 *db;
	void *state;
	int i;

	t_add("AAA", "123", "CNY", 10000);
	t_add("BBB", "456", "CNY", 0);
	state = t_open_kv(kv);
	/* Hold the lock so that the writer sits on its first transfer. */
	ck_assert_int_eq(sqlite3_open(t_db, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL,
	    NULL), SQLITE_OK);
	for (i = 0; i < 4; i++) {
		snprintf(key, sizeof(key), "q%d", i);
		t_transfer_init(&t[i], "AAA", "BBB", 1, key, NULL);
		ledger_handler.submit(state, &t[i].call);
		if (i == 0)
			usleep(200000);
	}
	/* One taken, two queued, the fourth refused on the spot. */
	ck_assert_int_eq(t[3].answers, 1);
	ck_assert_str_eq(t[3].code, "unavailable");
	ck_assert_str_eq(t[3].message, "server busy");
	ck_assert_int_eq(t[3].retry_after, 1);
	ck_assert_int_eq(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
	for (i = 0; i < 3; i++)
		t_wait_call(&t[i]);
	ledger_handler.close(state);
	/* The lock went within the writer's busy timeout: a short lock
	   only delays. */
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(t[i].answers, 1);
		ck_assert_int_eq(t[i].kind, T_REPLY);
	}
	ck_assert_int_eq(t_balance_of("BBB"), 3);
}
END_TEST

START_TEST(test_ledger_login_rehash_goes_through_the_writer)
{
	static const struct secd_auth old = { 2048, 8, 2, SECD_AUTH_PASSWORD };
	struct ledger_stats st;
	struct tcall login;
	char hash[LEDGER_HASH_STRMAX];
	sqlite3 *db;
	sqlite3_stmt *s;
	void *state;
	int i;

	t_host.auth = &old;
	t_add("AAA", "123", "CNY", 10000);
	t_host.auth = &t_auth_fast;
	state = t_open("1", "4");
	t_login_init(&login, "AAA", "123");
	t_run(state, &login);
	ck_assert_int_eq(login.kind, T_LOGIN);
	for (i = 0; i < 500; i++) {
		ledger_stats(state, &st);
		if (st.rehashed == 1)
			break;
		usleep(10000);
	}
	ck_assert_int_eq(st.rehashed, 1);
	/* Up to date now: another login changes nothing. */
	t_login_init(&login, "AAA", "123");
	t_run(state, &login);
	ck_assert_int_eq(login.kind, T_LOGIN);
	ledger_handler.close(state);

	ck_assert_int_eq(sqlite3_open(t_db, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT password_hash FROM "
	    "accounts WHERE name = 'AAA'", -1, &s, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
	snprintf(hash, sizeof(hash), "%s", sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	sqlite3_close(db);
	ck_assert_msg(strncmp(hash, "$scrypt$ln=10,r=8,p=1$", 22) == 0, "%s",
	    hash);
	ck_assert_int_eq(ledger_hash_verify(hash, "123", 3), 1);
}
END_TEST

/* Schema migration. */

/* Version 1 exactly as released: a fixture, never to be edited. */
static const char t_schema_v1[] =
"CREATE TABLE accounts (\n"
"	name TEXT PRIMARY KEY NOT NULL CHECK (typeof(name) = 'text'\n"
"	    AND length(name) BETWEEN 1 AND 64\n"
"	    AND name NOT GLOB '*[^A-Za-z0-9._@-]*'),\n"
"	password_hash TEXT NOT NULL CHECK (password_hash GLOB '$*'),\n"
"	currency TEXT NOT NULL CHECK (typeof(currency) = 'text'\n"
"	    AND length(currency) = 3 AND currency NOT GLOB '*[^A-Z]*'),\n"
"	balance INTEGER NOT NULL CHECK (typeof(balance) = 'integer'\n"
"	    AND balance BETWEEN 0 AND 9007199254740991),\n"
"	created INTEGER NOT NULL,\n"
"	locked_until INTEGER NOT NULL DEFAULT 0\n"
") WITHOUT ROWID;\n"
"CREATE TABLE transfers (\n"
"	id INTEGER PRIMARY KEY,\n"
"	time INTEGER NOT NULL,\n"
"	from_account TEXT NOT NULL REFERENCES accounts (name),\n"
"	to_account TEXT NOT NULL REFERENCES accounts (name),\n"
"	amount INTEGER NOT NULL CHECK (typeof(amount) = 'integer'\n"
"	    AND amount BETWEEN 1 AND 9007199254740991),\n"
"	currency TEXT NOT NULL,\n"
"	memo TEXT,\n"
"	idempotency_key TEXT NOT NULL\n"
"	    CHECK (length(idempotency_key) BETWEEN 1 AND 128),\n"
"	CHECK (from_account <> to_account),\n"
"	UNIQUE (from_account, idempotency_key)\n"
");\n"
"CREATE TABLE journal (\n"
"	id INTEGER PRIMARY KEY,\n"
"	time INTEGER NOT NULL,\n"
"	account TEXT NOT NULL REFERENCES accounts (name),\n"
"	kind TEXT NOT NULL\n"
"	    CHECK (kind IN ('transfer', 'deposit', 'withdraw')),\n"
"	amount INTEGER NOT NULL CHECK (typeof(amount) = 'integer'\n"
"	    AND amount <> 0\n"
"	    AND amount BETWEEN -9007199254740991 AND 9007199254740991),\n"
"	balance_after INTEGER NOT NULL CHECK (typeof(balance_after) = 'integer'\n"
"	    AND balance_after BETWEEN 0 AND 9007199254740991),\n"
"	counterparty TEXT REFERENCES accounts (name),\n"
"	memo TEXT,\n"
"	reason TEXT,\n"
"	transfer_id INTEGER REFERENCES transfers (id),\n"
"	CHECK ((kind = 'transfer') =\n"
"	    (transfer_id IS NOT NULL AND counterparty IS NOT NULL)),\n"
"	CHECK (kind <> 'deposit' OR amount > 0),\n"
"	CHECK (kind <> 'withdraw' OR amount < 0)\n"
");\n"
"CREATE INDEX journal_by_account ON journal (account, id);\n"
"CREATE INDEX journal_by_transfer ON journal (transfer_id)\n"
"    WHERE transfer_id IS NOT NULL;\n"
"CREATE TRIGGER journal_no_update BEFORE UPDATE ON journal\n"
"    BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END;\n"
"CREATE TRIGGER journal_no_delete BEFORE DELETE ON journal\n"
"    BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END;\n"
"CREATE TRIGGER transfers_no_update BEFORE UPDATE ON transfers\n"
"    BEGIN SELECT RAISE(ABORT, 'transfers are append-only'); END;\n"
"CREATE TRIGGER transfers_no_delete BEFORE DELETE ON transfers\n"
"    BEGIN SELECT RAISE(ABORT, 'transfers are append-only'); END;\n"
"PRAGMA application_id = 1936024420;\n"
"PRAGMA user_version = 1;\n"
"INSERT INTO accounts VALUES ('AAA', '$x', 'CNY', 9000, 0, 0);\n"
"INSERT INTO accounts VALUES ('BBB', '$x', 'CNY', 1000, 0, 0);\n"
"INSERT INTO journal (id, time, account, kind, amount, balance_after, "
"    reason) VALUES (1, 0, 'AAA', 'deposit', 10000, 10000, 'initial');\n"
"INSERT INTO transfers VALUES (2, strftime('%s', 'now') * 1000, 'AAA', "
"    'BBB', 1000, 'CNY', 'lunch', 'c0ffee:1');\n"
"INSERT INTO journal VALUES (2, 1000, 'AAA', 'transfer', -1000, 9000, "
"    'BBB', 'lunch', NULL, 2);\n"
"INSERT INTO journal VALUES (3, 1000, 'BBB', 'transfer', 1000, 1000, "
"    'AAA', 'lunch', NULL, 2);\n";

START_TEST(test_ledger_migrates_version_1)
{
	const char *kv[] = { "threads", "1", "idempotency_retention", "3650d",
	    NULL };
	struct tcall t;
	void *state;

	ck_assert_int_eq(t_sql(t_schema_v1), 0);
	ck_assert_int_eq(t_check_lines[0] = '\0', 0);
	state = t_open_kv(kv);
	/* The v1 transfer's key became a live key. */
	t_xfer(state, &t, "AAA", "BBB", 1000, "c0ffee:1", "lunch");
	ck_assert_int_eq(t.kind, T_REPLY);
	ck_assert_int_eq(t.transfer_id, 2);
	ck_assert_int_eq(t.balance, 9000);
	t_xfer(state, &t, "AAA", "BBB", 1, "c0ffee:1", NULL);
	ck_assert_str_eq(t.code, "conflict");
	t_xfer(state, &t, "AAA", "BBB", 500, "c0ffee:2", NULL);
	ck_assert_int_eq(t.transfer_id, 4);
	ck_assert_int_eq(t.balance, 8500);
	ledger_handler.close(state);

	ck_assert_int_eq(t_sql_int("PRAGMA user_version"), 3);
	ck_assert_int_eq(t_sql_int("SELECT count(*) FROM sqlite_schema WHERE "
	    "name IN ('transfers_no_update', 'transfers_no_delete', "
	    "'journal_no_update', 'idempotency', 'idempotency_by_created')"),
	    5);
	/* Version 3: certificate bindings, none yet. */
	ck_assert_int_eq(t_sql_int("SELECT count(*) FROM sqlite_schema WHERE "
	    "name IN ('cert_bindings', 'cert_bindings_active', "
	    "'cert_bindings_by_account', 'cert_bindings_no_delete', "
	    "'cert_bindings_only_revoke')"), 5);
	ck_assert_int_eq(t_sql_int("SELECT count(*) FROM cert_bindings"), 0);
	ck_assert_int_eq(t_sql_int("SELECT count(*) FROM sqlite_schema WHERE "
	    "name = 'transfers_v2'"), 0);
	ck_assert_int_eq(t_sql_int("SELECT count(*) FROM "
	    "pragma_foreign_key_check"), 0);
	ck_assert_int_eq(t_check(NULL), 0);
}
END_TEST

/* Client certificates as identity (auth.methods, schema version 3). */

#define T_CERT_A "a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0"
#define T_CERT_B "0000000000000000000000000000000000000000000000000000000000000001"
#define T_CERT_C "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"

static const struct secd_auth t_auth_cert = { 1024, 8, 1,
    SECD_AUTH_CERTIFICATE };
static const struct secd_auth t_auth_both = { 1024, 8, 1, SECD_AUTH_BOTH };

/*
 * A login as account presenting the certificate cert (NULL: none) and
 * the password password (NULL: no password argument at all).
 */
static void
t_login_cert_init(struct tcall *t, struct secd_peer *peer,
    const char *account, const char *password, const char *cert)
{

	t_login_init(t, account, password != NULL ? password : "");
	if (password == NULL)
		t->call.nargs = 1;
	peer->address = "192.0.2.1:50000";
	peer->cert_sha256 = cert;
	peer->cert_subject = cert != NULL ? "O=test, CN=client" : NULL;
	t->call.peer = peer;
}

/* Run a login like t_login_cert_init's; leave the answer in t. */
static void
t_login_cert(void *state, struct tcall *t, const char *account,
    const char *password, const char *cert)
{
	static struct secd_peer peer;

	t_login_cert_init(t, &peer, account, password, cert);
	t_run(state, t);
}

/* Bind or unbind cert to/from name with the admin API; 0 or -1. */
static int
t_bind(const char *name, const char *cert, int bind, char *err,
    size_t errlen)
{
	struct ledger_cert_binding b;
	struct ledger_admin *a;
	int rc;

	a = ledger_admin_open(t_db, LEDGER_DB_CREATE, NULL, err, errlen);
	if (a == NULL)
		ck_abort_msg("admin open: %s", err);
	rc = bind ? ledger_admin_bind_cert(a, name, cert, &b, err, errlen) :
	    ledger_admin_unbind_cert(a, name, cert, &b, err, errlen);
	if (rc == 0) {
		ck_assert_str_eq(b.sha256, cert);
		ck_assert_str_eq(b.account, name);
		ck_assert_int_gt(b.bound, 0);
		ck_assert(bind ? b.revoked == 0 : b.revoked >= b.bound);
	}
	ledger_admin_free(a);
	return rc;
}

static void
t_bind_ok(const char *name, const char *cert, int bind)
{
	char err[512];

	if (t_bind(name, cert, bind, err, sizeof(err)) != 0)
		ck_abort_msg("%s %s: %s", bind ? "bind" : "unbind", name, err);
}

START_TEST(test_ledger_password_mode_ignores_certificates)
{
	struct tcall t;
	void *state;

	t_add("AAA", "123", "CNY", 10000);
	t_bind_ok("AAA", T_CERT_A, 1);
	state = t_open("1", "4");
	t_login_cert(state, &t, "AAA", "123", T_CERT_A);
	ck_assert_int_eq(t.kind, T_LOGIN);
	t_login_cert(state, &t, "AAA", "123", T_CERT_C);
	ck_assert_int_eq(t.kind, T_LOGIN);
	/* A bound certificate does not stand in for the password. */
	t_login_cert(state, &t, "AAA", "124", T_CERT_A);
	ck_assert_str_eq(t.code, "auth_failed");
	ck_assert_str_eq(t.message, "wrong account or password");
	t_login_cert(state, &t, "AAA", NULL, T_CERT_A);
	ck_assert_str_eq(t.code, "bad_request");
	ck_assert_str_eq(t.message, "password: required by this server");
	ledger_handler.close(state);
}
END_TEST

START_TEST(test_ledger_certificate_mode_needs_a_live_binding)
{
	struct tcall t;
	void *state;

	t_host.auth = &t_auth_cert;
	t_add("AAA", "123", "CNY", 10000);
	t_add("BBB", "456", "CNY", 0);
	t_bind_ok("AAA", T_CERT_A, 1);
	t_bind_ok("BBB", T_CERT_B, 1);
	state = t_open("2", "8");

	t_login_cert(state, &t, "AAA", NULL, T_CERT_A);
	ck_assert_int_eq(t.kind, T_LOGIN);
	ck_assert_str_eq(t.login, "AAA");
	t_login_cert(state, &t, "BBB", NULL, T_CERT_B);
	ck_assert_str_eq(t.login, "BBB");

	/* Every failure reads the same. */
	t_login_cert(state, &t, "AAA", NULL, T_CERT_B);	/* BBB's */
	ck_assert_str_eq(t.code, "auth_failed");
	ck_assert_str_eq(t.message, "wrong account or certificate");
	t_login_cert(state, &t, "AAA", NULL, T_CERT_C);	/* nobody's */
	ck_assert_str_eq(t.code, "auth_failed");
	ck_assert_str_eq(t.message, "wrong account or certificate");
	t_login_cert(state, &t, "ZZZ", NULL, T_CERT_A);	/* no account */
	ck_assert_str_eq(t.code, "auth_failed");
	ck_assert_str_eq(t.message, "wrong account or certificate");
	t_login_cert(state, &t, "AAA", NULL, NULL);	/* no certificate */
	ck_assert_str_eq(t.code, "auth_failed");
	ck_assert_str_eq(t.message, "wrong account or certificate");
	/* Fingerprints are compared exactly as secd hands them over:
	   lowercase; another form binds nothing. */
	t_login_cert(state, &t, "BBB", NULL,
	    "0000000000000000000000000000000000000000000000000000000000000001 ");
	ck_assert_str_eq(t.code, "auth_failed");
	t_login_cert(state, &t, "AAA", NULL,
	    "A1A2A3A4A5A6A7A8A9AAABACADAEAFB0B1B2B3B4B5B6B7B8B9BABBBCBDBEBFC0");
	ck_assert_str_eq(t.code, "auth_failed");
	/* A password is not accepted here, right or wrong. */
	t_login_cert(state, &t, "AAA", "123", T_CERT_A);
	ck_assert_str_eq(t.code, "bad_request");
	ck_assert_str_eq(t.message, "password: not accepted: this server "
	    "logs in by client certificate");

	/* Revoked while the ledger serves: the next login fails, and the
	   binding is still there, revoked. */
	t_bind_ok("AAA", T_CERT_A, 0);
	t_login_cert(state, &t, "AAA", NULL, T_CERT_A);
	ck_assert_str_eq(t.code, "auth_failed");
	ck_assert_str_eq(t.message, "wrong account or certificate");
	ck_assert_int_eq(t_sql_int("SELECT count(*) FROM cert_bindings WHERE "
	    "account = 'AAA' AND revoked IS NOT NULL"), 1);
	/* Bound again: a new row, and it works again. */
	t_bind_ok("AAA", T_CERT_A, 1);
	t_login_cert(state, &t, "AAA", NULL, T_CERT_A);
	ck_assert_int_eq(t.kind, T_LOGIN);
	ledger_handler.close(state);
	ck_assert_int_eq(t_sql_int("SELECT count(*) FROM cert_bindings WHERE "
	    "account = 'AAA'"), 2);
	ck_assert_int_eq(t_check(NULL), 0);
}
END_TEST

START_TEST(test_ledger_certificate_mode_tells_the_lock_only_to_the_holder)
{
	struct tcall t;
	void *state;

	t_host.auth = &t_auth_cert;
	t_add("AAA", "123", "CNY", 10000);
	t_bind_ok("AAA", T_CERT_A, 1);
	ck_assert_int_eq(t_sql("UPDATE accounts SET locked_until = "
	    "(CAST(strftime('%s', 'now') AS INTEGER) + 60) * 1000 WHERE "
	    "name = 'AAA'"), 0);
	state = t_open("1", "4");
	t_login_cert(state, &t, "AAA", NULL, T_CERT_A);
	ck_assert_str_eq(t.code, "locked");
	ck_assert_int_ge(t.retry_after, 59);
	ck_assert_int_le(t.retry_after, 61);
	t_login_cert(state, &t, "AAA", NULL, T_CERT_C);
	ck_assert_str_eq(t.code, "auth_failed");
	ledger_handler.close(state);
}
END_TEST

START_TEST(test_ledger_both_mode_needs_certificate_and_password)
{
	struct tcall t;
	void *state;

	t_host.auth = &t_auth_both;
	t_add("AAA", "123", "CNY", 10000);
	t_add("BBB", "456", "CNY", 0);
	t_bind_ok("AAA", T_CERT_A, 1);
	t_bind_ok("BBB", T_CERT_B, 1);
	t_bind_ok("AAA", T_CERT_C, 1);
	t_bind_ok("AAA", T_CERT_C, 0);
	state = t_open("2", "8");

	t_login_cert(state, &t, "AAA", "123", T_CERT_A);
	ck_assert_int_eq(t.kind, T_LOGIN);
	ck_assert_str_eq(t.login, "AAA");

	/* Either failing reads as a wrong password. */
	t_login_cert(state, &t, "AAA", "124", T_CERT_A);	/* password */
	ck_assert_str_eq(t.code, "auth_failed");
	ck_assert_str_eq(t.message, "wrong account or password");
	t_login_cert(state, &t, "AAA", "123", T_CERT_B);	/* BBB's cert */
	ck_assert_str_eq(t.code, "auth_failed");
	ck_assert_str_eq(t.message, "wrong account or password");
	t_login_cert(state, &t, "AAA", "123", T_CERT_C);	/* revoked */
	ck_assert_str_eq(t.code, "auth_failed");
	ck_assert_str_eq(t.message, "wrong account or password");
	t_login_cert(state, &t, "AAA", "123", NULL);		/* no cert */
	ck_assert_str_eq(t.code, "auth_failed");
	ck_assert_str_eq(t.message, "wrong account or password");
	t_login_cert(state, &t, "ZZZ", "123", T_CERT_A);	/* account */
	ck_assert_str_eq(t.code, "auth_failed");
	ck_assert_str_eq(t.message, "wrong account or password");
	t_login_cert(state, &t, "AAA", NULL, T_CERT_A);		/* no pw */
	ck_assert_str_eq(t.code, "bad_request");
	ck_assert_str_eq(t.message, "password: required by this server");
	ledger_handler.close(state);
}
END_TEST

/* Median time of three logins that must fail, in seconds. */
static double
t_login_cert_time(void *state, const char *account, const char *password,
    const char *cert)
{
	double d[3], x;
	struct tcall t;
	int i, j;

	for (i = 0; i < 3; i++) {
		d[i] = t_now();
		t_login_cert(state, &t, account, password, cert);
		d[i] = t_now() - d[i];
		ck_assert_str_eq(t.code, "auth_failed");
	}
	for (i = 0; i < 3; i++)
		for (j = i + 1; j < 3; j++)
			if (d[j] < d[i]) {
				x = d[i];
				d[i] = d[j];
				d[j] = x;
			}
	return d[1];
}

START_TEST(test_ledger_both_mode_costs_a_scrypt_even_without_the_binding)
{
	static const struct secd_auth mid = { 16384, 8, 1, SECD_AUTH_BOTH };
	double wrongpw, unbound;
	void *state;

	t_host.auth = &mid;
	t_add("AAA", "123", "CNY", 10000);
	t_bind_ok("AAA", T_CERT_A, 1);
	state = t_open("1", "16");
	wrongpw = t_login_cert_time(state, "AAA", "124", T_CERT_A);
	unbound = t_login_cert_time(state, "AAA", "123", T_CERT_C);
	ledger_handler.close(state);
	/* A skipped hash would make "unbound" 100 times faster. */
	ck_assert_msg(unbound > wrongpw / 3 && unbound < wrongpw * 3,
	    "wrong password %.4fs, unbound certificate %.4fs", wrongpw,
	    unbound);
}
END_TEST

START_TEST(test_ledger_certificate_mode_runs_no_scrypt)
{
	static const struct secd_auth mid = { 16384, 8, 1,
	    SECD_AUTH_CERTIFICATE };
	static const struct secd_auth midpw = { 16384, 8, 1,
	    SECD_AUTH_PASSWORD };
	double cert, pw;
	void *state;

	t_add("AAA", "123", "CNY", 10000);
	t_bind_ok("AAA", T_CERT_A, 1);
	t_host.auth = &midpw;
	state = t_open("1", "16");
	pw = t_login_cert_time(state, "AAA", "124", NULL);
	ledger_handler.close(state);
	t_host.auth = &mid;
	state = t_open("1", "16");
	cert = t_login_cert_time(state, "AAA", NULL, T_CERT_C);
	/* Unknown account and unbound certificate: the same work. */
	(void)t_login_cert_time(state, "ZZZ", NULL, T_CERT_A);
	ledger_handler.close(state);
	/* One scrypt at N=16384 is milliseconds; a read is microseconds. */
	ck_assert_msg(cert < pw / 5, "password login %.4fs, certificate "
	    "login %.4fs", pw, cert);
}
END_TEST

START_TEST(test_ledger_open_rejects_unknown_auth_methods)
{
	static const struct secd_auth bad = { 1024, 8, 1, 7 };
	const char *kv[] = { "database", t_db, NULL };
	char err[256];
	void *state;

	t_host.auth = &bad;
	ck_assert_int_eq(t_open_opts(&state, err, sizeof(err), kv), -1);
	ck_assert_ptr_nonnull(strstr(err, "unknown auth.methods 7"));
}
END_TEST

START_TEST(test_ledger_admin_binds_and_revokes_certificates)
{
	struct ledger_admin *a;
	char err[512];

	t_add("AAA", "123", "CNY", 0);
	t_add("BBB", "456", "CNY", 0);
	t_bind_ok("AAA", T_CERT_A, 1);

	/* At most one account per certificate at a time. */
	ck_assert_int_eq(t_bind("AAA", T_CERT_A, 1, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "certificate sha256:" T_CERT_A " is already "
	    "bound to AAA");
	ck_assert_int_eq(t_bind("BBB", T_CERT_A, 1, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "already bound to account AAA; "));
	ck_assert_ptr_nonnull(strstr(err, "secd account unbind-cert AAA "
	    "sha256:" T_CERT_A));
	ck_assert_int_eq(t_bind("ZZZ", T_CERT_B, 1, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "no such account ZZZ");
	ck_assert_int_eq(t_bind("AAA", "A1A2", 1, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "bad fingerprint"));
	ck_assert_int_eq(t_bind("bad name", T_CERT_B, 1, err, sizeof(err)),
	    -1);
	ck_assert_ptr_nonnull(strstr(err, "bad account name"));

	/* Unbinding: only what is bound, live, to that account. */
	ck_assert_int_eq(t_bind("BBB", T_CERT_A, 0, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "is not bound to BBB"));
	ck_assert_int_eq(t_bind("ZZZ", T_CERT_A, 0, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "no such account ZZZ");
	t_bind_ok("AAA", T_CERT_A, 0);
	ck_assert_int_eq(t_bind("AAA", T_CERT_A, 0, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "is not bound to AAA"));
	/* Revoked, it may go to another account; the old row stays. */
	t_bind_ok("BBB", T_CERT_A, 1);
	ck_assert_int_eq(t_sql_int("SELECT count(*) FROM cert_bindings"), 2);
	ck_assert_int_eq(t_sql_int("SELECT count(*) FROM cert_bindings "
	    "WHERE revoked IS NULL AND account = 'BBB'"), 1);
	ck_assert_int_eq(t_sql_int("SELECT count(*) FROM cert_bindings "
	    "WHERE revoked IS NOT NULL AND account = 'AAA'"), 1);

	/* The schema keeps history and the one-account rule by itself. */
	ck_assert_int_eq(t_sql("DELETE FROM cert_bindings"), -1);
	ck_assert_int_eq(t_sql("UPDATE cert_bindings SET revoked = NULL"), -1);
	ck_assert_int_eq(t_sql("UPDATE cert_bindings SET account = 'AAA' "
	    "WHERE account = 'BBB'"), -1);
	ck_assert_int_eq(t_sql("INSERT INTO cert_bindings (sha256, account, "
	    "bound) VALUES ('" T_CERT_A "', 'AAA', 1)"), -1);
	ck_assert_int_eq(t_sql("PRAGMA foreign_keys = ON; INSERT INTO "
	    "cert_bindings (sha256, account, bound) VALUES ('" T_CERT_B "', "
	    "'NOBODY', 1)"), -1);
	ck_assert_int_eq(t_sql("INSERT INTO cert_bindings (sha256, account, "
	    "bound) VALUES ('A1', 'AAA', 1)"), -1);
	ck_assert_int_eq(t_sql("INSERT INTO cert_bindings (sha256, account, "
	    "bound, revoked) VALUES ('" T_CERT_B "', 'AAA', 5, 4)"), -1);
	ck_assert_int_eq(t_sql_int("SELECT count(*) FROM cert_bindings"), 2);

	a = ledger_admin_open(t_db, 0, NULL, err, sizeof(err));
	ck_assert_ptr_nonnull(a);
	ledger_admin_free(a);
	ck_assert_int_eq(t_check(NULL), 0);
}
END_TEST

/* Collect show's list: "sha256 revoked?" lines into a buffer. */
static int
t_certs_cb(const struct ledger_cert_binding *b, void *arg)
{
	char *buf = arg;

	snprintf(buf + strlen(buf), 512 - strlen(buf), "%.4s:%s:%s ",
	    b->sha256, b->account, b->revoked != 0 ? "revoked" : "live");
	return 0;
}

START_TEST(test_ledger_admin_lists_an_accounts_certificates)
{
	struct ledger_admin *a;
	char err[256], list[512] = "";

	t_add("AAA", "123", "CNY", 0);
	t_add("BBB", "456", "CNY", 0);
	t_bind_ok("AAA", T_CERT_A, 1);
	t_bind_ok("AAA", T_CERT_B, 1);
	t_bind_ok("BBB", T_CERT_C, 1);
	t_bind_ok("AAA", T_CERT_A, 0);
	a = ledger_admin_open(t_db, 0, NULL, err, sizeof(err));
	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(ledger_admin_certs(a, "AAA", t_certs_cb, list, err,
	    sizeof(err)), 0);
	ck_assert_str_eq(list, "a1a2:AAA:revoked 0000:AAA:live ");
	list[0] = '\0';
	ck_assert_int_eq(ledger_admin_certs(a, "ZZZ", t_certs_cb, list, err,
	    sizeof(err)), 0);
	ck_assert_str_eq(list, "");
	ledger_admin_free(a);
}
END_TEST

START_TEST(test_ledger_admin_parses_fingerprints)
{
	char hex[LEDGER_SHA256_HEX + 1], err[256];
	char colons[200];
	size_t i, n = 0;

	ck_assert_int_eq(ledger_admin_sha256_parse("sha256:" T_CERT_A, hex,
	    err, sizeof(err)), 0);
	ck_assert_str_eq(hex, T_CERT_A);
	ck_assert_int_eq(ledger_admin_sha256_parse("sha256:"
	    "A1A2A3A4A5A6A7A8A9AAABACADAEAFB0B1B2B3B4B5B6B7B8B9BABBBCBDBEBFC0",
	    hex, err, sizeof(err)), 0);
	ck_assert_str_eq(hex, T_CERT_A);
	/* Colons between bytes, as openssl x509 -fingerprint prints. */
	n = (size_t)snprintf(colons, sizeof(colons), "sha256:");
	for (i = 0; i < 64; i += 2)
		n += (size_t)snprintf(colons + n, sizeof(colons) - n, "%s%.2s",
		    i > 0 ? ":" : "", &T_CERT_A[i]);
	ck_assert_int_eq(ledger_admin_sha256_parse(colons, hex, err,
	    sizeof(err)), 0);
	ck_assert_str_eq(hex, T_CERT_A);

	ck_assert_int_eq(ledger_admin_sha256_parse(T_CERT_A, hex, err,
	    sizeof(err)), -1);				/* no sha256: */
	ck_assert_int_eq(ledger_admin_sha256_parse("sha256:" T_CERT_A "00",
	    hex, err, sizeof(err)), -1);		/* too long */
	ck_assert_int_eq(ledger_admin_sha256_parse("sha256:a1a2", hex, err,
	    sizeof(err)), -1);				/* too short */
	ck_assert_int_eq(ledger_admin_sha256_parse("sha256:"
	    "g1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0",
	    hex, err, sizeof(err)), -1);		/* not hex */
	ck_assert_int_eq(ledger_admin_sha256_parse("sha256::" T_CERT_A, hex,
	    err, sizeof(err)), -1);			/* stray colon */
	ck_assert_int_eq(ledger_admin_sha256_parse("sha256:a:1a2a3a4a5a6a7a8"
	    "a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0", hex, err,
	    sizeof(err)), -1);				/* mid-byte colon */
	ck_assert_int_eq(ledger_admin_sha256_parse("sha256:" T_CERT_A ":",
	    hex, err, sizeof(err)), -1);		/* trailing colon */
	ck_assert_ptr_nonnull(strstr(err, "64 hex digits"));
	ck_assert_int_eq(ledger_db_sha256_valid(T_CERT_A), 1);
	ck_assert_int_eq(ledger_db_sha256_valid("A1A2A3A4A5A6A7A8A9AAABACADAE"
	    "AFB0B1B2B3B4B5B6B7B8B9BABBBCBDBEBFC0"), 0);
	ck_assert_int_eq(ledger_db_sha256_valid(""), 0);
	ck_assert_int_eq(ledger_db_sha256_valid(T_CERT_A "0"), 0);
}
END_TEST

/* Throughput, measured, not asserted: a benchmark in the tests' spirit. */

START_TEST(test_ledger_group_commit_throughput)
{
	const char *kv[] = { "threads", "2", NULL };
	struct ledger_stats st;
	struct t_worker w[64];
	char name[16];
	double t0, dt;
	void *state;
	int i, ok = 0, n = 60;

	for (i = 0; i < 64; i++) {
		snprintf(name, sizeof(name), "T%d", i);
		t_add(name, "pw", "CNY", 100000000);
	}
	if (getenv("SECD_LEDGER_BENCH_N") != NULL)
		n = atoi(getenv("SECD_LEDGER_BENCH_N"));
	state = t_open_kv(kv);
	t0 = t_now();
	/* 64 clients, one transfer in flight each, as secd's 64
	   connections would have. */
	t_run_workers(state, w, 64, n, 64, 0);
	dt = t_now() - t0;
	ledger_stats(state, &st);
	ledger_handler.close(state);
	for (i = 0; i < 64; i++) {
		ck_assert_int_eq(w[i].other, 0);
		ok += w[i].ok;
	}
	ck_assert_int_eq(st.applied, (uint64_t)ok);
	fprintf(stderr, "ledger throughput: 64 clients, %d transfers in "
	    "%.2fs: %.0f transfers/s, %" PRIu64 " commits (%.0f/s), mean "
	    "batch %.1f, largest %" PRIu64 "\n", ok, dt, ok / dt, st.commits,
	    st.commits / dt, (double)st.applied / (double)st.commits,
	    st.largest);
	ck_assert_int_eq(t_check(NULL), 0);
}
END_TEST

static Suite *
ledger_suite(void)
{
	Suite *s = suite_create("ledger");
	TCase *tc;

	tc = tcase_create("open");
	tcase_add_checked_fixture(tc, t_setup, t_teardown);
	tcase_add_test(tc, test_ledger_open_requires_database);
	tcase_add_test(tc, test_ledger_open_rejects_unknown_option);
	tcase_add_test(tc, test_ledger_open_rejects_bad_threads_and_queue);
	tcase_add_test(tc, test_ledger_open_rejects_duplicate_option);
	tcase_add_test(tc, test_ledger_open_creates_file_not_directory);
	tcase_add_test(tc, test_ledger_open_rejects_bad_auth_parameters);
	tcase_add_test(tc,
	    test_ledger_open_resolves_relative_path_against_base_dir);
	tcase_add_test(tc, test_ledger_open_refuses_foreign_database);
	tcase_add_test(tc, test_ledger_open_refuses_non_database_file);
	tcase_add_test(tc, test_ledger_schema_version_stored_and_reopen_works);
	tcase_add_test(tc, test_ledger_open_refuses_newer_schema);
	tcase_add_test(tc, test_ledger_connections_use_wal_and_full_sync);
	suite_add_tcase(s, tc);

	tc = tcase_create("calls");
	tcase_add_checked_fixture(tc, t_setup, t_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_ledger_login_right_password);
	tcase_add_test(tc,
	    test_ledger_wrong_password_and_unknown_account_answer_alike);
	tcase_add_test(tc, test_ledger_unknown_account_costs_a_full_scrypt);
	tcase_add_test(tc, test_ledger_balance_of_the_demo_account);
	tcase_add_test(tc,
	    test_ledger_balance_without_account_is_auth_required);
	tcase_add_test(tc, test_ledger_balance_of_vanished_account);
	tcase_add_test(tc,
	    test_ledger_balance_cache_answers_at_once_and_follows_transfers);
	tcase_add_test(tc, test_ledger_balance_cache_sees_other_processes);
	tcase_add_test(tc, test_ledger_balance_cache_can_be_turned_off);
	tcase_add_test(tc, test_ledger_cache_fill_never_overwrites_newer);
	tcase_add_test(tc, test_ledger_login_rejects_bad_arguments);
	tcase_add_test(tc,
	    test_ledger_locked_account_needs_the_password_to_learn_it);
	tcase_add_test(tc, test_ledger_unusable_hash_fails_login_and_is_logged);
	tcase_add_test(tc,
	    test_ledger_database_error_is_unavailable_and_logged);
	tcase_add_test(tc, test_ledger_queue_full_is_unavailable_at_once);
	tcase_add_test(tc,
	    test_ledger_concurrent_calls_answered_exactly_once);
	tcase_add_test(tc, test_ledger_close_answers_calls_in_flight);
	suite_add_tcase(s, tc);

	tc = tcase_create("transfer");
	tcase_add_checked_fixture(tc, t_setup, t_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc,
	    test_ledger_transfer_moves_money_and_journals_both_sides);
	tcase_add_test(tc, test_ledger_transfer_refusals_have_their_own_codes);
	tcase_add_test(tc, test_ledger_transfer_retry_returns_the_original_reply);
	tcase_add_test(tc, test_ledger_open_checks_retention_and_batch);
	tcase_add_test(tc, test_ledger_idempotency_keys_expire_after_retention);
	tcase_add_test(tc, test_ledger_concurrent_transfers_conserve_money);
	tcase_add_test(tc, test_ledger_reads_see_every_acknowledged_transfer);
	tcase_add_test(tc, test_ledger_group_commit_batches_queued_transfers);
	tcase_add_test(tc, test_ledger_close_commits_what_is_queued);
	tcase_add_test(tc, test_ledger_group_commit_throughput);
	suite_add_tcase(s, tc);

	tc = tcase_create("history");
	tcase_add_checked_fixture(tc, t_setup, t_teardown);
	tcase_add_test(tc, test_ledger_history_pages_newest_first);
	tcase_add_test(tc, test_ledger_history_limits);
	suite_add_tcase(s, tc);

	tc = tcase_create("invariants");
	tcase_add_checked_fixture(tc, t_setup, t_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_ledger_deposit_and_withdraw);
	tcase_add_test(tc, test_ledger_check_reports_every_invariant);
	tcase_add_test(tc,
	    test_ledger_check_detects_a_balance_changed_behind_its_back);
	tcase_add_test(tc,
	    test_ledger_check_detects_broken_transfers_and_chains);
	tcase_add_test(tc, test_ledger_backup_while_transfers_run);
	tcase_add_test(tc, test_ledger_migrates_version_1);
	suite_add_tcase(s, tc);

	tc = tcase_create("faults");
	tcase_add_checked_fixture(tc, t_setup, t_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_ledger_full_disk_is_unavailable_then_recovers);
	tcase_add_test(tc,
	    test_ledger_locked_database_is_unavailable_then_recovers);
	tcase_add_test(tc,
	    test_ledger_moved_database_is_unavailable_then_recovers);
	tcase_add_test(tc,
	    test_ledger_writer_queue_full_is_unavailable_at_once);
	tcase_add_test(tc, test_ledger_login_rehash_goes_through_the_writer);
	suite_add_tcase(s, tc);

	tc = tcase_create("hash");
	tcase_add_test(tc, test_ledger_hash_format_and_verify);
	tcase_add_test(tc, test_ledger_hash_salts_differ);
	tcase_add_test(tc, test_ledger_hash_known_answer);
	tcase_add_test(tc, test_ledger_hash_old_parameters_still_verify);
	tcase_add_test(tc, test_ledger_hash_rejects_malformed_strings);
	tcase_add_test(tc, test_ledger_base64_is_canonical);
	tcase_add_test(tc, test_ledger_ct_equal);
	suite_add_tcase(s, tc);

	tc = tcase_create("amount");
	tcase_add_test(tc, test_ledger_amount_parse);
	tcase_add_test(tc, test_ledger_amount_format);
	tcase_add_test(tc, test_ledger_names_and_currencies);
	tcase_add_test(tc, test_ledger_memo_and_key_rules);
	suite_add_tcase(s, tc);

	tc = tcase_create("admin");
	tcase_add_checked_fixture(tc, t_setup, t_teardown);
	tcase_add_test(tc, test_ledger_admin_add_show_list);
	tcase_add_test(tc, test_ledger_admin_passwd_changes_login);
	tcase_add_test(tc, test_ledger_schema_enforces_invariants);
	tcase_add_test(tc, test_ledger_admin_binds_and_revokes_certificates);
	tcase_add_test(tc, test_ledger_admin_lists_an_accounts_certificates);
	tcase_add_test(tc, test_ledger_admin_parses_fingerprints);
	suite_add_tcase(s, tc);

	tc = tcase_create("certificates");
	tcase_add_checked_fixture(tc, t_setup, t_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_ledger_password_mode_ignores_certificates);
	tcase_add_test(tc, test_ledger_certificate_mode_needs_a_live_binding);
	tcase_add_test(tc,
	    test_ledger_certificate_mode_tells_the_lock_only_to_the_holder);
	tcase_add_test(tc, test_ledger_both_mode_needs_certificate_and_password);
	tcase_add_test(tc,
	    test_ledger_both_mode_costs_a_scrypt_even_without_the_binding);
	tcase_add_test(tc, test_ledger_certificate_mode_runs_no_scrypt);
	tcase_add_test(tc, test_ledger_open_rejects_unknown_auth_methods);
	suite_add_tcase(s, tc);

	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	sr = srunner_create(ledger_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
