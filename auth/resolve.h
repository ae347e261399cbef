/*
 * resolve.h - alias expansion for kurir-auth's AP_RESOLVE (pure: tables
 * in, targets out; no I/O), so it is unit-tested on its own.
 */
#ifndef KURIR_RESOLVE_H
#define KURIR_RESOLVE_H

#include "buf.h"
#include "conf.h"
#include "table.h"

#define RESOLVE_DEPTH_MAX	10	/* alias chains longer than this: a loop */
#define RESOLVE_TARGETS_MAX	1000	/* targets from one recipient */

enum resolve_result { RESOLVE_OK, RESOLVE_NOUSER, RESOLVE_ERROR };

/*
 * Expand local part name (any case) through the aliases to its final
 * targets, appended to out one per line, each once, in order:
 *   "user NAME"     a local mailbox (users table), lower case
 *   "remote ADDR"   an address in a domain that is not local
 *   "fail TARGET"   an alias target that is neither (bounce that one)
 * Aliases win over users of the same name, as in sendmail and Postfix.
 * Local domains come from c (NULL: every domain is remote).  Returns
 * RESOLVE_NOUSER if name itself is neither alias nor user, RESOLVE_ERROR
 * with *why for a loop or too many targets.
 */
enum resolve_result resolve_local(const struct users *, const struct aliases *,
	    const struct conf *c, const char *name, struct buf *out,
	    const char **why);

#endif
