/*
 * ledger_check: verify every invariant of a ledger database.
 *
 * The invariants, each one a line of the report:
 *
 *   integrity	SQLite's own PRAGMA integrity_check, and foreign keys
 *		(PRAGMA foreign_key_check).
 *   balances	each account's balance equals the sum of its journal;
 *		no balance and no balance_after is negative.
 *   chain	along each account's journal, in id order, every entry's
 *		balance_after is the previous one plus its amount.
 *   transfers	each transfer has exactly two journal entries, of kind
 *		"transfer": the payer's (id = the transfer's id, amount
 *		-amount, counterparty the payee) and the payee's (the next
 *		id, +amount, counterparty the payer); both accounts hold
 *		the transfer's currency.
 *   orphans	no journal row without its account, counterparty or
 *		transfer; no transfer entry without a transfer; no
 *		idempotency key whose transfer is missing or not the
 *		key holder's.
 *   money	per currency, the money held equals all deposits minus
 *		all withdrawals (transfers only move it).
 *
 * The whole check runs in one read transaction, so it sees one consistent
 * state even while secd writes (WAL readers do not block the writer).
 */
#ifndef LEDGER_CHECK_H
#define LEDGER_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

/* What a report line is. */
enum ledger_check_line {
	LEDGER_CHECK_OK,		/* one invariant holds: what was checked */
	LEDGER_CHECK_FAIL		/* one violation, naming account/transfer */
};

/* Counts of what was checked. */
struct ledger_check_report {
	int64_t		accounts;
	int64_t		entries;	/* journal rows */
	int64_t		transfers;
	int64_t		keys;		/* live idempotency keys */
	int64_t		violations;	/* 0: the ledger is consistent */
};

/* LEDGER_CHECK_MAX_LINES violations of one invariant are listed; the
   rest are counted. */
#define LEDGER_CHECK_MAX_LINES	20

/*
 * ledger_check(db, out, arg, report, err, errlen):
 * Check every invariant above on the ledger ${db} (schema
 * LEDGER_DB_VERSION).  Call ${out}(${arg}, kind, line) for each report
 * line: one LEDGER_CHECK_OK line per invariant that holds, one
 * LEDGER_CHECK_FAIL line per violation found (the first
 * LEDGER_CHECK_MAX_LINES of each invariant, then one that counts the
 * rest).  ${out} may be NULL.  Fill ${report}.  Return 0 if the check ran
 * (report->violations says what it found), or -1 with a message in ${err}
 * if the database could not be read.
 */
int ledger_check(sqlite3 *, void (*)(void *, enum ledger_check_line,
    const char *), void *, struct ledger_check_report *, char *, size_t);

#endif /* !LEDGER_CHECK_H */
