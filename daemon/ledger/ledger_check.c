/*
 * ledger_check.c: walk the whole ledger and verify its invariants.
 *
 * Three passes in one read transaction:
 *
 *   1. accounts LEFT JOIN journal in (name, id) order, which the primary
 *      key and the journal's (account, id) index deliver without a sort:
 *      balances, the balance_after chain, and the per-currency totals of
 *      deposits, withdrawals and balances;
 *   2. transfers LEFT JOIN journal in (transfer id, entry id) order: the
 *      two entries of each transfer;
 *   3. a few anti-joins for rows that point at nothing.
 *
 * Memory stays constant in the size of the ledger except for one row per
 * currency.  Sums are checked for overflow: a ledger whose totals pass
 * 2^63 is reported, not mis-added.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger_amount.h"
#include "ledger_check.h"
#include "ledger_db.h"

/* The invariants, in report order. */
enum ck_inv {
	CK_INTEGRITY,
	CK_BALANCES,
	CK_CHAIN,
	CK_TRANSFERS,
	CK_ORPHANS,
	CK_MONEY,
	CK_NINV
};

static const char *const ck_names[CK_NINV] = {
	"integrity", "balances", "chain", "transfers", "orphans", "money"
};

/* Money of one currency. */
struct ck_money {
	char		currency[4];
	int64_t		held;
	int64_t		deposited;
	int64_t		withdrawn;
	int		overflow;
};

struct ck {
	sqlite3		*db;
	void		(*out)(void *, enum ledger_check_line, const char *);
	void		*arg;
	struct ledger_check_report *r;
	int64_t		 fails[CK_NINV];
	struct ck_money	*money;
	size_t		 nmoney;
	char		*err;
	size_t		 errlen;
};

static void ck_line(struct ck *, enum ledger_check_line, enum ck_inv,
    const char *, va_list) __attribute__((format(printf, 4, 0)));

static void
ck_line(struct ck *c, enum ledger_check_line kind, enum ck_inv inv,
    const char *fmt, va_list ap)
{
	char line[512];
	int n;

	if (c->out == NULL)
		return;
	n = snprintf(line, sizeof(line), "%s: ", ck_names[inv]);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	c->out(c->arg, kind, line);
}

static void ck_fail(struct ck *, enum ck_inv, const char *, ...)
    __attribute__((format(printf, 3, 4)));

/* One violation of inv. */
static void
ck_fail(struct ck *c, enum ck_inv inv, const char *fmt, ...)
{
	va_list ap;

	c->r->violations++;
	if (c->fails[inv]++ >= LEDGER_CHECK_MAX_LINES)
		return;
	va_start(ap, fmt);
	ck_line(c, LEDGER_CHECK_FAIL, inv, fmt, ap);
	va_end(ap);
}

static void ck_done(struct ck *, enum ck_inv, const char *, ...)
    __attribute__((format(printf, 3, 4)));

/* inv has been checked: say what held, or how many more failed. */
static void
ck_done(struct ck *c, enum ck_inv inv, const char *fmt, ...)
{
	char line[64];
	va_list ap;

	if (c->fails[inv] == 0) {
		va_start(ap, fmt);
		ck_line(c, LEDGER_CHECK_OK, inv, fmt, ap);
		va_end(ap);
	} else if (c->fails[inv] > LEDGER_CHECK_MAX_LINES && c->out != NULL) {
		snprintf(line, sizeof(line), "%s: ... and %" PRId64 " more",
		    ck_names[inv], c->fails[inv] - LEDGER_CHECK_MAX_LINES);
		c->out(c->arg, LEDGER_CHECK_FAIL, line);
	}
}

static int
ck_dberr(struct ck *c)
{

	snprintf(c->err, c->errlen, "database: %s", sqlite3_errmsg(c->db));
	return -1;
}

static const char *
ck_text(sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	return t != NULL ? (const char *)t : "(null)";
}

/* The totals of currency cur, added if new; NULL if out of memory. */
static struct ck_money *
ck_currency(struct ck *c, const char *cur)
{
	struct ck_money *m;
	size_t i;

	for (i = 0; i < c->nmoney; i++)
		if (strcmp(c->money[i].currency, cur) == 0)
			return &c->money[i];
	if ((m = realloc(c->money, (c->nmoney + 1) * sizeof(*m))) == NULL)
		return NULL;
	c->money = m;
	m = &c->money[c->nmoney++];
	memset(m, 0, sizeof(*m));
	snprintf(m->currency, sizeof(m->currency), "%.3s", cur);
	return m;
}

static void
ck_add(int64_t *sum, int64_t v, int *overflow)
{

	if (__builtin_add_overflow(*sum, v, sum))
		*overflow = 1;
}

/* Pass 0: SQLite's own checks. */
static int
ck_integrity(struct ck *c)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(c->db, "PRAGMA integrity_check", -1, &st,
	    NULL) != SQLITE_OK)
		return ck_dberr(c);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (strcmp(ck_text(st, 0), "ok") != 0)
			ck_fail(c, CK_INTEGRITY, "%s", ck_text(st, 0));
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return ck_dberr(c);

	if (sqlite3_prepare_v2(c->db, "PRAGMA foreign_key_check", -1, &st,
	    NULL) != SQLITE_OK)
		return ck_dberr(c);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		ck_fail(c, CK_INTEGRITY, "table %s, row %s: refers to a "
		    "missing row of %s", ck_text(st, 0), ck_text(st, 1),
		    ck_text(st, 2));
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return ck_dberr(c);
	ck_done(c, CK_INTEGRITY, "PRAGMA integrity_check and "
	    "foreign_key_check find nothing wrong");
	return 0;
}

/* The state of pass 1 for the account being walked. */
struct ck_acct {
	char		name[LEDGER_NAME_MAX + 8];
	int64_t		balance;
	int64_t		sum;
	int		chain_broken;
	int		overflow;
	struct ck_money	*m;
};

static void
ck_account_end(struct ck *c, struct ck_acct *a)
{

	if (a->name[0] == '\0')
		return;
	if (a->overflow)
		ck_fail(c, CK_BALANCES, "account %s: its journal's sum "
		    "overflows 64 bits", a->name);
	else if (a->sum != a->balance)
		ck_fail(c, CK_BALANCES, "account %s: balance %" PRId64 " but "
		    "its journal sums to %" PRId64, a->name, a->balance,
		    a->sum);
	if (a->balance < 0)
		ck_fail(c, CK_BALANCES, "account %s: negative balance %" PRId64,
		    a->name, a->balance);
	ck_add(&a->m->held, a->balance, &a->m->overflow);
}

/* Pass 1: balances, chains, totals. */
static int
ck_accounts(struct ck *c)
{
	struct ck_acct a;
	sqlite3_stmt *st;
	const char *name, *kind;
	int64_t amount, after, id;
	int rc;

	if (sqlite3_prepare_v2(c->db, "SELECT a.name, a.currency, a.balance, "
	    "j.id, j.kind, j.amount, j.balance_after FROM accounts a "
	    "LEFT JOIN journal j ON j.account = a.name ORDER BY a.name, j.id",
	    -1, &st, NULL) != SQLITE_OK)
		return ck_dberr(c);
	memset(&a, 0, sizeof(a));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		name = ck_text(st, 0);
		if (strcmp(name, a.name) != 0) {
			ck_account_end(c, &a);
			memset(&a, 0, sizeof(a));
			snprintf(a.name, sizeof(a.name), "%s", name);
			a.balance = sqlite3_column_int64(st, 2);
			if ((a.m = ck_currency(c, ck_text(st, 1))) == NULL) {
				sqlite3_finalize(st);
				snprintf(c->err, c->errlen, "out of memory");
				return -1;
			}
			c->r->accounts++;
		}
		if (sqlite3_column_type(st, 3) == SQLITE_NULL)
			continue;	/* an account without entries */
		c->r->entries++;
		id = sqlite3_column_int64(st, 3);
		kind = ck_text(st, 4);
		amount = sqlite3_column_int64(st, 5);
		after = sqlite3_column_int64(st, 6);
		ck_add(&a.sum, amount, &a.overflow);
		if (after < 0)
			ck_fail(c, CK_BALANCES, "account %s: journal entry %"
			    PRId64 " leaves a negative balance %" PRId64,
			    a.name, id, after);
		if (!a.chain_broken && !a.overflow && after != a.sum) {
			ck_fail(c, CK_CHAIN, "account %s: journal entry %"
			    PRId64 " (%+" PRId64 ") says the balance became %"
			    PRId64 ", but the entries up to it sum to %" PRId64,
			    a.name, id, amount, after, a.sum);
			a.chain_broken = 1;
		}
		if (strcmp(kind, "deposit") == 0)
			ck_add(&a.m->deposited, amount, &a.m->overflow);
		else if (strcmp(kind, "withdraw") == 0)
			ck_add(&a.m->withdrawn, -amount, &a.m->overflow);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return ck_dberr(c);
	ck_account_end(c, &a);
	ck_done(c, CK_BALANCES, "every balance equals the sum of its journal, "
	    "and none is negative (%" PRId64 " accounts, %" PRId64
	    " entries)", c->r->accounts, c->r->entries);
	ck_done(c, CK_CHAIN, "every entry's balance_after follows from the "
	    "entry before it");
	return 0;
}

/* One journal entry of a transfer, as pass 2 sees it. */
struct ck_entry {
	int64_t		id;
	char		account[LEDGER_NAME_MAX + 8];
	char		kind[16];
	int64_t		amount;
	char		counterparty[LEDGER_NAME_MAX + 8];
};

struct ck_transfer {
	int64_t		id;		/* 0: none yet */
	char		from[LEDGER_NAME_MAX + 8];
	char		to[LEDGER_NAME_MAX + 8];
	int64_t		amount;
	char		currency[8];
	char		from_currency[8];	/* "" if no such account */
	char		to_currency[8];
	int		nentries;
	struct ck_entry	e[2];
};

/* Does e say "amount from account, counterparty cp, entry id"? */
static int
ck_entry_is(const struct ck_entry *e, int64_t id, const char *account,
    int64_t amount, const char *cp)
{

	return e->id == id && strcmp(e->account, account) == 0 &&
	    e->amount == amount && strcmp(e->counterparty, cp) == 0 &&
	    strcmp(e->kind, "transfer") == 0;
}

static void
ck_transfer_end(struct ck *c, const struct ck_transfer *t)
{

	if (t->id == 0)
		return;
	c->r->transfers++;
	if (t->from_currency[0] == '\0' || t->to_currency[0] == '\0') {
		ck_fail(c, CK_TRANSFERS, "transfer %" PRId64 ": account %s "
		    "does not exist", t->id, t->from_currency[0] == '\0' ?
		    t->from : t->to);
	} else if (strcmp(t->currency, t->from_currency) != 0 ||
	    strcmp(t->currency, t->to_currency) != 0) {
		ck_fail(c, CK_TRANSFERS, "transfer %" PRId64 ": %s %s -> %s, "
		    "but %s holds %s and %s holds %s", t->id, t->currency,
		    t->from, t->to, t->from, t->from_currency, t->to,
		    t->to_currency);
	}
	if (t->nentries != 2) {
		ck_fail(c, CK_TRANSFERS, "transfer %" PRId64 " (%s -> %s): %d "
		    "journal entries, expected 2", t->id, t->from, t->to,
		    t->nentries);
		return;
	}
	if (t->e[0].amount + t->e[1].amount != 0) {
		ck_fail(c, CK_TRANSFERS, "transfer %" PRId64 " (%s -> %s): its "
		    "entries %" PRId64 " and %" PRId64 " do not cancel out "
		    "(%+" PRId64 ", %+" PRId64 ")", t->id, t->from, t->to,
		    t->e[0].id, t->e[1].id, t->e[0].amount, t->e[1].amount);
		return;
	}
	if (!ck_entry_is(&t->e[0], t->id, t->from, -t->amount, t->to))
		ck_fail(c, CK_TRANSFERS, "transfer %" PRId64 " (%s -> %s, %"
		    PRId64 "): entry %" PRId64 " is not the payer's (id %"
		    PRId64 ", %s, %+" PRId64 ")", t->id, t->from, t->to,
		    t->amount, t->e[0].id, t->id, t->from, -t->amount);
	else if (!ck_entry_is(&t->e[1], t->id + 1, t->to, t->amount, t->from))
		ck_fail(c, CK_TRANSFERS, "transfer %" PRId64 " (%s -> %s, %"
		    PRId64 "): entry %" PRId64 " is not the payee's (id %"
		    PRId64 ", %s, %+" PRId64 ")", t->id, t->from, t->to,
		    t->amount, t->e[1].id, t->id + 1, t->to, t->amount);
}

/* Pass 2: every transfer and its two entries. */
static int
ck_transfers(struct ck *c)
{
	struct ck_transfer t;
	struct ck_entry *e;
	sqlite3_stmt *st;
	int64_t id;
	int rc;

	if (sqlite3_prepare_v2(c->db, "SELECT t.id, t.from_account, "
	    "t.to_account, t.amount, t.currency, fa.currency, ta.currency, "
	    "j.id, j.account, j.kind, j.amount, j.counterparty "
	    "FROM transfers t "
	    "LEFT JOIN accounts fa ON fa.name = t.from_account "
	    "LEFT JOIN accounts ta ON ta.name = t.to_account "
	    "LEFT JOIN journal j ON j.transfer_id = t.id "
	    "ORDER BY t.id, j.id", -1, &st, NULL) != SQLITE_OK)
		return ck_dberr(c);
	memset(&t, 0, sizeof(t));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		id = sqlite3_column_int64(st, 0);
		if (id != t.id) {
			ck_transfer_end(c, &t);
			memset(&t, 0, sizeof(t));
			t.id = id;
			snprintf(t.from, sizeof(t.from), "%s", ck_text(st, 1));
			snprintf(t.to, sizeof(t.to), "%s", ck_text(st, 2));
			t.amount = sqlite3_column_int64(st, 3);
			snprintf(t.currency, sizeof(t.currency), "%s",
			    ck_text(st, 4));
			if (sqlite3_column_type(st, 5) != SQLITE_NULL)
				snprintf(t.from_currency,
				    sizeof(t.from_currency), "%s",
				    ck_text(st, 5));
			if (sqlite3_column_type(st, 6) != SQLITE_NULL)
				snprintf(t.to_currency, sizeof(t.to_currency),
				    "%s", ck_text(st, 6));
		}
		if (sqlite3_column_type(st, 7) == SQLITE_NULL)
			continue;	/* no entry at all */
		if (t.nentries < 2) {
			e = &t.e[t.nentries];
			e->id = sqlite3_column_int64(st, 7);
			snprintf(e->account, sizeof(e->account), "%s",
			    ck_text(st, 8));
			snprintf(e->kind, sizeof(e->kind), "%s",
			    ck_text(st, 9));
			e->amount = sqlite3_column_int64(st, 10);
			snprintf(e->counterparty, sizeof(e->counterparty),
			    "%s", ck_text(st, 11));
		}
		t.nentries++;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return ck_dberr(c);
	ck_transfer_end(c, &t);
	ck_done(c, CK_TRANSFERS, "each of the %" PRId64 " transfers has two "
	    "journal entries that cancel out, payer's then payee's",
	    c->r->transfers);
	return 0;
}

/* Pass 3: rows that point at nothing.  Each query lists violations. */
static const struct {
	const char	*sql;
	const char	*what;	/* printf format for columns 0 and 1 */
} ck_orphan_queries[] = {
	{ "SELECT j.id, j.account FROM journal j LEFT JOIN accounts a "
	  "ON a.name = j.account WHERE a.name IS NULL",
	  "journal entry %s: account %s does not exist" },
	{ "SELECT j.id, j.counterparty FROM journal j LEFT JOIN accounts a "
	  "ON a.name = j.counterparty WHERE j.counterparty IS NOT NULL "
	  "AND a.name IS NULL",
	  "journal entry %s: counterparty %s does not exist" },
	{ "SELECT j.id, j.transfer_id FROM journal j LEFT JOIN transfers t "
	  "ON t.id = j.transfer_id WHERE j.transfer_id IS NOT NULL "
	  "AND t.id IS NULL",
	  "journal entry %s: transfer %s does not exist" },
	{ "SELECT id, kind FROM journal WHERE (kind = 'transfer') <> "
	  "(transfer_id IS NOT NULL)",
	  "journal entry %s: kind %s does not match its transfer_id" },
	{ "SELECT i.key, i.account FROM idempotency i LEFT JOIN transfers t "
	  "ON t.id = i.transfer_id WHERE t.id IS NULL "
	  "OR t.from_account <> i.account OR t.idempotency_key <> i.key",
	  "idempotency key %s of account %s: its transfer is missing or not "
	  "made with it" },
};

static int
ck_orphans(struct ck *c)
{
	sqlite3_stmt *st;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(ck_orphan_queries) /
	    sizeof(ck_orphan_queries[0]); i++) {
		if (sqlite3_prepare_v2(c->db, ck_orphan_queries[i].sql, -1,
		    &st, NULL) != SQLITE_OK)
			return ck_dberr(c);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
#endif
			ck_fail(c, CK_ORPHANS, ck_orphan_queries[i].what,
			    ck_text(st, 0), ck_text(st, 1));
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
		}
		sqlite3_finalize(st);
		if (rc != SQLITE_DONE)
			return ck_dberr(c);
	}
	if (sqlite3_prepare_v2(c->db, "SELECT count(*) FROM idempotency", -1,
	    &st, NULL) != SQLITE_OK)
		return ck_dberr(c);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		c->r->keys = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW)
		return ck_dberr(c);
	ck_done(c, CK_ORPHANS, "every journal entry, transfer and "
	    "idempotency key (%" PRId64 ") has its account and transfer",
	    c->r->keys);
	return 0;
}

/* Money: held = deposited - withdrawn, per currency. */
static void
ck_money(struct ck *c)
{
	char held[LEDGER_AMOUNT_BUFSZ], dep[LEDGER_AMOUNT_BUFSZ];
	char wd[LEDGER_AMOUNT_BUFSZ], line[256];
	const struct ck_money *m;
	size_t i, len = 0;
	int64_t net;

	line[0] = '\0';
	for (i = 0; i < c->nmoney; i++) {
		m = &c->money[i];
		ledger_amount_format(m->held, held, sizeof(held));
		ledger_amount_format(m->deposited, dep, sizeof(dep));
		ledger_amount_format(m->withdrawn, wd, sizeof(wd));
		if (m->overflow || __builtin_sub_overflow(m->deposited,
		    m->withdrawn, &net)) {
			ck_fail(c, CK_MONEY, "%s: the totals overflow 64 bits",
			    m->currency);
			continue;
		}
		if (net != m->held) {
			ck_fail(c, CK_MONEY, "%s: accounts hold %s, but "
			    "deposits %s minus withdrawals %s make %s",
			    m->currency, held, dep, wd,
			    (ledger_amount_format(net, line, sizeof(line)),
			    line));
			line[0] = '\0';
			len = 0;
			continue;
		}
		if (len < sizeof(line))
			len += (size_t)snprintf(line + len, sizeof(line) - len,
			    "%s%s %s held = %s deposited - %s withdrawn",
			    len > 0 ? "; " : "", m->currency, held, dep, wd);
	}
	if (c->nmoney == 0)
		snprintf(line, sizeof(line), "no accounts, no money");
	ck_done(c, CK_MONEY, "%s", line);
}

int
ledger_check(sqlite3 *db, void (*out)(void *, enum ledger_check_line,
    const char *), void *arg, struct ledger_check_report *report, char *err,
    size_t errlen)
{
	struct ck c;
	int rc = -1;

	memset(report, 0, sizeof(*report));
	memset(&c, 0, sizeof(c));
	c.db = db;
	c.out = out;
	c.arg = arg;
	c.r = report;
	c.err = err;
	c.errlen = errlen;

	/* One snapshot for all passes. */
	if (ledger_db_exec(db, "BEGIN")) {
		ck_dberr(&c);
		return -1;
	}
	if (ck_integrity(&c) || ck_accounts(&c) || ck_transfers(&c) ||
	    ck_orphans(&c))
		goto done;
	ck_money(&c);
	rc = 0;
done:
	(void)ledger_db_exec(db, "COMMIT");
	free(c.money);
	return rc;
}
