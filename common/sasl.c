/*
 * sasl.c - RFC 4616 PLAIN message parser (API and rules in sasl.h).
 *
 * Used by kurir-smtpd and kurir-pop3d (pre-auth, unprivileged); bytes in,
 * two NUL-terminated strings out, no state.  Every failure goes through
 * plain_fail() so that no error path can leave a password in the
 * caller's buffers.
 */
#include <string.h>

#include "sasl.h"

/* Wipe both outputs, set the reason and fail. */
static int
plain_fail(char *authcid, size_t authcidcap, char *passwd, size_t passwdcap,
    const char **why, const char *reason)
{
	if (authcidcap > 0)
		explicit_bzero(authcid, authcidcap);
	if (passwdcap > 0)
		explicit_bzero(passwd, passwdcap);
	if (why != NULL)
		*why = reason;
	return -1;
}

/* Any byte below 0x20 or DEL?  (NUL cannot occur: it splits the fields.) */
static int
has_control(const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] < 0x20 || p[i] == 0x7f)
			return 1;
	return 0;
}

int
sasl_plain_parse(const unsigned char *msg, size_t len, char *authcid,
    size_t authcidcap, char *passwd, size_t passwdcap, const char **why)
{
	const unsigned char *z, *c, *p, *nul1, *nul2, *end = msg + len;
	size_t zlen, clen, plen;

#define FAIL(reason) \
	plain_fail(authcid, authcidcap, passwd, passwdcap, why, (reason))

	if (len == 0 || (nul1 = memchr(msg, '\0', len)) == NULL)
		return FAIL("missing NUL separator");
	nul2 = memchr(nul1 + 1, '\0', (size_t)(end - nul1 - 1));
	if (nul2 == NULL)
		return FAIL("missing NUL separator");
	z = msg;
	zlen = (size_t)(nul1 - msg);
	c = nul1 + 1;
	clen = (size_t)(nul2 - c);
	p = nul2 + 1;
	plen = (size_t)(end - p);
	if (memchr(p, '\0', plen) != NULL)
		return FAIL("NUL in password");
	if (clen == 0)
		return FAIL("empty user name");
	if (clen > SASL_AUTHCID_MAX)
		return FAIL("user name too long");
	if (has_control(c, clen))
		return FAIL("control character in user name");
	if (plen == 0)
		return FAIL("empty password");
	if (plen > SASL_PASSWD_MAX)
		return FAIL("password too long");
	/* no proxy authorisation: authzid may only restate authcid */
	if (zlen != 0 && (zlen != clen || memcmp(z, c, clen) != 0))
		return FAIL("authorization identity not supported");
	if (clen >= authcidcap || plen >= passwdcap)
		return FAIL("credentials too long");
	memcpy(authcid, c, clen);
	authcid[clen] = '\0';
	memcpy(passwd, p, plen);
	passwd[plen] = '\0';
	return 0;
#undef FAIL
}
