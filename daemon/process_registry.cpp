// SPDX-License-Identifier: MIT
#include "process_registry.hpp"

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace numakeep::daemon {

Process& ProcessRegistry::add(Process p) {
    remove(p.pid);
    pid_t pid = p.pid;
    by_conn_[p.conn] = pid;
    return by_pid_.emplace(pid, std::move(p)).first->second;
}

void ProcessRegistry::remove(pid_t pid) {
    auto it = by_pid_.find(pid);
    if (it == by_pid_.end()) return;
    by_conn_.erase(it->second.conn);
    by_pid_.erase(it);
}

Process* ProcessRegistry::find(pid_t pid) {
    auto it = by_pid_.find(pid);
    return it == by_pid_.end() ? nullptr : &it->second;
}

Process* ProcessRegistry::find_by_conn(ConnId conn) {
    auto it = by_conn_.find(conn);
    return it == by_conn_.end() ? nullptr : find(it->second);
}

UniqueFd open_pidfd(pid_t pid) {
    return UniqueFd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
}

bool pidfd_alive(const UniqueFd& pidfd) {
    if (!pidfd) return true;  // no pidfd: trust the connection
    return ::syscall(SYS_pidfd_send_signal, pidfd.get(), 0, nullptr, 0) == 0 || errno == EPERM;
}

}  // namespace numakeep::daemon
