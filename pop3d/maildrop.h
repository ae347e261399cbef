/*
 * maildrop.h - the maildrop of one POP3 session (RFC 1939) for
 * kurir-pop3d: the per-session process, mail user, chrooted into one
 * user's Maildir.  Lists new/ and cur/ once at open, keeps DELE and RETR
 * marks in memory and applies them only at UPDATE (maildrop_commit).
 */
#ifndef KURIR_POP3D_MAILDROP_H
#define KURIR_POP3D_MAILDROP_H

#include <stddef.h>

#define MAILDROP_MAX	100000		/* messages listed at most */
#define UIDL_MAX	70		/* RFC 1939: 1..70 octets 0x21..0x7E */
#define MAILDROP_LOCK	"kurir-pop3.lock"

struct mdmsg {
	char		 name[256];	/* file name in new/ or cur/ */
	int		 in_new;
	/*
	 * Octets as sent: LF line ends counted as CRLF, i.e. file size +
	 * number of LFs, + 2 when the last line has no LF (it gets a CRLF
	 * on the wire too).
	 */
	unsigned long long size;
	/*
	 * The unique part of the name (up to ':'); if longer than UIDL_MAX,
	 * empty, or with a byte outside 0x21..0x7E, "h" and 32 hex digits
	 * of two 64-bit FNV-1a hashes of it: stable across sessions and
	 * across the move from new/ to cur/.
	 */
	char		 uid[UIDL_MAX + 1];
	int		 deleted;	/* DELE: takes effect at commit only */
	int		 seen;		/* RETR: moved to cur/ with S at commit */
};

struct maildrop {
	int		 dirfd;		/* the Maildir (tmp/, new/, cur/ under it) */
	int		 lockfd;	/* held for the session */
	struct mdmsg	*msgs;
	size_t		 n;		/* messages at open; later mail not shown */
};

/*
 * Take the session lock (flock on MAILDROP_LOCK, non-blocking), create
 * tmp/ new/ cur/ if missing, list new/ and cur/ in delivery order (at
 * most MAILDROP_MAX, the oldest).  maildir_fd is not taken over.
 * 0 ok, 1 locked by another session (-ERR [IN-USE]), -1 error with err.
 */
int	maildrop_open(struct maildrop *, int maildir_fd, char *err,
	    size_t errlen);
/* Count and total size of the messages not deleted (STAT). */
void	maildrop_stat(const struct maildrop *, size_t *count,
	    unsigned long long *octets);
/*
 * A read-only descriptor on message i (0-based); -1 with errno if out of
 * range or deleted (EINVAL) or gone (ENOENT).  The caller converts LF to
 * CRLF and dot-stuffs.
 */
int	maildrop_open_msg(const struct maildrop *, size_t i);
/* RSET: clear every deleted mark; seen marks stay (the RETR happened). */
void	maildrop_reset(struct maildrop *);
/*
 * UPDATE: unlink the deleted messages, move the seen ones to cur/ with
 * S among their flags, fsync the directories changed.  A message that
 * vanished meanwhile is not an error; a seen mark that cannot be set is
 * logged, not an error.  0, or -1 with err when a deletion (or the
 * fsync that makes it durable) failed.
 */
int	maildrop_commit(struct maildrop *, char *err, size_t errlen);
/* Release the lock and free; nothing changes on disk. */
void	maildrop_close(struct maildrop *);

#endif
