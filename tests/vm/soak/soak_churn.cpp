// SPDX-License-Identifier: MIT
// nk-soak-churn: one soak process, run under libnumakeep.so. Until SIGUSR1
// it churns what the runtime records: mmap + mbind (interleave, bind,
// preferred over the 4 nodes), mremap (grow and move), partial and whole
// munmap, short-lived threads that set a task policy, and forks whose
// child does a little of the same and exits. On SIGUSR1 it stops churning,
// joins its threads, prints "quiet" and sleeps until killed, so the driver
// can compare every record with the kernel (numakeep show PID --json).
// Before "quiet" it prints what it did: "counts mmaps N mremaps N munmaps N
// threads N forks N".
//
//   nk-soak-churn [PAUSE_MS]   (default 10 ms between two churn steps)
//
// It calls libc's mbind/set_mempolicy (numaif.h), never the raw syscall:
// those are the calls libnumakeep.so intercepts.
#include <numaif.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

namespace {

std::atomic<bool> g_stop{false};
bool g_forked_child = false;  // a fork's child never forks: no chain of forks
constexpr long kPage = 4096;

struct Counts {
    long mmaps = 0, mremaps = 0, munmaps = 0, threads = 0, forks = 0;
} g_counts;

struct Area {
    char* at;
    std::size_t len;
};

void request(std::mt19937& rng, void* at, std::size_t len) {
    static const int kModes[] = {MPOL_INTERLEAVE, MPOL_BIND, MPOL_PREFERRED};
    unsigned long mask = 1 + rng() % 15;  // a non-empty subset of nodes 0-3
    int mode = kModes[rng() % 3];
    if (mode == MPOL_PREFERRED) mask &= -mask;  // one node
    mbind(at, len, mode, &mask, 64, 0);
}

void* thread_churn(void* arg) {
    auto seed = static_cast<unsigned>(reinterpret_cast<std::uintptr_t>(arg));
    unsigned long mask = 1 + seed % 15;
    set_mempolicy(MPOL_INTERLEAVE, &mask, 64);
    usleep(1000 + seed % 5000);
    return nullptr;
}

void churn_once(std::mt19937& rng, std::vector<Area>& areas) {
    switch (rng() % 6) {
        case 0:
        case 1: {  // a new area with a request
            std::size_t len = (1 + rng() % 16) * kPage;
            void* p =
                mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (p == MAP_FAILED) return;
            request(rng, p, len);
            static_cast<char*>(p)[0] = 1;
            ++g_counts.mmaps;
            areas.push_back({static_cast<char*>(p), len});
            break;
        }
        case 2: {  // grow, maybe move
            if (areas.empty()) return;
            Area& a = areas[rng() % areas.size()];
            std::size_t len = a.len + (1 + rng() % 4) * kPage;
            void* p = mremap(a.at, a.len, len, MREMAP_MAYMOVE);
            if (p != MAP_FAILED) {
                a = {static_cast<char*>(p), len};
                ++g_counts.mremaps;
            }
            break;
        }
        case 3: {  // punch a page, or unmap a whole area
            if (areas.empty()) return;
            std::size_t i = rng() % areas.size();
            Area a = areas[i];
            if (a.len > 2 * kPage && (rng() & 1U)) {
                munmap(a.at + a.len - kPage, kPage);
                areas[i].len -= kPage;
            } else {
                munmap(a.at, a.len);
                areas[i] = areas.back();
                areas.pop_back();
            }
            ++g_counts.munmaps;
            break;
        }
        case 4: {  // thread churn
            pthread_t t;
            if (pthread_create(&t, nullptr, thread_churn,
                               reinterpret_cast<void*>(static_cast<std::uintptr_t>(rng()))) == 0) {
                pthread_join(t, nullptr);
                ++g_counts.threads;
            }
            break;
        }
        case 5: {  // a fork that churns a little and exits
            if (g_forked_child || rng() % 2) return;
            pid_t c = fork();
            if (c == 0) {
                g_forked_child = true;
                std::mt19937 r2(getpid());
                std::vector<Area> mine;
                for (int i = 0; i < 20; ++i) churn_once(r2, mine);
                _exit(0);
            }
            if (c > 0) {
                waitpid(c, nullptr, 0);
                ++g_counts.forks;
            }
            break;
        }
    }
    if (areas.size() > 64) {  // keep the process small
        munmap(areas.front().at, areas.front().len);
        areas.erase(areas.begin());
    }
}

}  // namespace

int main(int argc, char** argv) {
    long pause_us = (argc > 1 ? std::atol(argv[1]) : 10) * 1000;
    signal(SIGUSR1, [](int) { g_stop = true; });
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    setpriority(PRIO_PROCESS, 0, 15);  // the driver and the daemon come first (busybox has no nice)
    std::mt19937 rng(getpid());
    std::vector<Area> areas;
    unsigned long all = 0xf;
    set_mempolicy(MPOL_INTERLEAVE, &all, 64);  // the main thread's task policy
    std::printf("churning\n");
    while (!g_stop) {
        churn_once(rng, areas);
        usleep(static_cast<useconds_t>(
            pause_us));  // leave the (emulated) CPUs to the driver and the daemon
    }
    std::printf("counts mmaps %ld mremaps %ld munmaps %ld threads %ld forks %ld\n", g_counts.mmaps,
                g_counts.mremaps, g_counts.munmaps, g_counts.threads, g_counts.forks);
    std::printf("quiet\n");
    for (;;) pause();
}
