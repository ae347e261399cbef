/*
 * authproto.h - frames between kurir-auth and its clients (kurir-smtpd,
 * later kurir-pop3d), and between kurird and kurir-auth.
 *
 * kurir-auth is the only program that reads users_file and aliases_file.
 * It runs unprivileged and chrooted: kurird (root) opens the table files
 * and passes the open descriptors over the control channel, at start and
 * on every SIGHUP, so the hashes never pass through a network-facing
 * process and kurir-auth needs no filesystem access at all.
 *
 * Client requests (frame id: a request number chosen by the client; the
 * answer carries the same id):
 *   AP_AUTH    payload "user\0password\0client-ip"   -> AP_OK ("user", the
 *              canonical lower-case name) or AP_FAIL ("reason").  A failed
 *              check is answered only after a delay (AUTH_FAIL_DELAY_MS),
 *              and repeated failures from one client-ip add more.  Checks
 *              run in crypt worker processes, so the answers of other
 *              requests may overtake this one.  Refused without a check,
 *              at once, with a temporary AP_FAIL whose reason starts with
 *              "4." (the client says 454 4.7.0 / -ERR [SYS/TEMP]):
 *              "4.7.0 too many failures" (the client network, an IPv4
 *              address or IPv6 /client_ipv6_prefix, reached
 *              auth_fail_limit in auth_fail_window), "4.3.2 busy" (this
 *              link is over auth_link_rate checks a second, whatever
 *              client-ip it names, or AUTH_QUEUE_MAX checks already
 *              wait).  AP_FAIL "temporary": kurir-auth could not check.
 *   AP_RCPT    payload "local-part" (canonical form from addr_parse) ->
 *              AP_OK ("user" | "alias" | "postmaster") or AP_NOUSER, or
 *              AP_FAIL ("tables not loaded") before the first tables
 *              arrived: a temporary answer, never a false "no such user".
 *              Case-insensitive, like all lookups.
 *   AP_RESOLVE payload "local-part" -> AP_OK with the final targets after
 *              alias expansion, one per line: "user NAME", "remote ADDR",
 *              "fail TARGET" (an alias target that exists nowhere); or
 *              AP_NOUSER; or AP_FAIL "5.4.6 alias loop" and the like
 *              (permanent), "4.x.x ..." (temporary, e.g. tables not
 *              loaded).  Used by kurir-send before delivery.
 *   AP_LOGIN   (kurir-pop3d only) as AP_AUTH; on success kurir-auth
 *              first asks kurird to start the session process for that
 *              user (AP_CTL_SPAWN), then answers AP_OK "user".  Only a
 *              link kurird marked "pop3" may ask: a session process is
 *              started for nobody whose password kurir-auth did not check.
 *   AP_CANCEL  id: that of an AP_AUTH / AP_LOGIN on the same link whose
 *              session has closed; payload empty (anything else is a
 *              protocol error: the link is closed).  No answer.  A check
 *              still waiting for a worker is dropped without crypt (and
 *              logged "auth check dropped before crypt"); one already
 *              running is answered to nobody (and, for AP_LOGIN, starts
 *              no session).  An id with nothing in flight is ignored:
 *              the answer may be on its way already.
 * Control (kurird -> kurir-auth, each with a descriptor):
 *   AP_CTL_USERS    the users_file, opened for reading (payload: its path,
 *                   for messages); AP_CTL_ALIASES likewise
 *   AP_CTL_LINK     a new client link (socket); payload "pop3" for the
 *                   link of kurir-pop3d (AP_LOGIN allowed), else empty
 *   AP_CTL_CONFIG   the config file, opened for reading, on SIGHUP (payload:
 *                   its path): local_domains for AP_RESOLVE
 * Control (kurir-auth -> kurird, no descriptor):
 *   AP_CTL_SPAWN    id: the AP_LOGIN's id (kurir-pop3d's session number);
 *                   payload "user\0client-ip": start a POP3 session
 *                   process for that user and hand its socket to
 *                   kurir-pop3d (CTL_SESSION, same id)
 * A table that fails to load keeps the old one in use; the error goes to
 * the log as "file:line: reason".
 */
#ifndef KURIR_AUTHPROTO_H
#define KURIR_AUTHPROTO_H

enum authproto_type {
	AP_AUTH = 1,
	AP_RCPT,
	AP_RESOLVE,
	AP_LOGIN,
	AP_CANCEL,
	AP_OK = 10,
	AP_FAIL,
	AP_NOUSER,
	AP_CTL_USERS = 20,
	AP_CTL_ALIASES,
	AP_CTL_LINK,
	AP_CTL_CONFIG,
	AP_CTL_SPAWN,
};

#define AUTH_FAIL_DELAY_MS	1000
#define AUTH_USER_MAX		64
#define AUTH_PASS_MAX		511	/* crypt(3) takes no more */
#define AUTH_IP_MAX		63	/* client-ip field of AP_AUTH, AP_LOGIN */

#endif
