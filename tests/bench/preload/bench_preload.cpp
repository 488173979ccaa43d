// SPDX-License-Identifier: MIT
// tools/bench preload: what libnumakeep.so costs a program.
//
//   preload.mbind_ratio         mbind of one page through libnuma's wrapper
//   preload.mbind_spread_ratio  the same over 64 pages in turn (no bound)
//   preload.munmap_ratio        munmap of untracked one-page mappings
//   preload.fork_ratio          fork + child _exit + waitpid
//   preload.startup_ratio       posix_spawn of /bin/true to its exit
//   preload.rss_kib             extra VmRSS of an idle program
// The workers point NUMAKEEP_SOCKET at a directory that does not exist, so
// no real daemon is involved (the agent, when one starts, sleeps in inotify).
//
// Why the four call ratios can be trusted (measure_paired()): a ratio is
// only the runtime's cost if the two sides do the same work under the same
// conditions, and on a shared host neither holds by itself:
//  - The machine changes under a benchmark (other processes, the other
//    CPU's load on the caches, frequency). So the two sides run at the same
//    time as two worker processes (this program, `--paired KIND`), one with
//    LD_PRELOAD and one without, pinned to the same CPU, taking turns one
//    batch each (which side goes first alternates): every batch of one side
//    has a batch of the other right beside it, and the figure is the median
//    of the ratios of those pairs. The best of separate runs, as this bench
//    did before, compared whatever moments each side happened to be lucky
//    in, and could read the runtime faster than no runtime.
//  - Time spent preempted is no one's cost: mbind and munmap batches are
//    timed in the process's CPU time (which includes the runtime's agent
//    thread, should it do anything); fork, whose child runs elsewhere, in
//    wall time, the median leaving out the preempted batches.
//  - The kernel's own work depends on the address space around the pages
//    (how the maple tree's nodes split, which page tables are shared), and
//    any preloaded library changes it: in a fixed layout (randomization
//    off) even an empty library read slower than none. So the pages are
//    mapped at the same place on both sides (isolated_mapping()), munmap
//    removes whole mappings rather than splitting one, and the pairs
//    come from 40 pairs of processes, each with the kernel's usual address
//    randomization: the figure averages over layouts instead of being one
//    layout's accident.
// Checked by building this program with NUMAKEEP_BENCH_PRELOAD naming no
// library (both sides the same: the ratio must read 1.00) and an empty
// library: both read within 0.97-1.03 run after run on a host loaded far
// beyond its CPUs, as the runtime's own munmap_ratio does.
//
//   bench-preload              every figure (what tools/bench preload runs)
//   bench-preload FIGURE...    only those, e.g. preload.munmap_ratio
#include <fcntl.h>
#include <numaif.h>
#include <sched.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

extern char** environ;

namespace {

constexpr int kRounds = 9;

double clock_ns(clockid_t clock) {
    timespec ts{};
    clock_gettime(clock, &ts);
    return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

// One batch of `n` calls of f, in ns per call of `clock`.
template <typename F>
double timed(clockid_t clock, int n, F&& f) {
    double t0 = clock_ns(clock);
    for (int i = 0; i < n; ++i) f(i);
    return (clock_ns(clock) - t0) / n;
}

// The fastest of `batches` batches of `n` calls of f in wall time: the
// machine is shared, and the minimum is what the code costs when nothing
// else interferes.
template <typename F>
double fastest(int batches, int n, F&& f) {
    double best = 1e300;
    for (int b = 0; b < batches; ++b) best = std::min(best, timed(CLOCK_MONOTONIC, n, f));
    return best;
}

// The pages of a worker, mapped where nothing else is and at the same
// address with and without the runtime: the start of a free 1 GiB-aligned
// gigabyte, so no page table they need is shared with memory the program
// touched (see the header for the rest of the layout's part).
char* isolated_mapping(std::size_t len) {
    for (std::uintptr_t at = 0x500000000000; at < 0x600000000000; at += 1UL << 30) {
        void* p = mmap(reinterpret_cast<void*>(at), len, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
        if (p == reinterpret_cast<void*>(at)) return static_cast<char*>(p);
        if (p != MAP_FAILED) munmap(p, len);  // a kernel without FIXED_NOREPLACE
    }
    return nullptr;
}

// Pins the calling process (and every thread it starts later, and what it
// execs) to `cpu`. A process that has run on two CPUs makes its munmaps and
// exits send TLB shootdowns to the other (flush_tlb_mm_range()), a cost
// that comes and goes with the scheduler, not with the runtime.
void pin_to(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    sched_setaffinity(0, sizeof set, &set);
}

void stay_on_this_cpu() {
    int cpu = sched_getcpu();
    if (cpu >= 0) pin_to(cpu);
}

// --- paired workers: one batch per token, its ns per operation back -------

// Batches of mbind and munmap count the process's CPU time: see the header.
constexpr clockid_t kCallClock = CLOCK_PROCESS_CPUTIME_ID;

// One side of a figure: set up once, then one timed batch per call.
struct Batches {
    virtual ~Batches() = default;
    virtual bool setup() = 0;
    virtual double batch() = 0;  // ns per operation
};

class MbindBatches : public Batches {
  public:
    bool setup() override {
        p_ = isolated_mapping(4096);
        if (!p_) return false;
        mbind(p_, 4096, MPOL_BIND, mask_, 1025, 0);  // warm up (and start the agent)
        return true;
    }
    double batch() override {
        return timed(kCallClock, 400, [&](int i) {
            mbind(p_, 4096, i & 1 ? MPOL_BIND : MPOL_PREFERRED, mask_, 1025, 0);
        });
    }

  private:
    char* p_ = nullptr;
    // libnuma's own way: numa_tonode_memory passes a full-size mask.
    unsigned long mask_[1024 / 64 + 1] = {1};
};

// The same calls over 64 pages in turn: no call repeats the range of the
// one before, so every one reaches the record store (the runtime notes
// mbind calls and files them in batches; a note over the same range as the
// last one replaces it). Reported, no bound.
class MbindSpreadBatches : public Batches {
  public:
    bool setup() override {
        p_ = isolated_mapping(kPages * 4096);
        if (!p_) return false;
        mbind(p_, 4096, MPOL_BIND, mask_, 1025, 0);
        return true;
    }
    double batch() override {
        return timed(kCallClock, 400, [&](int) {
            int i = next_++;
            mbind(p_ + (i % kPages) * 4096, 4096, (i / kPages) & 1 ? MPOL_BIND : MPOL_PREFERRED,
                  mask_, 1025, 0);
        });
    }

  private:
    static constexpr int kPages = 64;
    char* p_ = nullptr;
    int next_ = 0;
    unsigned long mask_[1024 / 64 + 1] = {1};
};

// munmap of untracked pages, each a whole mapping (what a program does when
// it frees what it mapped): each batch maps kMaps one-page mappings one
// page apart (the gap keeps the kernel from merging them) and unmaps them
// one by one from the top. Unmapping the last page of one larger mapping
// instead splits a VMA each call, whose cost swings with whether the maple
// tree's node at hand is full: a property of the layout, not of the runtime.
class MunmapBatches : public Batches {
  public:
    bool setup() override {
        base_ = isolated_mapping(kSpan);
        if (!base_) return false;
        munmap(base_, kSpan);
        return batch() > 0;
    }
    double batch() override {
        for (int i = 0; i < kMaps; ++i)
            if (mmap(page(i), 4096, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) != page(i))
                return -1;
        return timed(kCallClock, kMaps, [&](int i) { munmap(page(kMaps - 1 - i), 4096); });
    }

  private:
    static constexpr int kMaps = 100;
    static constexpr std::size_t kSpan = 2 * kMaps * 4096;
    char* page(int i) const { return base_ + 2 * static_cast<std::size_t>(i) * 4096; }
    char* base_ = nullptr;
};

class ForkBatches : public Batches {
  public:
    bool setup() override { return batch() > 0; }
    double batch() override {
        return timed(CLOCK_MONOTONIC, 10, [](int) {  // the child's exit counts too
            pid_t c = fork();
            if (c == 0) _exit(0);
            int st;
            waitpid(c, &st, 0);
        });
    }
};

// `--paired KIND`: sets up, then for each byte read on stdin runs one batch
// and writes its ns per operation (a double) on stdout; exits at EOF.
int paired_worker(const std::string& kind) {
    MbindBatches mbind_batches;
    MbindSpreadBatches spread_batches;
    MunmapBatches munmap_batches;
    ForkBatches fork_batches;
    Batches* b = kind == "mbind"          ? static_cast<Batches*>(&mbind_batches)
                 : kind == "mbind-spread" ? static_cast<Batches*>(&spread_batches)
                 : kind == "munmap"       ? static_cast<Batches*>(&munmap_batches)
                 : kind == "fork"         ? static_cast<Batches*>(&fork_batches)
                                          : nullptr;
    if (!b || !b->setup()) return 1;
    char token;
    while (read(0, &token, 1) == 1) {
        double v = b->batch();
        if (write(1, &v, sizeof v) != static_cast<ssize_t>(sizeof v)) return 1;
    }
    return 0;
}

double worker_rss() {
    int fd = open("/proc/self/status", O_RDONLY);
    char buf[4096];
    ssize_t len = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (len <= 0) return -1;
    buf[len] = '\0';
    const char* at = std::strstr(buf, "VmRSS:");
    return at ? std::strtod(at + 6, nullptr) : -1;
}

double worker_startup(bool preload, const char* lib) {
    constexpr int n = 200;
    std::vector<std::string> env_store;
    for (char** e = environ; *e; ++e)
        if (std::strncmp(*e, "LD_PRELOAD=", 11) != 0) env_store.emplace_back(*e);
    if (preload) env_store.push_back(std::string("LD_PRELOAD=") + lib);
    std::vector<char*> env;
    for (auto& s : env_store) env.push_back(s.data());
    env.push_back(nullptr);
    char arg0[] = "/bin/true";
    char* argv[] = {arg0, nullptr};
    (void)n;
    return fastest(40, 5, [&](int) {
        pid_t c;
        if (posix_spawn(&c, "/bin/true", nullptr, nullptr, argv, env.data()) != 0) return;
        int st;
        waitpid(c, &st, 0);
    });
}

// --- driver ------------------------------------------------------------------

// In a forked child: becomes `self MODE KIND`, with or without the preload.
[[noreturn]] void exec_worker(const char* self, const char* mode, const char* kind, bool preload) {
    setenv("NUMAKEEP_SOCKET", "/nonexistent-numakeep-bench/numakeepd.sock", 1);
    if (preload)
        setenv("LD_PRELOAD", NUMAKEEP_BENCH_PRELOAD, 1);
    else
        unsetenv("LD_PRELOAD");
    execl(self, self, mode, kind, static_cast<char*>(nullptr));
    _exit(127);
}

// Runs `self --worker kind` with or without the preload; its one number.
double run_worker(const char* self, const char* kind, bool preload) {
    int pipefd[2];
    if (pipe(pipefd) != 0) return -1;
    pid_t c = fork();
    if (c == 0) {
        dup2(pipefd[1], 1);
        close(pipefd[0]);
        exec_worker(self, "--worker", kind, preload);
    }
    close(pipefd[1]);
    char buf[64] = {};
    ssize_t n = read(pipefd[0], buf, sizeof buf - 1);
    close(pipefd[0]);
    int st;
    waitpid(c, &st, 0);
    return n > 0 ? std::strtod(buf, nullptr) : -1;
}

double best_of(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.front();  // the fastest round: see fastest()
}

struct Pair {
    double with, without;
};

Pair measure(const char* self, const char* kind) {
    std::vector<double> with, without;
    for (int r = 0; r < kRounds; ++r) {
        without.push_back(run_worker(self, kind, false));
        with.push_back(run_worker(self, kind, true));
    }
    return {best_of(with), best_of(without)};
}

// A `--paired KIND` worker, pinned to `cpu`: its token and result pipes.
struct PairedWorker {
    pid_t pid = -1;
    int token = -1, result = -1;

    bool start(const char* self, const char* kind, bool preload, int cpu) {
        int to[2], from[2];
        if (pipe(to) != 0) return false;
        if (pipe(from) != 0) return false;
        pid = fork();
        if (pid == 0) {
            dup2(to[0], 0);
            dup2(from[1], 1);
            for (int fd : {to[0], to[1], from[0], from[1]}) close(fd);
            pin_to(cpu);
            exec_worker(self, "--paired", kind, preload);
        }
        close(to[0]);
        close(from[1]);
        token = to[1];
        result = from[0];
        return pid > 0;
    }
    // One batch: ns per operation, or -1.
    double batch() const {
        char t = 1;
        double v = -1;
        if (write(token, &t, 1) != 1) return -1;
        if (read(result, &v, sizeof v) != static_cast<ssize_t>(sizeof v)) return -1;
        return v;
    }
    void stop() {
        close(token);
        close(result);
        int st;
        if (pid > 0) waitpid(pid, &st, 0);
    }
};

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? -1 : v[v.size() / 2];
}

struct PairedFigure {
    double ratio, with, without, ratio_p25, ratio_p75;
};

// One figure, as the header says: kProcesses pairs of workers, each pair on
// the CPU the driver is on, kPairs batches each side after kWarmup.
PairedFigure measure_paired(const char* self, const char* kind) {
    constexpr int kProcesses = 40, kWarmup = 2, kPairs = 30;
    int cpu = sched_getcpu();
    if (cpu < 0) cpu = 0;
    std::vector<double> ratios, w, wo;
    bool ok = true;
    for (int p = 0; ok && p < kProcesses; ++p) {
        PairedWorker with, without;
        ok = without.start(self, kind, false, cpu) && with.start(self, kind, true, cpu);
        for (int i = 0; ok && i < kWarmup + kPairs; ++i) {
            // Alternate which side goes first, so neither always follows the other.
            double a = i & 1 ? with.batch() : without.batch();
            double b = i & 1 ? without.batch() : with.batch();
            double vw = i & 1 ? a : b, vwo = i & 1 ? b : a;
            ok = vw > 0 && vwo > 0;
            if (!ok || i < kWarmup) continue;
            ratios.push_back(vw / vwo);
            w.push_back(vw);
            wo.push_back(vwo);
        }
        with.stop();
        without.stop();
    }
    if (!ok) return {-1, -1, -1, -1, -1};
    std::vector<double> sorted = ratios;
    std::sort(sorted.begin(), sorted.end());
    return {median(ratios), median(w), median(wo), sorted[sorted.size() / 4],
            sorted[sorted.size() * 3 / 4]};
}

}  // namespace

int main(int argc, char** argv) {
    if (argc == 3 && std::strcmp(argv[1], "--paired") == 0) return paired_worker(argv[2]);
    if (argc == 3 && std::strcmp(argv[1], "--worker") == 0) {
        std::string kind = argv[2];
        stay_on_this_cpu();
        double v = kind == "rss"               ? worker_rss()
                   : kind == "startup-with"    ? worker_startup(true, NUMAKEEP_BENCH_PRELOAD)
                   : kind == "startup-without" ? worker_startup(false, nullptr)
                                               : -1;
        std::printf("%.3f\n", v);
        return v < 0 ? 1 : 0;
    }
    const char* self = "/proc/self/exe";
    char path[4096];
    ssize_t n = readlink(self, path, sizeof path - 1);
    if (n <= 0) return 1;
    path[n] = '\0';

    // `bench-preload FIGURE...` measures only those (e.g. preload.munmap_ratio).
    auto wanted = [&](const char* name) {
        if (argc < 2) return true;
        for (int i = 1; i < argc; ++i)
            if (std::strcmp(argv[i], name) == 0) return true;
        return false;
    };
    bool ok = true;
    auto ratio = [&](const char* name, const char* kind) {
        if (!wanted(name)) return;
        PairedFigure f = measure_paired(path, kind);
        ok &= f.ratio > 0;
        std::fprintf(stderr,
                     "%s: median %.1f ns with, %.1f ns without; ratio of pairs: median %.3f, "
                     "quartiles %.3f-%.3f\n",
                     name, f.with, f.without, f.ratio, f.ratio_p25, f.ratio_p75);
        std::printf("%s %.3f ratio\n", name, f.ratio);
    };
    ratio("preload.mbind_ratio", "mbind");
    ratio("preload.mbind_spread_ratio", "mbind-spread");
    ratio("preload.munmap_ratio", "munmap");
    ratio("preload.fork_ratio", "fork");

    if (!wanted("preload.startup_ratio") && !wanted("preload.rss_kib")) return ok ? 0 : 1;
    std::vector<double> with, without;
    for (int r = 0; r < kRounds; ++r) {
        without.push_back(run_worker(path, "startup-without", false));
        with.push_back(run_worker(path, "startup-without", false) > 0
                           ? run_worker(path, "startup-with", false)
                           : -1);
    }
    double sw = best_of(with), so = best_of(without);
    ok &= sw > 0 && so > 0;
    std::fprintf(stderr, "preload.startup_ratio: %.1f us with, %.1f us without\n", sw / 1e3,
                 so / 1e3);
    std::printf("preload.startup_ratio %.3f ratio\n", sw / so);

    Pair rss = measure(path, "rss");
    ok &= rss.with > 0 && rss.without > 0;
    std::fprintf(stderr, "preload.rss_kib: %.0f KiB with, %.0f KiB without\n", rss.with,
                 rss.without);
    std::printf("preload.rss_kib %.0f KiB\n", rss.with - rss.without);
    return ok ? 0 : 1;
}
