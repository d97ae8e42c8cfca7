/*
 * ledger_admin: synchronous administration of a ledger database, for
 * "secd account ...", "secd ledger ..." and for tests: accounts and
 * passwords, the client certificates bound to accounts, deposits and
 * withdrawals (the only ways money enters or leaves the ledger), and
 * online backups.
 *
 * These functions block (scrypt, fsync) and are meant for a command-line
 * tool, never for secd's event loops.  They may run while secd serves the
 * same database: SQLite's locking and WAL keep both consistent, and a
 * write waits up to LEDGER_DB_BUSY_MS for secd's writer.
 *
 * Errors come back as -1 with one line in err, written for the operator
 * ("account AAA already exists", "no such account BBB", "database
 * /var/lib/secd/ledger.db: ...").
 */
#ifndef LEDGER_ADMIN_H
#define LEDGER_ADMIN_H

#include <stddef.h>
#include <stdint.h>

#include "secd/handler.h"

#include "ledger_db.h"

struct ledger_admin;

/* One account as the administrator sees it. */
struct ledger_account {
	char		name[LEDGER_NAME_MAX + 1];
	char		currency[4];
	int64_t		balance;	/* minor units */
	int64_t		created;	/* Unix ms */
	int64_t		locked_until;	/* Unix ms; 0 if never locked */
	char		hash_params[48]; /* "scrypt ln=14,r=8,p=1" or "unreadable" */
	int		needs_rehash;	/* hash parameters are not auth's */
	int64_t		journal_entries; /* ledger_admin_show only */
	int64_t		journal_sum;	/* ditto; equals balance when sound */
};

/*
 * ledger_admin_open(path, flags, auth, err, errlen):
 * Open the ledger database ${path}.  With LEDGER_DB_CREATE in ${flags},
 * create it (not its directory) and bring its schema up to date if need
 * be; without, it must exist at the current schema version.  ${auth}
 * gives the scrypt parameters for new hashes and is borrowed until
 * ledger_admin_free; it may be NULL if no password will be set.  Return
 * the handle, or NULL with a message in ${err}.
 */
struct ledger_admin *ledger_admin_open(const char *, int,
    const struct secd_auth *, char *, size_t);

/*
 * ledger_admin_free(a):
 * Close the database of ${a} and free ${a}.  Does nothing if ${a} is NULL.
 */
void ledger_admin_free(struct ledger_admin *);

/*
 * ledger_admin_add(a, name, password, passlen, currency, balance, err,
 *     errlen):
 * Create the account ${name} with the ${passlen}-byte password at
 * ${password} (hashed here; the caller wipes its own copy), the currency
 * ${currency} and an initial balance of ${balance} minor units, recorded
 * as a journal "deposit" with reason "initial balance" (none when 0) in
 * the same transaction.  Names that begin with "@" are refused: history
 * shows deposits and withdrawals as coming from "@deposit" and
 * "@withdraw".  Return 0 or -1.
 */
int ledger_admin_add(struct ledger_admin *, const char *, const char *,
    size_t, const char *, int64_t, char *, size_t);

/*
 * ledger_admin_passwd(a, name, password, passlen, err, errlen):
 * Replace the password of the existing account ${name}.  Return 0 or -1.
 */
int ledger_admin_passwd(struct ledger_admin *, const char *, const char *,
    size_t, char *, size_t);

/*
 * ledger_admin_show(a, name, acct, err, errlen):
 * Fill ${acct} with the account ${name}, journal totals included.  Return
 * 0 or -1 ("no such account NAME").
 */
int ledger_admin_show(struct ledger_admin *, const char *,
    struct ledger_account *, char *, size_t);

/*
 * ledger_admin_list(a, cb, arg, err, errlen):
 * Call ${cb}(acct, ${arg}) for every account in name order (without
 * journal totals); stop early if ${cb} returns non-zero.  Return 0, or -1
 * on a database error.  ${acct} is only valid during the callback.
 */
int ledger_admin_list(struct ledger_admin *,
    int (*)(const struct ledger_account *, void *), void *, char *, size_t);

/* What a deposit or withdrawal did. */
struct ledger_adjustment {
	int64_t		entry;		/* the journal id of its entry */
	int64_t		balance;	/* the account's balance after it */
	char		currency[4];
};

/*
 * ledger_admin_deposit(a, name, amount, reason, adj, err, errlen):
 * Add ${amount} (1 to 2^53 - 1) minor units to the account ${name}, with a
 * journal entry of kind "deposit" carrying ${reason} (1 to 256 bytes of
 * UTF-8 without control characters), in one transaction.  Fill ${adj}.
 * Refuses (-1) an unknown account and a balance that would pass 2^53 - 1.
 * This and ledger_admin_withdraw are the only ways the ledger's total money
 * changes.  Return 0 or -1.
 */
int ledger_admin_deposit(struct ledger_admin *, const char *, int64_t,
    const char *, struct ledger_adjustment *, char *, size_t);

/*
 * ledger_admin_withdraw(a, name, amount, reason, adj, err, errlen):
 * As ledger_admin_deposit, but take ${amount} away, as a "withdraw"
 * entry; refuses to take more than the balance ("account AAA holds 50.00
 * CNY, less than 100.00").
 */
int ledger_admin_withdraw(struct ledger_admin *, const char *, int64_t,
    const char *, struct ledger_adjustment *, char *, size_t);

/* One binding of a client certificate to an account. */
struct ledger_cert_binding {
	char		sha256[LEDGER_SHA256_HEX + 1];	/* lowercase hex */
	char		account[LEDGER_NAME_MAX + 1];
	int64_t		bound;		/* Unix ms */
	int64_t		revoked;	/* Unix ms; 0 while it authenticates */
};

/*
 * ledger_admin_sha256_parse(text, hex, err, errlen):
 * Parse ${text}, "sha256:" then 64 hex digits in either case, optionally
 * with a colon between bytes ("sha256:AB:CD:..."), into ${hex}
 * (LEDGER_SHA256_HEX + 1 bytes): 64 lowercase digits, the form the ledger
 * stores and secd computes from a handshake.  Return 0, or -1 with a
 * message in ${err}.
 */
int ledger_admin_sha256_parse(const char *, char *, char *, size_t);

/*
 * ledger_admin_bind_cert(a, name, sha256, binding, err, errlen):
 * Bind the certificate whose DER has the SHA-256 ${sha256} (64 lowercase
 * hex digits) to the existing account ${name}, in one transaction, and
 * fill ${binding} with the new row.  Refuses (-1) an unknown account, a
 * malformed fingerprint, and a fingerprint that is bound, unrevoked,
 * already: to ${name} ("already bound to AAA") or to another account
 * ("already bound to account BBB; unbind it there first").  A revoked
 * binding does not stand in the way: binding again makes a new row.
 */
int ledger_admin_bind_cert(struct ledger_admin *, const char *,
    const char *, struct ledger_cert_binding *, char *, size_t);

/*
 * ledger_admin_unbind_cert(a, name, sha256, binding, err, errlen):
 * Revoke the live binding of ${sha256} to ${name}: the row stays, with
 * its revocation time, and no longer authenticates (a reader's next login
 * sees it).  Fill ${binding} with the revoked row.  Refuses (-1) an
 * unknown account and a fingerprint not bound to ${name} (never bound, or
 * revoked already).
 */
int ledger_admin_unbind_cert(struct ledger_admin *, const char *,
    const char *, struct ledger_cert_binding *, char *, size_t);

/*
 * ledger_admin_certs(a, name, cb, arg, err, errlen):
 * Call ${cb}(binding, ${arg}) for every binding of the account ${name},
 * live and revoked, oldest first; stop early if ${cb} returns non-zero.
 * Return 0, or -1 on a database error.  An unknown account simply has
 * none.  ${binding} is only valid during the callback.
 */
int ledger_admin_certs(struct ledger_admin *, const char *,
    int (*)(const struct ledger_cert_binding *, void *), void *, char *,
    size_t);

/*
 * ledger_admin_backup(a, dest, pages, err, errlen):
 * Copy the database of ${a}, as one consistent snapshot, to the new file
 * ${dest} (mode 0600) with SQLite's online backup, while secd may be
 * writing: the copy holds every transaction committed before it began and
 * none after.  Refuses to overwrite ${dest} if it exists (even empty).
 * The copy is flushed to disk (file and directory) before this returns.
 * Set *${pages} to the number of pages copied.  On failure remove what it
 * created of ${dest} and return -1.
 */
int ledger_admin_backup(struct ledger_admin *, const char *, int64_t *,
    char *, size_t);

/*
 * ledger_admin_db(a):
 * Return the connection of ${a}, for tests that inspect the schema.
 */
sqlite3 *ledger_admin_db(struct ledger_admin *);

#endif /* !LEDGER_ADMIN_H */
