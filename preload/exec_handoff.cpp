// SPDX-License-Identifier: MIT
#include "exec_handoff.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include <cerrno>

#include "daemon_connection.hpp"
#include "numakeep/exec_handoff.hpp"
#include "numakeep/issue_plan.hpp"
#include "raw_syscall.hpp"
#include "reentrancy_guard.hpp"
#include "runtime.hpp"

namespace numakeep::preload {
namespace {

// How long an exec waits for the daemon to say it stored the handoff. A
// daemon that answers later may store it after the new image registered,
// and the handoff is then lost: the exec goes on as without it.
constexpr int kKeptWaitMs = 50;

// The start-up record of this image (record lock held to read or write).
struct StartupRecord {
    ThreadRecord* tr = nullptr;
    pid_t tid = 0;
    Request request;
    int kernel_mode = 0;
};
constinit StartupRecord g_startup;

// The handoff connection, open across the exec (record lock held). Its
// identity is checked before the cancel is written: a thread of the
// program may have closed the number and reused it.
constinit OwnedFd g_conn;

bool send_whole(int fd, const void* buf, std::size_t len) {
    ssize_t n;
    do {
        n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    return n == static_cast<ssize_t>(len);  // a fresh socket's buffer holds a frame
}

}  // namespace

int exec_handoff_begin() {
    ErrnoKeeper keep_errno;
    ThreadRecord* tr = own_thread_record(false);
    if (!tr || !tr->has_policy) return -1;
    // Only what run_exec() re-issues for the exec is handed over.
    const Nodemask mems = current_mems();
    if (!plan_before_exec(tr->rec, mems, config().semantics).needed) return -1;
    int kmode = 0;
    Nodemask knodes;
    if (raw(SYS_get_mempolicy, &kmode, knodes.kernel_data(), Nodemask::kKernelMaxnode, 0, 0) < 0)
        return -1;
    proto::ExecHandoff h =
        make_exec_handoff(tr->rec, kmode, knodes, mems, state().generation_applied);
    if (exec_handoff_problem(h)) return -1;  // not one the daemon would keep
    // Still what this image learned at start-up: its own exec's handoff may
    // not have arrived yet, and the daemon can carry that one on instead.
    if (g_startup.tr == tr && tr->rec.request == g_startup.request)
        h.handoff_flags |= proto::kExecHandoffFromStartup;
    if (connect_daemon(g_conn, SOCK_NONBLOCK) != ConnectResult::Connected) return -1;
    const int fd = g_conn.fd;
    unsigned char buf[sizeof(proto::FrameHeader) + sizeof h];
    std::size_t n = proto::encode(proto::MsgType::ExecHandoff, 1, h, buf);
    if (!send_whole(fd, buf, n)) {
        g_conn.release();
        return -1;
    }
    // ExecHandoffStored (or an Error, or a hang-up): either way the daemon is
    // done with it. Read, so that the exec's close is a clean end-of-file
    // (closing over unread data resets the connection instead).
    pollfd p{fd, POLLIN, 0};
    int r;
    while ((r = poll(&p, 1, kKeptWaitMs)) < 0 && errno == EINTR) {
    }
    if (r > 0) {
        unsigned char answer[sizeof(proto::FrameHeader) + sizeof(proto::ErrorMsg)];
        while (recv(fd, answer, sizeof answer, MSG_DONTWAIT) < 0 && errno == EINTR) {
        }
    }
    return fd;
}

void exec_handoff_cancel(int fd) {
    if (fd < 0 || fd != g_conn.fd) return;
    ErrnoKeeper keep_errno;
    if (!g_conn.still_ours()) {
        g_conn.forget();
        return;
    }
    unsigned char buf[sizeof(proto::FrameHeader)];
    std::size_t n = proto::encode(proto::MsgType::ExecHandoffCancel, 2, proto::Empty{}, buf);
    send_whole(fd, buf, n);
    g_conn.release();
}

void note_startup_policy(ThreadRecord* tr, int kernel_mode) {
    g_startup.tr = tr;
    g_startup.tid = tr->tid;
    g_startup.request = tr->rec.request;
    g_startup.kernel_mode = kernel_mode;
}

bool exec_handoff_wanted() {
    RecordLock lock;
    return g_startup.tr != nullptr;
}

bool adopt_exec_handoff(const proto::ExecHandoff& h) {
    RecordLock lock;
    ThreadRecord* tr = g_startup.tr;
    g_startup.tr = nullptr;  // one handoff per image
    // Taken only while the record is the one learned at start-up: the
    // program has asked for no other policy since, the thread is the same
    // (records are recycled), and the policy it found is of the mode and
    // flags the exec left. The request is compared, not the record's
    // version: libnuma's constructor sets MPOL_PREFERRED_MANY to probe for
    // it and at once sets back the policy it read (set_preferred_many()),
    // which records the start-up request again. And only a request the
    // rebinds of this image will re-issue: the plan says so.
    if (!tr || tr->tid != g_startup.tid || !tr->has_policy ||
        !(tr->rec.request == g_startup.request) ||
        !exec_handoff_matches(h, g_startup.kernel_mode) ||
        !plan_before_exec(recorded_of(h), h.mems_at_exec, config().semantics).needed)
        return false;
    tr->rec = recorded_of(h);
    ++tr->version;
    return true;
}

}  // namespace numakeep::preload
