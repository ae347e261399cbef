/*
 * self.h - does a destination lead back to this host? (SPEC 9)
 *
 * kurir-remote (remote user, chrooted, sandboxed) must not deliver to
 * one of kurir's own SMTP listeners: that is a mail loop.  The listener
 * addresses come from the config (the same file kurird binds them from,
 * re-read on SIGHUP); the addresses of the local interfaces, which a
 * wildcard listener (0.0.0.0, [::]) accepts on, are read once before
 * confinement (getifaddrs needs a netlink socket the sandbox does not
 * allow).  The 127.0.0.0/8 range and ::1 are always local.
 */
#ifndef KURIR_SELF_H
#define KURIR_SELF_H

#include <sys/socket.h>
#include <stddef.h>

#include "conf.h"

#define SELF_LISTEN_MAX	64	/* listener addresses taken from the config */
#define SELF_LOCAL_MAX	256	/* interface addresses kept */

struct self {
	struct sockaddr_storage	 listen[SELF_LISTEN_MAX];
	size_t			 nlisten;
	struct sockaddr_storage	 local[SELF_LOCAL_MAX];	/* port 0 */
	size_t			 nlocal;
};

/* The interface addresses: getifaddrs, before chroot and sandbox.  0/-1. */
int	self_read_interfaces(struct self *);
/* The listener addresses of a config (smtp_listen, submission_listen). */
void	self_set_listeners(struct self *, const struct conf *);
/* Add one address (tests; and self_read_interfaces). */
void	self_add_local(struct self *, const struct sockaddr *);
/*
 * 1 if a connection to dst (address and port) would reach one of our
 * own listeners, else 0.  Pure: looks only at the tables.
 */
int	self_is_me(const struct self *, const struct sockaddr *dst);
/* 1 if the first word of text (a greeting or EHLO reply line) is our
 * hostname, compared without regard to case, else 0. */
int	self_is_my_name(const char *text, size_t len, const char *hostname);

#endif
