// SPDX-License-Identifier: MIT
// Scaffolding of the host tests that put the program's threads (and its
// forks) against the agent while the fake daemon keeps sending rebinds:
// tests/host/runtime/rt_fork_threaded.cpp, and conc_fork_rebind.cpp and
// conc_agent_storm.cpp of tests/host/concurrency. Built on harness.hpp; it
// sits beside it so every includer that finds the harness finds this too.
#pragma once

#include <numaif.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <vector>

#include "harness.hpp"

namespace numakeep::testing {

// Node 0 alone, as mbind and set_mempolicy take it (maxnode 2).
inline constexpr unsigned long kNode0 = 1;

// The opening of these tests: a first mbind, which starts the agent and
// whose record is the one left at the end, and whether the fake daemon has
// the agent on the line (preloaded runs only).
struct AgentStart {
    char* first_range;  // two pages, bound to node 0
    bool talking;
};
inline AgentStart start_agent(Harness& h) {
    char* a = map_pages(2);
    h.check(mbind(a, 2 * 4096, MPOL_BIND, &kNode0, 2, 0) == 0, "mbind (starts the agent)");
    std::vector<PolicyEntry> ranges, threads;
    bool talking = h.preloaded() && h.records(ranges, threads);
    return {a, talking};
}

// Rebinds sent back to back, each to the mems of now, and how many the
// agent answered.
struct RebindTally {
    unsigned sent = 0, answered = 0;

    void send_one(FakeDaemon& d) {
        proto::RebindDone done{};
        ++sent;
        if (d.rebind(sent, mems_allowed(), done)) ++answered;
    }
    void check(Harness& h) const {
        h.check(sent > 0 && answered == sent, "every rebind answered (%u of %u)", answered, sent);
    }
};

// Rebinds from a thread of its own until stop(), while the test's threads
// run. Starts only when the agent is on the line.
class RebindThread {
  public:
    RebindThread(FakeDaemon& d, bool talking) : daemon_(d) {
        if (talking) started_ = pthread_create(&thread_, nullptr, run, this) == 0;
    }
    RebindThread(const RebindThread&) = delete;
    RebindThread& operator=(const RebindThread&) = delete;
    ~RebindThread() { stop(); }

    void stop() {
        stop_ = true;
        if (started_) pthread_join(thread_, nullptr);
        started_ = false;
    }
    // Read after stop().
    const RebindTally& tally() const { return tally_; }

  private:
    static void* run(void* arg) {
        auto* self = static_cast<RebindThread*>(arg);
        while (!self->stop_.load()) self->tally_.send_one(self->daemon_);
        return nullptr;
    }

    FakeDaemon& daemon_;
    RebindTally tally_;
    std::atomic<bool> stop_{false};
    pthread_t thread_{};
    bool started_ = false;
};

// One round of range churn: four pages interleaved, shrunk to two by
// mremap, unmapped (records made, split and dropped).
inline void churn_range() {
    char* p = map_pages(4);
    mbind(p, 4 * 4096, MPOL_INTERLEAVE, &kNode0, 2, 0);
    mremap(p, 4 * 4096, 2 * 4096, 0);
    munmap(p, 2 * 4096);
}

// Forks a child that makes its interposed calls (its runtime starts an
// agent of its own) and exits 0 when calls() says they succeeded; true
// when the child did so.
template <typename Calls>
bool fork_child_ok(Calls calls) {
    pid_t c = fork();
    if (c == 0) _exit(calls() ? 0 : 1);
    int status = 0;
    return c > 0 && waitpid(c, &status, 0) == c && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace numakeep::testing
