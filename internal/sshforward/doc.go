// Package sshforward gives RUN --mount=type=ssh its agent: the agents of
// `whittle build --ssh` (an ssh-agent socket such as $SSH_AUTH_SOCK, or
// private key files served by an in-process agent), each exposed to a
// sandboxed process as a fresh unix socket owned by the mount's uid and gid
// with its mode, that forwards every connection to the agent. The host's
// own socket is never bound into the container, so its ownership and
// permissions do not matter and the container cannot reach anything else
// beside it.
package sshforward
