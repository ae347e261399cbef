/*
 * conf.h - the one configuration file: "key = value" lines, # comments.
 *
 * One table in conf.c lists every key with its type, default and meaning
 * (Postfix's CONFIG_*_TABLE idea).  Unknown keys, bad values and bad sizes
 * are errors reported as "file:line: reason".  Durations take s/m/h/d
 * suffixes (bare number: seconds); sizes take k/m/g (bare: bytes).
 * Lists are separated by spaces and/or commas.
 */
#ifndef KURIR_CONF_H
#define KURIR_CONF_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "buf.h"
#include "net.h"

#define CONF_LINE_MAX	4096		/* bytes per line, without the newline */
#define CONF_FILE_MAX	(1024 * 1024)	/* kurir.conf is small; refuse more */

struct strlist {
	char	**v;
	size_t	  n;
};

/* an account for one role: a login name, or "uid[:gid]" */
struct conf_user {
	char	*spec;		/* as written; NULL: not set (as root: the default kurir-* account) */
};

struct conf {
	char		*path;			/* file it was read from */
	char		*hostname;		/* default: gethostname() */
	struct strlist	 local_domains;		/* lower case; default: hostname localhost */
	char		*state_dir;
	char		*mail_dir;
	char		*users_file;
	char		*aliases_file;
	char		*routes_file;
	struct strlist	 smtp_listen;		/* "host:port", validated */
	struct strlist	 submission_listen;
	struct strlist	 pop3_listen;
	char		*tls_cert_file;
	char		*tls_key_file;
	char		*tls_ca_file;		/* CA bundle for tls=verify routes */
	struct cidr	*relay_clients;
	size_t		 n_relay_clients;
	uint64_t	 message_size_limit;	/* bytes */
	long long	 queue_lifetime;	/* seconds */
	long long	 retry_min;
	long long	 retry_max;
	long long	 delay_warning;		/* 0: never */
	char		*dns_server;		/* NULL, or "ip:port" / "[ip6]:port"
						 * (port 53 added if not written) */
	struct conf_user smtpd_user, queue_user, mail_user, remote_user,
			 pop3_user, auth_user;
	long long	 smtp_greet_pause;	/* seconds; 0: off */
	long long	 smtp_command_timeout;
	long long	 smtp_data_timeout;
	unsigned	 smtp_min_data_rate;	/* bytes/s in DATA and BDAT */
	long long	 pop3_idle_timeout;
	unsigned	 smtp_max_recipients;
	unsigned	 smtp_max_errors;
	unsigned	 smtp_line_length_limit;	/* octets before CRLF; 0: none */
	unsigned	 max_hop_count;	/* Received + Delivered-To fields */
	unsigned	 smtp_max_sessions;
	unsigned	 smtp_max_sessions_per_ip;
	unsigned	 pop3_max_sessions;
	unsigned	 pop3_max_sessions_per_ip;
	unsigned	 queue_max_clients_per_uid;	/* local queue links */
	uint64_t	 queue_min_free;	/* bytes kept free; 0: off */
	unsigned	 client_ipv6_prefix;	/* per-client limits count IPv6
						 * clients by this network */
	unsigned	 pop3_max_errors;
	unsigned	 auth_workers;		/* kurir-auth crypt processes */
	unsigned	 auth_fail_limit;	/* failures per network ... */
	long long	 auth_fail_window;	/* ... in this many seconds */
	unsigned	 auth_link_rate;	/* checks per second per link */
	int		 percent_hack;		/* bool */
	int		 plaintext_auth;	/* bool: allow passwords without TLS off loopback */
};

/* Fill every field with its default (also done by conf_load first). */
int	conf_defaults(struct conf *);
/*
 * Read path into c.  Returns 0, or -1 with "file:line: reason" in err.
 * On error c is left freed (no partial config is ever used).
 * c's previous contents are not freed: load into a fresh struct and swap
 * (that is how SIGHUP keeps the old config when the new one is bad).
 * Relative paths in the file are taken from the file's directory; every
 * path stored is absolute.
 */
int	conf_load(struct conf *c, const char *path, char *err, size_t errlen);
/*
 * The same from memory: name is used in messages and c->path, basedir
 * (absolute) anchors relative paths.  The file loader and the fuzzer
 * both come through here.
 */
int	conf_load_mem(struct conf *c, const char *name, const char *basedir,
	    const char *data, size_t len, char *err, size_t errlen);
/* Release everything; safe on a zeroed struct and safe to call twice. */
void	conf_free(struct conf *);
/*
 * Write the effective configuration as "key = value" lines, every key,
 * each after a "# meaning" comment (what `kurirctl check -v` shows).  The
 * output loads again to the same values, unless canonical addresses made
 * a relay_clients line longer than CONF_LINE_MAX.  Returns 0 or -1.
 */
int	conf_print(const struct conf *, FILE *);
/* The keys, in table order, for documentation checks: NULL past the end. */
const char *conf_key_name(size_t i, const char **meaning);

/* The config path: -f/-C argument if given, else $KURIR_CONF, else
 * KURIR_SYSCONFDIR "/kurir/kurir.conf". */
const char *conf_path(const char *arg);

/* Parsers shared with the tables and tests; return 0 or -1. */
/* leading decimal digits of s into *n (overflow-checked); *end after them */
int	conf_parse_digits(const char *s, long long *n, const char **end);
int	conf_parse_duration(const char *, long long *secs);
int	conf_parse_size(const char *, uint64_t *bytes);
int	conf_parse_bool(const char *, int *);

/*
 * Helpers the table loaders share, so that every file kurir reads has the
 * same line rules and the same error shape.
 *
 * conf_read_file: the whole file into b (at most max bytes; EFBIG beyond).
 * Returns 0, or -1 with errno (ENOENT passes through for the tables).
 */
int	conf_read_file(const char *path, size_t max, struct buf *b);

struct conf_reader {
	const char	*name;		/* for messages */
	const char	*p, *end;
	unsigned long	 line;		/* number of the line last returned */
};
void	conf_reader_init(struct conf_reader *, const char *name,
	    const char *data, size_t len);
/*
 * The next line that is neither blank nor a comment ('#' as first
 * non-blank), without its LF or CRLF and with surrounding blanks removed,
 * NUL-terminated into line (linelen > CONF_LINE_MAX).  Returns 1, 0 at
 * the end, -1 with "file:line: reason" in err (line too long, NUL byte).
 */
int	conf_reader_next(struct conf_reader *, char *line, size_t linelen,
	    char *err, size_t errlen);
/*
 * "name:line: " + message into err; bytes that are not printable ASCII
 * become '?' so that a hostile file cannot put escapes into a terminal or
 * a log line.  Always returns -1 (for "return conf_error(...)").
 */
int	conf_error(char *err, size_t errlen, const char *name,
	    unsigned long line, const char *fmt, ...)
	    __attribute__((format(printf, 5, 6)));

/* Is domain (any case) one of local_domains? */
int	conf_is_local_domain(const struct conf *, const char *domain);

/*
 * Resolve a role's account: a login name through getpwnam(3), or
 * "uid[:gid]" (gid defaults to uid).  Returns 0 and uid/gid, 1 if the
 * role is not set, -1 if the name is unknown (ENOENT), the spec is
 * malformed (EINVAL) or it names root (EPERM: a role running as uid or
 * gid 0 would undo the privilege separation).
 */
int	conf_user_resolve(const struct conf_user *, uid_t *, gid_t *);

#endif
