/*
 * ledger_amount.c: parse and format amounts of money, two decimals always.
 */
#include <inttypes.h>
#include <stdio.h>

#include "ledger_amount.h"
#include "ledger_db.h"

int
ledger_amount_parse(const char *s, int64_t *out)
{
	uint64_t major = 0, minor;
	unsigned int ndec = 0, nint = 0, frac = 0;

	for (; *s >= '0' && *s <= '9'; s++, nint++) {
		major = major * 10 + (uint64_t)(*s - '0');
		/* Far above the limit already: stop before overflowing. */
		if (major > (uint64_t)LEDGER_AMOUNT_MAX)
			return -1;
	}
	if (nint == 0)
		return -1;
	if (*s == '.') {
		for (s++; *s >= '0' && *s <= '9'; s++, ndec++) {
			if (ndec == 2)
				return -1;
			frac = frac * 10 + (unsigned int)(*s - '0');
		}
		if (ndec == 0)
			return -1;
		if (ndec == 1)
			frac *= 10;
	}
	if (*s != '\0')
		return -1;
	if (major > ((uint64_t)LEDGER_AMOUNT_MAX - frac) / 100)
		return -1;
	minor = major * 100 + frac;
	*out = (int64_t)minor;
	return 0;
}

int
ledger_amount_format(int64_t minor, char *buf, size_t len)
{
	uint64_t u;
	int n;

	u = minor < 0 ? -(uint64_t)minor : (uint64_t)minor;
	n = snprintf(buf, len, "%s%" PRIu64 ".%02u", minor < 0 ? "-" : "",
	    u / 100, (unsigned int)(u % 100));
	return (n < 0 || (size_t)n >= len) ? -1 : 0;
}

int
ledger_currency_valid(const char *s)
{
	int i;

	for (i = 0; i < 3; i++)
		if (s[i] < 'A' || s[i] > 'Z')
			return 0;
	return s[3] == '\0';
}
