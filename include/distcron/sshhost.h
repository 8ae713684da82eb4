/*
 * sshhost.h - SSH host key trust for SSH nodes.
 *
 * A node's server key is trusted when it equals the node's pinned key
 * ("ssh_host_key", an OpenSSH public key line "ssh-ed25519 AAAA..."), or
 * when the node's known_hosts file (OpenSSH format; hashed "|1|" entries and
 * "[host]:port" for ports other than 22 understood) lists it for the node's
 * host and port.  Anything else is refused before any credential is sent,
 * with a message that names the node and the key's fingerprint, unless the
 * node opts in with "ssh_host_key_policy": "accept-new" and the host has no
 * entry yet: then the key is appended to the known_hosts file.
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
 * Returns 0, or ERR_PROTOCOL when the session has no server key.
 */
int sshhost_fingerprint(LIBSSH2_SESSION *s, char *out, size_t n);

/*
 * Decides whether the server key of s (handshake done, nothing sent yet)
 * may be trusted for node.  Returns:
 *   0            trusted (pinned key or known_hosts entry matches, or
 *                accept-new recorded it; msg then says it was added);
 *   ERR_HOSTKEY  unknown or changed key; msg like
 *                "host key of node web1 ([127.0.0.1]:2222) is not known:
 *                ED25519 SHA256:...; check it and run 'distcronctl trust
 *                web1'" or "... has CHANGED: now ED25519 SHA256:..., but
 *                /etc/distcron/known_hosts line 3 has another key ...";
 *   ERR_INVALID  the pinned key cannot be parsed (msg says why);
 *   -errno       the known_hosts file exists but cannot be read, or
 *                accept-new could not append to it (msg names the file).
 * A missing known_hosts file counts as empty.
 */
int sshhost_verify(LIBSSH2_SESSION *s, const struct node_def *node,
    char *msg, size_t n);

/*
 * For "distcronctl trust": records the server key of s in node's
 * known_hosts file (creating it, mode 0644, if needed).  Returns 0 when
 * added, ERR_EXISTS when that key is already there, ERR_HOSTKEY when the
 * file has a different key for this host (nothing is changed; msg says
 * which line to remove), or -errno.  msg always gets a sentence for the
 * operator.
 */
int sshhost_trust(LIBSSH2_SESSION *s, const struct node_def *node,
    char *msg, size_t n);

/* The host pattern known_hosts uses for host and port: "host" for port 22,
 * else "[host]:port".  Returns 0, or ERR_TOOBIG if out is too small. */
int sshhost_pattern(const char *host, int port, char *out, size_t n);

#endif
