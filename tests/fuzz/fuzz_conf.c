/*
 * fuzz_conf.c: feed arbitrary bytes to the secd.yaml loader.
 *
 * The loader must, for any input, either return a struct conf or NULL with
 * at least one message, never crash, never leak (LeakSanitizer runs after
 * every input under libFuzzer), and stay fast: its limits on size, nodes,
 * nesting and aliases are what this target probes.  A loaded struct conf
 * is also read back through the accessors a daemon uses.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf_diag diag;
	struct conf *c;
	unsigned int line, col;
	size_t i, n = 0;

	conf_diag_init(&diag);
	c = conf_load_buffer("/etc/secd/secd.yaml", data, size, &diag);
	if (c == NULL) {
		/* A refusal always says why. */
		if (conf_diag_count(&diag) == 0)
			abort();
	} else {
		if (conf_diag_count(&diag) != 0 || c->nlisten < 1 ||
		    c->nlisten > CONF_MAX_LISTEN ||
		    c->handler.noptions > CONF_MAX_OPTIONS)
			abort();
		for (i = 0; i < c->handler.noptions; i++) {
			if (conf_handler_option(c,
			    c->handler.options[i].key) == NULL)
				abort();
			n += strlen(c->handler.options[i].value);
		}
		(void)conf_key_pos(c, "tls.certificate", &line, &col);
		conf_diag_key(&diag, c, "listen[0]", "probe %zu", n);
	}
	for (i = 0; i < conf_diag_count(&diag); i++)
		if (strlen(conf_diag_get(&diag, i)) == 0)
			abort();
	conf_diag_clear(&diag);
	conf_free(c);
	return (0);
}
