/*
 * ledger_admin.c: create accounts, set passwords, list and show them.
 *
 * Passwords are hashed before any transaction begins, so a slow scrypt
 * never holds the database's write lock.  An initial balance goes in as a
 * journal deposit in the same transaction as the account, keeping the
 * invariant "balance = sum of the journal" from the first row on.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
