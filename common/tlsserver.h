/*
 * tlsserver.h - a libtls server context from a certificate chain and a
 * key that kurird opened (kurir-smtpd STARTTLS, kurir-pop3d STLS).
 * The confined services open no file: the descriptors come over their
 * control channel (CTL_TLS_CERT, CTL_TLS_KEY).
 */
#ifndef KURIR_TLSSERVER_H
#define KURIR_TLSSERVER_H

#include <tls.h>

/* Largest certificate chain or key file read. */
#define TLS_FILE_MAX	(1024 * 1024)

/*
 * Read both files (from their start) and build a configured server
 * context.  Returns it with its config in *cfgp, or NULL (logged).  The
 * key bytes are wiped from our buffers.  Both fds stay open.
 */
struct tls	*tls_server_load(int certfd, int keyfd, struct tls_config **cfgp);

/*
 * The two files arrive as separate control frames (CTL_TLS_CERT, then
 * CTL_TLS_KEY).  tls_files_take keeps each descriptor (replacing an
 * older one); once both are in, it builds the context, closes both and
 * returns it (with *cfgp), else NULL.  A new context never replaces the
 * old one in place: sessions still in TLS keep using theirs.
 */
struct tls_files {
	int		 certfd, keyfd;		/* -1 until received */
};
#define TLS_FILES_INIT	{ -1, -1 }

struct tls	*tls_files_take(struct tls_files *, int is_key, int fd,
		    struct tls_config **cfgp);

#endif
