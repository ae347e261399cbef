/*
 * table.h - the users, aliases and routes tables.
 *
 * Each table is a plain file that configuration management can push and
 * SIGHUP reloads: load builds a complete new table or fails with
 * "file:line: reason" (the old one stays in use).  Lookups of names are
 * case-insensitive (local parts match without regard to case).
 *
 *   users:   name:crypt-hash            ($y$, $2b$, $6$ ... as crypt(3) knows)
 *   aliases: name: target, target       (local names or remote addresses)
 *   routes:  domain host[:port] [tls=none|may|require|verify]
 *            ("*" is the smarthost; default tls=may; "[addr]" literal hosts)
 * Blank lines and lines starting with '#' are ignored in all three; lines
 * are at most CONF_LINE_MAX (4096) bytes.
 *
 * Every *_load reads the whole file and, on success, sets *out to a new
 * table: the caller frees the previous one after the swap.  On failure
 * *out is untouched, so the old table stays in use.  Each *_load_mem does
 * the same from memory (name is used in messages); the file loaders and
 * the fuzzers both come through it.
 */
#ifndef KURIR_TABLE_H
#define KURIR_TABLE_H

#include <stddef.h>

struct users;
struct aliases;
struct routes;

enum route_tls { ROUTE_TLS_NONE, ROUTE_TLS_MAY, ROUTE_TLS_REQUIRE, ROUTE_TLS_VERIFY };

struct route {
	char		*domain;	/* lower case, or "*" */
	char		*host;		/* hostname or address, without brackets */
	unsigned short	 port;		/* 25 unless given */
	enum route_tls	 tls;
};

#define TABLE_FILE_MAX	(64 * 1024 * 1024)	/* refuse larger table files */

/* A missing file (ENOENT) loads as an empty table: a fresh host has none. */
int	users_load(struct users **, const char *path, char *err, size_t errlen);
int	users_load_mem(struct users **, const char *name, const char *data,
	    size_t len, char *err, size_t errlen);
void	users_free(struct users *);
size_t	users_count(const struct users *);
/* the i-th name in sorted order (for listings), or NULL past the end */
const char *users_name_at(const struct users *, size_t i);
/* the crypt hash for name, or NULL */
#define USERS_HASH_MAX		512	/* longer than any crypt(3) output */
const char *users_lookup(const struct users *, const char *name);
/*
 * 1 if the password matches, 0 if not (or no such user: a dummy hash is
 * still computed so the time taken does not tell which), -1 on error.
 */
int	users_check_password(const struct users *, const char *name,
	    const char *password);
/*
 * users_check_password in two halves, so kurir-auth can look the hash up
 * in its event loop and run crypt in a worker process that never holds the
 * table: the setting to hash with (name's hash, or a dummy of the same
 * cost; *known tells which), and the crypt and constant-time compare.
 */
const char *users_setting(const struct users *, const char *name, int *known);
int	users_crypt_check(const char *setting, int known, const char *password);
/*
 * Is this a valid user name?  [a-z0-9._-]{1,64}, not starting with '.' or
 * '-', and no ".." or final '.' (so every name is also an unquoted SMTP
 * local part and a safe directory name under mail_dir).
 */
int	users_name_valid(const char *);

int	aliases_load(struct aliases **, const char *path, char *err, size_t errlen);
int	aliases_load_mem(struct aliases **, const char *name, const char *data,
	    size_t len, char *err, size_t errlen);
void	aliases_free(struct aliases *);
size_t	aliases_count(const struct aliases *);
/*
 * targets for name (case-insensitive), or NULL; *n set to their count.
 * Names are canonical local parts (addr_parse); targets are canonical
 * "local" or "local@domain" strings (addr_format), duplicates dropped.
 */
const char * const *aliases_lookup(const struct aliases *, const char *name,
	    size_t *n);

int	routes_load(struct routes **, const char *path, char *err, size_t errlen);
int	routes_load_mem(struct routes **, const char *name, const char *data,
	    size_t len, char *err, size_t errlen);
void	routes_free(struct routes *);
size_t	routes_count(const struct routes *);
/*
 * The route for domain: an exact match first, then the "*" smarthost;
 * NULL if neither (use MX).
 */
const struct route *routes_lookup(const struct routes *, const char *domain);

#endif
