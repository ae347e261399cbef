/*
 * ctlproto.h - kurird's control channel to its network services.
 *
 * kurird binds every listening socket and makes every link between two
 * services (socketpairs), then hands the descriptors over this channel,
 * one per frame (frame_write_fd).  A service that restarts gets them all
 * again; when a peer service restarts, the surviving one gets a new link.
 *
 *   CTL_LISTEN   a listening TCP socket; payload "smtp", "submission" or "pop3"
 *   CTL_QUEUE    a new link to kurir-queue (the old one, if any, is dead)
 *   CTL_AUTH     a new link to kurir-auth
 *   CTL_CONFIG   the config file, opened for reading (payload: its path);
 *               sent on SIGHUP: the service re-parses it from the fd
 *   CTL_TLS_CERT / CTL_TLS_KEY  the TLS certificate chain and key files
 *               (sent with CTL_CONFIG when tls_cert_file is set)
 *   CTL_GO       the initial batch is complete: start serving
 *   CTL_LOCAL    (kurir-send) a new link to kurir-local: kurir-local's
 *               own channel, made by kurird when it started kurir-local
 *               and handed over whole; it ends when either side dies
 *   CTL_FLUSH    (kurir-send) kurirctl flush: every deferred recipient
 *               is due now
 *   CTL_REMOTE   (kurir-send) a new link to kurir-remote
 *   CTL_SESSION  (kurir-pop3d) the socket of a new session process; id:
 *               the session number of the AP_LOGIN it answers; payload
 *               the user name kurir-auth checked
 */
#ifndef KURIR_CTLPROTO_H
#define KURIR_CTLPROTO_H

enum ctlproto_type {
	CTL_LISTEN = 1,
	CTL_QUEUE,
	CTL_AUTH,
	CTL_CONFIG,
	CTL_TLS_CERT,
	CTL_TLS_KEY,
	CTL_GO,
	CTL_LOCAL,
	CTL_FLUSH,
	CTL_REMOTE,
	CTL_SESSION,
};

#endif
