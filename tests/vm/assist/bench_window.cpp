// SPDX-License-Identifier: MIT
// nk-bench-window: the zero window, measured (tools/bench vm).
//
// A program under libnumakeep.so (intent semantics, numakeepd running on
// $NUMAKEEP_SOCKET) interleaves a range over nodes 0-3 and faults its
// pages continuously, sleeping kFaultGapUs between two, while its cpuset.mems goes
// 0-3 -> 0-1 -> 0-3. After the grow it watches the kernel's policy of the
// range (inline get_mempolicy, nodes in force computed for a relative
// policy) until it is the intent again, and afterwards asks move_pages
// where every page faulted after the grow returned went: a page is
// misplaced when it is not on the node interleave over the intent (0-3)
// gives its offset (offset_il_node(): the (addr >> PAGE_SHIFT) % 4-th node
// for an anonymous range).
//
// Run once with kernel assistance off (the re-issue path: the kernel's
// lossy remap holds until the daemon's Rebind is carried out) and once on.
// Prints, as tools/bench wants them:
//   vm.window_reissue_ms, vm.window_assisted_ms   time from the write's
//       return to the first look that saw the intent (0 when the first
//       look already did);
//   vm.misplaced_pages_reissue, vm.misplaced_pages_assisted.
#include <numaif.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "guest.hpp"
#include "numakeep/node_mapping.hpp"

using namespace numakeep;
using namespace numakeep::guest;

namespace {

constexpr std::size_t kPage = 4096;
constexpr std::size_t kPages = 48 * 1024;  // 192 MiB: never exhausted in a run
constexpr unsigned kFaultGapUs = 40;
const Nodemask kAll = Nodemask::range(0, 3);

std::uint64_t now_ns() {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                          std::chrono::steady_clock::now().time_since_epoch())
                                          .count());
}

struct Faulter {
    char* base = nullptr;
    std::vector<std::uint64_t> when;  // fault time of page i, 0: not faulted
    std::atomic<std::size_t> next{0};
    std::atomic<bool> stop{false};
};

void* fault_loop(void* p) {
    auto& f = *static_cast<Faulter*>(p);
    for (std::size_t i = 0; i < kPages && !f.stop.load(std::memory_order_relaxed); ++i) {
        f.base[i * kPage] = 1;
        f.when[i] = now_ns();
        f.next.store(i + 1, std::memory_order_release);
        usleep(kFaultGapUs);  // a steady stream that leaves the daemon its CPU
    }
    return nullptr;
}

// The nodes the kernel's policy of the range puts memory on now.
Nodemask nodes_in_force(void* addr) {
    auto pol = range_policy(addr);
    if (!pol) return {};
    if (!(pol->flags & kFlagRelativeNodes)) return pol->nodes;
    Nodemask mems;
    sys_get_mempolicy(nullptr, mems.kernel_data(), kMaxNodes, nullptr, mpol::kGetMemsAllowed);
    return relative_nodemask(pol->nodes, mems);
}

// One run in this process (already under the preload): prints
// "RESULT window_ms misplaced faulted_after_grow".
int run_phase() {
    Cgroup cg("nkwindow", kAll);
    cg.add();
    Faulter f;
    f.when.assign(kPages, 0);
    void* m = ::mmap(nullptr, kPages * kPage, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) die("mmap");
    // Base pages only: interleave places a huge page by its own index.
    ::madvise(m, kPages * kPage, MADV_NOHUGEPAGE);
    f.base = static_cast<char*>(m);
    if (::mbind(m, kPages * kPage, MPOL_INTERLEAVE, kAll.kernel_data(), Nodemask::kKernelMaxnode,
                0) != 0)
        die("mbind");
    pthread_t t;
    if (pthread_create(&t, nullptr, fault_loop, &f) != 0) die("pthread_create");
    usleep(100 * 1000);
    cg.set_mems(Nodemask::range(0, 1));
    // Let the shrink settle (the daemon's rebind for it, if any).
    wait_until([&] { return nodes_in_force(m) == Nodemask::range(0, 1); },
               std::chrono::milliseconds(3000));
    usleep(1000 * 1000);
    cg.set_mems(kAll);
    const std::uint64_t grown = now_ns();
    std::uint64_t seen = 0;
    bool first_look = true;
    double window_ms = -1;
    while (now_ns() - grown < 10'000'000'000ULL) {
        if (nodes_in_force(m) == kAll) {
            seen = now_ns();
            window_ms = first_look ? 0.0 : static_cast<double>(seen - grown) / 1e6;
            break;
        }
        first_look = false;
    }
    usleep(200 * 1000);  // pages faulted under the intent, for contrast
    f.stop = true;
    pthread_join(t, nullptr);

    // Where the pages faulted after the grow went.
    std::size_t faulted = f.next.load(std::memory_order_acquire);
    std::vector<void*> pages;
    std::vector<std::size_t> index;
    for (std::size_t i = 0; i < faulted; ++i)
        if (f.when[i] >= grown) {
            pages.push_back(f.base + i * kPage);
            index.push_back(i);
        }
    std::vector<int> status(pages.size(), -1);
    if (!pages.empty() &&
        kernel_call(SYS_move_pages, 0, pages.size(), pages.data(), nullptr, status.data(), 0) != 0)
        die("move_pages");
    unsigned long misplaced = 0;
    for (std::size_t k = 0; k < pages.size(); ++k) {
        auto addr = reinterpret_cast<std::uintptr_t>(pages[k]);
        int want = static_cast<int>((addr / kPage) % 4);  // the n-th node of 0-3
        if (status[k] != want) ++misplaced;
    }
    std::printf("RESULT %.3f %lu %zu\n", window_ms, misplaced, pages.size());
    ::munmap(m, kPages * kPage);
    return window_ms < 0 ? 1 : 0;
}

// Runs one phase in a child under the preload; fills its results.
bool phase(const char* self, const char* assist, double& window_ms, unsigned long& misplaced,
           unsigned long& counted) {
    const char* lib = std::getenv("NUMAKEEP_PRELOAD");
    if (!lib) skip("NUMAKEEP_PRELOAD is not set (run through tools/vm)");
    int fds[2];
    if (::pipe(fds) != 0) die("pipe");
    pid_t pid = ::fork();
    if (pid == 0) {
        ::dup2(fds[1], 1);
        ::setenv("LD_PRELOAD", lib, 1);
        ::setenv("NUMAKEEP_SEMANTICS", "intent", 1);
        ::setenv("NUMAKEEP_KERNEL_ASSIST", assist, 1);
        ::execl(self, self, "--phase", nullptr);
        _exit(127);
    }
    ::close(fds[1]);
    std::string out;
    char buf[512];
    ssize_t n;
    while ((n = ::read(fds[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
    ::close(fds[0]);
    int st = 0;
    ::waitpid(pid, &st, 0);
    std::fprintf(stderr, "assist=%s: %s", assist, out.c_str());
    auto at = out.find("RESULT ");
    return at != std::string::npos &&
           std::sscanf(out.c_str() + at, "RESULT %lf %lu %lu", &window_ms, &misplaced, &counted) ==
               3 &&
           WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc > 1 && std::string(argv[1]) == "--phase") return run_phase();
    double w_re = 0, w_as = 0;
    unsigned long m_re = 0, m_as = 0, n_re = 0, n_as = 0;
    bool ok = phase("/proc/self/exe", "0", w_re, m_re, n_re);
    ok = phase("/proc/self/exe", "1", w_as, m_as, n_as) && ok;
    if (!ok) {
        std::fprintf(stderr, "nk-bench-window: a phase failed\n");
        return 1;
    }
    std::fprintf(stderr, "pages faulted after the grow: re-issue %lu, assisted %lu\n", n_re, n_as);
    std::printf("vm.window_reissue_ms %.3f ms\n", w_re);
    std::printf("vm.window_assisted_ms %.3f ms\n", w_as);
    std::printf("vm.misplaced_pages_reissue %lu pages\n", m_re);
    std::printf("vm.misplaced_pages_assisted %lu pages\n", m_as);
    return 0;
}
