/*
 * net.h - socket address helpers: "host:port" parsing, CIDR matching.
 */
#ifndef KURIR_NET_H
#define KURIR_NET_H

#include <sys/socket.h>
#include <netinet/in.h>

struct cidr {
	int		family;		/* AF_INET or AF_INET6 */
	unsigned char	addr[16];
	int		prefix;
};

/*
 * "127.0.0.1:2525", "[::1]:2525", "*:25" (any IPv4), "[::]:25".
 * Numeric only: a listen address is never looked up in DNS.
 * Returns 0 or -1 (with *why).
 */
int	net_parse_hostport(const char *, struct sockaddr_storage *,
	    socklen_t *, const char **why);
/* "127.0.0.0/8", "::1", "192.0.2.7" (host: /32 or /128) */
int	net_parse_cidr(const char *, struct cidr *, const char **why);
/* 1 if sa lies in any of the n networks (IPv4-mapped IPv6 counts as IPv4) */
int	net_cidr_match(const struct cidr *, size_t n, const struct sockaddr *);
/* "192.0.2.1" or "2001:db8::1" (no port) into out */
int	net_addr_text(const struct sockaddr *, char *out, size_t outlen);
/*
 * The client network that per-client limits count by: an IPv4 address
 * (or IPv4-mapped) as itself, "192.0.2.1"; an IPv6 address by its first
 * v6prefix bits (1..128), "2001:db8:1:2::/64", since one IPv6 host
 * commonly holds a whole /64 and could otherwise take a slot per address.
 */
int	net_client_net(const struct sockaddr *, unsigned v6prefix, char *out,
	    size_t outlen);
/*
 * net_client_net for an address given as text ("192.0.2.1", "2001:db8::1",
 * "::ffff:192.0.2.1"), as kurir-auth gets it in a request; -1/EINVAL if
 * it is not a numeric address.
 */
int	net_client_net_text(const char *ip, unsigned v6prefix, char *out,
	    size_t outlen);
/* 1 if loopback (127.0.0.0/8, ::1, or IPv4-mapped loopback) */
int	net_is_loopback(const struct sockaddr *);

#endif
