/*
 * conf_value: the typed scalars of secd.yaml (durations, sizes, integers,
 * addresses), parsed from text and formatted back for messages.  Private
 * to conf/.
 *
 * Each parser takes a NUL-terminated string and returns 0 with the value
 * stored, or -1 with ${hint} set to a short reason for a human ("a unit is
 * required: ms, s, m, h or d"), or to "" when the text is simply not of the
 * type and the "expected ..." clause says enough.  No parser accepts signs,
 * spaces, fractions or overflow.
 */
#ifndef CONF_VALUE_H
#define CONF_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"

/* Milliseconds in each duration unit. */
#define CONF_MS_S	UINT64_C(1000)
#define CONF_MS_M	(60 * CONF_MS_S)
#define CONF_MS_H	(60 * CONF_MS_M)
#define CONF_MS_D	(24 * CONF_MS_H)

#define CONF_KIB	UINT64_C(1024)
#define CONF_MIB	(1024 * CONF_KIB)
#define CONF_GIB	(1024 * CONF_MIB)

/*
 * conf_value_duration(s, ms, hint):
 * Parse a duration: one or more <digits><unit> terms, units ms, s, m, h, d
 * from largest to smallest ("10s", "1h30m"), into milliseconds.
 */
int conf_value_duration(const char *, uint64_t *, const char **);

/*
 * conf_value_size(s, bytes, hint):
 * Parse a size: <digits> with an optional unit B, KiB, MiB, GiB (powers of
 * 1024) or KB, MB, GB (powers of 1000), into bytes.
 */
int conf_value_size(const char *, uint64_t *, const char **);

/*
 * conf_value_uint(s, v):
 * Parse decimal digits (at least one, nothing else) into ${v}.  Return -1
 * on anything else or on overflow.
 */
int conf_value_uint(const char *, uint64_t *);

/*
 * conf_value_addr(s, a, hint):
 * Parse "IPv4:port" or "[IPv6]:port" (port 1..65535; literals only, no
 * host names, no zone) into ${a}, filling every field.
 */
int conf_value_addr(const char *, struct conf_addr *, const char **);

/*
 * conf_value_addr_equal(a, b):
 * Return true if ${a} and ${b} are the same address and port.
 */
bool conf_value_addr_equal(const struct conf_addr *,
    const struct conf_addr *);

/*
 * conf_value_fmt_duration(ms, buf, size), conf_value_fmt_size(n, buf, size):
 * Format a duration in its largest exact unit ("5m", "1500ms") or a size
 * ("64KiB", "1000") into ${buf}, and return ${buf}.
 */
char *conf_value_fmt_duration(uint64_t, char *, size_t);
char *conf_value_fmt_size(uint64_t, char *, size_t);

#endif /* !CONF_VALUE_H */
