/*
 * txn.h - the TRANSACTION and UPDATE states of one POP3 session
 * (RFC 1939 sections 5 and 6, RFC 2449 CAPA), served by the session
 * process of kurir-pop3d: mail user, chrooted into one user's Maildir,
 * sandboxed (SANDBOX_POP3_USER).  Its only peer is the stream socket the
 * pre-auth process proxies the client through; the bytes on it are plain
 * POP3, exactly as the client sent and will receive them.
 */
#ifndef KURIR_POP3D_TXN_H
#define KURIR_POP3D_TXN_H

struct txn_limits {
	long long	 idle_timeout;	/* seconds from a reply to the next
					 * whole command line (however it
					 * trickles in), or without progress
					 * writing a reply: close silently
					 * (RFC 1939 3) */
	unsigned	 max_errors;	/* bad commands in a row (unknown,
					 * not valid after login, overlong)
					 * before disconnect; 0: no limit */
	/*
	 * > 0: a descriptor whose hang-up ends the session like a dropped
	 * connection (the pre-auth process's socket, when the client's own
	 * socket was handed over); 0: none.
	 */
	int		 watch_fd;
	const char	*pre;		/* client bytes that came before the */
	size_t		 prelen;	/* session (pipelined after PASS) */
};

enum txn_end {
	TXN_QUIT,	/* QUIT and the UPDATE state succeeded */
	TXN_UPDATE_FAILED, /* QUIT, but a deletion could not be made */
	TXN_IN_USE,	/* the maildrop was locked: -ERR [IN-USE] sent */
	TXN_OPEN_FAILED, /* the maildrop could not be read: -ERR [SYS/TEMP] */
	TXN_DROPPED,	/* EOF, error or timeout: nothing changed on disk */
	TXN_ERRORS,	/* too many errors: nothing changed on disk */
};

/*
 * Serve one session on fd.  First opens the maildrop (maildrop_open on
 * maildir_fd) and sends the answer to the authenticating command (PASS or
 * AUTH): "+OK maildrop has N messages (M octets)", or "-ERR [IN-USE] ..."
 * when another session holds the lock, "-ERR [SYS/TEMP] ..." when it
 * cannot be read; then commands until QUIT, EOF, an idle timeout or too
 * many errors.  user is for log lines only.  fd is made non-blocking;
 * input the client pipelined is taken as it comes and replies are
 * flushed when no complete command line is left.  Returns how it ended;
 * fd stays open (the caller exits).
 */
enum txn_end txn_serve(int fd, int maildir_fd, const char *user,
	    const struct txn_limits *);

#endif
