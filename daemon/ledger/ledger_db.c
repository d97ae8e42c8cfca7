/*
 * ledger_db.c: open the ledger database and keep its schema current.
 *
 * Schema history.  Each entry of ledger_db_migrations takes the schema from
 * version i to i + 1 and runs inside the one transaction that also sets
 * user_version, so a crash mid-migration leaves the old version intact.
 * Never edit a released step: add a new one.
 *
 * Version 1:
 *   accounts	one row per account.  The balance is cached here so that
 *		"balance" is one primary-key read; the journal is the
 *		truth it must always equal.  locked_until is an
 *		administrative lock (login refused before that time).
 *   transfers	one row per applied transfer, with UNIQUE (from_account,
 *		idempotency_key).
 *   journal	append-only entries, one per change of one balance: a
 *		transfer writes two (the payer's negative, the payee's
 *		positive, both pointing at the transfer), a deposit or
 *		withdrawal one with a reason ("initial balance").
 *		balance_after makes history pages self-contained; the
 *		(account, id) index serves "history {limit, before}".
 *
 * Version 2: idempotency keys expire.
 *   transfers	rebuilt without the UNIQUE constraint (SQLite cannot drop
 *		one in place), so that a key may be used again once its
 *		retention has passed; its idempotency_key column stays, as
 *		the record of the key the transfer was made with.
 *   idempotency	the live keys: (account, key) -> transfer_id, created.
 *		A key is written in the same transaction as its transfer,
 *		so a retry finds either nothing (apply it) or the original
 *		(same contents -> the original reply, else "conflict").  The
 *		writer deletes keys older than the retention (index on
 *		created); a key older than that is ignored even before it is
 *		deleted.
 *   Rows written from version 2 on also keep transfers.id equal to the
 *   journal id of the payer's entry, and the payee's entry right after it
 *   (id + 1): "secd ledger check" verifies it, and history's cursor
 *   relies on it (ledger.c).
 *
 * Version 3: client certificates as identity.
 *   cert_bindings	one row per binding of a certificate (the SHA-256 of
 *		its DER, 64 lowercase hex digits: the value secd computes
 *		from the handshake) to an account: when it was bound and,
 *		once revoked ("secd account unbind-cert"), when it was
 *		revoked.  Rows are never deleted and a revoked row never
 *		comes back, so the history of who could log in with which
 *		certificate stays visible; triggers refuse DELETE and every
 *		UPDATE but the one that revokes.  A partial unique index
 *		keeps a fingerprint bound to at most one account at a time;
 *		the account index serves login (account, fingerprint) and
 *		"secd account show".
 *
 * Times are Unix milliseconds; amounts are integers of minor units within
 * +-(2^53 - 1), checked by the schema as well as by the code.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ledger_db.h"

#define LEDGER_DB_SCHEMA_V1 \
"CREATE TABLE accounts (\n" \
"	name TEXT PRIMARY KEY NOT NULL CHECK (typeof(name) = 'text'\n" \
"	    AND length(name) BETWEEN 1 AND 64\n" \
"	    AND name NOT GLOB '*[^A-Za-z0-9._@-]*'),\n" \
"	password_hash TEXT NOT NULL CHECK (password_hash GLOB '$*'),\n" \
"	currency TEXT NOT NULL CHECK (typeof(currency) = 'text'\n" \
"	    AND length(currency) = 3 AND currency NOT GLOB '*[^A-Z]*'),\n" \
"	balance INTEGER NOT NULL CHECK (typeof(balance) = 'integer'\n" \
"	    AND balance BETWEEN 0 AND 9007199254740991),\n" \
"	created INTEGER NOT NULL,\n" \
"	locked_until INTEGER NOT NULL DEFAULT 0\n" \
") WITHOUT ROWID;\n" \
"CREATE TABLE transfers (\n" \
"	id INTEGER PRIMARY KEY,\n" \
"	time INTEGER NOT NULL,\n" \
"	from_account TEXT NOT NULL REFERENCES accounts (name),\n" \
"	to_account TEXT NOT NULL REFERENCES accounts (name),\n" \
"	amount INTEGER NOT NULL CHECK (typeof(amount) = 'integer'\n" \
"	    AND amount BETWEEN 1 AND 9007199254740991),\n" \
"	currency TEXT NOT NULL,\n" \
"	memo TEXT,\n" \
"	idempotency_key TEXT NOT NULL\n" \
"	    CHECK (length(idempotency_key) BETWEEN 1 AND 128),\n" \
"	CHECK (from_account <> to_account),\n" \
"	UNIQUE (from_account, idempotency_key)\n" \
");\n" \
"CREATE TABLE journal (\n" \
"	id INTEGER PRIMARY KEY,\n" \
"	time INTEGER NOT NULL,\n" \
"	account TEXT NOT NULL REFERENCES accounts (name),\n" \
"	kind TEXT NOT NULL\n" \
"	    CHECK (kind IN ('transfer', 'deposit', 'withdraw')),\n" \
"	amount INTEGER NOT NULL CHECK (typeof(amount) = 'integer'\n" \
"	    AND amount <> 0\n" \
"	    AND amount BETWEEN -9007199254740991 AND 9007199254740991),\n" \
"	balance_after INTEGER NOT NULL CHECK (typeof(balance_after) = 'integer'\n" \
"	    AND balance_after BETWEEN 0 AND 9007199254740991),\n" \
"	counterparty TEXT REFERENCES accounts (name),\n" \
"	memo TEXT,\n" \
"	reason TEXT,\n" \
"	transfer_id INTEGER REFERENCES transfers (id),\n" \
"	CHECK ((kind = 'transfer') =\n" \
"	    (transfer_id IS NOT NULL AND counterparty IS NOT NULL)),\n" \
"	CHECK (kind <> 'deposit' OR amount > 0),\n" \
"	CHECK (kind <> 'withdraw' OR amount < 0)\n" \
");\n" \
"CREATE INDEX journal_by_account ON journal (account, id);\n" \
"CREATE INDEX journal_by_transfer ON journal (transfer_id)\n" \
"    WHERE transfer_id IS NOT NULL;\n" \
"CREATE TRIGGER journal_no_update BEFORE UPDATE ON journal\n" \
"    BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END;\n" \
"CREATE TRIGGER journal_no_delete BEFORE DELETE ON journal\n" \
"    BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END;\n" \
"CREATE TRIGGER transfers_no_update BEFORE UPDATE ON transfers\n" \
"    BEGIN SELECT RAISE(ABORT, 'transfers are append-only'); END;\n" \
"CREATE TRIGGER transfers_no_delete BEFORE DELETE ON transfers\n" \
"    BEGIN SELECT RAISE(ABORT, 'transfers are append-only'); END;\n"

/*
 * Version 2.  SQLite's way of changing a table's constraints: make the new
 * table, copy, drop the old, rename the new (ledger_db_migrate runs every
 * step with foreign keys off, and checks them all before COMMIT).  The
 * journal's REFERENCES transfers then names the new table.
 */
#define LEDGER_DB_SCHEMA_V2 \
"CREATE TABLE transfers_v2 (\n" \
"	id INTEGER PRIMARY KEY,\n" \
"	time INTEGER NOT NULL,\n" \
"	from_account TEXT NOT NULL REFERENCES accounts (name),\n" \
"	to_account TEXT NOT NULL REFERENCES accounts (name),\n" \
"	amount INTEGER NOT NULL CHECK (typeof(amount) = 'integer'\n" \
"	    AND amount BETWEEN 1 AND 9007199254740991),\n" \
"	currency TEXT NOT NULL,\n" \
"	memo TEXT,\n" \
"	idempotency_key TEXT NOT NULL\n" \
"	    CHECK (length(idempotency_key) BETWEEN 1 AND 128),\n" \
"	CHECK (from_account <> to_account)\n" \
");\n" \
"INSERT INTO transfers_v2 SELECT id, time, from_account, to_account,\n" \
"    amount, currency, memo, idempotency_key FROM transfers;\n" \
"DROP TRIGGER transfers_no_update;\n" \
"DROP TRIGGER transfers_no_delete;\n" \
"DROP TABLE transfers;\n" \
"ALTER TABLE transfers_v2 RENAME TO transfers;\n" \
"CREATE TRIGGER transfers_no_update BEFORE UPDATE ON transfers\n" \
"    BEGIN SELECT RAISE(ABORT, 'transfers are append-only'); END;\n" \
"CREATE TRIGGER transfers_no_delete BEFORE DELETE ON transfers\n" \
"    BEGIN SELECT RAISE(ABORT, 'transfers are append-only'); END;\n" \
"CREATE TABLE idempotency (\n" \
"	account TEXT NOT NULL REFERENCES accounts (name),\n" \
"	key TEXT NOT NULL CHECK (length(key) BETWEEN 1 AND 128),\n" \
"	transfer_id INTEGER NOT NULL REFERENCES transfers (id),\n" \
"	created INTEGER NOT NULL,\n" \
"	PRIMARY KEY (account, key)\n" \
") WITHOUT ROWID;\n" \
"CREATE INDEX idempotency_by_created ON idempotency (created);\n" \
"INSERT INTO idempotency (account, key, transfer_id, created)\n" \
"    SELECT from_account, idempotency_key, id, time FROM transfers;\n"

/* Version 3: certificate bindings, kept after revocation. */
#define LEDGER_DB_SCHEMA_V3 \
"CREATE TABLE cert_bindings (\n" \
"	id INTEGER PRIMARY KEY,\n" \
"	sha256 TEXT NOT NULL CHECK (typeof(sha256) = 'text'\n" \
"	    AND length(sha256) = 64 AND sha256 NOT GLOB '*[^0-9a-f]*'),\n" \
"	account TEXT NOT NULL REFERENCES accounts (name),\n" \
"	bound INTEGER NOT NULL CHECK (typeof(bound) = 'integer'),\n" \
"	revoked INTEGER CHECK (revoked IS NULL\n" \
"	    OR (typeof(revoked) = 'integer' AND revoked >= bound))\n" \
");\n" \
"CREATE UNIQUE INDEX cert_bindings_active ON cert_bindings (sha256)\n" \
"    WHERE revoked IS NULL;\n" \
"CREATE INDEX cert_bindings_by_account ON cert_bindings\n" \
"    (account, sha256);\n" \
"CREATE TRIGGER cert_bindings_no_delete BEFORE DELETE ON cert_bindings\n" \
"    BEGIN SELECT RAISE(ABORT, 'certificate bindings are kept: revoke, "\
"do not delete'); END;\n" \
"CREATE TRIGGER cert_bindings_only_revoke BEFORE UPDATE ON cert_bindings\n" \
"    WHEN OLD.revoked IS NOT NULL OR NEW.revoked IS NULL\n" \
"    OR NEW.id IS NOT OLD.id OR NEW.sha256 IS NOT OLD.sha256\n" \
"    OR NEW.account IS NOT OLD.account OR NEW.bound IS NOT OLD.bound\n" \
"    BEGIN SELECT RAISE(ABORT, 'a certificate binding can only be "\
"revoked, once'); END;\n"

/* ledger_db_migrations[i] takes the schema from version i to i + 1. */
static const char *const ledger_db_migrations[] = {
	LEDGER_DB_SCHEMA_V1,
	LEDGER_DB_SCHEMA_V2,
	LEDGER_DB_SCHEMA_V3,
};

_Static_assert(sizeof(ledger_db_migrations) /
    sizeof(ledger_db_migrations[0]) == LEDGER_DB_VERSION,
    "one migration step per schema version");

/* 1..max bytes of letters, digits and the characters in extra. */
static int
ledger_db_charset_valid(const char *s, size_t max, const char *extra)
{
	size_t i;
	char c;

	for (i = 0; (c = s[i]) != '\0'; i++) {
		if (i >= max)
			return 0;
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || strchr(extra, c) != NULL))
			return 0;
	}
	return i > 0;
}

int
ledger_db_name_valid(const char *name)
{
	return ledger_db_charset_valid(name, LEDGER_NAME_MAX, "._@-");
}

int
ledger_db_key_valid(const char *key)
{
	return ledger_db_charset_valid(key, LEDGER_KEY_MAX, "._:-");
}

int
ledger_db_sha256_valid(const char *hex)
{
	size_t i;

	for (i = 0; i < LEDGER_SHA256_HEX; i++)
		if (!((hex[i] >= '0' && hex[i] <= '9') ||
		    (hex[i] >= 'a' && hex[i] <= 'f')))
			return 0;	/* the NUL of a short string, too */
	return hex[i] == '\0';
}

int
ledger_db_text_valid(const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n, k;
	uint32_t cp, min;

	while (p[i] != '\0') {
		if (i >= max)
			return 0;
		if (p[i] < 0x80) {
			if (p[i] < 0x20 || p[i] == 0x7f)
				return 0;
			i++;
			continue;
		}
		if (p[i] >= 0xc2 && p[i] <= 0xdf) {
			n = 1;
			cp = p[i] & 0x1f;
			min = 0x80;
		} else if (p[i] >= 0xe0 && p[i] <= 0xef) {
			n = 2;
			cp = p[i] & 0x0f;
			min = 0x800;
		} else if (p[i] >= 0xf0 && p[i] <= 0xf4) {
			n = 3;
			cp = p[i] & 0x07;
			min = 0x10000;
		} else
			return 0;
		for (k = 1; k <= n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)	/* NUL stops here too */
				return 0;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ||
		    (cp >= 0x80 && cp <= 0x9f))
			return 0;
		i += n + 1;
	}
	return i <= max;
}

int
ledger_db_keeps_connection(int rc)
{

	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
	case SQLITE_FULL:
	case SQLITE_NOMEM:
	case SQLITE_INTERRUPT:
	case SQLITE_CONSTRAINT:
		return 1;
	default:
		return 0;
	}
}

int
ledger_db_moved(sqlite3 *db)
{
	int moved = 0;

	if (sqlite3_file_control(db, "main", SQLITE_FCNTL_HAS_MOVED,
	    &moved) != SQLITE_OK)
		return 0;
	return moved != 0;
}

int64_t
ledger_db_now_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		return 0;
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
ledger_db_exec(sqlite3 *db, const char *sql)
{

	return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

/* Run a statement that returns one row of one column, as text or int. */
static int
ledger_db_query1(sqlite3 *db, const char *sql, char *text, size_t textlen,
    int64_t *num)
{
	sqlite3_stmt *st;
	const unsigned char *t;
	int rc = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) != SQLITE_ROW)
		goto done;
	if (text != NULL) {
		if ((t = sqlite3_column_text(st, 0)) == NULL)
			goto done;
		snprintf(text, textlen, "%s", (const char *)t);
	}
	if (num != NULL)
		*num = sqlite3_column_int64(st, 0);
	rc = 0;
done:
	/* A one-row statement must not leave its read transaction open. */
	if (sqlite3_reset(st) != SQLITE_OK)
		rc = -1;
	sqlite3_finalize(st);
	return rc;
}

int
ledger_db_version(sqlite3 *db)
{
	int64_t v;

	if (ledger_db_query1(db, "PRAGMA user_version", NULL, 0, &v))
		return -1;
	return (int)v;
}

/* Check application_id and user_version; set *version. */
static int
ledger_db_identify(sqlite3 *db, const char *path, int *version, char *err,
    size_t errlen)
{
	int64_t appid, v, nobjects;

	if (ledger_db_query1(db, "PRAGMA application_id", NULL, 0, &appid) ||
	    ledger_db_query1(db, "PRAGMA user_version", NULL, 0, &v) ||
	    ledger_db_query1(db, "SELECT count(*) FROM sqlite_schema", NULL,
	    0, &nobjects)) {
		snprintf(err, errlen, "database %s: %s", path,
		    sqlite3_errmsg(db));
		return -1;
	}
	if (appid != 0 && appid != LEDGER_DB_APPID) {
		snprintf(err, errlen, "database %s: not a secd ledger "
		    "(application_id %#llx)", path, (unsigned long long)appid);
		return -1;
	}
	if (appid == 0 && (v != 0 || nobjects != 0)) {
		snprintf(err, errlen, "database %s: not a secd ledger "
		    "(it holds other tables); give secd a file of its own",
		    path);
		return -1;
	}
	if (v > LEDGER_DB_VERSION) {
		snprintf(err, errlen, "database %s: schema version %lld is "
		    "newer than this secd's (%d); run a newer secd", path,
		    (long long)v, LEDGER_DB_VERSION);
		return -1;
	}
	if (v < 0) {
		snprintf(err, errlen, "database %s: bad schema version %lld",
		    path, (long long)v);
		return -1;
	}
	*version = (int)v;
	return 0;
}

int
ledger_db_migrate(sqlite3 *db, const char *path, char *err, size_t errlen)
{
	char sql[128];
	int64_t fk = 1, bad;
	int v;

	/* The common case, already current, takes no write lock. */
	if (ledger_db_identify(db, path, &v, err, errlen))
		return -1;
	if (v == LEDGER_DB_VERSION)
		return 0;

	/*
	 * Foreign keys off while tables are rebuilt (a DROP TABLE would
	 * otherwise trip the references to it), and all of them checked
	 * before COMMIT.  The pragma is a no-op inside a transaction, so
	 * it is set before BEGIN and put back after COMMIT or ROLLBACK.
	 */
	if (ledger_db_query1(db, "PRAGMA foreign_keys", NULL, 0, &fk) ||
	    ledger_db_exec(db, "PRAGMA foreign_keys = OFF"))
		goto fail;
	/* IMMEDIATE: a second process migrating at once waits, then sees
	   the new version and does nothing. */
	if (ledger_db_exec(db, "BEGIN IMMEDIATE"))
		goto fail;
	if (ledger_db_identify(db, path, &v, err, errlen))
		goto err1;
	for (; v < LEDGER_DB_VERSION; v++) {
		if (ledger_db_exec(db, ledger_db_migrations[v])) {
			snprintf(err, errlen, "database %s: migrating the "
			    "schema to version %d: %s", path, v + 1,
			    sqlite3_errmsg(db));
			goto err1;
		}
	}
	if (ledger_db_query1(db, "SELECT count(*) FROM "
	    "pragma_foreign_key_check", NULL, 0, &bad))
		goto fail;
	if (bad != 0) {
		snprintf(err, errlen, "database %s: migrating the schema to "
		    "version %d: %lld rows refer to rows that do not exist "
		    "(PRAGMA foreign_key_check lists them); nothing changed",
		    path, LEDGER_DB_VERSION, (long long)bad);
		goto err1;
	}
	snprintf(sql, sizeof(sql), "PRAGMA application_id = %d; "
	    "PRAGMA user_version = %d", LEDGER_DB_APPID, LEDGER_DB_VERSION);
	if (ledger_db_exec(db, sql) || ledger_db_exec(db, "COMMIT"))
		goto fail;
	if (fk && ledger_db_exec(db, "PRAGMA foreign_keys = ON"))
		goto fail;
	return 0;

fail:
	snprintf(err, errlen, "database %s: %s", path, sqlite3_errmsg(db));
err1:
	if (!sqlite3_get_autocommit(db))
		(void)ledger_db_exec(db, "ROLLBACK");
	if (fk)
		(void)ledger_db_exec(db, "PRAGMA foreign_keys = ON");
	return -1;
}

/* Create path with mode 0600 if it does not exist; never a directory. */
static int
ledger_db_create_file(const char *path, char *err, size_t errlen)
{
	char *copy, *dir;
	int fd;

	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) != -1) {
		close(fd);
		return 0;
	}
	if (errno == ENOENT && (copy = strdup(path)) != NULL) {
		dir = dirname(copy);
		snprintf(err, errlen, "database %s: directory %s does not "
		    "exist (secd creates the file, not its directory)", path,
		    dir);
		free(copy);
	} else {
		snprintf(err, errlen, "database %s: cannot create it: %s",
		    path, strerror(errno));
	}
	return -1;
}

sqlite3 *
ledger_db_open(const char *path, int flags, char *err, size_t errlen)
{
	sqlite3 *db = NULL;
	char mode[16];
	int v, serr;

	if ((flags & LEDGER_DB_CREATE) &&
	    ledger_db_create_file(path, err, errlen))
		goto err0;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		serr = db != NULL ? sqlite3_system_errno(db) : 0;
		snprintf(err, errlen, "database %s: %s%s%s", path,
		    db != NULL ? sqlite3_errmsg(db) : "out of memory",
		    serr != 0 ? ": " : "", serr != 0 ? strerror(serr) : "");
		goto err1;
	}
	if (sqlite3_db_readonly(db, "main") == 1) {
		snprintf(err, errlen, "database %s: can only be opened "
		    "read-only; check its permissions", path);
		goto err1;
	}
	sqlite3_extended_result_codes(db, 1);
	sqlite3_busy_timeout(db, LEDGER_DB_BUSY_MS);

	/* Whose file is it?  Another application's is refused before
	   anything in it changes (the journal mode is written to the file). */
	if (ledger_db_identify(db, path, &v, err, errlen))
		goto err1;

	/* WAL: readers never wait for the writer, and with synchronous=FULL
	   a commit has reached the disk when COMMIT returns. */
	if (ledger_db_query1(db, "PRAGMA journal_mode = WAL", mode,
	    sizeof(mode), NULL))
		goto fail;
	if (strcmp(mode, "wal") != 0) {
		snprintf(err, errlen, "database %s: cannot use WAL mode "
		    "(journal_mode is %s)", path, mode);
		goto err1;
	}
	if (ledger_db_exec(db, "PRAGMA synchronous = FULL; "
	    "PRAGMA foreign_keys = ON; PRAGMA trusted_schema = OFF"))
		goto fail;

	if (flags & LEDGER_DB_CREATE) {
		if (ledger_db_migrate(db, path, err, errlen))
			goto err1;
	} else {
		if (ledger_db_identify(db, path, &v, err, errlen))
			goto err1;
		if (v != LEDGER_DB_VERSION) {
			snprintf(err, errlen, "database %s: schema version %d, "
			    "expected %d", path, v, LEDGER_DB_VERSION);
			goto err1;
		}
	}
	return db;

fail:
	snprintf(err, errlen, "database %s: %s", path, sqlite3_errmsg(db));
err1:
	sqlite3_close(db);
err0:
	return NULL;
}
