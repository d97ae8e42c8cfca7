/*
 * wrongabi.c: a module that claims a handler ABI this secd does not speak.
 * secd must refuse it at startup, before touching anything but the abi
 * member, with a message that says which ABI each side speaks.
 */
#include <stddef.h>

#include "secd/handler.h"

static const char *const wrongabi_ops[] = { "login", NULL };

extern const struct secd_handler secd_handler;

/* Only abi is read: the function pointers are deliberately absent. */
const struct secd_handler secd_handler = {
	.abi = SECD_HANDLER_ABI + 1,
	.name = "wrongabi",
	.ops = wrongabi_ops,
	.open = NULL,
	.close = NULL,
	.submit = NULL,
};
