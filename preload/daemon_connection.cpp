// SPDX-License-Identifier: MIT
#include "daemon_connection.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>

#include "runtime.hpp"

namespace numakeep::preload {
namespace {

// The peer must be the daemon's uid, and so must the socket file.
bool peer_trusted(int fd) {
    const std::uint32_t uid = config().daemon_uid;
    ucred cred{};
    socklen_t len = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || cred.uid != uid) return false;
    struct stat st {};
    return stat(config().socket_path, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_uid == uid;
}

}  // namespace

ConnectResult connect_daemon(OwnedFd& conn, int flags) {
    if (!conn.adopt(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | flags, 0)))
        return ConnectResult::Retry;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, config().socket_path, sizeof addr.sun_path - 1);
    int r;
    do {
        r = connect(conn.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    } while (r < 0 && errno == EINTR);
    // A unix socket connects at once or not at all, blocking or not
    // (unix_stream_connect: EAGAIN when the backlog is full).
    if (r < 0) {
        int err = errno;
        conn.release();
        return err == ENOENT || err == ECONNREFUSED || err == ENOTDIR ? ConnectResult::NoDaemon
                                                                      : ConnectResult::Retry;
    }
    if (!peer_trusted(conn.fd)) {
        report_failure(Failure::PeerNotTrusted,
                       "the socket's owner is not the daemon's uid; not obeying it");
        conn.release();
        return ConnectResult::NoDaemon;
    }
    return ConnectResult::Connected;
}

}  // namespace numakeep::preload
