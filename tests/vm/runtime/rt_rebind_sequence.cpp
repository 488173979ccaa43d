// SPDX-License-Identifier: MIT
// runtime-rebind-sequence: DESIGN.md's sequence of cpuset.mems writes run
// against libnumakeep.so with this program standing in for the daemon
// (fake_daemon.hpp): after each write it sends Rebind, and then every
// range and every thread with a task policy must read back from the kernel
// as rule(request, M0, M_now), and for `intent` as DESIGN.md's table. A
// range unmapped and re-mapped behind the runtime's back (inline syscalls)
// is left alone.
//
//   rt-rebind-sequence [intent|static|relative]
// re-executes itself with LD_PRELOAD=$NUMAKEEP_PRELOAD and
// NUMAKEEP_SEMANTICS set.
#include <numaif.h>
#include <pthread.h>
#include <sys/mman.h>

#include <atomic>
#include <cstdlib>

#include "fake_daemon.hpp"
#include "guest.hpp"
#include "numakeep/rebind.hpp"

using namespace numakeep;
using namespace numakeep::guest;
using numakeep::testing::FakeDaemon;

namespace {

constexpr std::size_t kLen = 4 * 4096;

struct TrackedRange {
    const char* name;
    Mode mode;
    Nodemask request;
    void* at = nullptr;
};

std::atomic<int> g_helper_tid{0};
std::atomic<bool> g_stop{false};
const Nodemask kHelperRequest{1, 2};

void* helper(void*) {
    // Inherits main's interleave, then asks for its own bind 1-2.
    g_helper_tid = static_cast<int>(kernel_syscall(SYS_gettid));
    set_mempolicy(MPOL_BIND, kHelperRequest.kernel_data(), Nodemask::kKernelMaxnode);
    while (!g_stop.load()) usleep(1000);
    return nullptr;
}

// What the kernel reports for a policy re-issued with `nodes`: PREFERRED
// keeps one node (the first of the mask, mpol_new_preferred()).
Nodemask as_kernel_reports(Mode mode, const Nodemask& nodes) {
    if (mode != Mode::Preferred || nodes.empty()) return nodes;
    return Nodemask{static_cast<unsigned>(nodes.first())};
}

[[noreturn]] void reexec(char** argv, const char* semantics) {
    const char* lib = std::getenv("NUMAKEEP_PRELOAD");
    if (!lib) skip("NUMAKEEP_PRELOAD is not set (run through tools/vm)");
    ::setenv("LD_PRELOAD", lib, 1);
    ::setenv("NUMAKEEP_SEMANTICS", semantics, 1);
    ::setenv("NUMAKEEP_SOCKET", "/run/numakeep-rt-seq/numakeepd.sock", 1);
    ::setenv("NUMAKEEP_DEBUG", "1", 1);
    ::setenv("NUMAKEEP_TEST_REEXEC", "1", 1);
    ::execv("/proc/self/exe", argv);
    die("execv");
}

}  // namespace

int main(int argc, char** argv) {
    const char* sem_name = argc > 1 ? argv[1] : "intent";
    Semantics sem;
    if (!parse_semantics(sem_name, sem)) {
        std::printf("usage: rt-rebind-sequence [intent|static|relative]\n");
        return 2;
    }
    if (sem == Semantics::Kernel) skip("kernel semantics re-issues nothing: nothing to check");
    if (!std::getenv("NUMAKEEP_TEST_REEXEC")) reexec(argv, sem_name);
    setvbuf(stdout, nullptr, _IOLBF, 0);
    std::printf("semantics %s\n", sem_name);

    Report rep;
    const Nodemask all = Nodemask::range(0, 3);
    if (mems_allowed() != all) skip("the guest does not have nodes 0-3");
    FakeDaemon daemon;
    if (!daemon.listen("/run/numakeep-rt-seq/numakeepd.sock")) return 1;
    Cgroup cg(std::string("nk-rt-seq-") + sem_name, all);
    cg.add();

    TrackedRange ranges[] = {
        {"interleave 0-3", Mode::Interleave, all},
        {"bind 0-3", Mode::Bind, all},
        {"preferred 3", Mode::Preferred, Nodemask{3}},
        {"preferred_many 2-3", Mode::PreferredMany, Nodemask{2, 3}},
        {"interleave 1-2", Mode::Interleave, Nodemask{1, 2}},
    };
    for (auto& r : ranges) {
        r.at = mmap(nullptr, kLen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        long rc = mbind(r.at, kLen, static_cast<int>(r.mode), r.request.kernel_data(),
                        Nodemask::kKernelMaxnode, 0);
        rep.check(rc == 0, "mbind %s", r.name);
    }
    // Unmapped and re-mapped by inline syscalls the runtime cannot see: the
    // new mapping has the default policy and must keep it.
    void* victim = mmap(nullptr, kLen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    rep.check(mbind(victim, kLen, MPOL_BIND, all.kernel_data(), Nodemask::kKernelMaxnode, 0) == 0,
              "mbind bind 0-3 on the range to be re-mapped behind our back");
    kernel_syscall(SYS_munmap, reinterpret_cast<long>(victim), kLen);
    long remapped =
        kernel_syscall(SYS_mmap, reinterpret_cast<long>(victim), kLen, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    rep.check(remapped == reinterpret_cast<long>(victim), "re-mapped it with inline syscalls");

    const Nodemask main_request = all;
    rep.check(
        set_mempolicy(MPOL_INTERLEAVE, main_request.kernel_data(), Nodemask::kKernelMaxnode) == 0,
        "main thread: set_mempolicy interleave 0-3");
    pthread_t t;
    pthread_create(&t, nullptr, helper, nullptr);
    while (!g_helper_tid.load()) usleep(1000);
    usleep(10000);

    proto::Hello hello{};
    if (!rep.check(daemon.accept_agent(hello), "the agent registered (%u ranges, %u threads)",
                   hello.ranges, hello.threads))
        return rep.finish();

    // DESIGN.md's intent table: interleave 0-3, bind 0-3, preferred 3,
    // preferred_many 2-3, for each mems of the sequence.
    struct Step {
        Nodemask mems;
        Nodemask inter, bind, pref, many;
    };
    const Nodemask n01{0, 1}, n23{2, 3}, n1{1};
    const Step steps[] = {
        {n01, n01, n01, n1, n01},
        {all, all, all, Nodemask{3}, n23},
        {n23, n23, n23, Nodemask{3}, n23},
        {all, all, all, Nodemask{3}, n23},
        {n1, n1, n1, n1, n1},
        {all, all, all, Nodemask{3}, n23},
    };
    std::uint64_t generation = 0;
    for (const Step& step : steps) {
        const std::string m = step.mems.to_string();
        cg.set_mems(step.mems);
        proto::RebindDone done{};
        bool ok = daemon.rebind(++generation, step.mems, done);
        rep.check(ok && done.errors == 0 && done.generation == generation,
                  "mems %s: RebindDone (%u rebound, %u dropped, %u threads, %u errors, errno %d, "
                  "%llu us)",
                  m.c_str(), done.ranges_rebound, done.ranges_dropped, done.threads_rebound,
                  done.errors, done.first_errno,
                  static_cast<unsigned long long>(done.duration_ns / 1000));
        if (generation == 1)
            rep.check(done.ranges_dropped == 1, "mems %s: the re-mapped range was dropped",
                      m.c_str());
        for (auto& r : ranges) {
            Request req{r.mode, 0, r.request, -1};
            Nodemask want = as_kernel_reports(r.mode, rebind_nodes(req, all, step.mems, sem).nodes);
            rep.expect_policy("mems " + m + ": range " + r.name, range_policy(r.at),
                              PolicyReadback{r.mode, 0, want});
            if (sem != Semantics::Intent) continue;
            const Nodemask* table = r.mode == Mode::Interleave && r.request == all ? &step.inter
                                    : r.mode == Mode::Bind                         ? &step.bind
                                    : r.mode == Mode::Preferred                    ? &step.pref
                                    : r.mode == Mode::PreferredMany                ? &step.many
                                                                                   : nullptr;
            if (table)
                rep.check(want == *table, "mems %s: rule for %s is DESIGN.md's %s", m.c_str(),
                          r.name, table->to_string().c_str());
        }
        rep.expect_policy("mems " + m + ": re-mapped range left alone", range_policy(victim),
                          PolicyReadback{Mode::Default, 0, Nodemask{}});
        Request main_req{Mode::Interleave, 0, main_request, -1};
        rep.expect_policy(
            "mems " + m + ": main thread", thread_policy(),
            PolicyReadback{Mode::Interleave, 0, rebind_nodes(main_req, all, step.mems, sem).nodes});
        std::vector<proto::PolicyEntry> rs, ts;
        if (rep.check(daemon.dump(rs, ts), "mems %s: DumpRecords", m.c_str())) {
            Request helper_req{Mode::Bind, 0, kHelperRequest, -1};
            Nodemask want = rebind_nodes(helper_req, all, step.mems, sem).nodes;
            const proto::PolicyEntry* h = nullptr;
            for (auto& e : ts)
                if (e.tid == g_helper_tid.load()) h = &e;
            rep.check(h && h->kernel_ok &&
                          h->kernel_mode == static_cast<std::uint16_t>(Mode::Bind) &&
                          h->kernel_now == want && h->rule_now == want,
                      "mems %s: helper thread bind %s (kernel %s)", m.c_str(),
                      want.to_string().c_str(), h ? h->kernel_now.to_string().c_str() : "-");
            rep.check(rs.size() == std::size(ranges), "mems %s: %zu range records", m.c_str(),
                      rs.size());
        }
    }
    g_stop = true;
    pthread_join(t, nullptr);
    return rep.finish();
}
