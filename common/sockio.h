/*
 * sockio.h - client connections of the event-driven daemons
 * (kurir-smtpd, the pre-auth kurir-pop3d): accepting with a pause when
 * descriptors run out, a refusal written before any session exists, and
 * buffered non-blocking I/O on a socket that may have turned TLS
 * (libtls) midway.
 */
#ifndef KURIR_SOCKIO_H
#define KURIR_SOCKIO_H

#include <sys/socket.h>
#include <stdarg.h>
#include <sys/types.h>
#include <event2/event.h>
#include <tls.h>

#include "buf.h"

#define SOCKIO_AGAIN	(-3)	/* nothing to read yet */
#define SOCKIO_FULL	(-2)	/* the input buffer is at its cap */

/*
 * accept4 a client (non-blocking, close-on-exec).  Out of descriptors,
 * the listener event lev is paused for a second rather than spinning.
 * The fd, or -1 (nothing to do: errors worth it are logged).
 */
int	sockio_accept(int lfd, struct event *lev, struct event_base *,
	    struct sockaddr_storage *, const int *stopping);
/* The session limits of one protocol, and how it refuses a client. */
struct sockio_limits {
	const char	*max_key;	/* "smtp_max_sessions", for the log */
	const char	*stopping;	/* refusal lines, CRLF included */
	const char	*busy;
	const char	*busy_ip;
	unsigned	 max;		/* sessions in all */
	unsigned	 max_ip;	/* sessions from one address */
};

/*
 * Admit a new client from ip, with n sessions open, n_ip of them from
 * ip, or refuse it (logged, one line written, fd closed).  1 admitted,
 * 0 refused.
 */
int	sockio_admit(int fd, const char *ip, const struct sockio_limits *,
	    int stopping, unsigned n, unsigned n_ip);
/* One best-effort write of msg, then close: no session state needed. */
void	sockio_refuse(int fd, const char *msg);
/*
 * Read up to chunk bytes into in (from tls if not NULL): bytes read,
 * 0 EOF, -1 error, SOCKIO_AGAIN, SOCKIO_FULL.  When TLS must write to
 * read on, ev_write is added.
 */
ssize_t	sockio_read(int fd, struct tls *, struct buf *in, size_t chunk,
	    struct event *ev_write);
/*
 * Write out as much of out as the socket takes (through tls if not
 * NULL), draining what went; when it takes no more, ev_write is added.
 * 0, or -1 when the peer is gone (out is emptied).
 */
int	sockio_write(int fd, struct tls *, struct buf *out,
	    struct event *ev_write);

/* Append one reply line (fmt, then CRLF) to out; failures are logged
 * with the client's ip. */
void	sockio_vline(struct buf *out, const char *ip, const char *fmt,
	    va_list ap) __attribute__((format(printf, 3, 0)));

#endif
