/*
 * sasl.h - SASL message parsing (RFC 4616 PLAIN).
 *
 * Used by kurir-smtpd (AUTH PLAIN, RFC 4954) and kurir-pop3d (AUTH PLAIN,
 * RFC 5034) after base64_decode(); runs as their unprivileged uids
 * (kurir-smtpd, kurir-pop3d pre-auth).  The password is only split off
 * here, never checked: that happens in the process that may read the
 * users table.
 */
#ifndef KURIR_SASL_H
#define KURIR_SASL_H

#include <stddef.h>

#define SASL_AUTHCID_MAX	64	/* bytes; a mailbox name */
#define SASL_PASSWD_MAX		511	/* bytes; crypt(3) takes no more */

/*
 * Split a PLAIN message: [authzid] NUL authcid NUL passwd.
 * authzid must be empty or byte-equal to authcid: proxy authorisation
 * is not supported.  authcid is 1..SASL_AUTHCID_MAX bytes without NUL or
 * control characters (it ends up in log lines); passwd is
 * 1..SASL_PASSWD_MAX bytes without NUL.  Both are copied NUL-terminated
 * and must fit their capacities.  Returns 0, or -1 with *why set to a
 * short static text (safe to put in a reply) and both outputs wiped
 * with explicit_bzero.  why may be NULL.
 */
int	sasl_plain_parse(const unsigned char *msg, size_t len, char *authcid,
	    size_t authcidcap, char *passwd, size_t passwdcap, const char **why);

#endif
