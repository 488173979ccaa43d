// SPDX-License-Identifier: MIT
// tools/bench vm's placement figures (tests/bench/vm.sh runs it in the
// guest, under libnumakeep.so, with numakeepd logging to the file named by
// its first argument):
//   vm.placement_on_intent_pct        256 MiB interleaved over 0-3, touched,
//                                     mems 0-3 -> 0-1 -> 0-3: the share of its
//                                     pages on the node the intent gives once
//                                     the respread ends
//   vm.placement_move_vs_migratepages numakeep's pages per second (the
//                                     agent's own respread time, from the
//                                     daemon's log line) over numactl's
//                                     `migratepages` moving the same number of
//                                     pages between the same nodes (2,3 ->
//                                     0,1), in the same run
//   vm.placement_app_slowdown         passes over the memory a streaming
//                                     thread makes in the seconds after the
//                                     0-3 write with placement off, over the
//                                     same with placement on at the default
//                                     rate (argument `stream-off` /
//                                     `stream-on`: two processes, same run)
//
//   nk-bench-placement LOG main            the first two figures
//   nk-bench-placement LOG stream SECONDS  prints passes (for the third)
#include <sys/mman.h>
#include <numaif.h>
#include <unistd.h>

#include <atomic>
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
constexpr std::size_t kLen = 256UL << 20;

char* hold(std::size_t len) {
    void* p = ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) die("mmap");
    ::madvise(p, len, MADV_NOHUGEPAGE);  // base pages: each its own interleave index
    const Nodemask all{0, 1, 2, 3};
    if (mbind(p, len, MPOL_INTERLEAVE, all.kernel_data(), Nodemask::kKernelMaxnode, 0) != 0)
        die("mbind");
    auto* c = static_cast<char*>(p);
    for (std::size_t off = 0; off < len; off += kPage) c[off] = 1;
    return c;
}

// Share of present pages on (addr >> 12) % 4: the kernel's interleave
// index of an anonymous page, over 0-3.
double on_intent_pct(const char* base, std::size_t len) {
    const std::size_t n = len / kPage;
    std::vector<void*> pages(n);
    std::vector<int> status(n, -1);
    for (std::size_t i = 0; i < n; ++i) pages[i] = const_cast<char*>(base) + i * kPage;
    if (kernel_call(SYS_move_pages, 0, n, pages.data(), nullptr, status.data(), 0) != 0) return -1;
    std::size_t on = 0, present = 0;
    for (std::size_t i = 0; i < n; ++i) {
        if (status[i] < 0) continue;
        ++present;
        const auto a = reinterpret_cast<std::uintptr_t>(pages[i]);
        if (static_cast<int>((a >> 12) % 4) == status[i]) ++on;
    }
    return present ? 100.0 * static_cast<double>(on) / static_cast<double>(present) : 0;
}

// The daemon's newest log line of this process's respread: its
// generation, pages moved, seconds. False while there is none.
struct Respread {
    unsigned long generation = 0, moved = 0;
    double secs = 0;
};
bool last_respread(const char* log, Respread& out) {
    auto text = read_file(log);
    if (!text) return false;
    const std::string key = "respread pid " + std::to_string(::getpid()) + " ";
    std::size_t at = text->rfind(key);
    if (at == std::string::npos) return false;
    std::size_t g_at = text->find(" generation ", at);
    std::size_t gen = text->find(": ", at);
    std::size_t s_at = text->find(" gone, ", at);
    if (g_at == std::string::npos || gen == std::string::npos || s_at == std::string::npos)
        return false;
    out.generation = std::strtoul(text->c_str() + g_at + 12, nullptr, 10);
    out.moved = std::strtoul(text->c_str() + gen + 2, nullptr, 10);
    out.secs = std::strtod(text->c_str() + s_at + 7, nullptr);
    return true;
}

int main_figures(const char* log) {
    const Nodemask all{0, 1, 2, 3}, half{0, 1};
    Cgroup cg("nkbenchplace" + std::to_string(::getpid()), all);
    cg.add();
    char* base = hold(kLen);
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    cg.set_mems(half);
    // The shrink's own respread (nothing to move: the kernel moved the
    // pages itself) is logged first; the grow's is the one measured.
    Respread shrink, grow;
    if (!wait_until([&] { return last_respread(log, shrink); }, std::chrono::minutes(1)))
        die("no respread logged after the shrink", ETIMEDOUT);
    cg.set_mems(all);
    // The respread's end: the daemon's log line (at most 5 minutes).
    if (!wait_until([&] { return last_respread(log, grow) && grow.generation > shrink.generation; },
                    std::chrono::minutes(5)))
        die("no respread logged after the grow", ETIMEDOUT);
    const unsigned long moved = grow.moved;
    const double secs = grow.secs;
    const double pct = on_intent_pct(base, kLen);
    std::printf("vm.placement_on_intent_pct %.2f %%\n", pct);
    std::fprintf(stderr, "respread: %lu pages moved in %.3f s\n", moved, secs);

    // migratepages moves the same number of pages between the same nodes:
    // after the respread half the pages are on 2,3; it takes them to 0,1.
    const auto t0 = std::chrono::steady_clock::now();
    const std::string cmd = "migratepages " + std::to_string(::getpid()) + " 2,3 0,1";
    if (std::system(cmd.c_str()) != 0) die("migratepages", EIO);
    const double mp_secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    auto after = pages_per_node(base, kLen);
    std::fprintf(stderr, "migratepages: %.3f s, pages now %s\n", mp_secs,
                 after ? after->to_string().c_str() : "?");
    const double nk_rate = secs > 0 ? static_cast<double>(moved) / secs : 0;
    const double mp_rate = mp_secs > 0 ? static_cast<double>(moved) / mp_secs : 0;
    std::fprintf(stderr, "pages/s: numakeep %.0f, migratepages %.0f\n", nk_rate, mp_rate);
    std::printf("vm.placement_move_vs_migratepages %.2f ratio\n", mp_rate > 0 ? nk_rate / mp_rate : 0);
    return 0;
}

// Streams over 256 MiB from the 0-3 write on for `seconds`; prints passes.
int stream(double seconds) {
    const Nodemask all{0, 1, 2, 3}, half{0, 1};
    Cgroup cg("nkbenchstream" + std::to_string(::getpid()), all);
    cg.add();
    char* base = hold(kLen);
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    cg.set_mems(half);
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    cg.set_mems(all);
    const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    double passes = 0;
    volatile unsigned long sink = 0;
    while (std::chrono::steady_clock::now() < end) {
        unsigned long sum = 0;
        for (std::size_t off = 0; off < kLen; off += 64) sum += static_cast<unsigned char>(base[off]);
        sink = sink + sum;
        passes += 1;
    }
    std::printf("passes %.0f\n", passes);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc >= 3 && std::strcmp(argv[2], "main") == 0) return main_figures(argv[1]);
    if (argc >= 4 && std::strcmp(argv[2], "stream") == 0) return stream(std::strtod(argv[3], nullptr));
    std::fprintf(stderr, "usage: nk-bench-placement LOG main | LOG stream SECONDS\n");
    return 2;
}
