/*
 * hhost.h: the handler host.  Opens the configured handler (the built-in
 * ledger, or a module loaded with dlopen), checks its ABI, and hands it
 * calls.  The struct secd_host functions it passes to the handler live in
 * dispatch.c.
 */
#ifndef SECD_HHOST_H
#define SECD_HHOST_H

#include <stddef.h>

#include "msg.h"
#include "secd/handler.h"

struct conf;

struct hhost {
	const struct secd_handler *h;
	void *state;			/* the handler's, from open() */
	void *dl;			/* dlopen handle, or NULL (built in) */
	struct secd_host host;
	struct secd_auth auth;
	char *base_dir;			/* the config file's directory */
	struct secd_option *opts;
	char **opt_where;
	size_t nopts;
	int opened;
	unsigned builtin_ops;		/* 1 << enum msg_op for each of the
					   protocol's ops the handler serves */
};

/*
 * hhost_load(hh, conf, err, errlen): find the handler that conf names: the
 * built-in ledger, or a module loaded with dlopen and checked (symbol, ABI
 * number, required members), without opening it.  secd -t stops here,
 * since opening a handler may create its database.  -1 with one line in
 * err; hhost_close is safe after a failure.
 */
int hhost_load(struct hhost *hh, const struct conf *conf, char *err,
    size_t errlen);

/*
 * hhost_set_handler(hh, h): use handler h (hhost_load does this; a test
 * that builds its own hhost must too).
 */
void hhost_set_handler(struct hhost *hh, const struct secd_handler *h);

/*
 * hhost_open(hh, conf, err, errlen): hhost_load (unless done already),
 * then open the handler.  -1 with one line in err: "handler.module /x.so:
 * cannot load:
 * ...", "... was built for handler ABI 2, this secd speaks 1", or the
 * handler's own reason.  hhost_close is safe after a failure.
 */
int hhost_open(struct hhost *hh, const struct conf *conf, char *err,
    size_t errlen);

/* hhost_serves(hh, op): does the handler serve op?  Lock-free, any thread. */
int hhost_serves(const struct hhost *hh, const char *op);

/*
 * hhost_serves_op(hh, op, name): the same for a decoded request: one of
 * the protocol's own ops by a bit noted at load, an extension op by name.
 */
int hhost_serves_op(const struct hhost *hh, enum msg_op op,
    const char *name);

/* hhost_submit(hh, call): hand a call to the handler (worker threads). */
void hhost_submit(struct hhost *hh, struct secd_call *call);

/*
 * hhost_close(hh): close the handler (it answers every call first) and
 * unload it.  NULL-safe; idempotent.
 */
void hhost_close(struct hhost *hh);

#endif /* !SECD_HHOST_H */
