/*
 * sandbox.h - seccomp allow-lists, one profile per confined program.
 *
 * Entered after the program has dropped root, chrooted and set up its
 * event loop and descriptors: from then on it can only do the system
 * calls its job needs on descriptors it already has.  Linux only; all of
 * it lives in sandbox.c (one file per platform, as OpenSMTPD learned).
 */
#ifndef KURIR_SANDBOX_H
#define KURIR_SANDBOX_H

enum sandbox_profile {
	SANDBOX_SMTPD,		/* network I/O, accept, TLS; no files, no new sockets */
	SANDBOX_AUTH,		/* I/O on given fds, crypt; no files, no sockets */
	SANDBOX_REMOTE,		/* as SMTPD plus socket/connect for outgoing SMTP and DNS */
	SANDBOX_POP3_PRE,	/* as SMTPD */
	SANDBOX_POP3_USER,	/* file access in its own (chrooted) Maildir; no sockets */
	SANDBOX_SEND,		/* as POP3_USER: file access in its chrooted queue */
};

/* 0, or -1 with errno (the caller decides whether that is fatal). */
int	sandbox_enter(enum sandbox_profile);
const char *sandbox_name(enum sandbox_profile);

#endif
