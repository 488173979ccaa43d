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
#include <sys/wait.h>

#include <atomic>

#include "harness.hpp"

using namespace numakeep;
using namespace numakeep::testing;

namespace {

constexpr int kForks = 60;
std::atomic<bool> g_stop{false};
std::atomic<int> g_children_ok{0};
std::atomic<int> g_children{0};
unsigned long g_node0 = 1;

void fork_one() {
    g_children.fetch_add(1);
    pid_t c = fork();
    if (c == 0) {
        char* p = map_pages(2);
        int rc = mbind(p, 2 * 4096, MPOL_BIND, &g_node0, 2, 0) == 0 && munmap(p, 4096) == 0 &&
                         munmap(p + 4096, 4096) == 0
                     ? 0
                     : 1;
        _exit(rc);
    }
    int status = 0;
    if (c > 0 && waitpid(c, &status, 0) == c && WIFEXITED(status) && WEXITSTATUS(status) == 0)
        g_children_ok.fetch_add(1);
}

void* churn(void* arg) {
    bool forks = arg != nullptr;
    for (int k = 0; !g_stop.load(); ++k) {
        char* p = map_pages(4);
        mbind(p, 4 * 4096, MPOL_INTERLEAVE, &g_node0, 2, 0);
        mremap(p, 4 * 4096, 2 * 4096, 0);
        munmap(p, 2 * 4096);
        if (forks && k % 8 == 0 && g_children.load() < 2 * kForks) fork_one();
    }
    return nullptr;
}

struct Rebinder {
    FakeDaemon* daemon;
    unsigned sent = 0, answered = 0;
};

void* rebinder(void* arg) {
    auto* r = static_cast<Rebinder*>(arg);
    while (!g_stop.load()) {
        proto::RebindDone done{};
        ++r->sent;
        if (r->daemon->rebind(r->sent, mems_allowed(), done)) ++r->answered;
    }
    return nullptr;
}

}  // namespace

int main(int argc, char** argv) {
    Harness h(argc, argv);
    alarm(240);  // a deadlock fails the test instead of hanging it
    char* a = map_pages(2);
    h.check(mbind(a, 2 * 4096, MPOL_BIND, &g_node0, 2, 0) == 0, "mbind (starts the agent)");
    std::vector<PolicyEntry> ranges, threads;
    Rebinder rb{&h.daemon()};
    pthread_t r{};
    if (h.preloaded() && h.records(ranges, threads)) pthread_create(&r, nullptr, rebinder, &rb);
    pthread_t t[3];
    for (long i = 0; i < 3; ++i)
        pthread_create(&t[i], nullptr, churn, i == 0 ? reinterpret_cast<void*>(1) : nullptr);
    for (int i = 0; i < kForks; ++i) fork_one();
    g_stop = true;
    for (auto& th : t) pthread_join(th, nullptr);
    if (r) pthread_join(r, nullptr);
    h.check(g_children_ok.load() == g_children.load(),
            "%d of %d children (from main and a worker) made their calls and exited",
            g_children_ok.load(), g_children.load());
    if (h.preloaded()) {
        h.check(rb.answered == rb.sent && rb.sent > 0, "every rebind answered (%u of %u)",
                rb.answered, rb.sent);
        h.check(h.records(ranges, threads) && ranges.size() == 1 && covered(ranges, a, 2 * 4096),
                "only the first mbind's record is left (%zu ranges)", ranges.size());
    }
    return h.finish();
}
