// SPDX-License-Identifier: MIT
// Agent vs application threads: worker threads keep changing their own task
// policy and mbind/mremap/munmap their own areas, a spawner keeps starting
// short-lived threads that set a policy and exit, while the fake daemon
// (this program, harness.hpp) sends Rebind and DumpRecords back to back.
// Every Rebind and every dump is answered, no call of the program fails,
// nothing deadlocks (an alarm fails us); under ThreadSanitizer (suite
// `concurrency`, tools/test-sanitizers) with zero reports.
#include <numaif.h>
#include <pthread.h>
#include <sys/mman.h>

#include <atomic>

#include "fork_threads.hpp"
#include "harness.hpp"

using namespace numakeep;
using namespace numakeep::testing;

namespace {

constexpr int kWorkers = 4;
constexpr int kIterations = 300;
constexpr int kShortLived = 60;
std::atomic<int> g_call_failures{0};
std::atomic<int> g_running{0};

void expect_ok(long r) {
    if (r != 0) g_call_failures.fetch_add(1);
}

void* worker(void* arg) {
    long id = reinterpret_cast<long>(arg);
    for (int k = 0; k < kIterations; ++k) {
        switch ((k + id) % 4) {
            case 0:
                expect_ok(set_mempolicy(MPOL_BIND, &kNode0, 2));
                break;
            case 1:
                expect_ok(set_mempolicy(MPOL_PREFERRED, &kNode0, 2));
                break;
            case 2:
                expect_ok(set_mempolicy(MPOL_INTERLEAVE, &kNode0, 2));
                break;
            default:
                expect_ok(set_mempolicy(MPOL_DEFAULT, nullptr, 0));
                break;
        }
        char* p = map_pages(8);
        expect_ok(mbind(p, 4 * 4096, MPOL_BIND, &kNode0, 2, 0));
        expect_ok(mbind(p + 4 * 4096, 4 * 4096, MPOL_INTERLEAVE, &kNode0, 2, 0));
        void* q = mremap(p, 8 * 4096, 6 * 4096, 0);
        if (q == MAP_FAILED) g_call_failures.fetch_add(1);
        expect_ok(munmap(p, 6 * 4096));
    }
    g_running.fetch_sub(1);
    return nullptr;
}

void* short_lived(void*) {
    expect_ok(set_mempolicy(MPOL_PREFERRED, &kNode0, 2));
    char* p = map_pages(1);
    expect_ok(mbind(p, 4096, MPOL_BIND, &kNode0, 2, 0));
    expect_ok(munmap(p, 4096));
    return nullptr;
}

void* spawner(void*) {
    expect_ok(set_mempolicy(MPOL_BIND, &kNode0, 2));  // inherited by each short-lived thread
    for (int i = 0; i < kShortLived; ++i) {
        pthread_t t;
        if (pthread_create(&t, nullptr, short_lived, nullptr) == 0) pthread_join(t, nullptr);
    }
    g_running.fetch_sub(1);
    return nullptr;
}

}  // namespace

int main(int argc, char** argv) {
    Harness h(argc, argv);
    alarm(240);  // a deadlock fails the test instead of hanging it
    AgentStart start = start_agent(h);
    // With a task policy of its own, main's threads inherit it (the
    // runtime's thread start wraps theirs) while rebinds arrive.
    h.check(set_mempolicy(MPOL_PREFERRED, &kNode0, 2) == 0, "main: set_mempolicy preferred");

    g_running = kWorkers + 1;
    pthread_t t[kWorkers + 1];
    for (long i = 0; i < kWorkers; ++i)
        pthread_create(&t[i], nullptr, worker, reinterpret_cast<void*>(i));
    pthread_create(&t[kWorkers], nullptr, spawner, nullptr);

    RebindTally rebinds;
    unsigned dumps = 0, dumped = 0;
    std::vector<PolicyEntry> ranges, threads;
    while (start.talking && g_running.load() > 0) {
        rebinds.send_one(h.daemon());
        if (rebinds.sent % 4 == 0) {
            ++dumps;
            if (h.daemon().dump(ranges, threads)) ++dumped;
        }
    }
    for (auto& th : t) pthread_join(th, nullptr);
    h.check(g_call_failures.load() == 0, "every call of the program succeeded (%d failed)",
            g_call_failures.load());
    if (start.talking) {
        rebinds.check(h);
        h.check(dumped == dumps, "every dump answered (%u of %u)", dumped, dumps);
        // Quiet now: the records are exactly what is left.
        h.check(h.daemon().dump(ranges, threads), "a last dump");
        h.check(ranges.size() == 1 && covered(ranges, start.first_range, 2 * 4096),
                "only the first mbind's record is left (%zu ranges)", ranges.size());
        h.check(threads.size() == 1 && threads[0].tid == gettid_raw(),
                "the exited threads' records are gone, main's is left (%zu)", threads.size());
    }
    return h.finish();
}
