// SPDX-License-Identifier: MIT
// A program that blocks its signals and takes them in a sigwait thread
// keeps getting every one of them with the agent running (the agent thread
// blocks all signals, so the kernel never picks it for a process signal).
#include <numaif.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>

#include <atomic>

#include "harness.hpp"

using namespace numakeep;
using namespace numakeep::testing;

namespace {
std::atomic<int> g_got{0};
sigset_t g_set;

void* waiter(void*) {
    for (;;) {
        int sig = 0;
        if (sigwait(&g_set, &sig) == 0) {
            if (sig == SIGTERM) return nullptr;
            ++g_got;
        }
    }
}
}  // namespace

int main(int argc, char** argv) {
    Harness h(argc, argv);
    sigemptyset(&g_set);
    sigaddset(&g_set, SIGUSR1);
    sigaddset(&g_set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &g_set, nullptr);
    unsigned long node0 = 1;
    char* a = map_pages(1);
    h.check(mbind(a, 4096, MPOL_BIND, &node0, 2, 0) == 0, "mbind (starts the agent)");
    std::vector<PolicyEntry> ranges, threads;
    if (h.preloaded()) h.records(ranges, threads);
    pthread_t t;
    pthread_create(&t, nullptr, waiter, nullptr);
    constexpr int kSignals = 20;
    for (int i = 0; i < kSignals; ++i) {
        kill(getpid(), SIGUSR1);
        for (int spin = 0; spin < 1000 && g_got.load() <= i; ++spin) {
            timespec ts{0, 1000000};
            nanosleep(&ts, nullptr);
        }
    }
    h.check(g_got.load() == kSignals, "the sigwait thread got %d of %d signals", g_got.load(),
            kSignals);
    kill(getpid(), SIGTERM);
    pthread_join(t, nullptr);
    return h.finish();
}
