/*
 * ledger_db: the ledger's SQLite database: opening, schema, migrations.
 *
 * One database file holds accounts, their journal, transfers, the
 * idempotency keys of transfers and the client certificates bound to
 * accounts (schema in ledger_db.c).
 * Every connection runs in WAL mode with synchronous=FULL (a commit is on
 * disk when it returns), foreign keys on and a bounded busy timeout.  The
 * schema version is PRAGMA user_version; PRAGMA application_id marks the
 * file as a secd ledger so that secd refuses to migrate someone else's
 * database.
 *
 * Invariant kept by every writer: an account's balance equals the sum of
 * its journal amounts, and the journal is append-only (triggers refuse
 * UPDATE and DELETE).
 */
#ifndef LEDGER_DB_H
#define LEDGER_DB_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#define LEDGER_DB_VERSION	3		/* schema this code writes */
#define LEDGER_DB_APPID		0x73656364	/* "secd" */
#define LEDGER_DB_BUSY_MS	5000		/* longest wait for a lock */
#define LEDGER_DB_WRITER_BUSY_MS 1000		/* ... for secd's writer, which
						   holds transfers meanwhile */
#define LEDGER_NAME_MAX		64		/* bytes in an account name */
#define LEDGER_AMOUNT_MAX	INT64_C(9007199254740991) /* 2^53 - 1 */
#define LEDGER_KEY_MAX		64		/* bytes in an idempotency key */
#define LEDGER_MEMO_MAX		256		/* bytes in a memo or reason */
#define LEDGER_SHA256_HEX	64		/* hex digits of a certificate
						   fingerprint */

/* ledger_db_open flags. */
#define LEDGER_DB_CREATE	0x1	/* create the file (mode 0600) and
					   migrate the schema to the latest */

/*
 * ledger_db_open(path, flags, err, errlen):
 * Open the ledger database ${path} for use by one thread at a time.  With
 * LEDGER_DB_CREATE, create the file if it is missing (never its directory)
 * and bring its schema up to LEDGER_DB_VERSION; without it, the file must
 * exist at LEDGER_DB_VERSION already.  Return the connection (the caller
 * closes it with sqlite3_close), or NULL with one line in ${err} that
 * begins "database PATH: ".
 */
sqlite3 *ledger_db_open(const char *, int, char *, size_t);

/*
 * ledger_db_migrate(db, path, err, errlen):
 * Bring the schema of ${db} (the file ${path}, named in messages) up to
 * LEDGER_DB_VERSION in one transaction.  Refuses a database that belongs
 * to another application or has a newer schema.  Return 0 or -1 with a
 * message in ${err}.
 */
int ledger_db_migrate(sqlite3 *, const char *, char *, size_t);

/*
 * ledger_db_version(db):
 * Return the schema version of ${db} (PRAGMA user_version), or -1 if it
 * cannot be read.
 */
int ledger_db_version(sqlite3 *);

/*
 * ledger_db_exec(db, sql):
 * Run the statements in ${sql}, which return no rows.  Return 0 or -1
 * (sqlite3_errmsg(db) says why).
 */
int ledger_db_exec(sqlite3 *, const char *);

/*
 * ledger_db_name_valid(name):
 * Return 1 if ${name} is a valid account name: 1 to LEDGER_NAME_MAX bytes
 * of A-Z a-z 0-9 . _ @ -; otherwise 0.
 */
int ledger_db_name_valid(const char *);

/*
 * ledger_db_key_valid(key):
 * Return 1 if ${key} is a valid idempotency key: 1 to LEDGER_KEY_MAX bytes
 * of A-Z a-z 0-9 . _ : -; otherwise 0.
 */
int ledger_db_key_valid(const char *);

/*
 * ledger_db_sha256_valid(hex):
 * Return 1 if ${hex} is a certificate fingerprint as the ledger stores it
 * and secd hands it over (secd_peer.cert_sha256): exactly 64 lowercase hex
 * digits; otherwise 0.
 */
int ledger_db_sha256_valid(const char *);

/*
 * ledger_db_text_valid(s, max):
 * Return 1 if ${s} is at most ${max} bytes of well-formed UTF-8 without
 * control characters (U+0000..U+001F, U+007F..U+009F), the protocol's rule
 * for memos; otherwise 0.  The empty string is valid.
 */
int ledger_db_text_valid(const char *, size_t);

/*
 * ledger_db_keeps_connection(rc):
 * Return 1 if a connection that failed with the (extended) result code
 * ${rc} is still worth using once the cause goes away: a lock held by
 * someone else (SQLITE_BUSY, SQLITE_LOCKED), a full disk (SQLITE_FULL),
 * memory (SQLITE_NOMEM), an interrupt or a constraint.  Return 0 for the
 * rest (I/O errors, a read-only, moved, corrupt or vanished file, a schema
 * changed behind our back): close the connection and open it again.
 */
int ledger_db_keeps_connection(int);

/*
 * ledger_db_moved(db):
 * Return 1 if the database file of ${db} has been renamed or deleted since
 * it was opened (SQLITE_FCNTL_HAS_MOVED: one stat), so that the path now
 * names another file or none; otherwise 0.  A WAL connection goes on
 * working on the moved file, out of sight of everyone who opens the path,
 * so the ledger closes it and opens the path again.
 */
int ledger_db_moved(sqlite3 *);

/*
 * ledger_db_now_ms():
 * Return the wall-clock time in milliseconds since the Unix epoch, the
 * unit of every time column.
 */
int64_t ledger_db_now_ms(void);

#endif /* !LEDGER_DB_H */
