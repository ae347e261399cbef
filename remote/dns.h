/*
 * dns.h - MX and address lookups for kurir-remote, on c-ares and the
 * program's libevent loop.
 *
 * Used by kurir-remote (remote user, chrooted, REMOTE seccomp profile).
 * dns_init runs before the chroot and the sandbox: it reads
 * /etc/resolv.conf once; afterwards the module only opens, uses and
 * closes sockets (UDP and TCP to the resolver).  Names come from
 * c-ares' own queries (ares_query), never from /etc/hosts.
 *
 * Every request ends in exactly one callback, always from the event loop
 * (never from inside the dns_resolve_* call that started it), with the
 * addresses to try in order or an enhanced status code and a text.
 */
#ifndef KURIR_DNS_H
#define KURIR_DNS_H

#include <sys/types.h>
#include <sys/socket.h>
#include <stddef.h>

struct event_base;

#define DNS_TARGETS_MAX	32	/* addresses handed back, at most */
#define DNS_MX_MAX	10	/* MX hosts looked at, at most */

enum dns_status { DNS_OK, DNS_TEMP, DNS_PERM };

struct dns_target {
	char			 host[256];	/* the MX host name (or the domain itself for the implicit MX, or the route host, or the literal) */
	struct sockaddr_storage	 ss;		/* address, port set */
	socklen_t		 sslen;
};

/*
 * Called exactly once per request, never from inside the dns_resolve_*
 * call itself (it is deferred with an event).  why: NULL for DNS_OK, else
 * an enhanced status code + text, e.g. "4.4.3 DNS lookup of example.net
 * failed: timeout", "5.1.2 no such domain example.net", "5.1.10
 * example.net accepts no mail (null MX)".  targets: valid only during the
 * call (NULL and 0 unless DNS_OK).  The callback may start new requests,
 * change the server or call dns_shutdown.  (One exception, a caller's
 * bug: a request made before dns_init or after dns_shutdown is called
 * back at once, DNS_TEMP.)
 */
typedef void (*dns_cb)(void *arg, enum dns_status, const char *why,
	    const struct dns_target *targets, size_t ntargets);

/*
 * server: NULL or "" (use /etc/resolv.conf, read now) or "ip:port" /
 * "[ip6]:port" / "ip" / "ip6" (port 53): the config key dns_server.
 * /etc/resolv.conf is read in either case, so that a later
 * dns_set_server(NULL) needs no file.  0, or -1 with err.  Call before
 * chroot and sandbox.
 */
int	dns_init(struct event_base *, const char *server, char *err,
	    size_t errlen);
/*
 * Change the server (config reload; NULL or "": back to resolv.conf's
 * as read by dns_init).  Lookups in flight are asked again of the new
 * server; the same server again changes nothing.  0, or -1 with err (the
 * old server stays).
 */
int	dns_set_server(const char *server, char *err, size_t errlen);
/*
 * Cancel outstanding requests and free c-ares.  Every request not yet
 * called back is called back before this returns: DNS_TEMP "4.4.3 DNS
 * lookup of ... cancelled", or its result if it already had one.
 */
void	dns_shutdown(void);

/*
 * RFC 5321 section 5.1 for domain: its MX hosts by preference, in random
 * order among equal preferences, at most DNS_MX_MAX; each host's AAAA
 * then A addresses, host after host, all with the given port, at most
 * DNS_TARGETS_MAX in all (an address met twice is kept once).  An MX
 * host with no address, or whose name is not a valid host name, is
 * skipped.
 *   no MX records (NODATA)       the domain's own AAAA and A (implicit MX)
 *   null MX (RFC 7505)           DNS_PERM "5.1.10 ..."
 *   NXDOMAIN                     DNS_PERM "5.1.2 ..."
 *   SERVFAIL, timeout, refused   DNS_TEMP "4.4.3 ..."
 *   no MX host has an address    DNS_TEMP "4.4.3 ..." if a lookup failed,
 *                                else DNS_TEMP "4.4.4 ..."; DNS_PERM
 *                                "5.4.4 ..." when every MX host is
 *                                NXDOMAIN or not a host name (a broken
 *                                MX set does not mend itself); for the
 *                                implicit MX, NXDOMAIN gives "5.1.2"
 * domain may be an address literal, "[192.0.2.1]" or "[IPv6:2001:db8::1]":
 * that address, no lookup.  A domain that is not a valid name gets
 * DNS_PERM "5.1.2 ...".
 */
void	dns_resolve_mx(const char *domain, unsigned short port, dns_cb,
	    void *arg);
/*
 * A routes_file host: an IP literal (v4 or v6, brackets optional) or a
 * name -> its AAAA then A addresses (no MX lookup).  A route names a
 * host the admin chose, so every failure is DNS_TEMP (4.4.3 or 4.4.4):
 * the mail waits for the admin, it does not bounce.
 */
void	dns_resolve_host(const char *host, unsigned short port, dns_cb,
	    void *arg);

#endif
