/*
 * ledger_admin.c: create accounts, set passwords, list and show them,
 * bind client certificates to them and revoke the bindings, deposit and
 * withdraw, back the database up.
 *
 * Passwords are hashed before any transaction begins, so a slow scrypt
 * never holds the database's write lock.  An initial balance goes in as a
 * journal deposit in the same transaction as the account, keeping the
 * invariant "balance = sum of the journal" from the first row on; a
 * deposit or withdrawal likewise changes the balance and writes its entry
 * in one transaction.  These take the write lock between secd's batches
 * (BEGIN IMMEDIATE waits up to LEDGER_DB_BUSY_MS), so they never
 * interleave with a transfer.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/wc_port.h>

#include "ledger_admin.h"
#include "ledger_amount.h"
#include "ledger_hash.h"

struct ledger_admin {
	sqlite3			*db;
	char			*path;
	const struct secd_auth	*auth;
};

#define LEDGER_ADMIN_COLUMNS \
	"name, currency, balance, created, locked_until, password_hash"

struct ledger_admin *
ledger_admin_open(const char *path, int flags, const struct secd_auth *auth,
    char *err, size_t errlen)
{
	struct ledger_admin *a;
	char why[128];

	if (auth != NULL && ledger_hash_params_check(auth->scrypt_n,
	    auth->scrypt_r, auth->scrypt_p, why, sizeof(why))) {
		snprintf(err, errlen, "auth: %s", why);
		goto err0;
	}
	if ((a = calloc(1, sizeof(*a))) == NULL ||
	    (a->path = strdup(path)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto err1;
	}
	a->auth = auth;
	if ((a->db = ledger_db_open(path, flags & LEDGER_DB_CREATE, err,
	    errlen)) == NULL)
		goto err1;
	if (wolfCrypt_Init() != 0) {
		snprintf(err, errlen, "wolfCrypt_Init failed");
		goto err2;
	}
	return a;

err2:
	sqlite3_close(a->db);
err1:
	if (a != NULL)
		free(a->path);
	free(a);
err0:
	return NULL;
}

void
ledger_admin_free(struct ledger_admin *a)
{

	if (a == NULL)
		return;
	sqlite3_close(a->db);
	free(a->path);
	free(a);
	wolfCrypt_Cleanup();
}

sqlite3 *
ledger_admin_db(struct ledger_admin *a)
{

	return a->db;
}

static void
ledger_admin_dberr(struct ledger_admin *a, char *err, size_t errlen)
{

	snprintf(err, errlen, "database %s: %s", a->path,
	    sqlite3_errmsg(a->db));
}

/* Hash password at a->auth into hash; checks name and password first. */
static int
ledger_admin_hash(struct ledger_admin *a, const char *name,
    const char *password, size_t passlen, char *hash, size_t hashlen,
    char *err, size_t errlen)
{

	if (!ledger_db_name_valid(name)) {
		snprintf(err, errlen, "bad account name \"%.80s\": use 1 to "
		    "%d of A-Z a-z 0-9 . _ @ -", name, LEDGER_NAME_MAX);
		return -1;
	}
	if (passlen == 0 || passlen > LEDGER_PASSWORD_MAX ||
	    memchr(password, '\0', passlen) != NULL) {
		snprintf(err, errlen, "a password is 1 to %d bytes, without "
		    "NUL", LEDGER_PASSWORD_MAX);
		return -1;
	}
	if (a->auth == NULL) {
		snprintf(err, errlen, "no scrypt parameters to hash with");
		return -1;
	}
	if (ledger_hash_make(hash, hashlen, password, passlen, a->auth)) {
		snprintf(err, errlen, "scrypt failed (out of memory?)");
		return -1;
	}
	return 0;
}

int
ledger_admin_add(struct ledger_admin *a, const char *name,
    const char *password, size_t passlen, const char *currency,
    int64_t balance, char *err, size_t errlen)
{
	char hash[LEDGER_HASH_STRMAX];
	sqlite3_stmt *st = NULL;
	int64_t now;
	int rc = -1;

	if (name[0] == '@') {
		snprintf(err, errlen, "bad account name \"%.80s\": names "
		    "beginning with @ are reserved (history shows deposits as "
		    "@deposit, withdrawals as @withdraw)", name);
		return -1;
	}
	if (!ledger_currency_valid(currency)) {
		snprintf(err, errlen, "bad currency \"%.16s\": use three "
		    "letters A-Z, such as CNY", currency);
		return -1;
	}
	if (balance < 0 || balance > LEDGER_AMOUNT_MAX) {
		snprintf(err, errlen, "the initial balance must be from 0 to "
		    "2^53 - 1 minor units");
		return -1;
	}
	if (ledger_admin_hash(a, name, password, passlen, hash, sizeof(hash),
	    err, errlen))
		goto done;

	now = ledger_db_now_ms();
	if (ledger_db_exec(a->db, "BEGIN IMMEDIATE"))
		goto dberr;
	if (sqlite3_prepare_v2(a->db, "INSERT INTO accounts (name, "
	    "password_hash, currency, balance, created) VALUES "
	    "(?1, ?2, ?3, ?4, ?5)", -1, &st, NULL) != SQLITE_OK)
		goto dberr;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, hash, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, currency, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, balance);
	sqlite3_bind_int64(st, 5, now);
	if (sqlite3_step(st) != SQLITE_DONE) {
		if (sqlite3_extended_errcode(a->db) ==
		    SQLITE_CONSTRAINT_PRIMARYKEY) {
			snprintf(err, errlen, "account %s already exists",
			    name);
			goto rollback;
		}
		goto dberr;
	}
	sqlite3_finalize(st);
	st = NULL;

	if (balance > 0) {
		if (sqlite3_prepare_v2(a->db, "INSERT INTO journal (time, "
		    "account, kind, amount, balance_after, reason) VALUES "
		    "(?1, ?2, 'deposit', ?3, ?3, 'initial balance')", -1, &st,
		    NULL) != SQLITE_OK)
			goto dberr;
		sqlite3_bind_int64(st, 1, now);
		sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, balance);
		if (sqlite3_step(st) != SQLITE_DONE)
			goto dberr;
		sqlite3_finalize(st);
		st = NULL;
	}
	if (ledger_db_exec(a->db, "COMMIT"))
		goto dberr;
	rc = 0;
	goto done;

dberr:
	ledger_admin_dberr(a, err, errlen);
rollback:
	sqlite3_finalize(st);
	st = NULL;
	if (!sqlite3_get_autocommit(a->db))
		(void)ledger_db_exec(a->db, "ROLLBACK");
done:
	explicit_bzero(hash, sizeof(hash));
	return rc;
}

int
ledger_admin_passwd(struct ledger_admin *a, const char *name,
    const char *password, size_t passlen, char *err, size_t errlen)
{
	char hash[LEDGER_HASH_STRMAX];
	sqlite3_stmt *st = NULL;
	int rc = -1;

	if (ledger_admin_hash(a, name, password, passlen, hash, sizeof(hash),
	    err, errlen))
		goto done;
	if (sqlite3_prepare_v2(a->db, "UPDATE accounts SET password_hash = "
	    "?1 WHERE name = ?2", -1, &st, NULL) != SQLITE_OK)
		goto dberr;
	sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		goto dberr;
	if (sqlite3_changes(a->db) == 0) {
		snprintf(err, errlen, "no such account %s", name);
		goto done;
	}
	rc = 0;
	goto done;

dberr:
	ledger_admin_dberr(a, err, errlen);
done:
	sqlite3_finalize(st);
	explicit_bzero(hash, sizeof(hash));
	return rc;
}

/* Fill acct from a row of LEDGER_ADMIN_COLUMNS. */
static void
ledger_admin_row(struct ledger_admin *a, sqlite3_stmt *st,
    struct ledger_account *acct)
{
	struct ledger_hash h;
	const char *hash;

	memset(acct, 0, sizeof(*acct));
	snprintf(acct->name, sizeof(acct->name), "%s",
	    (const char *)sqlite3_column_text(st, 0));
	snprintf(acct->currency, sizeof(acct->currency), "%s",
	    (const char *)sqlite3_column_text(st, 1));
	acct->balance = sqlite3_column_int64(st, 2);
	acct->created = sqlite3_column_int64(st, 3);
	acct->locked_until = sqlite3_column_int64(st, 4);
	hash = (const char *)sqlite3_column_text(st, 5);
	if (hash != NULL && ledger_hash_parse(hash, &h) == 0) {
		snprintf(acct->hash_params, sizeof(acct->hash_params),
		    "scrypt ln=%u,r=%u,p=%u", h.ln, (unsigned int)h.r,
		    (unsigned int)h.p);
		acct->needs_rehash = a->auth != NULL &&
		    ledger_hash_needs_rehash(hash, a->auth);
		explicit_bzero(&h, sizeof(h));
	} else {
		snprintf(acct->hash_params, sizeof(acct->hash_params),
		    "unreadable");
		acct->needs_rehash = 1;
	}
}

int
ledger_admin_show(struct ledger_admin *a, const char *name,
    struct ledger_account *acct, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc = -1, step;

	/* One read transaction: the account and its journal agree. */
	if (ledger_db_exec(a->db, "BEGIN"))
		goto dberr;
	if (sqlite3_prepare_v2(a->db, "SELECT " LEDGER_ADMIN_COLUMNS
	    " FROM accounts WHERE name = ?1", -1, &st, NULL) != SQLITE_OK)
		goto dberr;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if ((step = sqlite3_step(st)) == SQLITE_DONE) {
		snprintf(err, errlen, "no such account %s", name);
		goto done;
	}
	if (step != SQLITE_ROW)
		goto dberr;
	ledger_admin_row(a, st, acct);
	sqlite3_finalize(st);
	st = NULL;

	if (sqlite3_prepare_v2(a->db, "SELECT count(*), coalesce(sum(amount), 0) "
	    "FROM journal WHERE account = ?1", -1, &st, NULL) !=
	    SQLITE_OK)
		goto dberr;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW)
		goto dberr;
	acct->journal_entries = sqlite3_column_int64(st, 0);
	acct->journal_sum = sqlite3_column_int64(st, 1);
	rc = 0;
	goto done;

dberr:
	ledger_admin_dberr(a, err, errlen);
done:
	sqlite3_finalize(st);
	if (!sqlite3_get_autocommit(a->db))
		(void)ledger_db_exec(a->db, "COMMIT");
	return rc;
}

int
ledger_admin_list(struct ledger_admin *a,
    int (*cb)(const struct ledger_account *, void *), void *arg, char *err,
    size_t errlen)
{
	struct ledger_account acct;
	sqlite3_stmt *st = NULL;
	int rc = -1, step;

	if (sqlite3_prepare_v2(a->db, "SELECT " LEDGER_ADMIN_COLUMNS
	    " FROM accounts ORDER BY name", -1, &st, NULL) != SQLITE_OK)
		goto dberr;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		ledger_admin_row(a, st, &acct);
		if (cb(&acct, arg) != 0)
			break;
	}
	if (step != SQLITE_ROW && step != SQLITE_DONE)
		goto dberr;
	rc = 0;
	goto done;

dberr:
	ledger_admin_dberr(a, err, errlen);
done:
	sqlite3_finalize(st);
	return rc;
}

/* Deposit (sign 1) or withdraw (sign -1) amount, with reason. */
static int
ledger_admin_adjust(struct ledger_admin *a, const char *name, int64_t amount,
    int sign, const char *reason, struct ledger_adjustment *adj, char *err,
    size_t errlen)
{
	char have[LEDGER_AMOUNT_BUFSZ], want[LEDGER_AMOUNT_BUFSZ];
	char limit[LEDGER_AMOUNT_BUFSZ];
	sqlite3_stmt *st = NULL;
	int64_t balance, after;
	int rc = -1, step;

	if (amount < 1 || amount > LEDGER_AMOUNT_MAX) {
		snprintf(err, errlen, "the amount must be from 0.01 to "
		    "90071992547409.91");
		return -1;
	}
	if (reason == NULL || reason[0] == '\0' ||
	    !ledger_db_text_valid(reason, LEDGER_MEMO_MAX)) {
		snprintf(err, errlen, "the reason must be 1 to %d bytes of "
		    "UTF-8 without control characters", LEDGER_MEMO_MAX);
		return -1;
	}
	ledger_amount_format(amount, want, sizeof(want));
	ledger_amount_format(LEDGER_AMOUNT_MAX, limit, sizeof(limit));

	if (ledger_db_exec(a->db, "BEGIN IMMEDIATE"))
		goto dberr;
	if (sqlite3_prepare_v2(a->db, "SELECT balance, currency FROM accounts "
	    "WHERE name = ?1", -1, &st, NULL) != SQLITE_OK)
		goto dberr;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if ((step = sqlite3_step(st)) == SQLITE_DONE) {
		snprintf(err, errlen, "no such account %s", name);
		goto rollback;
	}
	if (step != SQLITE_ROW)
		goto dberr;
	balance = sqlite3_column_int64(st, 0);
	snprintf(adj->currency, sizeof(adj->currency), "%s",
	    (const char *)sqlite3_column_text(st, 1));
	sqlite3_finalize(st);
	st = NULL;

	ledger_amount_format(balance, have, sizeof(have));
	if (sign < 0 && balance < amount) {
		snprintf(err, errlen, "account %s holds %s %s, less than %s; "
		    "nothing withdrawn", name, have, adj->currency, want);
		goto rollback;
	}
	if (sign > 0 && balance > LEDGER_AMOUNT_MAX - amount) {
		snprintf(err, errlen, "account %s holds %s %s; adding %s would "
		    "pass the limit of %s; nothing deposited", name, have,
		    adj->currency, want, limit);
		goto rollback;
	}
	after = sign > 0 ? balance + amount : balance - amount;

	if (sqlite3_prepare_v2(a->db, "UPDATE accounts SET balance = ?2 "
	    "WHERE name = ?1", -1, &st, NULL) != SQLITE_OK)
		goto dberr;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, after);
	if (sqlite3_step(st) != SQLITE_DONE)
		goto dberr;
	sqlite3_finalize(st);
	st = NULL;

	if (sqlite3_prepare_v2(a->db, "INSERT INTO journal (time, account, "
	    "kind, amount, balance_after, reason) VALUES (?1, ?2, ?3, ?4, ?5, "
	    "?6)", -1, &st, NULL) != SQLITE_OK)
		goto dberr;
	sqlite3_bind_int64(st, 1, ledger_db_now_ms());
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, sign > 0 ? "deposit" : "withdraw", -1,
	    SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, sign > 0 ? amount : -amount);
	sqlite3_bind_int64(st, 5, after);
	sqlite3_bind_text(st, 6, reason, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		goto dberr;
	adj->entry = sqlite3_last_insert_rowid(a->db);
	adj->balance = after;
	sqlite3_finalize(st);
	st = NULL;
	if (ledger_db_exec(a->db, "COMMIT"))
		goto dberr;
	return 0;

dberr:
	ledger_admin_dberr(a, err, errlen);
rollback:
	sqlite3_finalize(st);
	if (!sqlite3_get_autocommit(a->db))
		(void)ledger_db_exec(a->db, "ROLLBACK");
	return rc;
}

int
ledger_admin_deposit(struct ledger_admin *a, const char *name, int64_t amount,
    const char *reason, struct ledger_adjustment *adj, char *err,
    size_t errlen)
{

	return ledger_admin_adjust(a, name, amount, 1, reason, adj, err,
	    errlen);
}

int
ledger_admin_withdraw(struct ledger_admin *a, const char *name,
    int64_t amount, const char *reason, struct ledger_adjustment *adj,
    char *err, size_t errlen)
{

	return ledger_admin_adjust(a, name, amount, -1, reason, adj, err,
	    errlen);
}

int
ledger_admin_sha256_parse(const char *text, char *hex, char *err,
    size_t errlen)
{
	const char *p;
	size_t n = 0;
	char c;

	if (strncmp(text, "sha256:", 7) != 0) {
		snprintf(err, errlen, "bad fingerprint \"%.80s\": expected "
		    "sha256: and 64 hex digits", text);
		return -1;
	}
	for (p = text + 7; *p != '\0'; p++) {
		c = *p;
		/* A colon only between two bytes. */
		if (c == ':' && n > 0 && n % 2 == 0 && n < LEDGER_SHA256_HEX &&
		    p[-1] != ':' && p[1] != '\0')
			continue;
		if (c >= 'A' && c <= 'F')
			c = (char)(c - 'A' + 'a');
		if (n == LEDGER_SHA256_HEX ||
		    !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			goto bad;
		hex[n++] = c;
	}
	if (n != LEDGER_SHA256_HEX)
		goto bad;
	hex[n] = '\0';
	return 0;

bad:
	hex[0] = '\0';
	snprintf(err, errlen, "bad fingerprint \"%.80s\": expected sha256: "
	    "and 64 hex digits (the SHA-256 of the DER certificate), "
	    "optionally with a colon between bytes", text);
	return -1;
}

/* Fill b from a row of (sha256, account, bound, revoked). */
static void
ledger_admin_binding_row(sqlite3_stmt *st, struct ledger_cert_binding *b)
{
	const unsigned char *t;

	memset(b, 0, sizeof(*b));
	t = sqlite3_column_text(st, 0);
	snprintf(b->sha256, sizeof(b->sha256), "%s",
	    t != NULL ? (const char *)t : "");
	t = sqlite3_column_text(st, 1);
	snprintf(b->account, sizeof(b->account), "%s",
	    t != NULL ? (const char *)t : "");
	b->bound = sqlite3_column_int64(st, 2);
	b->revoked = sqlite3_column_int64(st, 3);
}

/* In a transaction: does account name exist?  1, 0, or -1 (database). */
static int
ledger_admin_exists(struct ledger_admin *a, const char *name)
{
	sqlite3_stmt *st;
	int step;

	if (sqlite3_prepare_v2(a->db, "SELECT 1 FROM accounts WHERE name = ?1",
	    -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	step = sqlite3_step(st);
	sqlite3_finalize(st);
	if (step == SQLITE_ROW)
		return 1;
	return step == SQLITE_DONE ? 0 : -1;
}

/* Check name and sha256 before a binding is touched; 0 or -1. */
static int
ledger_admin_binding_args(const char *name, const char *sha256, char *err,
    size_t errlen)
{

	if (!ledger_db_name_valid(name)) {
		snprintf(err, errlen, "bad account name \"%.80s\": use 1 to "
		    "%d of A-Z a-z 0-9 . _ @ -", name, LEDGER_NAME_MAX);
		return -1;
	}
	if (!ledger_db_sha256_valid(sha256)) {
		snprintf(err, errlen, "bad fingerprint \"%.80s\": expected 64 "
		    "lowercase hex digits", sha256);
		return -1;
	}
	return 0;
}

int
ledger_admin_bind_cert(struct ledger_admin *a, const char *name,
    const char *sha256, struct ledger_cert_binding *b, char *err,
    size_t errlen)
{
	struct ledger_cert_binding live;
	sqlite3_stmt *st = NULL;
	int step, exists;

	if (ledger_admin_binding_args(name, sha256, err, errlen))
		return -1;
	if (ledger_db_exec(a->db, "BEGIN IMMEDIATE"))
		goto dberr;
	if ((exists = ledger_admin_exists(a, name)) < 0)
		goto dberr;
	if (exists == 0) {
		snprintf(err, errlen, "no such account %s", name);
		goto rollback;
	}
	if (sqlite3_prepare_v2(a->db, "SELECT sha256, account, bound, "
	    "coalesce(revoked, 0) FROM cert_bindings WHERE sha256 = ?1 AND "
	    "revoked IS NULL", -1, &st, NULL) != SQLITE_OK)
		goto dberr;
	sqlite3_bind_text(st, 1, sha256, -1, SQLITE_STATIC);
	if ((step = sqlite3_step(st)) == SQLITE_ROW) {
		ledger_admin_binding_row(st, &live);
		if (strcmp(live.account, name) == 0)
			snprintf(err, errlen, "certificate sha256:%s is "
			    "already bound to %s", sha256, name);
		else
			snprintf(err, errlen, "certificate sha256:%s is "
			    "already bound to account %s; a certificate "
			    "identifies one account: unbind it there first "
			    "(secd account unbind-cert %s sha256:%s)", sha256,
			    live.account, live.account, sha256);
		goto rollback;
	}
	if (step != SQLITE_DONE)
		goto dberr;
	sqlite3_finalize(st);
	st = NULL;

	memset(b, 0, sizeof(*b));
	snprintf(b->sha256, sizeof(b->sha256), "%s", sha256);
	snprintf(b->account, sizeof(b->account), "%s", name);
	b->bound = ledger_db_now_ms();
	if (sqlite3_prepare_v2(a->db, "INSERT INTO cert_bindings (sha256, "
	    "account, bound) VALUES (?1, ?2, ?3)", -1, &st, NULL) !=
	    SQLITE_OK)
		goto dberr;
	sqlite3_bind_text(st, 1, sha256, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, b->bound);
	if (sqlite3_step(st) != SQLITE_DONE)
		goto dberr;
	sqlite3_finalize(st);
	st = NULL;
	if (ledger_db_exec(a->db, "COMMIT"))
		goto dberr;
	return 0;

dberr:
	ledger_admin_dberr(a, err, errlen);
rollback:
	sqlite3_finalize(st);
	if (!sqlite3_get_autocommit(a->db))
		(void)ledger_db_exec(a->db, "ROLLBACK");
	return -1;
}

int
ledger_admin_unbind_cert(struct ledger_admin *a, const char *name,
    const char *sha256, struct ledger_cert_binding *b, char *err,
    size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int step, exists;

	if (ledger_admin_binding_args(name, sha256, err, errlen))
		return -1;
	if (ledger_db_exec(a->db, "BEGIN IMMEDIATE"))
		goto dberr;
	if ((exists = ledger_admin_exists(a, name)) < 0)
		goto dberr;
	if (exists == 0) {
		snprintf(err, errlen, "no such account %s", name);
		goto rollback;
	}
	/* A binding is revoked after it was made, even if the clock went
	   back meanwhile (the schema insists). */
	if (sqlite3_prepare_v2(a->db, "UPDATE cert_bindings SET revoked = "
	    "max(?3, bound) WHERE sha256 = ?1 AND account = ?2 AND revoked "
	    "IS NULL RETURNING sha256, account, bound, revoked", -1, &st,
	    NULL) != SQLITE_OK)
		goto dberr;
	sqlite3_bind_text(st, 1, sha256, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, ledger_db_now_ms());
	if ((step = sqlite3_step(st)) == SQLITE_DONE) {
		snprintf(err, errlen, "certificate sha256:%s is not bound to "
		    "%s (never bound, or revoked already: secd account show "
		    "%s lists its certificates)", sha256, name, name);
		goto rollback;
	}
	if (step != SQLITE_ROW)
		goto dberr;
	ledger_admin_binding_row(st, b);
	/* Run the statement to its end before COMMIT. */
	if (sqlite3_step(st) != SQLITE_DONE)
		goto dberr;
	sqlite3_finalize(st);
	st = NULL;
	if (ledger_db_exec(a->db, "COMMIT"))
		goto dberr;
	return 0;

dberr:
	ledger_admin_dberr(a, err, errlen);
rollback:
	sqlite3_finalize(st);
	if (!sqlite3_get_autocommit(a->db))
		(void)ledger_db_exec(a->db, "ROLLBACK");
	return -1;
}

int
ledger_admin_certs(struct ledger_admin *a, const char *name,
    int (*cb)(const struct ledger_cert_binding *, void *), void *arg,
    char *err, size_t errlen)
{
	struct ledger_cert_binding b;
	sqlite3_stmt *st = NULL;
	int rc = -1, step;

	if (sqlite3_prepare_v2(a->db, "SELECT sha256, account, bound, "
	    "coalesce(revoked, 0) FROM cert_bindings WHERE account = ?1 "
	    "ORDER BY id", -1, &st, NULL) != SQLITE_OK)
		goto dberr;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		ledger_admin_binding_row(st, &b);
		if (cb(&b, arg) != 0)
			break;
	}
	if (step != SQLITE_ROW && step != SQLITE_DONE)
		goto dberr;
	rc = 0;
	goto done;

dberr:
	ledger_admin_dberr(a, err, errlen);
done:
	sqlite3_finalize(st);
	return rc;
}

/* fsync path (a file or a directory); 0 or -1 with errno. */
static int
ledger_admin_fsync(const char *path, int flags)
{
	int fd, rc, e;

	if ((fd = open(path, flags | O_CLOEXEC)) == -1)
		return -1;
	rc = fsync(fd);
	e = errno;
	close(fd);
	errno = e;
	return rc;
}

/* Remove dest and the files SQLite may have made next to it. */
static void
ledger_admin_unlink(const char *dest)
{
	static const char *const suffix[] = { "", "-journal", "-wal", "-shm" };
	char path[4096];
	size_t i;

	for (i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", dest, suffix[i]);
		(void)unlink(path);
	}
}

int
ledger_admin_backup(struct ledger_admin *a, const char *dest, int64_t *pages,
    char *err, size_t errlen)
{
	struct timespec pause = { 0, 100 * 1000 * 1000 };
	sqlite3_backup *b;
	sqlite3 *d = NULL;
	char *copy = NULL;
	int fd, rc, tries;

	*pages = 0;
	/* O_EXCL: never overwrite, not even a file created meanwhile. */
	if ((fd = open(dest, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) == -1) {
		if (errno == EEXIST)
			snprintf(err, errlen, "%s exists; refusing to "
			    "overwrite it (remove it or choose another name)",
			    dest);
		else
			snprintf(err, errlen, "%s: %s", dest,
			    strerror(errno));
		return -1;
	}
	close(fd);

	if (sqlite3_open_v2(dest, &d, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", dest, d != NULL ?
		    sqlite3_errmsg(d) : "out of memory");
		goto fail;
	}
	if ((b = sqlite3_backup_init(d, "main", a->db, "main")) == NULL) {
		snprintf(err, errlen, "%s: %s", dest, sqlite3_errmsg(d));
		goto fail;
	}
	/*
	 * All pages in one step: one read transaction on the source, so
	 * the copy is one snapshot.  In WAL mode that read never blocks
	 * secd's writer, nor waits for it, but for the rare moment a WAL
	 * is being recovered: so retry BUSY a little.
	 */
	for (tries = 0; tries < 50; tries++) {
		rc = sqlite3_backup_step(b, -1);
		if (rc != SQLITE_BUSY && rc != SQLITE_LOCKED)
			break;
		nanosleep(&pause, NULL);
	}
	*pages = sqlite3_backup_pagecount(b);
	if (sqlite3_backup_finish(b) != SQLITE_OK || rc != SQLITE_DONE) {
		snprintf(err, errlen, "backup to %s: %s", dest,
		    rc != SQLITE_DONE ? sqlite3_errstr(rc) :
		    sqlite3_errmsg(d));
		goto fail;
	}
	if (sqlite3_close(d) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", dest, sqlite3_errmsg(d));
		goto fail;
	}
	d = NULL;
	if (ledger_admin_fsync(dest, O_RDONLY) ||
	    (copy = strdup(dest)) == NULL ||
	    ledger_admin_fsync(dirname(copy), O_RDONLY | O_DIRECTORY)) {
		snprintf(err, errlen, "%s: flushing it to disk: %s", dest,
		    strerror(errno));
		goto fail;
	}
	free(copy);
	return 0;

fail:
	free(copy);
	sqlite3_close(d);
	ledger_admin_unlink(dest);
	return -1;
}
