/*
 * ledger_amount: money as text for people, as minor units for machines.
 *
 * The ledger stores and sends integer minor units (cents, fen).  Every
 * currency is assumed to have two decimals (100 minor units to the major
 * unit); currencies without (JPY) or with three (KWD) would need a table,
 * which the ledger does not have yet.  Amounts stay within 2^53 - 1 minor
 * units so that JSON clients that read numbers as doubles see them
 * exactly.
 */
#ifndef LEDGER_AMOUNT_H
#define LEDGER_AMOUNT_H

#include <stddef.h>
#include <stdint.h>

#define LEDGER_AMOUNT_BUFSZ	32	/* room for any formatted amount */

/*
 * ledger_amount_parse(s, out):
 * Parse ${s}, a non-negative amount in major units with at most two
 * decimals ("100", "100.5", "100.00"), into minor units in ${out}.
 * Return 0, or -1 for anything else: a sign, an exponent, a third
 * decimal, a dot without digits on both sides, spaces, or more than 2^53
 * - 1 minor units.
 */
int ledger_amount_parse(const char *, int64_t *);

/*
 * ledger_amount_format(minor, buf, len):
 * Write ${minor} minor units as major units with two decimals ("100.00",
 * "-0.05") to the ${len} bytes at ${buf}.  Return 0, or -1 if it does not
 * fit.
 */
int ledger_amount_format(int64_t, char *, size_t);

/*
 * ledger_currency_valid(s):
 * Return 1 if ${s} is a currency code, three letters A-Z; otherwise 0.
 */
int ledger_currency_valid(const char *);

#endif /* !LEDGER_AMOUNT_H */
