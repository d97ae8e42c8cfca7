/*
 * example.c: "notes", an example secd handler module.
 *
 * Each account keeps a short list of text notes, in memory:
 *
 *	login       {account, password}  any account name, one shared password
 *	note_put    {text}               append a note; reply {"count":N}
 *	note_list   {}                   reply {"notes":["oldest", ...]}
 *	note_clear  {}                   drop them all; reply {"deleted":N}
 *
 * It is written against secd/handler.h alone, the way a module built out
 * of tree would be (docs/handlers.md walks through it), and it shows the
 * shape every module that does real work should have:
 *
 *   - submit() runs on secd's event-loop threads, several at once, and must
 *     not block.  It checks the arguments (refusing bad ones on the spot,
 *     which the ABI allows) and appends the call to one bounded FIFO under
 *     a mutex held for a few instructions.  A full FIFO is refused at once
 *     with "unavailable": back-pressure, never an unbounded queue.
 *   - One worker thread of the module's own takes calls from the FIFO and
 *     answers them.  Only that thread touches the note store, so the store
 *     needs no lock at all.
 *   - close() stops the worker, answers whatever is still queued, joins the
 *     thread and frees everything, wiping the password copy.
 *
 * Every bound is an option with a checked range, so a client can make the
 * module hold at most max_accounts * max_notes * max_text bytes of notes.
 * The shared password is compared in time that depends only on the length
 * of the password offered, never on where it differs.  There is no lockout
 * or rate limit on failed logins: the built-in ledger shows how.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "secd/handler.h"

#if defined(__GNUC__)
#define NOTES_EXPORT __attribute__((visibility("default")))
#else
#define NOTES_EXPORT
#endif

/* Option ranges and defaults. */
#define NOTES_PASSWORD_MIN	8
#define NOTES_PASSWORD_MAX	1024	/* the protocol's own limit */
#define NOTES_ACCOUNTS_DEFAULT	100
#define NOTES_ACCOUNTS_MAX	100000
#define NOTES_NOTES_DEFAULT	100
#define NOTES_NOTES_MAX		10000
#define NOTES_TEXT_DEFAULT	1024
#define NOTES_TEXT_MAX		65536
#define NOTES_QUEUE_DEFAULT	256
#define NOTES_QUEUE_MAX		65536
#define NOTES_DELAY_MAX		10000	/* ms */
/*
 * note_list answers with every note in one line, and secd sends lines of
 * at most 1 MiB.  A text byte takes at most 6 bytes escaped (\u001F), so
 * max_notes * max_text is held to 128 KiB: 768 KiB of text at worst, plus
 * 3 bytes of quotes and comma per note.
 */
#define NOTES_LIST_BYTES_MAX	131072

#define NOTES_MSG_AUTH		"wrong account or password"
#define NOTES_MSG_BUSY		"notes: too many requests queued"
#define NOTES_MSG_STOPPING	"notes: shutting down"

/* One account's notes, oldest first.  name == NULL: a free table slot. */
struct notes_account {
	char		*name;
	char		**notes;
	size_t		 n;
	size_t		 cap;
};

struct notes {
	const struct secd_host *host;
	char		*password;	/* our copy; wiped in notes_free */
	size_t		 passlen;
	size_t		 max_accounts;
	size_t		 max_notes;
	size_t		 max_text;
	size_t		 queue_max;
	unsigned int	 delay_ms;	/* before each answer; for experiments */

	/* The FIFO, a ring of queue_max calls.  Guarded by mtx. */
	pthread_mutex_t	 mtx;
	pthread_cond_t	 cv;		/* signalled on append and on stop */
	struct secd_call **queue;
	size_t		 qhead;
	size_t		 qlen;
	int		 stopping;
	pthread_t	 thread;
	int		 started;

	/* The store: an open-addressed table, touched only by the worker. */
	struct notes_account *table;
	size_t		 tsize;		/* a power of two >= 2 * max_accounts */
	size_t		 naccounts;
};

static const char *const notes_ops[] = {
	"login", "note_put", "note_list", "note_clear", NULL
};

/* Parsed options, pointing into the host's option strings. */
struct notes_opts {
	const char	*password;
	size_t		 max_accounts;
	size_t		 max_notes;
	size_t		 max_text;
	size_t		 queue;
	unsigned int	 delay_ms;
};

/* Zero n bytes in a way the compiler cannot drop. */
static void
notes_wipe(void *p, size_t n)
{
	volatile unsigned char *v = p;

	while (n-- > 0)
		*v++ = 0;
}

/* Parse a decimal from min to max, nothing else; 0 or -1. */
static int
notes_parse_size(const char *s, size_t min, size_t max, size_t *out)
{
	size_t v = 0;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (size_t)(*s - '0');
		if (v > max)
			return -1;
	}
	if (v < min)
		return -1;
	*out = v;
	return 0;
}

/* Set *out from one numeric option, or explain in err where it is wrong. */
static int
notes_option_size(const struct secd_option *opt, const char *where,
    size_t min, size_t max, size_t *out, char *err, size_t errlen)
{
	if (notes_parse_size(opt->value, min, max, out) == 0)
		return 0;
	snprintf(err, errlen, "%s: handler.options.%s: expected an integer "
	    "from %zu to %zu, found \"%.32s\"", where, opt->key, min, max,
	    opt->value);
	return -1;
}

static int
notes_parse_options(const struct secd_option *options, size_t noptions,
    struct notes_opts *o, char *err, size_t errlen)
{
	const struct secd_option *opt;
	const char *where;
	size_t i, j, v, len;

	memset(o, 0, sizeof(*o));
	o->max_accounts = NOTES_ACCOUNTS_DEFAULT;
	o->max_notes = NOTES_NOTES_DEFAULT;
	o->max_text = NOTES_TEXT_DEFAULT;
	o->queue = NOTES_QUEUE_DEFAULT;

	for (i = 0; i < noptions; i++) {
		opt = &options[i];
		where = opt->where != NULL ? opt->where : "handler.options";
		if (opt->key == NULL || opt->value == NULL) {
			snprintf(err, errlen, "%s: handler.options: an option "
			    "without a name or a value", where);
			return -1;
		}
		for (j = 0; j < i; j++) {
			if (strcmp(options[j].key, opt->key) == 0) {
				snprintf(err, errlen, "%s: handler.options.%s: "
				    "given twice", where, opt->key);
				return -1;
			}
		}
		if (strcmp(opt->key, "password") == 0) {
			/* Never quote it: this message goes to the log. */
			len = strlen(opt->value);
			if (len < NOTES_PASSWORD_MIN || len > NOTES_PASSWORD_MAX) {
				snprintf(err, errlen, "%s: handler.options."
				    "password: expected %d to %d bytes, found "
				    "%zu", where, NOTES_PASSWORD_MIN,
				    NOTES_PASSWORD_MAX, len);
				return -1;
			}
			o->password = opt->value;
		} else if (strcmp(opt->key, "max_accounts") == 0) {
			if (notes_option_size(opt, where, 1, NOTES_ACCOUNTS_MAX,
			    &o->max_accounts, err, errlen) != 0)
				return -1;
		} else if (strcmp(opt->key, "max_notes") == 0) {
			if (notes_option_size(opt, where, 1, NOTES_NOTES_MAX,
			    &o->max_notes, err, errlen) != 0)
				return -1;
		} else if (strcmp(opt->key, "max_text") == 0) {
			if (notes_option_size(opt, where, 1, NOTES_TEXT_MAX,
			    &o->max_text, err, errlen) != 0)
				return -1;
		} else if (strcmp(opt->key, "queue") == 0) {
			if (notes_option_size(opt, where, 1, NOTES_QUEUE_MAX,
			    &o->queue, err, errlen) != 0)
				return -1;
		} else if (strcmp(opt->key, "delay_ms") == 0) {
			if (notes_option_size(opt, where, 0, NOTES_DELAY_MAX,
			    &v, err, errlen) != 0)
				return -1;
			o->delay_ms = (unsigned int)v;
		} else {
			snprintf(err, errlen, "%s: handler.options: unknown "
			    "option \"%.64s\" for the notes module (expected "
			    "password, max_accounts, max_notes, max_text, queue "
			    "or delay_ms)", where, opt->key);
			return -1;
		}
	}
	if (o->password == NULL) {
		snprintf(err, errlen, "handler.options.password is required: "
		    "the password every account of the notes module logs in "
		    "with (%d to %d bytes)", NOTES_PASSWORD_MIN,
		    NOTES_PASSWORD_MAX);
		return -1;
	}
	if (o->max_notes * o->max_text > NOTES_LIST_BYTES_MAX) {
		snprintf(err, errlen, "handler.options: max_notes (%zu) times "
		    "max_text (%zu) is more than %d: note_list could not "
		    "answer in one line", o->max_notes, o->max_text,
		    NOTES_LIST_BYTES_MAX);
		return -1;
	}
	return 0;
}

/*
 * Does given match the password?  The time taken depends on the length of
 * given only: every byte is compared, and the loop never stops early.
 */
static int
notes_password_ok(const struct notes *n, const char *given)
{
	size_t glen = strlen(given), i;
	size_t diff = glen ^ n->passlen;

	for (i = 0; i < glen; i++)
		diff |= (size_t)((unsigned char)given[i] ^
		    (unsigned char)n->password[i % n->passlen]);
	return diff == 0;
}

/* FNV-1a: the table's hash.  Account names are short and chosen by the
   logged-in client only, and the table is bounded, so this is enough. */
static uint64_t
notes_hash(const char *s)
{
	uint64_t h = 14695981039346656037ULL;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

/*
 * The account's slot, or a free slot for it (name == NULL) when it has
 * none.  The table is never more than half full, so there always is one.
 */
static struct notes_account *
notes_slot(struct notes *n, const char *name)
{
	size_t i = (size_t)notes_hash(name) & (n->tsize - 1);

	while (n->table[i].name != NULL && strcmp(n->table[i].name, name) != 0)
		i = (i + 1) & (n->tsize - 1);
	return &n->table[i];
}

/* Wait delay_ms, or less if close() is waiting for us. */
static void
notes_delay(struct notes *n)
{
	struct timespec until;

	if (n->delay_ms == 0)
		return;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += n->delay_ms / 1000;
	until.tv_nsec += (long)(n->delay_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&n->mtx);
	while (!n->stopping &&
	    pthread_cond_timedwait(&n->cv, &n->mtx, &until) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&n->mtx);
}

static void
notes_serve_login(struct notes *n, struct secd_call *call)
{
	/* submit() checked that both are strings. */
	const char *account = secd_arg_str(call, "account");
	const char *password = secd_arg_str(call, "password");

	if (notes_password_ok(n, password))
		n->host->reply_login(call, account);
	else
		n->host->reply_error(call, "auth_failed", NOTES_MSG_AUTH, -1);
}

static void
notes_serve_put(struct notes *n, struct secd_call *call)
{
	const struct secd_host *host = n->host;
	struct notes_account *a = notes_slot(n, call->account);
	struct secd_value reply[1];
	char msg[128], **grown, *text;
	size_t cap;

	if (a->name == NULL) {
		if (n->naccounts == n->max_accounts) {
			snprintf(msg, sizeof(msg), "notes: the store is full "
			    "(notes for %zu accounts)", n->max_accounts);
			host->reply_error(call, "unavailable", msg, -1);
			return;
		}
		if ((a->name = strdup(call->account)) == NULL)
			goto nomem;
		n->naccounts++;
	}
	if (a->n == n->max_notes) {
		snprintf(msg, sizeof(msg), "notes: %zu notes is the most an "
		    "account keeps; note_clear makes room", n->max_notes);
		host->reply_error(call, "bad_request", msg, -1);
		return;
	}
	if (a->n == a->cap) {
		cap = a->cap == 0 ? 8 : a->cap * 2;
		if (cap > n->max_notes)
			cap = n->max_notes;
		if ((grown = realloc(a->notes, cap * sizeof(*grown))) == NULL)
			goto nomem;
		a->notes = grown;
		a->cap = cap;
	}
	/* The call's strings die with the answer: keep a copy. */
	if ((text = strdup(secd_arg_str(call, "text"))) == NULL)
		goto nomem;
	a->notes[a->n++] = text;
	reply[0] = (struct secd_value)SECD_INT("count", (int64_t)a->n);
	host->reply(call, reply, 1);
	return;
nomem:
	host->reply_error(call, "internal", "notes: out of memory", -1);
}

static void
notes_serve_list(struct notes *n, struct secd_call *call)
{
	const struct notes_account *a = notes_slot(n, call->account);
	struct secd_value reply[1], *items = NULL;
	size_t i;

	if (a->n > 0 && (items = calloc(a->n, sizeof(*items))) == NULL) {
		n->host->reply_error(call, "internal", "notes: out of memory",
		    -1);
		return;
	}
	for (i = 0; i < a->n; i++) {
		items[i].key = NULL;
		items[i].type = SECD_V_STR;
		items[i].u.s = a->notes[i];
	}
	reply[0].key = "notes";
	reply[0].type = SECD_V_ARRAY;
	reply[0].u.list.items = items;
	reply[0].u.list.n = a->n;
	/* reply() copies the fields before it returns. */
	n->host->reply(call, reply, 1);
	free(items);
}

static void
notes_serve_clear(struct notes *n, struct secd_call *call)
{
	struct notes_account *a = notes_slot(n, call->account);
	struct secd_value reply[1];
	size_t i, deleted = a->n;

	for (i = 0; i < a->n; i++)
		free(a->notes[i]);
	a->n = 0;
	reply[0] = (struct secd_value)SECD_INT("deleted", (int64_t)deleted);
	n->host->reply(call, reply, 1);
}

static void *
notes_worker_main(void *arg)
{
	struct notes *n = arg;
	struct secd_call *call;

	for (;;) {
		pthread_mutex_lock(&n->mtx);
		while (n->qlen == 0 && !n->stopping)
			pthread_cond_wait(&n->cv, &n->mtx);
		if (n->qlen == 0) {
			pthread_mutex_unlock(&n->mtx);
			break;
		}
		call = n->queue[n->qhead];
		n->qhead = (n->qhead + 1) % n->queue_max;
		n->qlen--;
		pthread_mutex_unlock(&n->mtx);

		notes_delay(n);
		/* submit() let only our ops in, with their arguments right. */
		if (strcmp(call->op, "login") == 0)
			notes_serve_login(n, call);
		else if (strcmp(call->op, "note_put") == 0)
			notes_serve_put(n, call);
		else if (strcmp(call->op, "note_list") == 0)
			notes_serve_list(n, call);
		else
			notes_serve_clear(n, call);
	}
	return NULL;
}

/* Free everything; the worker must not be running. */
static void
notes_free(struct notes *n)
{
	size_t i, j;

	if (n == NULL)
		return;
	for (i = 0; n->table != NULL && i < n->tsize; i++) {
		for (j = 0; j < n->table[i].n; j++)
			free(n->table[i].notes[j]);
		free(n->table[i].notes);
		free(n->table[i].name);
	}
	free(n->table);
	free(n->queue);
	if (n->password != NULL) {
		notes_wipe(n->password, n->passlen);
		free(n->password);
	}
	free(n);
}

/*
 * Stop the worker and wait for it.  It finishes the call it holds; calls
 * still queued are refused now rather than served after a delay.
 */
static void
notes_stop(struct notes *n)
{
	struct secd_call *call;

	pthread_mutex_lock(&n->mtx);
	n->stopping = 1;
	pthread_cond_broadcast(&n->cv);
	while (n->qlen > 0) {
		call = n->queue[n->qhead];
		n->qhead = (n->qhead + 1) % n->queue_max;
		n->qlen--;
		/* Never answer under our lock: the host may take its own. */
		pthread_mutex_unlock(&n->mtx);
		n->host->reply_error(call, "unavailable", NOTES_MSG_STOPPING,
		    -1);
		pthread_mutex_lock(&n->mtx);
	}
	pthread_mutex_unlock(&n->mtx);
	if (n->started)
		pthread_join(n->thread, NULL);
	n->started = 0;
}

static int
notes_open(const struct secd_host *host, const struct secd_option *options,
    size_t noptions, void **state, char *err, size_t errlen)
{
	struct notes_opts o;
	struct notes *n;
	pthread_condattr_t ca;
	sigset_t all, old;
	int rc;

	*state = NULL;
	if (host == NULL || host->abi != SECD_HANDLER_ABI ||
	    host->reply == NULL || host->reply_login == NULL ||
	    host->reply_error == NULL || host->log == NULL) {
		snprintf(err, errlen, "notes: the host does not offer handler "
		    "ABI %d", SECD_HANDLER_ABI);
		goto err0;
	}
	if (notes_parse_options(options, noptions, &o, err, errlen) != 0)
		goto err0;

	if ((n = calloc(1, sizeof(*n))) == NULL)
		goto nomem0;
	n->host = host;
	n->passlen = strlen(o.password);
	n->max_accounts = o.max_accounts;
	n->max_notes = o.max_notes;
	n->max_text = o.max_text;
	n->queue_max = o.queue;
	n->delay_ms = o.delay_ms;
	for (n->tsize = 1; n->tsize < 2 * n->max_accounts; n->tsize *= 2)
		;
	if ((n->password = strdup(o.password)) == NULL ||
	    (n->queue = calloc(n->queue_max, sizeof(*n->queue))) == NULL ||
	    (n->table = calloc(n->tsize, sizeof(*n->table))) == NULL)
		goto nomem1;

	/* The delay's deadline is on the monotonic clock. */
	if ((rc = pthread_condattr_init(&ca)) != 0) {
		snprintf(err, errlen, "notes: condition variable: %s",
		    strerror(rc));
		goto err1;
	}
	if ((rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC)) == 0)
		rc = pthread_cond_init(&n->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (rc != 0) {
		snprintf(err, errlen, "notes: condition variable: %s",
		    strerror(rc));
		goto err1;
	}
	if ((rc = pthread_mutex_init(&n->mtx, NULL)) != 0) {
		snprintf(err, errlen, "notes: mutex: %s", strerror(rc));
		goto err2;
	}

	/* Our thread takes no signals: those are secd's main thread's. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&n->thread, NULL, notes_worker_main, n);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		snprintf(err, errlen, "notes: cannot start its thread: %s",
		    strerror(rc));
		goto err3;
	}
	n->started = 1;

	host->log(host, SECD_LOG_INFO, "notes: up to %zu accounts of %zu "
	    "notes of %zu bytes; queue %zu; delay %ums", n->max_accounts,
	    n->max_notes, n->max_text, n->queue_max, n->delay_ms);
	*state = n;
	return 0;

err3:
	pthread_mutex_destroy(&n->mtx);
err2:
	pthread_cond_destroy(&n->cv);
err1:
	notes_free(n);
err0:
	return -1;
nomem1:
	notes_free(n);
nomem0:
	snprintf(err, errlen, "notes: out of memory");
	return -1;
}

static void
notes_close(void *state)
{
	struct notes *n = state;

	if (n == NULL)
		return;
	notes_stop(n);
	pthread_mutex_destroy(&n->mtx);
	pthread_cond_destroy(&n->cv);
	notes_free(n);
}

/* Check a call's arguments; answer it and return -1 if they are wrong. */
static int
notes_check_call(struct notes *n, struct secd_call *call)
{
	const struct secd_host *host = n->host;
	const char *text;
	char msg[128];
	size_t len;

	if (strcmp(call->op, "login") == 0) {
		/* secd's codec has checked both against the protocol. */
		if (secd_arg_str(call, "account") == NULL ||
		    secd_arg_str(call, "password") == NULL) {
			host->reply_error(call, "bad_request", "login needs "
			    "\"account\" and \"password\" strings", -1);
			return -1;
		}
		return 0;
	}
	/* The gate lets only logged-in sessions this far; check anyway. */
	if (call->account == NULL) {
		host->reply_error(call, "auth_required", "log in first", -1);
		return -1;
	}
	if (strcmp(call->op, "note_put") == 0) {
		if (call->nargs != 1 || secd_arg(call, "text") == NULL) {
			host->reply_error(call, "bad_request", "note_put takes "
			    "one field, \"text\"", -1);
			return -1;
		}
		if ((text = secd_arg_str(call, "text")) == NULL) {
			host->reply_error(call, "bad_request", "text: must be "
			    "a string", -1);
			return -1;
		}
		len = strlen(text);
		if (len == 0 || len > n->max_text) {
			snprintf(msg, sizeof(msg), "text: must be 1 to %zu "
			    "bytes, found %zu", n->max_text, len);
			host->reply_error(call, "bad_request", msg, -1);
			return -1;
		}
		return 0;
	}
	if (strcmp(call->op, "note_list") == 0 ||
	    strcmp(call->op, "note_clear") == 0) {
		if (call->nargs != 0) {
			snprintf(msg, sizeof(msg), "%s takes no fields",
			    call->op);
			host->reply_error(call, "bad_request", msg, -1);
			return -1;
		}
		return 0;
	}
	host->reply_error(call, "unknown_op", "the notes module does not "
	    "serve this op", -1);
	return -1;
}

static void
notes_submit(void *state, struct secd_call *call)
{
	struct notes *n = state;
	const char *refusal = NULL;
	int64_t retry_after = -1;

	if (notes_check_call(n, call) != 0)
		return;

	pthread_mutex_lock(&n->mtx);
	if (n->stopping) {
		refusal = NOTES_MSG_STOPPING;
	} else if (n->qlen == n->queue_max) {
		refusal = NOTES_MSG_BUSY;
		retry_after = 1;
	} else {
		n->queue[(n->qhead + n->qlen) % n->queue_max] = call;
		n->qlen++;
		pthread_cond_signal(&n->cv);
	}
	pthread_mutex_unlock(&n->mtx);

	/* Answered here, on secd's thread, before submit() returns. */
	if (refusal != NULL)
		n->host->reply_error(call, "unavailable", refusal, retry_after);
}

extern NOTES_EXPORT const struct secd_handler secd_handler;

const struct secd_handler secd_handler = {
	.abi = SECD_HANDLER_ABI,
	.name = "notes",
	.ops = notes_ops,
	.open = notes_open,
	.close = notes_close,
	.submit = notes_submit,
};
