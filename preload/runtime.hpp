// SPDX-License-Identifier: MIT
// The runtime's one idempotent, lazy initializer and its configuration.
//
// ensure_init() runs at the top of every shim and from our constructor; the
// first caller (possibly libnuma's constructor, before ours) does the work
// under pthread_once: read the environment, resolve the next definitions,
// build the record store, register the fork handlers, and record a task
// policy inherited across exec. Connecting to the daemon is not part of it:
// the agent starts on the first recorded request.
#pragma once

#include <atomic>
#include <cstdint>

#include "numakeep/issue_plan.hpp"
#include "numakeep/policy.hpp"

namespace numakeep::preload {

struct Config {
    char socket_path[108] = {};  // sun_path
    bool semantics_from_env = false;
    Semantics semantics = Semantics::Intent;  // env's, else the daemon's default
    bool debug = false;
    bool kernel_assist_env_set = false;
    bool kernel_assist = false;
    std::uint32_t daemon_uid = 0;  // the uid the daemon must run as
    bool agent_always = false;     // NUMAKEEP_AGENT=always: connect with no record
};

// Inline, as is ensure_init()'s test: the hot paths (every interposed
// mbind) read them right after a system call, when a call into another
// page of our code costs more than the test itself.
extern constinit Config g_config;
extern constinit std::atomic<bool> g_ready;
inline const Config& config() {
    return g_config;
}
// The settings plan_issue() takes (issue_plan.hpp).
inline IssueSettings issue_settings() {
    return IssueSettings{g_config.semantics, g_config.kernel_assist};
}
inline Config& mutable_config() {  // the agent sets the daemon's defaults
    return g_config;
}

void init_on_first_use();
inline void ensure_init() {
    if (!g_ready.load(std::memory_order_acquire)) init_on_first_use();
}

// Reports a failure inside the runtime once per kind, on stderr, when
// NUMAKEEP_DEBUG is set; otherwise nothing. Async-signal-safe, no allocation.
enum class Failure : unsigned {
    BadSemantics,
    RecordMemory,
    AgentStart,
    Connect,
    PeerNotTrusted,
    Protocol,
    Rebind,
    ThreadRebind,
    FdStolen,
    Assist,
    BadKernelAssist,
    Count
};
void report_failure(Failure kind, const char* what, int err = 0);

}  // namespace numakeep::preload
