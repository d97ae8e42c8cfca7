/*
 * conf_diag.c: the bounded list of error messages the loader fills.
 *
 * A configuration with a systematic mistake (tabs everywhere, a section
 * pasted twice) can produce hundreds of errors; the first few are what a
 * human reads, so the list stops at CONF_DIAG_MAX and says so.  Messages
 * are heap strings; if memory runs out a message degrades to a static
 * "out of memory" rather than vanishing, so a failed load always says why.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"

static char conf_diag_nomem[] = "out of memory";
static char conf_diag_toomany[] = "too many errors";

static int
conf_diag_is_static(const char *s)
{

	return (s == conf_diag_nomem || s == conf_diag_toomany);
}

void
conf_diag_init(struct conf_diag *d)
{

	memset(d, 0, sizeof(*d));
}

void
conf_diag_clear(struct conf_diag *d)
{
	size_t i;

	for (i = 0; i < d->count; i++)
		if (!conf_diag_is_static(d->msg[i]))
			free(d->msg[i]);
	conf_diag_init(d);
}

size_t
conf_diag_count(const struct conf_diag *d)
{

	return (d->count);
}

const char *
conf_diag_get(const struct conf_diag *d, size_t i)
{

	if (i >= d->count)
		return (NULL);
	return (d->msg[i]);
}

void
conf_diag_print(const struct conf_diag *d, FILE *f)
{
	size_t i;

	for (i = 0; i < d->count; i++)
		fprintf(f, "%s\n", d->msg[i]);
}

/* Append an already formatted message; ownership of ${s} moves to ${d}. */
static void
conf_diag_push(struct conf_diag *d, char *s)
{

	if (d->full) {
		if (!conf_diag_is_static(s))
			free(s);
		return;
	}
	if (d->count == CONF_DIAG_MAX) {
		if (!conf_diag_is_static(s))
			free(s);
		d->msg[d->count++] = conf_diag_toomany;
		d->full = true;
		return;
	}
	d->msg[d->count++] = s;
}

static void __attribute__((__format__(__printf__, 2, 0)))
conf_diag_vadd(struct conf_diag *d, const char *fmt, va_list ap)
{
	char *s;

	if (d == NULL)
		return;
	if (vasprintf(&s, fmt, ap) == -1)
		s = conf_diag_nomem;
	conf_diag_push(d, s);
}

void
conf_diag_add(struct conf_diag *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	conf_diag_vadd(d, fmt, ap);
	va_end(ap);
}

void
conf_diag_key(struct conf_diag *d, const struct conf *c, const char *key,
    const char *fmt, ...)
{
	va_list ap;
	char *text;
	unsigned int line, col;

	if (d == NULL)
		return;
	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) == -1) {
		va_end(ap);
		conf_diag_push(d, conf_diag_nomem);
		return;
	}
	va_end(ap);
	if (conf_key_pos(c, key, &line, &col) == 0)
		conf_diag_add(d, "%s:%u:%u: %s: %s", c->name, line, col, key,
		    text);
	else
		conf_diag_add(d, "%s: %s: %s", c->name, key, text);
	free(text);
}
