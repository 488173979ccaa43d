// SPDX-License-Identifier: MIT
// Placement in the guest (DESIGN.md, "Placement: the pages already held"):
// a program under libnumakeep.so holds memory under a policy, touched
// before any change; its cgroup's cpuset.mems goes 0-3 -> 0-1 -> 0-3; the
// pages must end where the intent puts them, judged page by page with
// move_pages(2) against a model written here from the kernel's rules
// (interleave: page offset in the mapping modulo the nodes; bind and
// preferred_many: inside their nodes; preferred: on its node).
//
//   nk-placement-vm MODE [options]
//     MODE: interleave | bind | preferred | preferred_many | task
//           (task: no policy of its own; run it under numactl --interleave=all)
//     --mib N        memory held (default 64)
//     --thp          2 MiB aligned, MADV_HUGEPAGE; interleave by the order-9 index
//     --ranges K     K ranges, alternately MODE and bind 2-3 (many small ranges)
//     --unmap-during unmap half and remap other memory there during the respread
//     --change-during mems 0-1 and 0-3 again in the middle of the respread
//     --expect-off   placement is off: the pages must stay where cgroup left them
//     --min-pct P    share of pages on the intent's nodes required (default 99)
// The daemon runs already (the case script starts it).
#include <numaif.h>
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "guest.hpp"

using namespace numakeep;
using namespace numakeep::guest;

namespace {

constexpr std::size_t kPage = 4096;
constexpr std::size_t kHuge = 2 * 1024 * 1024;

struct Options {
    std::string mode;
    std::size_t mib = 64;
    bool thp = false;
    unsigned ranges = 1;
    bool unmap_during = false;
    bool change_during = false;
    bool expect_off = false;
    double min_pct = 99.0;
};

struct Piece {
    char* addr;
    std::size_t len;
    Mode mode;
    Nodemask nodes;          // as requested, under 0-3
    std::vector<int> start;  // each page's node as the kernel's own fault placed it
};

int mode_number(Mode m) {
    return static_cast<int>(m);
}

// Whether the page at addr is where the intent under 0-3 puts it.
bool on_intent(const Piece& p, const char* addr, int node, bool thp) {
    if (node < 0) return true;  // not present: nothing to judge
    const auto a = reinterpret_cast<std::uintptr_t>(addr);
    switch (p.mode) {
        case Mode::Interleave: {
            // Anonymous: vm_pgoff is the start page, so the index is the
            // page number (order 0), or the 2 MiB number for a THP of a
            // 2 MiB aligned vma.
            const std::uintptr_t ilx = thp ? a >> 21 : a >> 12;
            return p.nodes.nth(static_cast<unsigned>(ilx % p.nodes.count())) == node;
        }
        case Mode::Bind:
        case Mode::PreferredMany:
        case Mode::Preferred: return p.nodes.test(static_cast<unsigned>(node));
        default: return true;
    }
}

struct Score {
    unsigned long on = 0, off = 0, absent = 0;
    unsigned long as_faulted = 0;  // interleave: on the node the kernel's fault chose under 0-3
    double faulted_pct() const {
        return on + off ? 100.0 * static_cast<double>(as_faulted) / static_cast<double>(on + off) : 0;
    }
    double pct() const { return on + off ? 100.0 * static_cast<double>(on) / static_cast<double>(on + off) : 0; }
};

Score score(const std::vector<Piece>& pieces, bool thp) {
    Score s;
    std::vector<void*> pages;
    std::vector<int> status;
    for (const Piece& p : pieces) {
        const std::size_t n = p.len / kPage;
        pages.resize(n);
        status.assign(n, -1);
        for (std::size_t i = 0; i < n; ++i) pages[i] = p.addr + i * kPage;
        if (kernel_call(SYS_move_pages, 0, n, pages.data(), nullptr, status.data(), 0) != 0) continue;
        for (std::size_t i = 0; i < n; ++i) {
            if (status[i] < 0) {
                ++s.absent;
                continue;
            }
            if (on_intent(p, p.addr + i * kPage, status[i], thp))
                ++s.on;
            else
                ++s.off;
            if (i < p.start.size() && status[i] == p.start[i]) ++s.as_faulted;
        }
    }
    return s;
}

std::string per_node(const std::vector<Piece>& pieces) {
    PageCounts all;
    all.per_node.resize(4);
    for (const Piece& p : pieces)
        if (auto c = pages_per_node(p.addr, p.len)) {
            for (unsigned n = 0; n < 4; ++n) all.per_node[n] += c->on(n);
            all.not_present += c->not_present;
        }
    return all.to_string();
}

Mode parse_mode(const std::string& s, Nodemask& nodes) {
    if (s == "interleave" || s == "task") {
        nodes = Nodemask{0, 1, 2, 3};
        return Mode::Interleave;
    }
    if (s == "bind") {
        nodes = Nodemask{2, 3};
        return Mode::Bind;
    }
    if (s == "preferred") {
        nodes = Nodemask{3};
        return Mode::Preferred;
    }
    if (s == "preferred_many") {
        nodes = Nodemask{2, 3};
        return Mode::PreferredMany;
    }
    die(("unknown mode " + s).c_str(), EINVAL);
}

long libnuma_mbind(void* addr, std::size_t len, Mode mode, const Nodemask& nodes) {
    // Through libnuma's mbind (numaif.h): the call the preload interposes.
    return mbind(addr, len, mode_number(mode), nodes.kernel_data(), Nodemask::kKernelMaxnode, 0);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) die("usage: nk-placement-vm MODE [options]", EINVAL);
    Options o;
    o.mode = argv[1];
    for (int i = 2; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--mib" && i + 1 < argc) o.mib = std::strtoul(argv[++i], nullptr, 10);
        else if (a == "--thp") o.thp = true;
        else if (a == "--ranges" && i + 1 < argc) o.ranges = static_cast<unsigned>(std::strtoul(argv[++i], nullptr, 10));
        else if (a == "--unmap-during") o.unmap_during = true;
        else if (a == "--change-during") o.change_during = true;
        else if (a == "--expect-off") o.expect_off = true;
        else if (a == "--min-pct" && i + 1 < argc) o.min_pct = std::strtod(argv[++i], nullptr);
        else die(("unknown option " + a).c_str(), EINVAL);
    }
    Report r;
    const Nodemask all{0, 1, 2, 3}, half{0, 1};
    Cgroup cg("nkplacement" + std::to_string(::getpid()), all);
    cg.add();

    Nodemask nodes;
    const Mode mode = parse_mode(o.mode, nodes);
    const bool task = o.mode == "task";
    const std::size_t len = o.mib << 20;

    // One mapping, aligned to 2 MiB (the THP case needs it, the others do
    // not mind), cut into the requested ranges.
    char* raw = static_cast<char*>(
        ::mmap(nullptr, len + kHuge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (raw == MAP_FAILED) die("mmap");
    char* base = reinterpret_cast<char*>((reinterpret_cast<std::uintptr_t>(raw) + kHuge - 1) & ~(kHuge - 1));
    if (base > raw) ::munmap(raw, static_cast<std::size_t>(base - raw));
    ::munmap(base + len, static_cast<std::size_t>(raw + len + kHuge - (base + len)));
    // Base pages unless asked for THPs: each page then has its own
    // interleave index (the guest's THP setting may be `always`).
    if (::madvise(base, len, o.thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE) != 0) die("madvise");

    std::vector<Piece> pieces;
    const std::size_t piece_len = (len / o.ranges) & ~(kPage - 1);
    for (unsigned k = 0; k < o.ranges; ++k) {
        Piece p{base + k * piece_len, piece_len, mode, nodes, {}};
        if (o.ranges > 1 && k % 2) {
            p.mode = Mode::Bind;
            p.nodes = Nodemask{2, 3};
        }
        if (!task && libnuma_mbind(p.addr, p.len, p.mode, p.nodes) != 0) die("mbind");
        pieces.push_back(p);
    }
    if (task) {
        auto tp = thread_policy();
        if (!tp || tp->mode != Mode::Interleave)
            skip("no interleaved task policy: run under numactl --interleave=all");
    }
    for (const Piece& p : pieces)
        for (std::size_t off = 0; off < p.len; off += kPage) p.addr[off] = 1;

    for (Piece& p : pieces) {
        std::vector<void*> pages(p.len / kPage);
        p.start.assign(pages.size(), -1);
        for (std::size_t i = 0; i < pages.size(); ++i) pages[i] = p.addr + i * kPage;
        kernel_call(SYS_move_pages, 0, pages.size(), pages.data(), nullptr, p.start.data(), 0);
    }
    Score s0 = score(pieces, o.thp);
    std::printf("start: %s (on intent %.1f%%)\n", per_node(pieces).c_str(), s0.pct());
    r.check(s0.pct() >= 99.0, "the pages start on their intent's nodes (%.1f%%)", s0.pct());
    // Let the agent connect and the daemon see it in this cgroup (a task
    // policy's agent says Hello before the move: the reconcile finds it).
    std::this_thread::sleep_for(std::chrono::milliseconds(task ? 3000 : 1500));

    cg.set_mems(half);
    // The rebind to 0-1 is done when the kernel's policy reads the rule's
    // nodes again (cgroup v2 moved the pages itself at the write).
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    std::printf("after 0-1: %s\n", per_node(pieces).c_str());

    const auto t0 = std::chrono::steady_clock::now();
    cg.set_mems(all);
    if (o.change_during || o.unmap_during)
        std::this_thread::sleep_for(std::chrono::milliseconds(700));  // inside the respread
    if (o.unmap_during) {
        // Unmap the second half and map fresh memory at the same place (no
        // policy there): the respread must not fault, fail or move it.
        Piece& last = pieces.back();
        const std::size_t cut = (last.len / 2) & ~(kHuge - 1);
        char* gone = last.addr + cut;
        const std::size_t gone_len = last.len - cut;
        if (::munmap(gone, gone_len) != 0) die("munmap");
        void* again = ::mmap(gone, gone_len, PROT_READ | PROT_WRITE,
                             MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
        r.check(again == gone, "memory mapped again where the respread was working");
        last.len = cut;
    }
    if (o.change_during) {
        cg.set_mems(half);
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        cg.set_mems(all);
    }

    // The respread ends when the share stops growing; give it up to 90 s.
    Score s;
    double last_pct = -1;
    int steady = 0;
    const double want = o.expect_off ? 0 : o.min_pct;
    for (int i = 0; i < 900; ++i) {
        s = score(pieces, o.thp);
        if (!o.expect_off && s.pct() >= want) break;
        steady = s.pct() == last_pct ? steady + 1 : 0;
        last_pct = s.pct();
        if (steady >= 30) break;  // 3 s without progress
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("after 0-3: %s (on intent %.2f%%, %.1f s)\n", per_node(pieces).c_str(), s.pct(),
                secs);
    if (o.expect_off)
        r.check(s.pct() < 90.0, "placement off: the held pages stay where cgroup left them (%.1f%%)",
                s.pct());
    else
        r.check(s.pct() >= o.min_pct, "%.2f%% of the held pages on the intent's nodes (want >= %.0f%%)",
                s.pct(), o.min_pct);
    // Interleave: moved pages and future faults agree, i.e. each page is
    // back on the node the kernel's own fault gave it under 0-3.
    if (!o.expect_off && mode == Mode::Interleave && o.ranges == 1)
        r.check(s.faulted_pct() >= o.min_pct,
                "%.2f%% of the pages on the node the kernel's own fault chose under 0-3",
                s.faulted_pct());
    if (o.thp) {
        long thp_kib = -1;
        if (auto text = read_file("/proc/self/smaps_rollup")) {
            auto at = text->find("AnonHugePages:");
            if (at != std::string::npos) thp_kib = std::strtol(text->c_str() + at + 14, nullptr, 10);
        }
        std::printf("AnonHugePages: %ld kB\n", thp_kib);
        r.check(thp_kib >= static_cast<long>(len >> 10) / 2,
                "huge pages stayed huge (%ld kB of %zu kB)", thp_kib, len >> 10);
    }
    return r.finish();
}
