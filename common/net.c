/*
 * net.c - socket address helpers (net.h): numeric "host:port" parsing,
 * CIDR networks and matching, address text, loopback test.
 *
 * Used by the config parser (listen addresses, relay_clients, dns_server),
 * by kurird when it binds, and by kurir-smtpd/kurir-pop3d for relay policy
 * and per-client session counts.  Pure functions: no DNS, no I/O, safe in
 * any process and any uid.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net.h"

/* "[ffff:...:255.255.255.255]" is the longest numeric host we accept */
#define NET_HOST_MAX	64

/* ::ffff:a.b.c.d (RFC 4291 2.5.5.2): a dual-stack socket shows IPv4
 * clients this way, and policy must treat them as the IPv4 client. */
static int
net_v4mapped(const struct in6_addr *a6)
{
	static const unsigned char pfx[12] =
	    { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	return memcmp(a6->s6_addr, pfx, sizeof(pfx)) == 0;
}

int
net_parse_hostport(const char *s, struct sockaddr_storage *ss,
    socklen_t *sslen, const char **why)
{
	char host[NET_HOST_MAX];
	const char *colon, *errstr;
	size_t hlen;
	long long port;
	int bracket = 0;

	*why = "bad address";
	if (s == NULL || *s == '\0') {
		*why = "empty address";
		return -1;
	}
	if (*s == '[') {
		const char *end = strchr(s, ']');

		if (end == NULL) {
			*why = "missing ']'";
			return -1;
		}
		bracket = 1;
		hlen = (size_t)(end - s - 1);
		s++;
		colon = end + 1;
		if (*colon != ':') {
			*why = "missing ':port' after ']'";
			return -1;
		}
	} else {
		colon = strchr(s, ':');
		if (colon == NULL) {
			*why = "missing ':port'";
			return -1;
		}
		if (strchr(colon + 1, ':') != NULL) {
			/* a bare IPv6 address: which colon ends it? */
			*why = "IPv6 address must be in brackets, as [::1]:25";
			return -1;
		}
		hlen = (size_t)(colon - s);
	}
	if (hlen == 0 || hlen >= sizeof(host)) {
		*why = hlen == 0 ? "empty host" : "host too long";
		return -1;
	}
	memcpy(host, s, hlen);
	host[hlen] = '\0';

	if (colon[1] < '0' || colon[1] > '9') {	/* strtonum takes "+1", " 1" */
		*why = "bad port";
		return -1;
	}
	port = strtonum(colon + 1, 1, 65535, &errstr);
	if (errstr != NULL) {
		*why = "port not in 1..65535";
		return -1;
	}

	memset(ss, 0, sizeof(*ss));
	if (bracket) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
			sin6->sin6_family = AF_INET6;
			sin6->sin6_port = htons((unsigned short)port);
			*sslen = sizeof(*sin6);
			*why = NULL;
			return 0;
		}
		/* "[192.0.2.1]:25" is how mail people write an IPv4 literal */
	}
	{
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		memset(ss, 0, sizeof(*ss));
		sin->sin_family = AF_INET;
		sin->sin_port = htons((unsigned short)port);
		if (!bracket && strcmp(host, "*") == 0)
			sin->sin_addr.s_addr = htonl(INADDR_ANY);
		else if (inet_pton(AF_INET, host, &sin->sin_addr) != 1) {
			*why = bracket ? "not a numeric IPv6 or IPv4 address" :
			    "not a numeric IPv4 address (names are not looked up)";
			return -1;
		}
		*sslen = sizeof(*sin);
	}
	*why = NULL;
	return 0;
}

int
net_parse_cidr(const char *s, struct cidr *c, const char **why)
{
	char host[NET_HOST_MAX];
	const char *slash, *errstr, *h;
	size_t hlen, i;
	int max;

	*why = "bad network";
	if (s == NULL || *s == '\0') {
		*why = "empty network";
		return -1;
	}
	slash = strchr(s, '/');
	hlen = slash ? (size_t)(slash - s) : strlen(s);
	h = s;
	/* Postfix writes [::1]/128; accept the brackets, they change nothing */
	if (hlen >= 2 && s[0] == '[' && s[hlen - 1] == ']') {
		h = s + 1;
		hlen -= 2;
	}
	if (hlen == 0 || hlen >= sizeof(host)) {
		*why = hlen == 0 ? "empty address" : "address too long";
		return -1;
	}
	memcpy(host, h, hlen);
	host[hlen] = '\0';

	memset(c, 0, sizeof(*c));
	if (inet_pton(AF_INET, host, c->addr) == 1) {
		c->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, host, c->addr) == 1) {
		c->family = AF_INET6;
		max = 128;
	} else {
		*why = "not a numeric IPv4 or IPv6 address";
		return -1;
	}

	c->prefix = max;
	if (slash != NULL) {
		if (slash[1] < '0' || slash[1] > '9') {
			*why = "bad prefix length";
			return -1;
		}
		c->prefix = (int)strtonum(slash + 1, 0, max, &errstr);
		if (errstr != NULL) {
			*why = max == 32 ? "prefix length not in 0..32" :
			    "prefix length not in 0..128";
			return -1;
		}
	}

	/*
	 * 10.1.2.3/8 is most likely a typo for a host or for 10.0.0.0/8;
	 * refuse it rather than guess which (Postfix does the same).
	 */
	for (i = 0; i < (size_t)max / 8; i++) {
		int bits = c->prefix - (int)i * 8;
		unsigned char mask;

		if (bits >= 8)
			continue;
		mask = bits <= 0 ? 0 : (unsigned char)(0xff << (8 - bits));
		if ((c->addr[i] & (unsigned char)~mask) != 0) {
			*why = "address has bits set beyond the prefix length";
			return -1;
		}
	}
	*why = NULL;
	return 0;
}

/* Do the first prefix bits of a and b agree? */
static int
net_prefix_equal(const unsigned char *a, const unsigned char *b, int prefix)
{
	int full = prefix / 8, rest = prefix % 8;
	unsigned char mask;

	if (full > 0 && memcmp(a, b, (size_t)full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	mask = (unsigned char)(0xff << (8 - rest));
	return (a[full] & mask) == (b[full] & mask);
}

int
net_cidr_match(const struct cidr *nets, size_t n, const struct sockaddr *sa)
{
	const unsigned char *v4 = NULL, *v6 = NULL;
	size_t i;

	if (sa == NULL)
		return 0;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

		v4 = (const unsigned char *)&sin->sin_addr;
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 =
		    (const struct sockaddr_in6 *)sa;

		v6 = sin6->sin6_addr.s6_addr;
		if (net_v4mapped(&sin6->sin6_addr))
			v4 = v6 + 12;
	} else
		return 0;	/* UNIX sockets are not networks */

	for (i = 0; i < n; i++) {
		if (nets[i].family == AF_INET && v4 != NULL &&
		    net_prefix_equal(nets[i].addr, v4, nets[i].prefix))
			return 1;
		if (nets[i].family == AF_INET6 && v6 != NULL &&
		    net_prefix_equal(nets[i].addr, v6, nets[i].prefix))
			return 1;
	}
	return 0;
}

int
net_addr_text(const struct sockaddr *sa, char *out, size_t outlen)
{
	const void *a;
	int af;

	if (sa == NULL || out == NULL || outlen == 0) {
		errno = EINVAL;
		return -1;
	}
	if (sa->sa_family == AF_INET) {
		af = AF_INET;
		a = &((const struct sockaddr_in *)sa)->sin_addr;
	} else if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a6 =
		    &((const struct sockaddr_in6 *)sa)->sin6_addr;

		/* one client, one spelling: logs and per-IP limits agree */
		if (net_v4mapped(a6)) {
			af = AF_INET;
			a = a6->s6_addr + 12;
		} else {
			af = AF_INET6;
			a = a6;
		}
	} else {
		errno = EAFNOSUPPORT;
		return -1;
	}
	if (outlen > (socklen_t)-1)
		outlen = (socklen_t)-1;
	if (inet_ntop(af, a, out, (socklen_t)outlen) == NULL)
		return -1;	/* ENOSPC */
	return 0;
}

int
net_client_net(const struct sockaddr *sa, unsigned v6prefix, char *out,
    size_t outlen)
{
	struct in6_addr a6;
	char text[INET6_ADDRSTRLEN];
	unsigned i;
	int n;

	if (sa == NULL || sa->sa_family != AF_INET6)
		return net_addr_text(sa, out, outlen);
	if (v6prefix == 0 || v6prefix > 128) {
		errno = EINVAL;
		return -1;
	}
	a6 = ((const struct sockaddr_in6 *)sa)->sin6_addr;
	if (net_v4mapped(&a6) || v6prefix == 128)
		return net_addr_text(sa, out, outlen);
	for (i = v6prefix; i < 128; i++)
		a6.s6_addr[i / 8] &= (uint8_t)~(0x80u >> (i % 8));
	if (inet_ntop(AF_INET6, &a6, text, sizeof(text)) == NULL)
		return -1;
	n = snprintf(out, outlen, "%s/%u", text, v6prefix);
	if (n < 0 || (size_t)n >= outlen) {
		errno = ENOSPC;
		return -1;
	}
	return 0;
}

int
net_client_net_text(const char *ip, unsigned v6prefix, char *out,
    size_t outlen)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;

	memset(&sin, 0, sizeof(sin));
	memset(&sin6, 0, sizeof(sin6));
	if (ip == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (inet_pton(AF_INET, ip, &sin.sin_addr) == 1) {
		sin.sin_family = AF_INET;
		return net_client_net((const struct sockaddr *)&sin, v6prefix,
		    out, outlen);
	}
	if (inet_pton(AF_INET6, ip, &sin6.sin6_addr) == 1) {
		sin6.sin6_family = AF_INET6;
		return net_client_net((const struct sockaddr *)&sin6, v6prefix,
		    out, outlen);
	}
	errno = EINVAL;
	return -1;
}

int
net_is_loopback(const struct sockaddr *sa)
{
	if (sa == NULL)
		return 0;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

		return (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a6 =
		    &((const struct sockaddr_in6 *)sa)->sin6_addr;

		if (net_v4mapped(a6))
			return a6->s6_addr[12] == 127;
		return IN6_IS_ADDR_LOOPBACK(a6);
	}
	return 0;
}
