// SPDX-License-Identifier: MIT
// Fork from a threaded program while other threads sit in interposed calls
// and the daemon keeps sending rebinds: every child gets through its own
// interposed calls and exits; nothing deadlocks (an alarm would fail us).
#include <numaif.h>
#include <pthread.h>
#include <sys/mman.h>

#include <atomic>

#include "fork_threads.hpp"
#include "harness.hpp"

using namespace numakeep;
using namespace numakeep::testing;

namespace {
std::atomic<bool> g_stop{false};

void* churn(void*) {
    set_mempolicy(MPOL_BIND, &kNode0, 2);
    while (!g_stop.load()) churn_range();
    return nullptr;
}
}  // namespace

int main(int argc, char** argv) {
    Harness h(argc, argv);
    alarm(120);  // a deadlock fails the test instead of hanging it
    AgentStart start = start_agent(h);
    RebindThread rebinds(h.daemon(), start.talking);
    pthread_t t[3];
    for (auto& th : t) pthread_create(&th, nullptr, churn, nullptr);
    constexpr int kForks = 200;
    int ok = 0;
    for (int i = 0; i < kForks; ++i) {
        ok += fork_child_ok([] {
            char* p = map_pages(1);
            return mbind(p, 4096, MPOL_BIND, &kNode0, 2, 0) == 0 && munmap(p, 4096) == 0;
        });
    }
    g_stop = true;
    for (auto& th : t) pthread_join(th, nullptr);
    rebinds.stop();
    h.check(ok == kForks, "%d of %d children made their calls and exited", ok, kForks);
    if (h.preloaded()) rebinds.tally().check(h);
    return h.finish();
}
