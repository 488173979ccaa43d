// SPDX-License-Identifier: MIT
#include "agent.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "daemon_connection.hpp"
#include "daemon_frames.hpp"
#include "exec_handoff.hpp"
#include "kernel_assist.hpp"
#include "numakeep/proc_stat.hpp"
#include "numakeep/protocol.hpp"
#include "page_mover.hpp"
#include "raw_syscall.hpp"
#include "real_calls.hpp"
#include "rebind_executor.hpp"
#include "record_dump.hpp"
#include "record_keeper.hpp"
#include "reentrancy_guard.hpp"
#include "runtime.hpp"
#include "set_executor.hpp"

namespace numakeep::preload {

constinit std::atomic<bool> g_agent_started{false};
namespace {

constexpr int kIoTimeoutMs = 5000;
constexpr int kIdleCheckMs = 10000;  // re-verify our descriptor now and then
constexpr std::size_t kAgentStack = 256 * 1024;

// Set at the end of our constructor. Before it, requests are recorded but
// the agent waits: libnuma's constructor probes set_mempolicy(
// MPOL_PREFERRED_MANY) and restores the old policy at once, and a program
// that never asks for anything must not get a thread for that probe.
std::atomic<bool> g_may_start{false};
std::atomic<bool> g_start_failed{false};

OwnedFd g_conn;
OwnedFd g_watch;
std::uint32_t g_seq = 0;
std::uint64_t g_start_time = 0;

std::uint64_t read_start_time() {
    int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    char buf[1024];
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    if (n <= 0) return 0;
    return stat_start_time(std::string_view(buf, static_cast<std::size_t>(n))).value_or(0);
}

void sleep_ms(int ms) {
    timespec ts{ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

bool wait_fd(int fd, short events, int timeout_ms) {
    pollfd p{fd, events, 0};
    for (;;) {
        int r = poll(&p, 1, timeout_ms);
        if (r < 0 && errno == EINTR) continue;
        return r > 0;
    }
}

bool send_all(const void* buf, std::size_t len) {
    if (!g_conn.still_ours()) {
        report_failure(Failure::FdStolen,
                       "the program took over the daemon connection's descriptor");
        g_conn.forget();
        return false;
    }
    auto* p = static_cast<const unsigned char*>(buf);
    while (len) {
        ssize_t n = send(g_conn.fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        p += n;
        len -= static_cast<std::size_t>(n);
    }
    return true;
}

bool recv_all(void* buf, std::size_t len, int timeout_ms) {
    auto* p = static_cast<unsigned char*>(buf);
    while (len) {
        if (!wait_fd(g_conn.fd, POLLIN, timeout_ms)) return false;
        if (!g_conn.still_ours()) {
            report_failure(Failure::FdStolen,
                           "the program took over the daemon connection's descriptor");
            g_conn.forget();
            return false;
        }
        ssize_t n = recv(g_conn.fd, p, len, 0);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n <= 0) return false;
        p += n;
        len -= static_cast<std::size_t>(n);
    }
    return true;
}

template <typename T>
bool send_frame(proto::MsgType type, std::uint32_t seq, const T& body) {
    unsigned char buf[sizeof(proto::FrameHeader) + sizeof(T)];
    std::size_t n = proto::encode(type, seq, body, buf);
    return send_all(buf, n);
}

// Reads the daemon's next frame (daemon_frames.hpp): the header within
// header_timeout_ms, its payload within the I/O timeout. A malformed frame
// is reported once per kind.
DaemonFrame recv_frame(unsigned char* payload, int header_timeout_ms) {
    DaemonFrame f = read_daemon_frame(
        [&](void* buf, std::size_t len) { return recv_all(buf, len, header_timeout_ms); },
        [&](void* buf, std::size_t len) { return recv_all(buf, len, kIoTimeoutMs); }, payload);
    if (f.kind == DaemonFrameKind::Drop) report_failure(Failure::Protocol, f.why);
    return f;
}

proto::Hello make_hello() {
    proto::Hello hello;
    hello.pid = static_cast<std::int32_t>(raw(SYS_getpid));
    hello.start_time = g_start_time;
    const Config& cfg = config();
    if (cfg.semantics_from_env) hello.flags |= proto::kHelloSemanticsFromEnv;
    if (cfg.kernel_assist) hello.flags |= proto::kHelloKernelAssist;
    if (cfg.kernel_assist_env_set) hello.flags |= proto::kHelloKernelAssistFromEnv;
    if (exec_handoff_wanted()) hello.flags |= proto::kHelloExecHandoff;
    hello.semantics = static_cast<std::uint8_t>(cfg.semantics);
    RecordLock lock;
    RuntimeState& st = state();
    hello.generation_applied = st.generation_applied;
    hello.ranges = static_cast<std::uint32_t>(ranges().size());
    hello.threads = thread_policy_count();
    hello.mems = st.mems_applied_known ? st.mems_applied : current_mems();
    return hello;
}

ConnectResult try_connect() {
    if (ConnectResult r = connect_daemon(g_conn, 0); r != ConnectResult::Connected) return r;
    if (!send_frame(proto::MsgType::Hello, ++g_seq, make_hello())) {
        g_conn.release();
        return ConnectResult::Retry;
    }
    alignas(8) unsigned char payload[proto::kMaxPayload];
    DaemonFrame f = recv_frame(payload, kIoTimeoutMs);
    const proto::Welcome& welcome = f.welcome;
    if (f.kind != DaemonFrameKind::Welcome) {
        report_failure(Failure::Protocol, "the daemon did not welcome us");
        g_conn.release();
        return ConnectResult::Retry;
    }
    {
        // Re-read on every connection: the mems may have changed while no
        // daemon could tell us.
        RecordLock lock;
        refresh_request_mems();
        // Under the lock: the program's threads read both when they record
        // a request (kernel assistance).
        Config& cfg = mutable_config();
        if (!cfg.semantics_from_env && welcome.default_semantics <= 3)
            cfg.semantics = static_cast<Semantics>(welcome.default_semantics);
        if (!cfg.kernel_assist_env_set && !cfg.kernel_assist && welcome.kernel_assist) {
            cfg.kernel_assist = true;
            assist_convert_ranges();  // requests made before we connected
        } else if (!cfg.kernel_assist_env_set) {
            cfg.kernel_assist = welcome.kernel_assist != 0;
        }
    }
    return ConnectResult::Connected;
}

// Watches the socket's directory, or its nearest existing ancestor while
// the directory does not exist yet, for anything being created there.
void watch_for_daemon() {
    if (!g_watch.still_ours()) {
        g_watch.forget();
        if (!g_watch.adopt(inotify_init1(IN_CLOEXEC | IN_NONBLOCK))) return;
    }
    char dir[sizeof config().socket_path];
    std::memcpy(dir, config().socket_path, sizeof dir);
    for (;;) {
        char* slash = std::strrchr(dir, '/');
        if (!slash) return;
        if (slash == dir)
            slash[1] = '\0';
        else
            *slash = '\0';
        if (inotify_add_watch(g_watch.fd, dir,
                              IN_CREATE | IN_MOVED_TO | IN_ATTRIB | IN_DELETE_SELF) >= 0)
            return;
        if (errno != ENOENT || slash == dir) return;
    }
}

// Sleeps until something changes where the socket should be. Blocks in
// poll(): no timer, no polling of the disk.
void wait_for_daemon() {
    if (!g_watch.still_ours()) {
        sleep_ms(1000);  // no inotify: fall back to a slow retry
        return;
    }
    if (!wait_fd(g_watch.fd, POLLIN, -1)) return;
    alignas(inotify_event) char buf[4096];
    while (read(g_watch.fd, buf, sizeof buf) > 0) {
    }
    // Watches may point at an ancestor: start afresh.
    g_watch.release();
    sleep_ms(20);  // let the daemon start listen() after bind()
}

// A Rebind whose successor is already in the socket (the process was
// stopped, or busy, while its mems changed twice) is stale: its mems are
// not the cgroup's any more, and issuing them can fail (EINVAL from
// mpol_set_nodemask() when they miss Mems_allowed now). Takes every Rebind
// queued right behind `msg` and keeps the newest; the daemon counts the
// newest answer for the older ones too (it erases all outstanding commands
// up to the generation answered). Stops at the first frame of another type,
// or one not wholly arrived, so frames keep their order.
void take_queued_rebinds(DaemonFrame& f) {
    constexpr std::size_t kFrame = sizeof(proto::FrameHeader) + sizeof(proto::Rebind);
    alignas(8) unsigned char buf[kFrame];
    for (;;) {
        ssize_t n = recv(g_conn.fd, buf, kFrame, MSG_PEEK | MSG_DONTWAIT);
        if (n != static_cast<ssize_t>(kFrame)) return;
        proto::FrameHeader next;
        std::memcpy(&next, buf, sizeof next);
        if (proto::check_header(next) != proto::HeaderCheck::Ok ||
            next.type != static_cast<std::uint16_t>(proto::MsgType::Rebind))
            return;
        DaemonFrame newer = classify_daemon_frame(next, buf + sizeof next);
        if (newer.kind != DaemonFrameKind::Rebind) return;
        if (recv(g_conn.fd, buf, kFrame, MSG_DONTWAIT) != static_cast<ssize_t>(kFrame)) return;
        f = newer;
    }
}

// A frame from the daemon is waiting (or the connection ended): the
// respread stops for it.
bool frame_waiting() {
    return wait_fd(g_conn.fd, POLLIN, 0);
}

// The respread the last Rebind asked for (page_mover.hpp), run between
// frames: a frame that arrives stops it, a newer Rebind replaces it, any
// other frame is served and the respread starts over (pages already in
// place cost one query).
struct PendingRespread {
    bool active = false;
    proto::Rebind rebind;

    // False when the connection failed.
    bool run() {
        RespreadResult r = respread(rebind.mems, (rebind.flags & proto::kRebindPlacement) != 0,
                                    rebind.placement_rate_mib, frame_waiting);
        // Stopped by the kernel (the mems changed again) with no frame yet:
        // the Rebind that follows brings its own respread.
        if (!r.cancelled || !frame_waiting()) active = false;
        if (r.cancelled || !r.ran) return true;
        proto::PlacementDone done;
        done.generation = rebind.generation;
        done.pages_moved = r.pages_moved;
        done.pages_skipped = r.pages_skipped;
        done.pages_placed = r.pages_placed;
        done.pages_gone = r.pages_gone;
        done.duration_ns = r.duration_ns;
        return send_frame(proto::MsgType::PlacementDone, ++g_seq, done);
    }
};

// The --move of a set, run between frames like the respread: a frame that
// arrives pauses it, a dump or a handoff is served and the move goes on; a
// newer Rebind or another set ends it, and the set is answered as set but
// not moved. So is a move the kernel ended (the mems changed) with no frame
// yet: the Rebind that follows brings its own respread.
struct PendingSetMove {
    bool active = false;
    std::uint32_t seq = 0;
    SetResult set;

    // False when the connection failed.
    bool run() {
        if (!move_set_pages(set, frame_waiting) && frame_waiting()) return true;
        return answer();
    }
    bool answer() {
        active = false;
        return send_frame(proto::MsgType::SetApplied, seq, set.applied);
    }
};

void serve() {
    alignas(8) unsigned char payload[proto::kMaxPayload];
    PendingRespread respread;
    PendingSetMove set_move;
    // The newest generation executed on this connection: an older one
    // arriving later is a quiet no-op (generations only grow within one
    // daemon; a restarted daemon is a new connection and starts afresh).
    std::uint64_t newest = 0;
    for (;;) {
        if (set_move.active && !frame_waiting()) {
            if (!set_move.run()) return;
            continue;
        }
        if (respread.active && !frame_waiting()) {
            if (!respread.run()) return;
            continue;
        }
        if (!wait_fd(g_conn.fd, POLLIN, kIdleCheckMs)) {
            if (g_conn.still_ours()) continue;
            report_failure(Failure::FdStolen,
                           "the program took over the daemon connection's descriptor");
            g_conn.forget();
            return;
        }
        DaemonFrame f = recv_frame(payload, kIoTimeoutMs);
        switch (f.kind) {
            case DaemonFrameKind::Rebind: {
                take_queued_rebinds(f);
                proto::RebindDone done;
                done.generation = f.rebind.generation;
                if (f.rebind.generation > newest) {
                    if (set_move.active && !set_move.answer()) return;
                    newest = f.rebind.generation;
                    done = execute_rebind(f.rebind);
                    respread.active = true;
                    respread.rebind = f.rebind;
                }
                if (!send_frame(proto::MsgType::RebindDone, f.seq, done)) return;
                break;
            }
            case DaemonFrameKind::DumpRecords: {
                bool ok =
                    dump_records(f.dump.request_id, [&](proto::MsgType type, const auto& body) {
                        return send_frame(type, f.seq, body);
                    });
                if (!ok) return;
                break;
            }
            case DaemonFrameKind::SetRequest: {
                // A respread under way works from the records of before.
                respread.active = false;
                if (set_move.active && !set_move.answer()) return;
                set_move.set = execute_set(f.set);
                set_move.seq = f.seq;
                if (set_move.set.move) {
                    set_move.active = true;  // answered once its pages moved
                    break;
                }
                if (!set_move.answer()) return;
                break;
            }
            case DaemonFrameKind::ExecHandoffDeliver:
                // The Rebind that follows re-issues the record taken here.
                adopt_exec_handoff(f.exec);
                break;
            case DaemonFrameKind::Welcome:
            case DaemonFrameKind::Ignore:
                break;  // nothing to do
            case DaemonFrameKind::Closed:
            case DaemonFrameKind::Drop:
                return;
        }
    }
}

void* agent_main(void*) {
    t_inside_runtime = true;  // whatever this thread calls is forwarded untouched
    g_start_time = read_start_time();
    for (;;) {
        watch_for_daemon();
        switch (try_connect()) {
            case ConnectResult::Connected:
                serve();
                g_conn.release();
                break;
            case ConnectResult::NoDaemon:
                wait_for_daemon();
                break;
            case ConnectResult::Retry:
                sleep_ms(1000);
                break;
        }
    }
    return nullptr;
}

bool has_records() {
    if (!state().active.load(std::memory_order_relaxed)) return false;
    RecordLock lock;
    return !ranges().empty() || thread_policy_count() > 0;
}

}  // namespace

void agent_allow_start() {
    g_may_start.store(true, std::memory_order_release);
}

void agent_start_when_needed() {
    if (g_agent_started.load(std::memory_order_acquire) ||
        g_start_failed.load(std::memory_order_relaxed) ||
        !g_may_start.load(std::memory_order_acquire))
        return;
    if (!config().agent_always && !has_records()) return;
    bool expected = false;
    if (!g_agent_started.compare_exchange_strong(expected, true)) return;
    // All signals blocked: the program's signals go to its own threads (a
    // sigwait thread keeps getting them), never to ours.
    // (Inside the runtime: the rebind signal is blocked too, as the mask
    // shims leave it for the runtime's own calls.)
    sigset_t all, old;
    sigfillset(&all);
    {
        ReentrancyGuard inside;
        pthread_sigmask(SIG_SETMASK, &all, &old);
    }
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, kAgentStack);
    pthread_t thread;
#ifdef NUMAKEEP_PRELOAD_SANITIZED
    // Through the global definition, i.e. the sanitizer's interceptor
    // (preloaded ahead of us), which must know every thread; it comes back
    // to our shim, which forwards (the guard is held).
    ReentrancyGuard guard;
    int r = ::pthread_create(&thread, &attr, agent_main, nullptr);
#else
    int r = real::pthread_create(&thread, &attr, agent_main, nullptr);
#endif
    pthread_attr_destroy(&attr);
    {
        ReentrancyGuard inside;
        pthread_sigmask(SIG_SETMASK, &old, nullptr);
    }
    if (r != 0) {
        g_agent_started.store(false);
        g_start_failed.store(true);
        report_failure(Failure::AgentStart, "could not start the agent thread", r);
    }
}

void agent_after_fork_child() {
    // The parent's agent thread does not exist here; its descriptors are
    // the parent's connection: close our copies, never talk on them.
    g_conn.release();
    g_watch.release();
    g_agent_started.store(false);
    g_start_failed.store(false);
}

void agent_start_in_child() {
    agent_start_if_needed();
}

}  // namespace numakeep::preload
