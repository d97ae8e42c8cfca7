/*
 * nosymbol.c: a shared object that is not a secd handler module: it does
 * not export secd_handler.  secd must refuse it at startup, saying so.
 */
#include "secd/handler.h"

extern const uint32_t secd_handler_abi_only;

/* Something to export, so that the object is not empty. */
const uint32_t secd_handler_abi_only = SECD_HANDLER_ABI;
