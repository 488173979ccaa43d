// SPDX-License-Identifier: MIT
// Fork vs rebind: threads keep recording ranges (mbind, mremap, munmap)
// while the fake daemon (this program, harness.hpp) keeps sending rebinds
// and the main thread and a worker fork children that make their own
// interposed calls (their runtime starts its own agent) and exit. Every
// child exits 0, every rebind is answered, nothing deadlocks (an alarm
// fails us); under ThreadSanitizer (suite `concurrency`) zero reports.
//
// The threads hold no task policy of their own: under ThreadSanitizer a
// signal reaches a thread only when it leaves an intercepted call (TSan
// defers signals), so a thread waiting for the record lock would miss the
// agent's signal round until its timeout. tests/host/runtime's
// fork-threaded covers task policies across fork in the other builds.
#include <numaif.h>
#include <pthread.h>
#include <sys/mman.h>

#include <atomic>
#include <vector>

#include "fork_threads.hpp"
#include "harness.hpp"

using namespace numakeep;
using namespace numakeep::testing;

namespace {

constexpr int kForks = 60;
std::atomic<bool> g_stop{false};
std::atomic<int> g_children_ok{0};
std::atomic<int> g_children{0};

void fork_one() {
    g_children.fetch_add(1);
    bool ok = fork_child_ok([] {
        char* p = map_pages(2);
        return mbind(p, 2 * 4096, MPOL_BIND, &kNode0, 2, 0) == 0 && munmap(p, 4096) == 0 &&
               munmap(p + 4096, 4096) == 0;
    });
    if (ok) g_children_ok.fetch_add(1);
}

void* churn(void* arg) {
    bool forks = arg != nullptr;
    for (int k = 0; !g_stop.load(); ++k) {
        churn_range();
        if (forks && k % 8 == 0 && g_children.load() < 2 * kForks) fork_one();
    }
    return nullptr;
}

}  // namespace

int main(int argc, char** argv) {
    Harness h(argc, argv);
    alarm(240);  // a deadlock fails the test instead of hanging it
    AgentStart start = start_agent(h);
    RebindThread rebinds(h.daemon(), start.talking);
    pthread_t t[3];
    for (long i = 0; i < 3; ++i)
        pthread_create(&t[i], nullptr, churn, i == 0 ? reinterpret_cast<void*>(1) : nullptr);
    for (int i = 0; i < kForks; ++i) fork_one();
    g_stop = true;
    for (auto& th : t) pthread_join(th, nullptr);
    rebinds.stop();
    h.check(g_children_ok.load() == g_children.load(),
            "%d of %d children (from main and a worker) made their calls and exited",
            g_children_ok.load(), g_children.load());
    if (h.preloaded()) {
        rebinds.tally().check(h);
        std::vector<PolicyEntry> ranges, threads;
        bool dumped = h.records(ranges, threads);
        h.check(dumped && ranges.size() == 1 && covered(ranges, start.first_range, 2 * 4096),
                "only the first mbind's record is left (%zu ranges)", ranges.size());
    }
    return h.finish();
}
