// SPDX-License-Identifier: MIT
#include "runtime.hpp"

#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "agent.hpp"
#include "exec_handoff.hpp"
#include "fork_handlers.hpp"
#include "kernel_assist.hpp"
#include "numakeep_config.h"
#include "page_mover.hpp"
#include "raw_syscall.hpp"
#include "real_calls.hpp"
#include "record_keeper.hpp"
#include "record_ops.hpp"
#include "reentrancy_guard.hpp"
#include "thread_rebind.hpp"

namespace numakeep::preload {
constinit Config g_config;
constinit std::atomic<bool> g_ready{false};

namespace {

pthread_once_t g_once = PTHREAD_ONCE_INIT;
std::atomic<unsigned> g_reported{0};

void copy_string(char* dst, std::size_t cap, const char* src) {
    std::size_t n = std::strlen(src);
    if (n >= cap) n = cap - 1;
    std::memcpy(dst, src, n);
    dst[n] = '\0';
}

void read_environment() {
    const char* socket = std::getenv("NUMAKEEP_SOCKET");
    copy_string(g_config.socket_path, sizeof g_config.socket_path,
                socket && *socket ? socket : NUMAKEEP_SOCKET_PATH);
    const char* debug = std::getenv("NUMAKEEP_DEBUG");
    g_config.debug = debug && *debug && std::strcmp(debug, "0") != 0;
    if (const char* sem = std::getenv("NUMAKEEP_SEMANTICS"); sem && *sem) {
        if (parse_semantics(sem, g_config.semantics))
            g_config.semantics_from_env = true;
        else
            report_failure(Failure::BadSemantics,
                           "NUMAKEEP_SEMANTICS is not intent|static|relative|kernel; "
                           "using the daemon's default");
    }
    if (const char* ka = std::getenv("NUMAKEEP_KERNEL_ASSIST"); ka && *ka) {
        if (std::strcmp(ka, "1") == 0 || std::strcmp(ka, "0") == 0) {
            g_config.kernel_assist_env_set = true;
            g_config.kernel_assist = ka[0] == '1';
        } else {
            report_failure(Failure::BadKernelAssist,
                           "NUMAKEEP_KERNEL_ASSIST is not 0 or 1; using the daemon's default");
        }
    }
    if (const char* agent = std::getenv("NUMAKEEP_AGENT"); agent && *agent)
        g_config.agent_always = std::strcmp(agent, "always") == 0;
    read_placement_environment();
    if (const char* uid = std::getenv("NUMAKEEP_DAEMON_UID"); uid && *uid) {
        char* end = nullptr;
        unsigned long v = std::strtoul(uid, &end, 10);
        if (end && *end == '\0') g_config.daemon_uid = static_cast<std::uint32_t>(v);
    }
}

// A task policy set before exec (numactl --interleave, systemd NUMAPolicy=)
// survives exec: it becomes the main thread's request, made under the mems
// of now, until the exec's handoff, if any, says what the request was
// (exec_handoff.hpp: the mems may have changed since the exec).
void record_inherited_task_policy() {
    int mode = 0;
    Nodemask nodes;
    if (raw(SYS_get_mempolicy, &mode, nodes.kernel_data(), Nodemask::kKernelMaxnode, 0, 0) < 0)
        return;
    Request req;
    if (!request_from_policy(mode, nodes, req)) return;
    RecordLock lock;
    ThreadRecord* tr = own_thread_record(true);
    if (!tr) return;
    tr->has_policy = true;
    tr->rec = Recorded{req, current_mems()};
    ++tr->version;
    note_startup_policy(tr, mode);
    // Kept by the kernel from now on when assistance is on (the exec that
    // brought it here issued it plain: assist_before_exec()).
    assist_thread(tr->rec);
    report_own_policy();
}

void init_once() {
    ReentrancyGuard guard;
    ErrnoKeeper keep_errno;
    read_environment();
    records_init();
    real::resolve();
    install_fork_handlers();
    record_inherited_task_policy();
    g_ready.store(true, std::memory_order_release);
}

__attribute__((constructor)) void numakeep_constructor() {
    ensure_init();
    ReentrancyGuard guard;
    ErrnoKeeper keep_errno;
    agent_allow_start();
    agent_start_if_needed();
}

}  // namespace

void init_on_first_use() {
    pthread_once(&g_once, init_once);
}

void report_failure(Failure kind, const char* what, int err) {
    if (!g_config.debug) return;
    unsigned bit = 1U << static_cast<unsigned>(kind);
    if (g_reported.fetch_or(bit, std::memory_order_relaxed) & bit) return;
    char buf[256];
    std::size_t n = 0;
    auto put = [&](const char* s) {
        while (*s && n + 1 < sizeof buf) buf[n++] = *s++;
    };
    put("numakeep: ");
    put(what);
    if (err) {
        put(": errno ");
        char num[12];
        int k = 0;
        unsigned v = static_cast<unsigned>(err);
        do {
            num[k++] = static_cast<char>('0' + v % 10);
            v /= 10;
        } while (v);
        while (k && n + 1 < sizeof buf) buf[n++] = num[--k];
    }
    buf[n++] = '\n';
    raw(SYS_write, 2, buf, n);
}

}  // namespace numakeep::preload
