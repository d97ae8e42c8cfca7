/*
 * reload.c: see reload.h.  Scalars are copied back from the running
 * configuration; strings and lists are only compared, since after startup
 * nothing reads them from a reloaded configuration (the handler keeps the
 * options it was opened with, the audit log and listeners stay open).
 */
#include <stdbool.h>
#include <string.h>

#include "conf.h"
#include "log.h"
#include "reload.h"

static int
reload_str_differs(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a != b;
	return strcmp(a, b) != 0;
}

static void
reload_keep(int *n, const char *key)
{
	log_warnx("reload: %s changed in the file; it needs a restart to "
	    "take effect (the running value stays)", key);
	(*n)++;
}

static int
reload_listen_differs(const struct conf *a, const struct conf *b)
{
	size_t i;

	if (a->nlisten != b->nlisten)
		return 1;
	for (i = 0; i < a->nlisten; i++)
		if (strcmp(a->listen[i].text, b->listen[i].text) != 0)
			return 1;
	return 0;
}

static int
reload_handler_differs(const struct conf *a, const struct conf *b)
{
	size_t i;

	if (a->handler.kind != b->handler.kind ||
	    reload_str_differs(a->handler.module, b->handler.module) ||
	    a->handler.noptions != b->handler.noptions)
		return 1;
	for (i = 0; i < a->handler.noptions; i++)
		if (strcmp(a->handler.options[i].key,
		    b->handler.options[i].key) != 0 ||
		    strcmp(a->handler.options[i].value,
		    b->handler.options[i].value) != 0)
			return 1;
	return 0;
}

int
reload_merge(const struct conf *cur, struct conf *next)
{
	int n = 0;

	if (reload_listen_differs(cur, next))
		reload_keep(&n, "listen");
	if (cur->workers != next->workers) {
		reload_keep(&n, "workers");
		next->workers = cur->workers;
	}
	if (reload_handler_differs(cur, next))
		reload_keep(&n, "handler");
	if (reload_str_differs(cur->user, next->user))
		reload_keep(&n, "user");
	if (reload_str_differs(cur->group, next->group))
		reload_keep(&n, "group");
	if (reload_str_differs(cur->audit.file, next->audit.file))
		reload_keep(&n, "audit.file");
	if (cur->metrics.enabled != next->metrics.enabled ||
	    (cur->metrics.enabled &&
	    strcmp(cur->metrics.listen.text, next->metrics.listen.text) != 0))
		reload_keep(&n, "metrics.listen");
	if (cur->auth.scrypt_n != next->auth.scrypt_n ||
	    cur->auth.scrypt_r != next->auth.scrypt_r ||
	    cur->auth.scrypt_p != next->auth.scrypt_p) {
		reload_keep(&n, "auth.scrypt_n/r/p");
		next->auth.scrypt_n = cur->auth.scrypt_n;
		next->auth.scrypt_r = cur->auth.scrypt_r;
		next->auth.scrypt_p = cur->auth.scrypt_p;
	}
	if (cur->auth.methods != next->auth.methods) {
		reload_keep(&n, "auth.methods");
		next->auth.methods = cur->auth.methods;
	}
	if (cur->limits.max_message_bytes != next->limits.max_message_bytes) {
		reload_keep(&n, "limits.max_message_bytes");
		next->limits.max_message_bytes = cur->limits.max_message_bytes;
	}
	return n;
}
