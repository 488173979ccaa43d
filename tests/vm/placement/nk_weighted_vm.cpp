// SPDX-License-Identifier: MIT
// Weighted interleave (MPOL_WEIGHTED_INTERLEAVE, mode 6, Linux 6.9+) in the
// guest, under libnumakeep.so with numakeepd running:
//
//   nk-weighted-vm sequence  per-node weights 3,1,2,1 in
//       /sys/kernel/mm/mempolicy/weighted_interleave/; a range mbind()-ed
//       mode 6 over 0-3 (half of it touched), one by libc's syscall(SYS_mbind),
//       the task policy set_mempolicy() mode 6, and a bind range with
//       MPOL_F_NUMA_BALANCING; cpuset.mems through DESIGN.md's sequence
//       (0-1, 0-3, 2-3, 0-3, 1, 0-3): every policy must be rule(request) at
//       every step, the flag kept on the bind; then the held half must be
//       respread by the weights and a fresh fault of the other half must
//       split by them too, page by page against a model of the kernel's
//       weighted_interleave_nid() (the nodes walked in order, each as many
//       times as its weight, indexed by the page's offset).
//       The steps are a second apart: two writes closer than numakeepd
//       reads them (0-3 -> 2-3 -> 0-3) read as "no change" to it while the
//       kernel remapped the policies through 2-3, and they stay lost.
//   nk-weighted-vm errno     the same calls once each, printing what they
//       return ("CALL rc ERRNO"): the case runs it with and without the
//       runtime and wants the same lines (on 6.1 mode 6 is EINVAL).
#include <numaif.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "guest.hpp"

using namespace numakeep;
using namespace numakeep::guest;

namespace {

// As ints, as mbind()'s mode is (bookworm's numaif.h lacks the 6.9 mode).
constexpr int kWeighted = mpol::kWeightedInterleave;
constexpr int kNumaBalancing = static_cast<int>(mpol::kNumaBalancing);
constexpr std::size_t kPage = 4096;
constexpr unsigned kWeights[4] = {3, 1, 2, 1};

std::vector<int> walk(const Nodemask& nodes) {
    std::vector<int> out;
    for (unsigned n = 0; n < 4; ++n)
        if (nodes.test(n))
            for (unsigned k = 0; k < kWeights[n]; ++k) out.push_back(static_cast<int>(n));
    return out;
}

// Share of the present pages of [p, p+len) on their model node; pages per
// node in `counts`.
double on_model_pct(char* p, std::size_t len, const Nodemask& nodes, std::string& counts) {
    const auto w = walk(nodes);
    const std::size_t n = len / kPage;
    std::vector<void*> pages(n);
    std::vector<int> where(n, -1);
    for (std::size_t i = 0; i < n; ++i) pages[i] = p + i * kPage;
    if (kernel_call(SYS_move_pages, 0, n, pages.data(), nullptr, where.data(), 0) != 0) return -1;
    std::size_t on = 0, present = 0;
    unsigned long per[4] = {};
    for (std::size_t i = 0; i < n; ++i) {
        if (where[i] < 0) continue;
        ++present;
        if (where[i] < 4) ++per[where[i]];
        const auto a = reinterpret_cast<std::uintptr_t>(pages[i]);
        if (w[(a >> 12) % w.size()] == where[i]) ++on;
    }
    counts = std::to_string(per[0]) + " " + std::to_string(per[1]) + " " + std::to_string(per[2]) +
             " " + std::to_string(per[3]);
    return present ? 100.0 * static_cast<double>(on) / static_cast<double>(present) : 0;
}

char* map(std::size_t len) {
    void* p = ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) die("mmap");
    ::madvise(p, len, MADV_NOHUGEPAGE);  // base pages: one interleave index each
    return static_cast<char*>(p);
}

int sequence() {
    for (unsigned n = 0; n < 4; ++n) {
        const std::string path =
            "/sys/kernel/mm/mempolicy/weighted_interleave/node" + std::to_string(n);
        if (write_file(path, std::to_string(kWeights[n])) != 0) die(("write " + path).c_str());
    }
    Report r;
    const Nodemask all{0, 1, 2, 3};
    Cgroup cg("nkweighted" + std::to_string(::getpid()), all);
    cg.add();

    constexpr std::size_t kLen = 16UL << 20;
    char* held = map(kLen);
    if (mbind(held, kLen, kWeighted, all.kernel_data(), Nodemask::kKernelMaxnode, 0) != 0)
        die("mbind weighted");
    for (std::size_t off = 0; off < kLen / 2; off += kPage) held[off] = 1;
    char* raw = map(1 << 20);
    if (::syscall(SYS_mbind, raw, 1UL << 20, kWeighted, all.kernel_data(), Nodemask::kKernelMaxnode,
                  0) != 0)
        die("syscall(SYS_mbind) weighted");
    char* bind = map(1 << 20);
    if (mbind(bind, 1 << 20, MPOL_BIND | kNumaBalancing, all.kernel_data(),
              Nodemask::kKernelMaxnode, 0) != 0)
        die("mbind bind|MPOL_F_NUMA_BALANCING");
    if (set_mempolicy(kWeighted, all.kernel_data(), Nodemask::kKernelMaxnode) != 0)
        die("set_mempolicy weighted");

    std::string counts;
    std::printf("start: held half on the model %.2f%%, pages per node %s\n",
                on_model_pct(held, kLen / 2, all, counts), counts.c_str());

    // Each policy must read back as the rule gives (a request for every
    // node of the cpuset follows the cpuset), mode 6, the bind's flag kept.
    auto holds = [&](const Nodemask& mems, std::string& what) {
        auto h = range_policy(held), s = range_policy(raw), b = range_policy(bind);
        auto t = thread_policy();
        if (!h || !s || !b || !t) return false;
        what = "range " + to_string(*h) + ", syscall range " + to_string(*s) + ", task " +
               to_string(*t) + ", bind " + to_string(*b) +
               ((b->flags & kNumaBalancing) ? " +numa_balancing" : "");
        return h->mode == Mode::WeightedInterleave && h->nodes == mems &&
               s->mode == Mode::WeightedInterleave && s->nodes == mems &&
               t->mode == Mode::WeightedInterleave && t->nodes == mems && b->mode == Mode::Bind &&
               b->nodes == mems && (b->flags & kNumaBalancing) != 0;
    };
    for (const Nodemask& mems : {Nodemask{0, 1}, all, Nodemask{2, 3}, all, Nodemask{1}, all}) {
        cg.set_mems(mems);
        std::string what;
        bool ok = wait_until([&] { return holds(mems, what); }, std::chrono::seconds(10));
        r.check(ok, "mems %s: %s", mems.to_string().c_str(), what.c_str());
        // numakeepd acts on a write after the kernel did (see above).
        std::this_thread::sleep_for(std::chrono::milliseconds(1000));
    }

    // The held half: respread by the weights over 0-3.
    double pct = 0;
    wait_until([&] { return (pct = on_model_pct(held, kLen / 2, all, counts)) >= 99.0; },
               std::chrono::seconds(60));
    r.check(pct >= 99.0, "held 8 MiB respread by the weights 3,1,2,1: %.2f%% on the model, per node %s",
            pct, counts.c_str());
    // A fresh fault of the other half splits by the weights too.
    for (std::size_t off = kLen / 2; off < kLen; off += kPage) held[off] = 1;
    pct = on_model_pct(held + kLen / 2, kLen / 2, all, counts);
    r.check(pct >= 99.0, "fresh 8 MiB split by the weights 3,1,2,1: %.2f%% on the model, per node %s",
            pct, counts.c_str());
    return r.finish();
}

void report(const char* what, long rc) {
    std::printf("%s rc %ld errno %s\n", what, rc, rc == 0 ? "-" : std::strerror(errno));
}

int errno_calls() {
    const Nodemask all{0, 1, 2, 3};
    char* p = map(1 << 20);
    errno = 0;
    report("mbind weighted 0-3",
           mbind(p, 1 << 20, kWeighted, all.kernel_data(), Nodemask::kKernelMaxnode, 0));
    report("syscall(SYS_mbind) weighted 0-3",
           ::syscall(SYS_mbind, p, 1UL << 20, kWeighted, all.kernel_data(), Nodemask::kKernelMaxnode, 0));
    report("mbind weighted|static 0-3",
           mbind(p, 1 << 20, kWeighted | kFlagStaticNodes, all.kernel_data(),
                 Nodemask::kKernelMaxnode, 0));
    report("mbind weighted|numa_balancing 0-3",
           mbind(p, 1 << 20, kWeighted | kNumaBalancing, all.kernel_data(), Nodemask::kKernelMaxnode, 0));
    report("mbind bind|numa_balancing 0-3",
           mbind(p, 1 << 20, MPOL_BIND | kNumaBalancing, all.kernel_data(), Nodemask::kKernelMaxnode, 0));
    report("set_mempolicy weighted empty",
           set_mempolicy(kWeighted, Nodemask{}.kernel_data(), Nodemask::kKernelMaxnode));
    report("syscall(SYS_set_mempolicy) weighted 0-3",
           ::syscall(SYS_set_mempolicy, kWeighted, all.kernel_data(), Nodemask::kKernelMaxnode));
    report("set_mempolicy weighted 0-3",
           set_mempolicy(kWeighted, all.kernel_data(), Nodemask::kKernelMaxnode));
    int mode = -1;
    Nodemask nodes;
    long rc = get_mempolicy(&mode, nodes.kernel_data(), kMaxNodes, nullptr, 0);
    std::printf("get_mempolicy rc %ld mode %d nodes %s\n", rc, mode, nodes.to_string().c_str());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc >= 2 && std::strcmp(argv[1], "sequence") == 0) return sequence();
    if (argc >= 2 && std::strcmp(argv[1], "errno") == 0) return errno_calls();
    std::fprintf(stderr, "usage: nk-weighted-vm sequence | errno\n");
    return 2;
}
