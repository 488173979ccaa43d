// SPDX-License-Identifier: MIT
// Fork from a threaded program while other threads sit in interposed calls
// and the daemon keeps sending rebinds: every child gets through its own
// interposed calls and exits; nothing deadlocks (an alarm would fail us).
#include <numaif.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include <atomic>

#include "harness.hpp"

using namespace numakeep;
using namespace numakeep::testing;

namespace {
std::atomic<bool> g_stop{false};
unsigned long g_node0 = 1;

void* churn(void*) {
    set_mempolicy(MPOL_BIND, &g_node0, 2);
    while (!g_stop.load()) {
        char* p = map_pages(4);
        mbind(p, 4 * 4096, MPOL_INTERLEAVE, &g_node0, 2, 0);
        mremap(p, 4 * 4096, 2 * 4096, 0);
        munmap(p, 2 * 4096);
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
    alarm(120);  // a deadlock fails the test instead of hanging it
    char* a = map_pages(2);
    h.check(mbind(a, 2 * 4096, MPOL_BIND, &g_node0, 2, 0) == 0, "mbind (starts the agent)");
    std::vector<PolicyEntry> ranges, threads;
    Rebinder rb{&h.daemon()};
    pthread_t r{};
    if (h.preloaded() && h.records(ranges, threads)) pthread_create(&r, nullptr, rebinder, &rb);
    pthread_t t[3];
    for (auto& th : t) pthread_create(&th, nullptr, churn, nullptr);
    constexpr int kForks = 200;
    int ok = 0;
    for (int i = 0; i < kForks; ++i) {
        pid_t c = fork();
        if (c == 0) {
            char* p = map_pages(1);
            int rc = mbind(p, 4096, MPOL_BIND, &g_node0, 2, 0) == 0 && munmap(p, 4096) == 0 ? 0 : 1;
            _exit(rc);
        }
        int status = 0;
        if (c > 0 && waitpid(c, &status, 0) == c && WIFEXITED(status) && WEXITSTATUS(status) == 0)
            ++ok;
    }
    g_stop = true;
    for (auto& th : t) pthread_join(th, nullptr);
    if (r) pthread_join(r, nullptr);
    h.check(ok == kForks, "%d of %d children made their calls and exited", ok, kForks);
    if (h.preloaded())
        h.check(rb.answered == rb.sent && rb.sent > 0, "every rebind answered (%u of %u)",
                rb.answered, rb.sent);
    return h.finish();
}
