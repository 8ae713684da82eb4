/*
 * sshhost.c - SSH host key trust: pinned keys, known_hosts files,
 * accept-new, fingerprints.
 *
 * A pinned key ("ssh_host_key") is decoded here and compared byte for byte
 * with the key the server presented; when a node pins a key, known_hosts
 * is not consulted.  Otherwise the node's known_hosts file is read line by
 * line, and each line is handed to libssh2's known-host parser in a
 * collection of its own and checked against "host" (port 22) or
 * "[host]:port", exactly the name OpenSSH records.  libssh2 thereby
 * handles hashed "|1|salt|hash" entries, comma-separated patterns and key
 * types, and this module learns the line of every entry that matters: a
 * match, a different key of the same type (the key CHANGED), a key of
 * another type only, or a "@revoked" line that lists the presented key.
 * (Checking the plain host for a non-standard port, as libssh2 would when
 * given the port, is deliberately avoided: OpenSSH keeps the two apart.)
 * Lines libssh2 cannot parse are skipped, as OpenSSH skips them;
 * "@cert-authority" lines are skipped (no certificates here).
 *
 * accept-new appends "pattern keytype base64" with one write() to a file
 * opened with O_APPEND, so concurrent daemons never interleave lines.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <libssh2.h>

#include "distcron/b64.h"
#include "distcron/buf.h"
#include "distcron/defs.h"
#include "distcron/err.h"
#include "distcron/sshhost.h"

#define FP_MAX		128	/* "ED25519 SHA256:" + 43 */
#define LINE_MAX_LEN	(64 * 1024)
#define KEY_MAX_LEN	(16 * 1024)	/* a decoded public key blob */
#define HOST_DESC_MAX	300

/* A host key type: libssh2's two numberings, OpenSSH's label, and the
 * host key algorithms that use it. */
struct keytype {
	int session_type;	/* LIBSSH2_HOSTKEY_TYPE_* */
	int kh_type;		/* LIBSSH2_KNOWNHOST_KEY_* */
	const char *name;	/* in key lines and key blobs */
	const char *label;	/* as ssh-keygen -l prints it */
	const char *methods;	/* for libssh2_session_method_pref() */
};

static const struct keytype keytypes[] = {
	{ LIBSSH2_HOSTKEY_TYPE_ED25519, LIBSSH2_KNOWNHOST_KEY_ED25519,
	  "ssh-ed25519", "ED25519", "ssh-ed25519" },
	{ LIBSSH2_HOSTKEY_TYPE_ECDSA_256, LIBSSH2_KNOWNHOST_KEY_ECDSA_256,
	  "ecdsa-sha2-nistp256", "ECDSA", "ecdsa-sha2-nistp256" },
	{ LIBSSH2_HOSTKEY_TYPE_ECDSA_384, LIBSSH2_KNOWNHOST_KEY_ECDSA_384,
	  "ecdsa-sha2-nistp384", "ECDSA", "ecdsa-sha2-nistp384" },
	{ LIBSSH2_HOSTKEY_TYPE_ECDSA_521, LIBSSH2_KNOWNHOST_KEY_ECDSA_521,
	  "ecdsa-sha2-nistp521", "ECDSA", "ecdsa-sha2-nistp521" },
	{ LIBSSH2_HOSTKEY_TYPE_RSA, LIBSSH2_KNOWNHOST_KEY_SSHRSA,
	  "ssh-rsa", "RSA", "rsa-sha2-512,rsa-sha2-256,ssh-rsa" },
	{ LIBSSH2_HOSTKEY_TYPE_DSS, LIBSSH2_KNOWNHOST_KEY_SSHDSS,
	  "ssh-dss", "DSA", "ssh-dss" },
};

#define NKEYTYPES	(sizeof(keytypes) / sizeof(keytypes[0]))

/* What known_hosts says about the presented key, weakest first. */
enum kh_verdict {
	KH_NONE = SSHHOST_KH_NONE,		/* no entry for this host */
	KH_OTHER_TYPE = SSHHOST_KH_OTHER_TYPE,	/* only keys of other types */
	KH_CHANGED = SSHHOST_KH_CHANGED,	/* another key of the same type */
	KH_MATCH = SSHHOST_KH_MATCH,		/* the key is listed */
	KH_REVOKED = SSHHOST_KH_REVOKED,	/* listed under @revoked */
};

/* The outcome of reading a known_hosts file for one host and key. */
struct kh_scan {
	enum kh_verdict verdict;
	long line;		/* the line behind the verdict */
	const char *other;	/* KH_OTHER_TYPE: that key's label */
	uint32_t types;		/* bit i: keytypes[i] listed for the host */
	int error;		/* libssh2 could not check a line */
};

/* The server's key as presented in the handshake. */
struct srvkey {
	const unsigned char *blob;
	size_t len;
	const struct keytype *kt;	/* NULL: a type we do not know */
	char fp[FP_MAX];
};

/* Everything a verdict message needs. */
struct ctx {
	LIBSSH2_SESSION *s;
	const struct node_def *node;
	char pattern[HOST_DESC_MAX];	/* "host" or "[host]:port" */
	struct srvkey key;
	char *msg;
	size_t n;
};

/*
 * Key types and base64.
 */

static const struct keytype *
keytype_by_session(int type)
{
	size_t i;

	for (i = 0; i < NKEYTYPES; i++)
		if (keytypes[i].session_type == type)
			return &keytypes[i];
	return NULL;
}

static const struct keytype *
keytype_by_name(const char *name)
{
	size_t i;

	for (i = 0; i < NKEYTYPES; i++)
		if (strcmp(keytypes[i].name, name) == 0)
			return &keytypes[i];
	return NULL;
}

static int
keytype_index_by_kh(int kh_type)
{
	size_t i;

	for (i = 0; i < NKEYTYPES; i++)
		if (keytypes[i].kh_type == kh_type)
			return (int)i;
	return -1;
}

/* Reads the algorithm name that starts an SSH public key blob. */
static int
blob_name(const unsigned char *blob, size_t len, char *out, size_t n)
{
	uint32_t nl;

	if (len < 4)
		return ERR_PROTOCOL;
	nl = (uint32_t)blob[0] << 24 | (uint32_t)blob[1] << 16 |
	    (uint32_t)blob[2] << 8 | blob[3];
	if (nl == 0 || nl > len - 4 || nl >= n)
		return ERR_PROTOCOL;
	memcpy(out, blob + 4, nl);
	out[nl] = '\0';
	return strlen(out) == nl ? 0 : ERR_PROTOCOL;
}

/*
 * Fingerprints and patterns.
 */

int
sshhost_fingerprint(LIBSSH2_SESSION *s, char *out, size_t n)
{
	const struct keytype *kt;
	const char *hash;
	struct buf b;
	size_t len;
	int type, r;

	hash = libssh2_hostkey_hash(s, LIBSSH2_HOSTKEY_HASH_SHA256);
	if (hash == NULL || libssh2_session_hostkey(s, &len, &type) == NULL)
		return ERR_PROTOCOL;
	kt = keytype_by_session(type);
	buf_init(&b, FP_MAX);
	if ((r = buf_printf(&b, "%s SHA256:", kt ? kt->label : "UNKNOWN")) ==
	    0)
		r = b64_encode(hash, 32, false, &b);
	if (r == 0 && b.len >= n)
		r = ERR_TOOBIG;
	if (r == 0)
		memcpy(out, b.data, b.len + 1);
	buf_free(&b);
	return r == -E2BIG ? ERR_TOOBIG : r;
}

int
sshhost_pattern(const char *host, int port, char *out, size_t n)
{
	int len;

	if (port == 22)
		len = snprintf(out, n, "%s", host);
	else
		len = snprintf(out, n, "[%s]:%d", host, port);
	return len < 0 || (size_t)len >= n ? ERR_TOOBIG : 0;
}

/*
 * Reading known_hosts.
 */

/* Checks one known_hosts line against pattern and the key; kh_type 0
 * matches entries of any type.  Returns a LIBSSH2_KNOWNHOST_CHECK_* value
 * (a line libssh2 cannot parse is NOTFOUND); *type gets the entry's key
 * type. */
static int
line_check(LIBSSH2_SESSION *s, const char *line, const char *pattern,
    const struct srvkey *k, int kh_type, int *type)
{
	LIBSSH2_KNOWNHOSTS *kh;
	struct libssh2_knownhost *e = NULL;
	int c = LIBSSH2_KNOWNHOST_CHECK_NOTFOUND;

	if ((kh = libssh2_knownhost_init(s)) == NULL)
		return LIBSSH2_KNOWNHOST_CHECK_FAILURE;
	if (libssh2_knownhost_readline(kh, line, strlen(line),
	    LIBSSH2_KNOWNHOST_FILE_OPENSSH) == 0)
		c = libssh2_knownhost_checkp(kh, pattern, -1,
		    (const char *)k->blob, k->len, LIBSSH2_KNOWNHOST_TYPE_PLAIN |
		    LIBSSH2_KNOWNHOST_KEYENC_RAW | kh_type, &e);
	if (e != NULL)
		*type = e->typemask & LIBSSH2_KNOWNHOST_KEY_MASK;
	libssh2_knownhost_free(kh);
	return c;
}

/* Classifies one entry line (marker already removed); ERR_INTERNAL when
 * libssh2 fails (out of memory). */
static int
line_verdict(LIBSSH2_SESSION *s, const char *line, const char *pattern,
    const struct srvkey *k, int *type)
{
	int c, kh_type = k->kt != NULL ? k->kt->kh_type : 0;

	c = line_check(s, line, pattern, k, kh_type, type);
	if (c == LIBSSH2_KNOWNHOST_CHECK_NOTFOUND && kh_type != 0) {
		c = line_check(s, line, pattern, k, 0, type);
		if (c == LIBSSH2_KNOWNHOST_CHECK_MISMATCH)
			return KH_OTHER_TYPE;
	}
	if (c == LIBSSH2_KNOWNHOST_CHECK_MATCH)
		return KH_MATCH;
	if (c == LIBSSH2_KNOWNHOST_CHECK_MISMATCH)
		return kh_type != 0 ? KH_CHANGED : KH_OTHER_TYPE;
	return c == LIBSSH2_KNOWNHOST_CHECK_NOTFOUND ? KH_NONE : ERR_INTERNAL;
}

/* Folds the verdict of line lineno into sc: the strongest verdict wins,
 * and among equals the first line. */
static void
scan_add(struct kh_scan *sc, enum kh_verdict v, int type, long lineno)
{
	int i = keytype_index_by_kh(type);

	if (v != KH_NONE && v != KH_REVOKED && i >= 0)
		sc->types |= 1u << i;
	if (v <= sc->verdict)
		return;
	sc->verdict = v;
	sc->line = lineno;
	sc->other = v == KH_OTHER_TYPE && i >= 0 ? keytypes[i].label :
	    "unknown";
}

/* Handles one raw line of the file. */
static void
scan_line(LIBSSH2_SESSION *s, char *line, const char *pattern,
    const struct srvkey *k, long lineno, struct kh_scan *sc)
{
	bool revoked = false;
	int v, type = 0;

	line[strcspn(line, "\r\n")] = '\0';
	line += strspn(line, " \t");
	if (*line == '\0' || *line == '#')
		return;
	if (*line == '@') {
		if (strncmp(line, "@revoked", 8) != 0 ||
		    (line[8] != ' ' && line[8] != '\t'))
			return;		/* @cert-authority and the like */
		revoked = true;
		line += 8 + strspn(line + 8, " \t");
	}
	if ((v = line_verdict(s, line, pattern, k, &type)) < 0) {
		sc->error = v;
		return;
	}
	if (revoked)
		v = v == KH_MATCH ? KH_REVOKED : KH_NONE;
	scan_add(sc, v, type, lineno);
}

/* Reads file for pattern and the key.  A missing file is empty. */
static int
scan_file(LIBSSH2_SESSION *s, const char *file, const char *pattern,
    const struct srvkey *k, struct kh_scan *sc)
{
	char *line = NULL;
	size_t cap = 0;
	long lineno = 0;
	FILE *f;
	int r = 0;

	memset(sc, 0, sizeof(*sc));
	if ((f = fopen(file, "re")) == NULL)
		return errno == ENOENT ? 0 : -errno;
	while (getline(&line, &cap, f) != -1)
		if (strlen(line) < LINE_MAX_LEN)
			scan_line(s, line, pattern, k, ++lineno, sc);
		else
			++lineno;
	if (ferror(f))
		r = -EIO;
	else if (sc->error != 0)
		r = sc->error;
	free(line);
	fclose(f);
	return r;
}

int
sshhost_kh_check(LIBSSH2_SESSION *s, const char *file, const char *pattern,
    const unsigned char *blob, size_t len, int *verdict, long *line)
{
	struct srvkey k = { .blob = blob, .len = len };
	struct kh_scan sc;
	char name[64];
	int r;

	if (blob_name(blob, len, name, sizeof(name)) == 0)
		k.kt = keytype_by_name(name);
	if ((r = scan_file(s, file, pattern, &k, &sc)) != 0)
		return r;
	*verdict = (int)sc.verdict;
	*line = sc.line;
	return 0;
}

/*
 * Verdicts.
 */

static int
srvkey_get(LIBSSH2_SESSION *s, struct srvkey *k)
{
	size_t len;
	int type;
	const char *blob = libssh2_session_hostkey(s, &len, &type);

	if (blob == NULL)
		return ERR_PROTOCOL;
	k->blob = (const unsigned char *)blob;
	k->len = len;
	k->kt = keytype_by_session(type);
	return sshhost_fingerprint(s, k->fp, sizeof(k->fp));
}

static int
ctx_init(struct ctx *c, LIBSSH2_SESSION *s, const struct node_def *node,
    char *msg, size_t n)
{
	int r;

	c->s = s;
	c->node = node;
	c->msg = msg;
	c->n = n;
	if (n > 0)
		msg[0] = '\0';
	if ((r = sshhost_pattern(node->ssh_host, node->ssh_port, c->pattern,
	    sizeof(c->pattern))) != 0)
		return r;
	if ((r = srvkey_get(s, &c->key)) != 0)
		snprintf(msg, n, "node %s (%s): the server presented no usable "
		    "host key", node->name, c->pattern);
	return r;
}

/* Writes the operator's sentence for a refusal; returns ERR_HOSTKEY. */
static int
refuse(const struct ctx *c, const struct kh_scan *sc)
{
	const char *file = c->node->ssh_known_hosts_file, *name = c->node->name;

	if (sc->verdict == KH_REVOKED)
		snprintf(c->msg, c->n, "host key of node %s (%s) is REVOKED: "
		    "%s is listed under @revoked in %s line %ld", name,
		    c->pattern, c->key.fp, file, sc->line);
	else if (sc->verdict == KH_CHANGED)
		snprintf(c->msg, c->n, "host key of node %s (%s) has CHANGED: "
		    "now %s, but %s line %ld has another key; if the change "
		    "is expected, remove that line and run 'distcronctl trust "
		    "%s'", name, c->pattern, c->key.fp, file, sc->line, name);
	else if (sc->verdict == KH_OTHER_TYPE)
		snprintf(c->msg, c->n, "host key of node %s (%s) is not known: "
		    "%s, but %s line %ld has a %s key for this host; if the "
		    "change is expected, remove that line and run 'distcronctl "
		    "trust %s'", name, c->pattern, c->key.fp, file, sc->line,
		    sc->other, name);
	else
		snprintf(c->msg, c->n, "host key of node %s (%s) is not known: "
		    "%s; check it and run 'distcronctl trust %s'", name,
		    c->pattern, c->key.fp, name);
	return ERR_HOSTKEY;
}

int
sshhost_key_decode(const char *pin, unsigned char **blobp, size_t *lenp,
    const char **errstr)
{
	const char *type = pin + strspn(pin, " \t"), *data;
	size_t tlen = strcspn(type, " \t"), dlen;
	char name[64];
	unsigned char *blob;
	ssize_t len;

	data = type + tlen + strspn(type + tlen, " \t");
	dlen = strcspn(data, " \t\r\n");
	*errstr = "expected an OpenSSH public key line (\"ssh-ed25519 "
	    "AAAA... [comment]\")";
	if (tlen == 0 || dlen == 0 || dlen > KEY_MAX_LEN)
		return ERR_INVALID;
	if ((blob = malloc(dlen * 3 / 4 + 1)) == NULL)
		return -ENOMEM;
	if ((len = b64_decode(data, dlen, blob)) < 0 ||
	    blob_name(blob, (size_t)len, name, sizeof(name)) != 0 ||
	    strlen(name) != tlen || memcmp(name, type, tlen) != 0) {
		*errstr = len < 0 ? "the key data is not base64" :
		    "the key data does not hold a key of the named type";
		free(blob);
		return ERR_INVALID;
	}
	*blobp = blob;
	*lenp = (size_t)len;
	return 0;
}

/* The pinned-key decision: 0, ERR_HOSTKEY or ERR_INVALID. */
static int
pin_check(const struct ctx *c)
{
	const char *errstr = NULL;
	unsigned char *blob = NULL;
	size_t len = 0;
	int r;

	if ((r = sshhost_key_decode(c->node->ssh_host_key, &blob, &len, &errstr))
	    != 0) {
		snprintf(c->msg, c->n, "node %s: ssh_host_key: %s", c->node->name,
		    r == -ENOMEM ? err_str(r) : errstr);
		return r;
	}
	r = len == c->key.len && memcmp(blob, c->key.blob, len) == 0 ? 0 :
	    ERR_HOSTKEY;
	free(blob);
	if (r == 0)
		snprintf(c->msg, c->n, "host key of node %s (%s) is its pinned "
		    "key %s", c->node->name, c->pattern, c->key.fp);
	else
		snprintf(c->msg, c->n, "host key of node %s (%s) does not match "
		    "its pinned ssh_host_key: the server presents %s",
		    c->node->name, c->pattern, c->key.fp);
	return r;
}

/* Reads the node's known_hosts file, naming it in msg on failure. */
static int
ctx_scan(const struct ctx *c, struct kh_scan *sc)
{
	int r;

	r = scan_file(c->s, c->node->ssh_known_hosts_file, c->pattern, &c->key,
	    sc);
	if (r != 0)
		snprintf(c->msg, c->n, "node %s: cannot read known_hosts file "
		    "%s: %s", c->node->name, c->node->ssh_known_hosts_file,
		    err_str(r));
	return r;
}

/*
 * Appending to known_hosts.
 */

/* The line to record the key: "pattern keytype base64\n", with a
 * newline first when the file does not end with one. */
static int
entry_line(const struct ctx *c, bool newline_first, struct buf *b)
{
	char name[64];
	int r;

	if (blob_name(c->key.blob, c->key.len, name, sizeof(name)) != 0)
		return ERR_PROTOCOL;
	if ((r = buf_printf(b, "%s%s %s ", newline_first ? "\n" : "",
	    c->pattern, name)) != 0 ||
	    (r = b64_encode(c->key.blob, c->key.len, true, b)) != 0)
		return r;
	return buf_puts(b, "\n");
}

/* True if fd is empty or its last byte is a newline. */
static bool
ends_with_newline(int fd)
{
	struct stat st;
	char last = '\n';

	if (fstat(fd, &st) == 0 && st.st_size > 0 &&
	    pread(fd, &last, 1, st.st_size - 1) != 1)
		return true;
	return last == '\n';
}

/* Appends the key to known_hosts in one write(); 0 or -errno. */
static int
append_key(const struct ctx *c)
{
	struct buf b;
	ssize_t w;
	int fd, r;

	fd = open(c->node->ssh_known_hosts_file, O_RDWR | O_APPEND | O_CREAT |
	    O_CLOEXEC | O_NOCTTY, 0644);
	if (fd == -1)
		return -errno;
	buf_init(&b, KEY_MAX_LEN * 2);
	if ((r = entry_line(c, !ends_with_newline(fd), &b)) == 0) {
		w = write(fd, b.data, b.len);
		r = w == (ssize_t)b.len ? 0 : w < 0 ? -errno : -EIO;
	}
	if (close(fd) != 0 && r == 0)
		r = -errno;
	buf_free(&b);
	return r;
}

/* Records the key; msg says where, or why not. */
static int
add_key(const struct ctx *c, const char *why)
{
	int r;

	if ((r = append_key(c)) != 0)
		snprintf(c->msg, c->n, "node %s: cannot add its host key to "
		    "%s: %s", c->node->name, c->node->ssh_known_hosts_file,
		    err_str(r));
	else
		snprintf(c->msg, c->n, "host key of node %s (%s) %s was %s; "
		    "added to %s", c->node->name, c->pattern, c->key.fp, why,
		    c->node->ssh_known_hosts_file);
	return r;
}

static bool
accept_new(const struct node_def *node)
{
	return node->ssh_host_key_policy != NULL &&
	    strcmp(node->ssh_host_key_policy, "accept-new") == 0;
}

int
sshhost_verify(LIBSSH2_SESSION *s, const struct node_def *node, char *msg,
    size_t n)
{
	struct kh_scan sc;
	struct ctx c;
	int r;

	if ((r = ctx_init(&c, s, node, msg, n)) != 0)
		return r;
	if (node->ssh_host_key != NULL)
		return pin_check(&c);
	if (c.key.kt == NULL)
		return refuse(&c, &(struct kh_scan){ .verdict = KH_NONE });
	if ((r = ctx_scan(&c, &sc)) != 0)
		return r;
	if (sc.verdict == KH_MATCH) {
		snprintf(msg, n, "host key of node %s (%s) %s is listed in %s "
		    "line %ld", node->name, c.pattern, c.key.fp,
		    node->ssh_known_hosts_file, sc.line);
		return 0;
	}
	if (sc.verdict == KH_NONE && accept_new(node))
		return add_key(&c, "new (accept-new)");
	return refuse(&c, &sc);
}

int
sshhost_trust(LIBSSH2_SESSION *s, const struct node_def *node, char *msg,
    size_t n)
{
	struct kh_scan sc;
	struct ctx c;
	int r;

	if ((r = ctx_init(&c, s, node, msg, n)) != 0)
		return r;
	if (node->ssh_host_key != NULL) {
		r = pin_check(&c);
		return r == 0 ? ERR_EXISTS : r;
	}
	if ((r = ctx_scan(&c, &sc)) != 0)
		return r;
	if (sc.verdict == KH_MATCH) {
		snprintf(msg, n, "host key of node %s (%s) %s is already "
		    "trusted: %s line %ld", node->name, c.pattern, c.key.fp,
		    node->ssh_known_hosts_file, sc.line);
		return ERR_EXISTS;
	}
	if (sc.verdict != KH_NONE || c.key.kt == NULL)
		return refuse(&c, &sc);
	return add_key(&c, "not known");
}

/*
 * Host key algorithm preference.
 */

/* The key types known_hosts lists for the node (bits of keytypes[]). */
static uint32_t
known_types(LIBSSH2_SESSION *s, const struct node_def *node)
{
	static const unsigned char none[] = "distcron: no key";
	struct srvkey nokey = { .blob = none, .len = sizeof(none) - 1 };
	struct kh_scan sc;
	char pattern[HOST_DESC_MAX];

	if (sshhost_pattern(node->ssh_host, node->ssh_port, pattern,
	    sizeof(pattern)) != 0 ||
	    scan_file(s, node->ssh_known_hosts_file, pattern, &nokey, &sc) != 0)
		return 0;
	return sc.types;
}

/* The pinned key's type (bits of keytypes[]), or 0. */
static uint32_t
pinned_type(const char *pin)
{
	size_t len, i;

	pin += strspn(pin, " \t");
	len = strcspn(pin, " \t");
	for (i = 0; i < NKEYTYPES; i++)
		if (strlen(keytypes[i].name) == len &&
		    strncmp(keytypes[i].name, pin, len) == 0)
			return 1u << i;
	return 0;
}

/* True if the comma-separated list holds name. */
static bool
list_has(const char *list, const char *name)
{
	size_t n = strlen(name), len;

	for (; *list != '\0'; list += len + (list[len] == ',')) {
		len = strcspn(list, ",");
		if (len == n && strncmp(list, name, n) == 0)
			return true;
	}
	return false;
}

/* Appends name to the comma-separated list in b unless it is there. */
static int
pref_add(struct buf *b, const char *name)
{
	if (list_has(buf_str(b), name))
		return 0;
	return buf_printf(b, "%s%s", b->len ? "," : "", name);
}

/* The host key algorithms libssh2 supports, those of types first, each
 * group in libssh2's order.  (Only supported names: libssh2 1.10 mishandles
 * a list it has to prune.) */
static int
pref_list(LIBSSH2_SESSION *s, uint32_t types, struct buf *b)
{
	const char **algs = NULL;
	int nalgs, i, r = 0;
	size_t k;

	if ((nalgs = libssh2_session_supported_algs(s, LIBSSH2_METHOD_HOSTKEY,
	    &algs)) < 0)
		return ERR_INTERNAL;
	for (k = 0; k < NKEYTYPES; k++)
		for (i = 0; i < nalgs && r == 0 && (types & (1u << k)); i++)
			if (list_has(keytypes[k].methods, algs[i]))
				r = pref_add(b, algs[i]);
	for (i = 0; i < nalgs && r == 0; i++)
		r = pref_add(b, algs[i]);
	libssh2_free(s, algs);
	return r;
}

int
sshhost_prefer(LIBSSH2_SESSION *s, const struct node_def *node)
{
	struct buf b;
	uint32_t types;
	int r = 0;

	types = node->ssh_host_key != NULL ? pinned_type(node->ssh_host_key) :
	    known_types(s, node);
	if (types == 0)
		return 0;
	buf_init(&b, 4096);
	if ((r = pref_list(s, types, &b)) == 0 &&
	    libssh2_session_method_pref(s, LIBSSH2_METHOD_HOSTKEY, b.data) != 0)
		r = ERR_INTERNAL;
	buf_free(&b);
	return r;
}
