/*
 * tlsserver.c - a libtls server context from two descriptors (see
 * tlsserver.h).  Runs inside the confined services before and after
 * their chroot: it only reads the descriptors it is given.
 */
#include <errno.h>
#include <unistd.h>

#include "buf.h"
#include "fsutil.h"
#include "log.h"
#include "tlsserver.h"

static int
tls_mem(int fd, struct buf *b)
{
	buf_init(b, TLS_FILE_MAX + 16384);
	if (lseek(fd, 0, SEEK_SET) == -1 && errno != ESPIPE)
		return -1;
	return read_fd_all(fd, TLS_FILE_MAX, b);
}

struct tls *
tls_server_load(int certfd, int keyfd, struct tls_config **cfgp)
{
	struct tls_config *cfg = NULL;
	struct tls *srv = NULL;
	struct buf cert, key;

	buf_init(&cert, 0);
	buf_init(&key, 0);
	if (tls_mem(certfd, &cert) == -1 || tls_mem(keyfd, &key) == -1) {
		log_warn("reading TLS certificate or key");
		goto fail;
	}
	if ((cfg = tls_config_new()) == NULL) {
		log_warnx("tls_config_new");
		goto fail;
	}
	if (tls_config_set_keypair_mem(cfg, (const uint8_t *)cert.data,
	    cert.len, (const uint8_t *)key.data, key.len) == -1) {
		log_warnx("TLS keypair: %s", tls_config_error(cfg));
		goto fail;
	}
	if ((srv = tls_server()) == NULL || tls_configure(srv, cfg) == -1) {
		log_warnx("TLS server: %s", srv ? tls_error(srv) : "tls_server");
		goto fail;
	}
	buf_free(&cert);
	buf_free(&key);		/* wipes the key bytes */
	*cfgp = cfg;
	return srv;
fail:
	if (srv != NULL)
		tls_free(srv);
	if (cfg != NULL)
		tls_config_free(cfg);
	buf_free(&cert);
	buf_free(&key);
	return NULL;
}

struct tls *
tls_files_take(struct tls_files *tf, int is_key, int fd,
    struct tls_config **cfgp)
{
	int *slot = is_key ? &tf->keyfd : &tf->certfd;
	struct tls *srv;

	if (*slot >= 0)
		close(*slot);
	*slot = fd;
	if (tf->certfd < 0 || tf->keyfd < 0)
		return NULL;
	srv = tls_server_load(tf->certfd, tf->keyfd, cfgp);
	close(tf->certfd);
	close(tf->keyfd);
	tf->certfd = tf->keyfd = -1;
	return srv;
}
