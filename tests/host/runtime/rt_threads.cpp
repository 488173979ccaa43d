// SPDX-License-Identifier: MIT
// Across threads: a new thread inherits its creator's task policy record;
// each thread's own set_mempolicy is its own; a rebind reaches every thread
// with a policy (signal round); threads mbind concurrently without losing a
// record; a thread's record goes when it exits.
#include <numaif.h>
#include <pthread.h>

#include <atomic>

#include "harness.hpp"

using namespace numakeep;
using namespace numakeep::testing;

namespace {

pthread_barrier_t g_ready, g_done;
std::atomic<pid_t> g_tids[3];
unsigned long g_node0 = 1;

void* worker(void* arg) {
    long i = reinterpret_cast<long>(arg);
    g_tids[i] = gettid_raw();
    if (i == 1) set_mempolicy(MPOL_PREFERRED, &g_node0, 2);
    if (i == 2) set_mempolicy(MPOL_DEFAULT, nullptr, 0);
    pthread_barrier_wait(&g_ready);
    pthread_barrier_wait(&g_done);
    return nullptr;
}

constexpr int kMbinders = 4, kPerThread = 50;
char* g_area;

void* mbinder(void* arg) {
    long i = reinterpret_cast<long>(arg);
    for (int k = 0; k < kPerThread; ++k)
        mbind(g_area + (i * kPerThread + k) * 2 * 4096, 4096, MPOL_BIND, &g_node0, 2, 0);
    return nullptr;
}

}  // namespace

int main(int argc, char** argv) {
    Harness h(argc, argv);
    h.check(set_mempolicy(MPOL_BIND, &g_node0, 2) == 0, "main: set_mempolicy bind");
    pthread_barrier_init(&g_ready, nullptr, 4);
    pthread_barrier_init(&g_done, nullptr, 4);
    pthread_t t[3];
    for (long i = 0; i < 3; ++i) pthread_create(&t[i], nullptr, worker, reinterpret_cast<void*>(i));
    pthread_barrier_wait(&g_ready);
    std::vector<PolicyEntry> ranges, threads;
    if (h.preloaded() && h.records(ranges, threads)) {
        const PolicyEntry* m = find_thread(threads, gettid_raw());
        const PolicyEntry* t0 = find_thread(threads, g_tids[0]);
        const PolicyEntry* t1 = find_thread(threads, g_tids[1]);
        h.check(m && m->mode == static_cast<std::uint16_t>(Mode::Bind), "main: bind recorded");
        h.check(t0 && t0->mode == static_cast<std::uint16_t>(Mode::Bind) && t0->kernel_ok &&
                    t0->kernel_mode == static_cast<std::uint16_t>(Mode::Bind),
                "thread 0 inherited its creator's request (and the kernel's copy)");
        h.check(t1 && t1->mode == static_cast<std::uint16_t>(Mode::Preferred),
                "thread 1 holds its own request");
        h.check(!find_thread(threads, g_tids[2]), "thread 2 set MPOL_DEFAULT: nothing kept");
        proto::RebindDone done{};
        h.check(h.daemon().rebind(3, mems_allowed(), done) && done.threads_rebound == 3 &&
                    done.errors == 0,
                "a rebind reached the three threads with a policy (%u, %u errors)",
                done.threads_rebound, done.errors);
    }
    pthread_barrier_wait(&g_done);
    for (auto& th : t) pthread_join(th, nullptr);

    g_area = map_pages(kMbinders * kPerThread * 2);
    pthread_t b[kMbinders];
    for (long i = 0; i < kMbinders; ++i)
        pthread_create(&b[i], nullptr, mbinder, reinterpret_cast<void*>(i));
    for (auto& th : b) pthread_join(th, nullptr);
    if (h.preloaded() && h.records(ranges, threads)) {
        h.check(ranges.size() == kMbinders * kPerThread, "every concurrent mbind recorded (%zu)",
                ranges.size());
        h.check(threads.size() == 1, "exited threads' records are gone (%zu left)", threads.size());
    }
    return h.finish();
}
