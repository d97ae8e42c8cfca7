/*
 * shell.c: secctl's interactive shell.  One session, many commands; the
 * protocol lines sent are kept (passwords masked) and listed by 'sent'.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codec.h"
#include "secctl.h"

#define SHELL_SENT_MAX 100

struct shell {
	struct client *cl;
	struct opts o;
	char account[MSG_ACCOUNT_MAX + 1];
	char *sent[SHELL_SENT_MAX];	/* ring of lines sent, oldest first */
	size_t nsent, first;
};

static void
shell_remember(struct shell *sh, const char *line)
{
	char *copy = strdup(line);

	if (copy == NULL)
		return;
	if (sh->nsent == SHELL_SENT_MAX) {
		free(sh->sent[sh->first]);
		sh->sent[sh->first] = copy;
		sh->first = (sh->first + 1) % SHELL_SENT_MAX;
	} else {
		sh->sent[(sh->first + sh->nsent++) % SHELL_SENT_MAX] = copy;
	}
}

static void
shell_help(void)
{
	printf("commands:\n"
	    "  ping               is secd there?\n"
	    "  login [ACCOUNT]    log in (asks for the password)\n"
	    "  logout             log out\n"
	    "  balance            the logged-in account's balance\n"
	    "  send JSON          send one raw protocol line, print the reply\n"
	    "  sent               the lines sent in this session "
	    "(passwords masked)\n"
	    "  help               this text\n"
	    "  quit               close the session\n");
}

static void
shell_op(struct shell *sh, enum msg_op op)
{
	char line[64];

	snprintf(line, sizeof(line), "{\"op\":\"%s\"}", msg_op_name(op));
	shell_remember(sh, line);
	run_simple(sh->cl, &sh->o, op);
}

static void
shell_logout(struct shell *sh)
{
	struct msg_request req;
	struct msg_reply rep;
	char err[512];

	msg_request_init(&req);
	msg_request_set_op(&req, "logout");
	shell_remember(sh, "{\"op\":\"logout\"}");
	if (client_request(sh->cl, &req, &rep, err, sizeof(err)) != 0) {
		fprintf(stderr, "logout: %s\n", err);
		return;
	}
	if (rep.error.code != MSG_ERR_NONE)
		report_error(&sh->o, &rep);
	else
		printf("logged out\n");
	msg_reply_clear(&rep);
}

static void
shell_send(struct shell *sh, const char *json)
{
	struct msg_request req;
	struct codec_error cerr;
	const char *in;
	size_t inlen;
	char err[512];

	/* Mask a password in what is remembered, if this is a login. */
	msg_request_init(&req);
	if (codec_decode_request(json, strlen(json), &req, &cerr) == 0 &&
	    req.op == MSG_OP_LOGIN)
		shell_remember(sh, "{\"op\":\"login\",...,\"password\":\"***\"}");
	else
		shell_remember(sh, json);
	msg_request_clear(&req);
	if (client_send_line(sh->cl, json, strlen(json), err,
	    sizeof(err)) != 0 ||
	    client_recv_line(sh->cl, &in, &inlen, err, sizeof(err)) != 0) {
		fprintf(stderr, "send: %s\n", err);
		return;
	}
	printf("%.*s\n", (int)inlen, in);
}

int
shell_run(struct client *cl, const struct opts *o)
{
	struct shell sh;
	const struct msg_hello *h = client_hello(cl);
	char *line = NULL, *arg, mask[MSG_ACCOUNT_MAX + 64];
	size_t cap = 0, i;
	int tty = isatty(STDIN_FILENO);

	memset(&sh, 0, sizeof(sh));
	sh.cl = cl;
	sh.o = *o;
	if (tty) {
		printf("connected to %s (%s, protocol %lld); ops:", o->c.server,
		    h->server, (long long)h->version);
		for (i = 0; i < h->nops; i++)
			printf(" %s", h->ops[i]);
		printf("\n'help' lists the commands.\n");
	}
	if (o->account != NULL) {
		snprintf(sh.account, sizeof(sh.account), "%s", o->account);
		sh.o.account = sh.account;
		snprintf(mask, sizeof(mask), "{\"op\":\"login\",\"account\":"
		    "\"%s\",\"password\":\"***\"}", sh.account);
		shell_remember(&sh, mask);
		if (do_login(cl, &sh.o) == EX_OK)
			printf("logged in as %s\n", sh.account);
	}
	for (;;) {
		if (tty) {
			printf("secd> ");
			fflush(stdout);
		}
		if (getline(&line, &cap, stdin) < 0)
			break;
		chomp(line);
		arg = line + strcspn(line, " ");
		if (*arg != '\0')
			*arg++ = '\0';
		arg += strspn(arg, " ");
		if (line[0] == '\0')
			continue;
		if (strcmp(line, "quit") == 0 || strcmp(line, "exit") == 0)
			break;
		else if (strcmp(line, "help") == 0)
			shell_help();
		else if (strcmp(line, "ping") == 0)
			shell_op(&sh, MSG_OP_PING);
		else if (strcmp(line, "balance") == 0)
			shell_op(&sh, MSG_OP_BALANCE);
		else if (strcmp(line, "logout") == 0)
			shell_logout(&sh);
		else if (strcmp(line, "send") == 0 && *arg != '\0')
			shell_send(&sh, arg);
		else if (strcmp(line, "sent") == 0)
			for (i = 0; i < sh.nsent; i++)
				printf("%3zu  %s\n", i + 1,
				    sh.sent[(sh.first + i) % SHELL_SENT_MAX]);
		else if (strcmp(line, "login") == 0) {
			if (*arg != '\0')
				snprintf(sh.account, sizeof(sh.account), "%s",
				    arg);
			if (sh.account[0] == '\0' ||
			    !msg_account_valid(sh.account,
			    strlen(sh.account))) {
				printf("login ACCOUNT\n");
				continue;
			}
			sh.o.account = sh.account;
			snprintf(mask, sizeof(mask), "{\"op\":\"login\","
			    "\"account\":\"%s\",\"password\":\"***\"}",
			    sh.account);
			shell_remember(&sh, mask);
			if (do_login(cl, &sh.o) == EX_OK)
				printf("logged in as %s\n", sh.account);
		} else
			printf("unknown command '%s': try 'help'\n", line);
	}
	if (line != NULL)
		wipe(line, cap);
	free(line);
	for (i = 0; i < sh.nsent; i++)
		free(sh.sent[(sh.first + i) % SHELL_SENT_MAX]);
	return EX_OK;
}
