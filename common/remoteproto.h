/*
 * remoteproto.h - frames between kurir-send and kurir-remote, and
 * kurird's control frames to kurir-remote.
 *
 * kurir-remote (the SMTP client) runs as the remote user, chrooted to
 * <state_dir>/empty, sandboxed; it never sees the queue directory.
 * kurir-send hands it one message for one destination domain at a time,
 * with the queue entry as a read-only descriptor:
 *
 *   RP_DELIVER  id = request number (echoed in the answer)
 *               fd = the queue entry
 *               payload = "offset\0size\0sender\0domain\0rcpt\0rcpt\0..."
 *                 offset, size: decimal, the message bytes in the entry
 *                   (LF line ends; kurir-remote sends CRLF, dot-stuffed)
 *                 sender: the envelope sender ("" for <>)
 *                 domain: where the recipients are (routes_file, MX)
 *                 rcpt: one or more recipients in that domain
 *                   (at most RP_RCPTS_MAX)
 *   RP_RESULT   id = the request's; payload = text lines:
 *                 first "mta HOST" (the server that answered last, for
 *                   the DSN's Remote-MTA; "mta " when none was reached)
 *                 then one line per recipient, in request order:
 *                   "2 2.0.0 text" delivered (the server's 250 to DATA)
 *                   "4 4.x.x text" temporary: try again later
 *                   "5 5.x.x text" permanent: bounce
 *                 text is the server's reply (code and text, one line)
 *                 or our own diagnostic ("4.4.1 connection refused by
 *                 mx.example.net [192.0.2.1]").
 *
 * Control channel (kurird -> kurir-remote, -c):
 *   RP_CTL_ROUTES  the routes_file, opened for reading (payload: its path)
 *   RP_CTL_CONFIG  the config file on SIGHUP (payload: its path)
 *   RP_CTL_LINK    a new link to kurir-send (socket)
 *   RP_CTL_CA      the CA bundle for tls=verify routes (payload: path)
 */
#ifndef KURIR_REMOTEPROTO_H
#define KURIR_REMOTEPROTO_H

enum remoteproto_type {
	RP_DELIVER = 1,
	RP_RESULT = 10,
	RP_CTL_ROUTES = 20,
	RP_CTL_CONFIG,
	RP_CTL_LINK,
	RP_CTL_CA,
};

#define RP_RCPTS_MAX	100	/* recipients in one request (one transaction) */

#endif
