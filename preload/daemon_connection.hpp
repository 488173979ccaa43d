// SPDX-License-Identifier: MIT
// The runtime's one way to reach numakeepd, for the agent's connection
// (agent.cpp) and the exec handoff's (exec_handoff.cpp) alike: connect to
// the configured socket, trust the peer only when it is the daemon, and
// hold the descriptor as an OwnedFd so that later writes and the close
// check it is still ours.
#pragma once

#include "owned_fd.hpp"

namespace numakeep::preload {

enum class ConnectResult {
    Connected,
    NoDaemon,  // nothing listens there, or a socket not the daemon's
    Retry,     // a passing failure (no descriptor left, backlog full)
};

// Connects `conn` (which holds nothing) to config().socket_path; `flags`
// are further SOCK_* type flags (SOCK_NONBLOCK). The socket is trusted only
// when both the peer (SO_PEERCRED) and the socket file are owned by the
// daemon's uid: a socket planted by anyone else is never obeyed, nor is a
// socket file another uid owns (a daemon's socket given away). Anything short of
// Connected leaves `conn` holding nothing. errno is not kept.
ConnectResult connect_daemon(OwnedFd& conn, int flags);

}  // namespace numakeep::preload
