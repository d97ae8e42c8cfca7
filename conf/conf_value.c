/*
 * conf_value.c: parsers for the typed scalars of secd.yaml.
 *
 * These are written by hand rather than with strtoul(3) and friends, which
 * accept leading spaces, signs ("-1" becomes a huge number), "0x" prefixes
 * and locale quirks: a value in secd.yaml either means exactly one thing or
 * is an error that says why.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "conf_value.h"

static int
conf_value_isdigit(char c)
{

	return (c >= '0' && c <= '9');
}

/*
 * Parse the digits at *${sp} into ${v}, advancing *${sp} past them.
 * Return 0, or -1 if there are none or they overflow (with *${sp} moved
 * past them all anyway).
 */
static int
conf_value_digits(const char **sp, uint64_t *v)
{
	const char *s = *sp;
	int overflow = 0;
	unsigned int d;

	*v = 0;
	if (!conf_value_isdigit(*s))
		return (-1);
	for (; conf_value_isdigit(*s); s++) {
		d = (unsigned int)(*s - '0');
		if (*v > (UINT64_MAX - d) / 10)
			overflow = 1;
		else
			*v = *v * 10 + d;
	}
	*sp = s;
	return (overflow ? -1 : 0);
}

int
conf_value_uint(const char *s, uint64_t *v)
{

	if (conf_value_digits(&s, v) != 0 || *s != '\0')
		return (-1);
	return (0);
}

static const struct conf_value_unit {
	const char	*name;
	uint64_t	 mult;
} conf_value_duration_units[] = {
	/* Largest first: terms must come in this order. */
	{ "d", CONF_MS_D },
	{ "h", CONF_MS_H },
	{ "m", CONF_MS_M },
	{ "s", CONF_MS_S },
	{ "ms", 1 },
	{ NULL, 0 }
}, conf_value_size_units[] = {
	{ "B", 1 },
	{ "KiB", CONF_KIB },
	{ "MiB", CONF_MIB },
	{ "GiB", CONF_GIB },
	{ "KB", UINT64_C(1000) },
	{ "MB", UINT64_C(1000000) },
	{ "GB", UINT64_C(1000000000) },
	{ NULL, 0 }
};

/* Find the unit spelled by the ${len} bytes at ${s}; return its index. */
static int
conf_value_find_unit(const struct conf_value_unit *u, const char *s,
    size_t len)
{
	int i;

	for (i = 0; u[i].name != NULL; i++)
		if (strlen(u[i].name) == len && memcmp(u[i].name, s, len) == 0)
			return (i);
	return (-1);
}

/* Explain why ${s} (which failed at ${at}) is not a number with a unit. */
static const char *
conf_value_number_hint(const char *s, const char *at)
{

	if (*s == '-')
		return ("negative values are not allowed");
	if (*at == '.' || *at == ',')
		return ("fractions are not allowed; use a smaller unit");
	if (*at == ' ' || *at == '\t')
		return ("no spaces are allowed");
	return ("");
}

int
conf_value_duration(const char *s, uint64_t *ms, const char **hint)
{
	const char *p = s, *u, *start;
	uint64_t n, total = 0;
	int i, last = -1;

	*hint = "";
	do {
		start = p;
		if (conf_value_digits(&p, &n) != 0) {
			/* Digits that overflow, or no digits at all. */
			*hint = p != start ? "too large" :
			    conf_value_number_hint(s, p);
			return (-1);
		}
		for (u = p; (*p >= 'a' && *p <= 'z') ||
		    (*p >= 'A' && *p <= 'Z'); p++)
			;
		if (p == u) {
			*hint = *p == '\0' ? "a unit is required: ms, s, m, "
			    "h or d" : conf_value_number_hint(s, p);
			return (-1);
		}
		if ((i = conf_value_find_unit(conf_value_duration_units, u,
		    (size_t)(p - u))) == -1) {
			*hint = "unknown unit; use ms, s, m, h or d";
			return (-1);
		}
		if (i <= last) {
			*hint = "units must go from largest to smallest, "
			    "each once, as in 1h30m";
			return (-1);
		}
		last = i;
		if (n > UINT64_MAX / conf_value_duration_units[i].mult ||
		    n * conf_value_duration_units[i].mult > UINT64_MAX - total) {
			*hint = "too large";
			return (-1);
		}
		total += n * conf_value_duration_units[i].mult;
	} while (*p != '\0');
	*ms = total;
	return (0);
}

int
conf_value_size(const char *s, uint64_t *bytes, const char **hint)
{
	const char *p = s;
	uint64_t n;
	int i;

	*hint = "";
	if (conf_value_digits(&p, &n) != 0) {
		if (conf_value_isdigit(*s))
			*hint = "too large";
		else
			*hint = conf_value_number_hint(s, p);
		return (-1);
	}
	if (*p == '\0') {
		*bytes = n;
		return (0);
	}
	if ((i = conf_value_find_unit(conf_value_size_units, p,
	    strlen(p))) == -1) {
		if (*p == '.' || *p == ',' || *p == ' ')
			*hint = conf_value_number_hint(s, p);
		else
			*hint = "unknown unit; use B, KiB, MiB, GiB, KB, MB "
			    "or GB";
		return (-1);
	}
	if (n > UINT64_MAX / conf_value_size_units[i].mult) {
		*hint = "too large";
		return (-1);
	}
	*bytes = n * conf_value_size_units[i].mult;
	return (0);
}

/* Fill the text and socket address of ${a} from family, binary, port. */
static void
conf_value_addr_fill(struct conf_addr *a, const void *bin)
{
	struct sockaddr_in *sin;
	struct sockaddr_in6 *sin6;

	memset(&a->sa, 0, sizeof(a->sa));
	if (a->family == AF_INET) {
		sin = (struct sockaddr_in *)&a->sa;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(a->port);
		memcpy(&sin->sin_addr, bin, sizeof(sin->sin_addr));
		a->salen = sizeof(*sin);
		inet_ntop(AF_INET, bin, a->host, sizeof(a->host));
		snprintf(a->text, sizeof(a->text), "%s:%u", a->host,
		    (unsigned int)a->port);
	} else {
		sin6 = (struct sockaddr_in6 *)&a->sa;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(a->port);
		memcpy(&sin6->sin6_addr, bin, sizeof(sin6->sin6_addr));
		a->salen = sizeof(*sin6);
		inet_ntop(AF_INET6, bin, a->host, sizeof(a->host));
		snprintf(a->text, sizeof(a->text), "[%s]:%u", a->host,
		    (unsigned int)a->port);
	}
}

int
conf_value_addr(const char *s, struct conf_addr *a, const char **hint)
{
	char host[INET6_ADDRSTRLEN];
	unsigned char bin[sizeof(struct in6_addr)];
	const char *colon, *end;
	uint64_t port;
	size_t hlen;

	memset(a, 0, sizeof(*a));
	*hint = "";
	if (s[0] == '[') {
		if ((end = strchr(s, ']')) == NULL) {
			*hint = "missing ']'";
			return (-1);
		}
		hlen = (size_t)(end - s - 1);
		colon = end + 1;
		if (*colon != ':') {
			*hint = "missing port";
			return (-1);
		}
		if (hlen >= sizeof(host)) {
			*hint = "not an IPv6 address";
			return (-1);
		}
		memcpy(host, s + 1, hlen);
		host[hlen] = '\0';
		if (inet_pton(AF_INET6, host, bin) != 1) {
			*hint = strchr(host, '%') != NULL ?
			    "zone indexes are not supported" :
			    "not an IPv6 address";
			return (-1);
		}
		a->family = AF_INET6;
	} else {
		if ((colon = strrchr(s, ':')) == NULL) {
			*hint = "missing port";
			return (-1);
		}
		if (strchr(s, ':') != colon) {
			*hint = "write IPv6 addresses in brackets, as in "
			    "[::1]:7443";
			return (-1);
		}
		hlen = (size_t)(colon - s);
		if (hlen == 0) {
			*hint = "missing address; use 0.0.0.0 or [::] for "
			    "every address";
			return (-1);
		}
		if (hlen >= sizeof(host)) {
			*hint = "host names are not allowed, only IP "
			    "addresses";
			return (-1);
		}
		memcpy(host, s, hlen);
		host[hlen] = '\0';
		if (inet_pton(AF_INET, host, bin) != 1) {
			*hint = strspn(host, "0123456789.") == hlen ?
			    "not an IPv4 address" :
			    "host names are not allowed, only IP addresses";
			return (-1);
		}
		a->family = AF_INET;
	}
	if (colon[1] == '\0') {
		*hint = "missing port";
		return (-1);
	}
	if (conf_value_uint(colon + 1, &port) != 0 || port < 1 ||
	    port > 65535) {
		*hint = "the port must be a number from 1 to 65535";
		return (-1);
	}
	a->port = (uint16_t)port;
	conf_value_addr_fill(a, bin);
	return (0);
}

bool
conf_value_addr_equal(const struct conf_addr *a, const struct conf_addr *b)
{

	return (a->family == b->family && a->salen == b->salen &&
	    memcmp(&a->sa, &b->sa, a->salen) == 0);
}

char *
conf_value_fmt_duration(uint64_t ms, char *buf, size_t size)
{
	int i;

	if (ms == 0) {
		snprintf(buf, size, "0s");
		return (buf);
	}
	/* The last unit, ms, divides everything. */
	for (i = 0; ms % conf_value_duration_units[i].mult != 0; i++)
		;
	snprintf(buf, size, "%llu%s",
	    (unsigned long long)(ms / conf_value_duration_units[i].mult),
	    conf_value_duration_units[i].name);
	return (buf);
}

char *
conf_value_fmt_size(uint64_t n, char *buf, size_t size)
{

	if (n != 0 && n % CONF_GIB == 0)
		snprintf(buf, size, "%lluGiB",
		    (unsigned long long)(n / CONF_GIB));
	else if (n != 0 && n % CONF_MIB == 0)
		snprintf(buf, size, "%lluMiB",
		    (unsigned long long)(n / CONF_MIB));
	else if (n != 0 && n % CONF_KIB == 0)
		snprintf(buf, size, "%lluKiB",
		    (unsigned long long)(n / CONF_KIB));
	else
		snprintf(buf, size, "%llu", (unsigned long long)n);
	return (buf);
}
