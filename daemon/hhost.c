/*
 * hhost.c: load, check and open the handler.
 *
 * A module is trusted code running inside secd, but a wrong build of it
 * must still be a clear startup error rather than a crash: the ABI number
 * is the struct's first member, read before anything else of it.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "dispatch.h"
#include "hhost.h"
#include "ledger.h"

/* Does the NULL-terminated list have at least one entry and no empty one? */
static int
hhost_ops_valid(const char *const *ops)
{
	size_t i;

	if (ops == NULL)
		return 0;
	for (i = 0; ops[i] != NULL; i++)
		if (ops[i][0] == '\0' || i > 64)
			return 0;
	return 1;
}

/* Use handler h; note which of the protocol's own ops it serves. */
void
hhost_set_handler(struct hhost *hh, const struct secd_handler *h)
{
	enum msg_op op;
	size_t i;

	hh->h = h;
	hh->builtin_ops = 0;
	for (i = 0; h->ops[i] != NULL; i++) {
		op = msg_op_from_name(hh->h->ops[i], strlen(hh->h->ops[i]));
		if (op != MSG_OP_NONE && op != MSG_OP_EXT)
			hh->builtin_ops |= 1u << op;
	}
}

static int
hhost_load_module(struct hhost *hh, const char *path, char *err,
    size_t errlen)
{
	const struct secd_handler *h;

	if ((hh->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		snprintf(err, errlen, "handler.module %s: cannot load: %s", path,
		    dlerror());
		return -1;
	}
	if ((h = dlsym(hh->dl, SECD_HANDLER_SYMBOL)) == NULL) {
		snprintf(err, errlen, "handler.module %s: no symbol '%s': is "
		    "it a secd handler module?", path, SECD_HANDLER_SYMBOL);
		return -1;
	}
	if (h->abi != SECD_HANDLER_ABI) {
		snprintf(err, errlen, "handler.module %s: built for handler "
		    "ABI %u, this secd speaks ABI %u: rebuild it against this "
		    "secd's secd/handler.h", path, (unsigned)h->abi,
		    (unsigned)SECD_HANDLER_ABI);
		return -1;
	}
	if (h->name == NULL || h->open == NULL || h->close == NULL ||
	    h->submit == NULL || !hhost_ops_valid(h->ops)) {
		snprintf(err, errlen, "handler.module %s: incomplete "
		    "secd_handler (name, ops, open, close and submit are all "
		    "required)", path);
		return -1;
	}
	hhost_set_handler(hh, h);
	return 0;
}

/* The directory part of path, made absolute; NULL on allocation failure. */
static char *
hhost_dirname(const char *path)
{
	const char *slash = strrchr(path, '/');
	char cwd[4096], *out;

	if (slash == path)
		return strdup("/");
	if (slash != NULL && path[0] == '/')
		return strndup(path, (size_t)(slash - path));
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		return slash != NULL ? strndup(path, (size_t)(slash - path)) :
		    strdup(".");
	if (slash == NULL)
		return strdup(cwd);
	if (asprintf(&out, "%s/%.*s", cwd, (int)(slash - path), path) < 0)
		return NULL;
	return out;
}


int
hhost_load(struct hhost *hh, const struct conf *conf, char *err,
    size_t errlen)
{
	memset(hh, 0, sizeof(*hh));
	if (conf->handler.kind == CONF_HANDLER_MODULE)
		return hhost_load_module(hh, conf->handler.module, err, errlen);
	hhost_set_handler(hh, &ledger_handler);
	return 0;
}

int
hhost_open(struct hhost *hh, const struct conf *conf, char *err,
    size_t errlen)
{
	size_t i;
	unsigned line, col;
	char where[512];

	if (hh->h == NULL && hhost_load(hh, conf, err, errlen) != 0)
		return -1;

	hh->auth.scrypt_n = conf->auth.scrypt_n;
	hh->auth.scrypt_r = conf->auth.scrypt_r;
	hh->auth.scrypt_p = conf->auth.scrypt_p;
	hh->auth.methods = (uint32_t)conf->auth.methods;
	dispatch_host_init(&hh->host, &hh->auth);
	/* Relative option paths mean: next to the configuration file. */
	if ((hh->base_dir = hhost_dirname(conf->name)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	hh->host.base_dir = hh->base_dir;

	hh->nopts = conf->handler.noptions;
	if (hh->nopts > 0) {
		hh->opts = calloc(hh->nopts, sizeof(*hh->opts));
		hh->opt_where = calloc(hh->nopts, sizeof(*hh->opt_where));
		if (hh->opts == NULL || hh->opt_where == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
	}
	for (i = 0; i < hh->nopts; i++) {
		const struct conf_option *o = &conf->handler.options[i];

		line = o->line;
		col = o->column;
		snprintf(where, sizeof(where), "%s:%u:%u", conf->name, line,
		    col);
		if ((hh->opt_where[i] = strdup(where)) == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		hh->opts[i].key = o->key;
		hh->opts[i].value = o->value;
		hh->opts[i].where = hh->opt_where[i];
	}
	if (hh->h->open(&hh->host, hh->opts, hh->nopts, &hh->state, err,
	    errlen) != 0) {
		if (err[0] == '\0')
			snprintf(err, errlen, "handler %s: open failed",
			    hh->h->name);
		return -1;
	}
	hh->opened = 1;
	return 0;
}

int
hhost_serves(const struct hhost *hh, const char *op)
{
	size_t i;

	for (i = 0; hh->h->ops[i] != NULL; i++)
		if (strcmp(hh->h->ops[i], op) == 0)
			return 1;
	return 0;
}

int
hhost_serves_op(const struct hhost *hh, enum msg_op op, const char *name)
{

	if (op != MSG_OP_NONE && op != MSG_OP_EXT)
		return (hh->builtin_ops >> op) & 1u;
	return hhost_serves(hh, name);
}

void
hhost_submit(struct hhost *hh, struct secd_call *call)
{
	hh->h->submit(hh->state, call);
}

void
hhost_close(struct hhost *hh)
{
	size_t i;

	if (hh == NULL)
		return;
	if (hh->opened)
		hh->h->close(hh->state);
	hh->opened = 0;
	if (hh->dl != NULL)
		dlclose(hh->dl);
	hh->dl = NULL;
	for (i = 0; i < hh->nopts && hh->opt_where != NULL; i++)
		free(hh->opt_where[i]);
	free(hh->opt_where);
	free(hh->opts);
	free(hh->base_dir);
	hh->base_dir = NULL;
	hh->opt_where = NULL;
	hh->opts = NULL;
	hh->nopts = 0;
}
