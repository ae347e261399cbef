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

#endif
