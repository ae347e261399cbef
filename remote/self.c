/*
 * self.c - recognising this host as a destination (see self.h).
 *
 * Runs in kurir-remote.  self_read_interfaces runs as root or the
 * remote user before confinement; the rest is pure table look-up on
 * addresses that came from DNS (untrusted) and is bounded by the table
 * sizes.  A listener on a specific address matches that address and
 * port exactly; a wildcard listener matches its port on any local
 * address of its family (kurird sets IPV6_V6ONLY, so [::] does not take
 * IPv4).  IPv4-mapped IPv6 destinations are compared as IPv4.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <ifaddrs.h>
#include <string.h>

#include "log.h"
#include "net.h"
#include "self.h"

/* An IPv4-mapped IPv6 address as plain IPv4; others as they are. */
static void
self_norm(const struct sockaddr *sa, struct sockaddr_storage *out)
{
	memset(out, 0, sizeof(*out));
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
			struct sockaddr_in *in = (void *)out;
			in->sin_family = AF_INET;
			in->sin_port = in6->sin6_port;
			memcpy(&in->sin_addr, &in6->sin6_addr.s6_addr[12], 4);
			return;
		}
		memcpy(out, sa, sizeof(struct sockaddr_in6));
	} else if (sa->sa_family == AF_INET)
		memcpy(out, sa, sizeof(struct sockaddr_in));
}

static unsigned
self_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)(const void *)ss)->sin_port);
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)(const void *)ss)->sin6_port);
	return 0;
}

/* 1 if both hold the same address (ports ignored). */
static int
self_same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET)
		return memcmp(&((const struct sockaddr_in *)(const void *)a)->sin_addr,
		    &((const struct sockaddr_in *)(const void *)b)->sin_addr, 4) == 0;
	if (a->ss_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)(const void *)a)->sin6_addr,
		    &((const struct sockaddr_in6 *)(const void *)b)->sin6_addr,
		    16) == 0;
	return 0;
}

static int
self_is_any(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ((const struct sockaddr_in *)(const void *)ss)->sin_addr.s_addr ==
		    htonl(INADDR_ANY);
	if (ss->ss_family == AF_INET6)
		return IN6_IS_ADDR_UNSPECIFIED(
		    &((const struct sockaddr_in6 *)(const void *)ss)->sin6_addr);
	return 0;
}

void
self_add_local(struct self *me, const struct sockaddr *sa)
{
	if (me->nlocal >= SELF_LOCAL_MAX ||
	    (sa->sa_family != AF_INET && sa->sa_family != AF_INET6))
		return;
	self_norm(sa, &me->local[me->nlocal++]);
}

int
self_read_interfaces(struct self *me)
{
	struct ifaddrs *ifa, *i;

	me->nlocal = 0;
	if (getifaddrs(&ifa) == -1)
		return -1;
	for (i = ifa; i != NULL; i = i->ifa_next)
		if (i->ifa_addr != NULL)
			self_add_local(me, i->ifa_addr);
	freeifaddrs(ifa);
	return 0;
}

static void
self_add_listeners(struct self *me, const struct strlist *l)
{
	struct sockaddr_storage ss;
	socklen_t len;
	const char *why;
	size_t i;

	for (i = 0; i < l->n && me->nlisten < SELF_LISTEN_MAX; i++)
		if (net_parse_hostport(l->v[i], &ss, &len, &why) == 0)
			self_norm((const struct sockaddr *)&ss,
			    &me->listen[me->nlisten++]);
}

void
self_set_listeners(struct self *me, const struct conf *c)
{
	me->nlisten = 0;
	self_add_listeners(me, &c->smtp_listen);
	self_add_listeners(me, &c->submission_listen);
}

/* Is the address one this host has (its port ignored)? */
static int
self_is_local(const struct self *me, const struct sockaddr_storage *a)
{
	size_t i;

	if (net_is_loopback((const struct sockaddr *)a))
		return 1;
	for (i = 0; i < me->nlocal; i++)
		if (self_same_addr(&me->local[i], a))
			return 1;
	return 0;
}

int
self_is_me(const struct self *me, const struct sockaddr *dst)
{
	struct sockaddr_storage d;
	size_t i;

	self_norm(dst, &d);
	if (d.ss_family != AF_INET && d.ss_family != AF_INET6)
		return 0;
	for (i = 0; i < me->nlisten; i++) {
		const struct sockaddr_storage *l = &me->listen[i];

		if (l->ss_family != d.ss_family || self_port(l) != self_port(&d))
			continue;
		if (self_is_any(l) ? self_is_local(me, &d) : self_same_addr(l, &d))
			return 1;
	}
	return 0;
}

int
self_is_my_name(const char *text, size_t len, const char *hostname)
{
	size_t n = 0, hl = hostname ? strlen(hostname) : 0;

	while (n < len && text[n] != ' ' && text[n] != '\t' && text[n] != '\r' &&
	    text[n] != '\n')
		n++;
	return hl > 0 && n == hl && strncasecmp(text, hostname, hl) == 0;
}
