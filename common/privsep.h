/*
 * privsep.h - the accounts each role runs as, and dropping to them.
 *
 * As root, every program other than kurird gives up root before it reads
 * any input: setgroups, setgid, setuid, optionally chroot first, then a
 * check that root cannot be regained.  As a non-root user nothing
 * changes (development and tests run everything as one user).
 */
#ifndef KURIR_PRIVSEP_H
#define KURIR_PRIVSEP_H

#include <sys/types.h>

#include "conf.h"

enum role { ROLE_SMTPD, ROLE_QUEUE, ROLE_MAIL, ROLE_REMOTE, ROLE_POP3,
    ROLE_AUTH, ROLE_NROLES };

/* The account spec of a role: the config's *_user value, or the default
 * name (kurir-smtpd, kurir-queue, kurir-mail, kurir-remote, kurir-pop3,
 * kurir-auth). */
const char *priv_role_spec(const struct conf *, enum role);
const char *priv_role_key(enum role);	/* "smtpd_user" ... */
/* uid/gid of a role; 0 or -1 with err */
int	priv_role_ids(const struct conf *, enum role, uid_t *, gid_t *,
	    char *err, size_t errlen);
/*
 * If running as root: chroot to root_dir (unless NULL), then become the
 * role's account for good.  Not root: nothing.  0 or -1 with err.
 */
int	priv_drop(const struct conf *, enum role, const char *root_dir,
	    char *err, size_t errlen);

#endif
