/*
 * sshhost.h - SSH host key trust for SSH nodes.
 *
 * A node's server key is trusted when it equals the node's pinned key
 * ("ssh_host_key", an OpenSSH public key line "ssh-ed25519 AAAA..."; a node
 * that pins a key trusts that key only), or, for a node without one, when
 * the node's known_hosts file (OpenSSH format; hashed "|1|" entries,
 * "[host]:port" for ports other than 22 and "@revoked" lines understood)
 * lists it for the node's host and port.  Anything else is refused before
 * any credential is sent, with a message that names the node and the key's
 * fingerprint, unless the node opts in with "ssh_host_key_policy":
 * "accept-new" and the host has no entry at all yet (no key of any type):
 * then the key is appended to the known_hosts file.  A host listed only
 * with keys of other types is refused like a changed key.
 *
 * Fingerprints are printed as OpenSSH prints them: "ED25519
 * SHA256:<base64 without padding>".  These functions block briefly on file
 * I/O (the known_hosts file) and may be called on the loop thread.
 */
#ifndef DISTCRON_SSHHOST_H
#define DISTCRON_SSHHOST_H

#include <stddef.h>
#include <libssh2.h>

#include "distcron/defs.h"

/*
 * Writes the fingerprint of the server key of s (handshake done) to out,
 * e.g. "ED25519 SHA256:mVPwvezndPv/ARoIadVY98vAC0g+P/5633yTC4d/wXE".
 * Returns 0, ERR_PROTOCOL when the session has no server key, or
 * ERR_TOOBIG when n is too small (64 bytes are always enough).
 */
int sshhost_fingerprint(LIBSSH2_SESSION *s, char *out, size_t n);

/*
 * Before the handshake: makes s prefer the host key algorithms of the key
 * the node pins or, without one, of the keys its known_hosts file lists
 * for the host, followed by every other algorithm libssh2 supports.  A
 * server with several host keys (RSA, ECDSA and ED25519 on a stock
 * install) then presents the one that can be verified, as OpenSSH's client
 * arranges too.  Nothing changes for a host with no entry.  Returns 0 or
 * ERR_INTERNAL.  Blocks briefly reading the known_hosts file.
 */
int sshhost_prefer(LIBSSH2_SESSION *s, const struct node_def *node);

/*
 * Decides whether the server key of s (handshake done, nothing sent yet)
 * may be trusted for node.  Returns:
 *   0            trusted (pinned key or known_hosts entry matches, or
 *                accept-new recorded it; msg says which, and that the
 *                key was added);
 *   ERR_HOSTKEY  unknown, changed or revoked key; msg like
 *                "host key of node web1 ([127.0.0.1]:2222) is not known:
 *                ED25519 SHA256:...; check it and run 'distcronctl trust
 *                web1'" or "... has CHANGED: now ED25519 SHA256:..., but
 *                /etc/distcron/known_hosts line 3 has another key ...";
 *   ERR_INVALID  the pinned key cannot be parsed (msg says why);
 *   ERR_PROTOCOL the session has no server key;
 *   -errno       the known_hosts file exists but cannot be read, or
 *                accept-new could not append to it (msg names the file).
 * A missing known_hosts file counts as empty.  msg always gets a sentence.
 */
int sshhost_verify(LIBSSH2_SESSION *s, const struct node_def *node,
    char *msg, size_t n);

/*
 * For "distcronctl trust": records the server key of s in node's
 * known_hosts file (creating it, mode 0644, if needed; the directory must
 * exist).  Returns 0 when added, ERR_EXISTS when that key is already there
 * (or is the node's pinned key), ERR_HOSTKEY when the file has a different
 * key for this host or revokes this one, or the pinned key differs
 * (nothing is changed; msg says which line to remove), ERR_INVALID for an
 * unparsable pinned key, or -errno.  msg always gets a sentence for the
 * operator.
 */
int sshhost_trust(LIBSSH2_SESSION *s, const struct node_def *node,
    char *msg, size_t n);

/*
 * Parses an OpenSSH public key line "type base64 [comment]" (a pinned
 * ssh_host_key) into a malloc'd key blob (*blobp, *lenp; the caller frees
 * it).  Returns 0, or ERR_INVALID with *errstr (static) saying what is
 * wrong: no type or data, data that is not base64, or a blob that does not
 * name the type; -ENOMEM.  Does not block.
 */
int sshhost_key_decode(const char *pin, unsigned char **blobp, size_t *lenp,
    const char **errstr);

/* What a known_hosts file says about a key for a host, weakest first. */
enum sshhost_kh {
	SSHHOST_KH_NONE = 0,	/* no entry for the host */
	SSHHOST_KH_OTHER_TYPE,	/* only keys of other types */
	SSHHOST_KH_CHANGED,	/* another key of the same type */
	SSHHOST_KH_MATCH,	/* the key is listed */
	SSHHOST_KH_REVOKED,	/* the key is listed under @revoked */
};

/*
 * The known_hosts reading behind sshhost_verify(), for a key blob (len
 * bytes; its type is the name it starts with) instead of a server's key;
 * for tests and the fuzzer.  s is any session (no handshake needed: it
 * only serves libssh2's parser).  Returns 0 with *verdict (an enum
 * sshhost_kh; the strongest of the file) and *line (the first line with
 * that verdict, 0 for none), -errno when the file cannot be read (a
 * missing one is empty), or ERR_INTERNAL.  Blocks on reading file.
 */
int sshhost_kh_check(LIBSSH2_SESSION *s, const char *file,
    const char *pattern, const unsigned char *blob, size_t len,
    int *verdict, long *line);

/* The host pattern known_hosts uses for host and port: "host" for port 22,
 * else "[host]:port".  Returns 0, or ERR_TOOBIG if out is too small. */
int sshhost_pattern(const char *host, int port, char *out, size_t n);

#endif
