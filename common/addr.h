/*
 * addr.h - RFC 5321 mailbox and path parser.
 *
 * One function validates an address; every failure path returns -1 with a
 * short reason, so no caller can skip a check (CVE-2020-7247 lesson).
 * Accepted: dot-atom and quoted local parts, domains and address literals
 * ([192.0.2.1], [IPv6:2001:db8::1]), the null path <>, source routes
 * (<@a,@b:user@c>, stripped), length limits 64 (local part), 255 (domain)
 * and 256 (path including <>).  The result is canonical: a quoted local
 * part that needs no quotes is stored unquoted ("dave"@x == dave@x), the
 * domain is lower-cased; the local part keeps its case (lookups fold it).
 */
#ifndef KURIR_ADDR_H
#define KURIR_ADDR_H

#include <stddef.h>

#define ADDR_LOCAL_MAX	64	/* RFC 5321 4.5.3.1.1 */
#define ADDR_DOMAIN_MAX	255	/* RFC 5321 4.5.3.1.2 */
#define ADDR_PATH_MAX	256	/* RFC 5321 4.5.3.1.3, with the brackets */
/* room for any canonical "local@domain" string, plus NUL */
#define ADDR_TEXT_MAX	(ADDR_LOCAL_MAX + 1 + ADDR_DOMAIN_MAX + 1)

struct addr {
	int	null;				/* the null path <> */
	char	local[ADDR_LOCAL_MAX + 1];	/* canonical, with quotes only if needed */
	char	domain[ADDR_DOMAIN_MAX + 1];	/* lower case; "" if none */
};

/* flags */
#define ADDR_ALLOW_NULL		0x01	/* accept <> (MAIL FROM) */
#define ADDR_ALLOW_NODOMAIN	0x02	/* accept a bare local part (sendmail "alice") */
#define ADDR_ALLOW_POSTMASTER	0x04	/* accept <postmaster> without a domain (RCPT) */
#define ADDR_ALLOW_UTF8		0x08	/* SMTPUTF8: UTF-8 in local part and domain */

/*
 * Parse an SMTP path: "<" [source-route ":"] mailbox ">" or "<>".
 * len bytes from s; the whole input must be the path (the caller splits
 * off ESMTP parameters).  Returns 0, or -1 and *why set to a static text.
 */
int	addr_parse_path(const char *s, size_t len, int flags, struct addr *,
	    const char **why);

/*
 * Parse a bare mailbox "local@domain" (command-line arguments, table
 * targets, header addresses already extracted).  Angle brackets are
 * accepted too.  Same result and error conventions as addr_parse_path.
 */
int	addr_parse(const char *s, int flags, struct addr *, const char **why);

/* Write "local@domain" (or "" for null, or "local" without domain). */
int	addr_format(const struct addr *, char *out, size_t outlen);

/*
 * The percent hack: "user%host@gateway" becomes "user@host" (the last
 * '%' splits).  Returns 1 if rewritten, 0 if no '%' (or no domain, or
 * the null path), -1 if the result would not be a valid address (then
 * the address is left unchanged).  Callers apply it only when the
 * percent_hack option is on and the domain is local, then run relay
 * policy on the result.
 */
int	addr_percent_hack(struct addr *);

/* Does the local part need quoting?  (Exposed for tests and header code.) */
int	addr_local_needs_quotes(const char *unquoted);

/* Compare local parts and domains case-insensitively (ASCII only). */
int	addr_equal(const struct addr *, const struct addr *);

/* Domain syntax check (also used by the config parser): 1 valid, 0 not */
int	addr_domain_valid(const char *domain, int allow_utf8);

#endif
