/*
 * check_ledger.c: the ledger handler, driven through its ABI only.
 *
 * A test host implements struct secd_host: its reply functions record the
 * answer in the call's test record and signal a condition variable, so a
 * test submits calls the way secd's workers do and waits for answers the
 * way secd's loops do.  Each test gets a fresh directory for its
 * database.  scrypt runs with N = 1024 unless a test needs hashing to be
 * slow (queue full, shutdown, timing).
 */
#include <sys/stat.h>
#include <sys/time.h>

#include <check.h>
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
#include "ledger_db.h"
#include "ledger_hash.h"

#define T_WAIT_SECONDS	30

/* What the host saw of one call. */
enum tkind { T_NONE, T_REPLY, T_LOGIN, T_ERROR };

struct tcall {
	struct secd_call call;		/* first: the host casts back */
	struct secd_value args[2];
	char		 account[80];
	char		 password[80];
	int		 answers;	/* how many times answered */
	enum tkind	 kind;
	char		 code[32];
	char		 message[128];
	int64_t		 retry_after;
	char		 login[80];
	size_t		 nfields;
	char		 keys[3][16];
	char		 racct[80];
	int64_t		 balance;
	char		 currency[8];
};

static pthread_mutex_t t_mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t t_cv = PTHREAD_COND_INITIALIZER;
static int t_answered;			/* answers of all calls */
static char t_logbuf[16384];		/* every log line, appended */

static char t_dir[64];
static char t_db[128];

static const struct secd_auth t_auth_fast = { 1024, 8, 1 };
static const struct secd_auth t_auth_slow = { 65536, 8, 1 };

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
	pthread_cond_broadcast(&t_cv);
}

static void
t_reply(struct secd_call *call, const struct secd_value *fields, size_t n)
{
	struct tcall *t = (struct tcall *)call;
	size_t i;

	pthread_mutex_lock(&t_mtx);
	t->kind = T_REPLY;
	t->nfields = n;
	for (i = 0; i < n; i++) {
		if (i < 3)
			snprintf(t->keys[i], sizeof(t->keys[i]), "%s",
			    fields[i].key);
		if (strcmp(fields[i].key, "account") == 0 &&
		    fields[i].type == SECD_V_STR)
			snprintf(t->racct, sizeof(t->racct), "%s",
			    fields[i].u.s);
		if (strcmp(fields[i].key, "balance") == 0 &&
		    fields[i].type == SECD_V_INT)
			t->balance = fields[i].u.i;
		if (strcmp(fields[i].key, "currency") == 0 &&
		    fields[i].type == SECD_V_STR)
			snprintf(t->currency, sizeof(t->currency), "%s",
			    fields[i].u.s);
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
	const char *suffix[] = { "", "-wal", "-shm", "-journal" };
	char path[160];
	size_t i;

	for (i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", t_db, suffix[i]);
		(void)unlink(path);
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
	    "\"colour\" (expected database, threads or queue)");
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
	static const struct secd_auth bad = { 1000, 8, 1 };
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
	    "this secd's (1)"));
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
	static const struct secd_auth mid = { 16384, 8, 1 };
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
	t.call.op = "transfer";
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
	static const struct secd_auth mid = { 8192, 8, 1 };
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
	static const struct secd_auth other = { 1024, 8, 2 };
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
	static const struct secd_auth old = { 2048, 4, 2 };
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
	/* A transfer: once per idempotency key and payer, never to self. */
	ck_assert_int_eq(t_sql("INSERT INTO transfers (time, from_account, "
	    "to_account, amount, currency, idempotency_key) VALUES "
	    "(0, 'AAA', 'BBB', 1, 'CNY', 'k1')"), 0);
	ck_assert_int_eq(t_sql("INSERT INTO transfers (time, from_account, "
	    "to_account, amount, currency, idempotency_key) VALUES "
	    "(0, 'AAA', 'BBB', 2, 'CNY', 'k1')"), -1);
	ck_assert_int_eq(t_sql("INSERT INTO transfers (time, from_account, "
	    "to_account, amount, currency, idempotency_key) VALUES "
	    "(0, 'BBB', 'AAA', 1, 'CNY', 'k1')"), 0);
	ck_assert_int_eq(t_sql("INSERT INTO transfers (time, from_account, "
	    "to_account, amount, currency, idempotency_key) VALUES "
	    "(0, 'AAA', 'AAA', 1, 'CNY', 'k2')"), -1);
	ck_assert_int_eq(t_sql("INSERT INTO journal (time, account, kind, "
	    "amount, balance_after, counterparty, transfer_id) VALUES "
	    "(0, 'AAA', 'transfer', -1, 9999, 'BBB', 1)"), 0);
	ck_assert_int_eq(t_sql("DELETE FROM transfers"), -1);
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
	suite_add_tcase(s, tc);

	tc = tcase_create("admin");
	tcase_add_checked_fixture(tc, t_setup, t_teardown);
	tcase_add_test(tc, test_ledger_admin_add_show_list);
	tcase_add_test(tc, test_ledger_admin_passwd_changes_login);
	tcase_add_test(tc, test_ledger_schema_enforces_invariants);
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
