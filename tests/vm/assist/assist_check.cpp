// SPDX-License-Identifier: MIT
// nk-assist-check: kernel assistance (DESIGN.md "Zero window") through DESIGN.md's sequence
// of cpuset.mems writes (0-1, 0-3, 2-3, 0-3, 1, 0-3), under libnumakeep.so
// with NUMAKEEP_SEMANTICS=intent.
//
//   nk-assist-check zero-window
//       assistance on, no daemon: right after each write returns, every
//       assisted range and thread is held by the kernel as mode |
//       MPOL_F_RELATIVE_NODES, reads back (interposed get_mempolicy) as
//       rule(request, M0, M_now), and places new pages there.
//   nk-assist-check transcript 0|1
//       assistance off or on, numakeepd running (NUMAKEEP_SOCKET): after
//       each write, once every policy reads back as the rule, prints what
//       get_mempolicy answers through libnuma and through syscall() for
//       every mode and flag combination; the case compares the two
//       transcripts byte for byte.
//   nk-assist-check mixed
//       assistance on, numakeepd running: assisted ranges carry the intent
//       at once; preferred, preferred_many and a bind range with a home
//       node converge through the daemon; `numakeep show --json` marks the
//       assisted ones and the last rebind checked ranges.
//
// Re-executes itself with LD_PRELOAD=$NUMAKEEP_PRELOAD.
#include <numa.h>
#include <numaif.h>
#include <pthread.h>
#include <sys/mman.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "guest.hpp"
#include "numakeep/rebind.hpp"

using namespace numakeep;
using namespace numakeep::guest;

namespace {

constexpr std::size_t kPage = 4096;
constexpr std::size_t kStepPages = 16;
constexpr std::size_t kSteps = 8;
constexpr std::size_t kLen = kStepPages * kSteps * kPage;
constexpr int kRelative = kFlagRelativeNodes;

struct Tracked {
    Tracked(const char* n, Mode m, Nodemask r, int home = -1, bool a = false)
        : name(n), mode(m), request(r), home_node(home), assistable(a) {}
    const char* name;
    Mode mode;
    Nodemask request;
    int home_node = -1;
    bool assistable = false;
    void* at = nullptr;
    Recorded rec;
};

const std::vector<Nodemask> kSequence = {Nodemask::range(0, 1), Nodemask::range(0, 3),
                                         Nodemask::range(2, 3), Nodemask::range(0, 3),
                                         Nodemask{1},           Nodemask::range(0, 3)};

Nodemask rule(const Recorded& rec, const Nodemask& m) {
    return effective_nodes(rec.request, rec.mems_at_request, m, Semantics::Intent);
}

std::string nodes_of(const unsigned long* mask, unsigned long maxnode) {
    Nodemask m;
    unsigned long words = (maxnode - 1 + 63) / 64;
    for (unsigned long i = 0; i < words && i < kWords; ++i) m.words()[i] = mask[i];
    return m.to_string();
}

// One get_mempolicy answer, as text: "rc=0 mode=3 nodes=0-3" or "rc=-1 errno=22".
std::string answer(bool via_syscall, bool want_mode, bool want_nodes, unsigned long maxnode,
                   void* addr, unsigned long flags, bool print_mode = true) {
    int mode = -12345;
    unsigned long mask[kWords + 1];
    for (auto& w : mask) w = 0xdeadbeefUL;
    errno = 0;
    long r = via_syscall ? ::syscall(SYS_get_mempolicy, want_mode ? &mode : nullptr,
                                     want_nodes ? mask : nullptr, maxnode, addr, flags)
                         : ::get_mempolicy(want_mode ? &mode : nullptr, want_nodes ? mask : nullptr,
                                           maxnode, addr, flags);
    int err = errno;
    std::string s = "rc=" + std::to_string(r);
    if (r != 0) return s + " errno=" + std::to_string(err);
    if (want_mode && print_mode) s += " mode=" + std::to_string(mode);
    if (want_nodes) s += " nodes=" + nodes_of(mask, maxnode);
    return s;
}

// Every combination a program may ask, for one range (addr) or the
// calling thread (addr null). The node MPOL_F_NODE answers is not printed:
// for a range it is the node the page lives on (lookup_node() faults it
// in), for a thread the interleave cursor; both follow from where the
// mapping landed (ASLR) and from every page the thread faulted, so they
// differ from run to run with or without numakeep.
std::string transcript_of(void* addr) {
    const unsigned long a = addr ? static_cast<unsigned long>(MPOL_F_ADDR) : 0UL;
    std::string s;
    for (bool sc : {false, true}) {
        const char* via = sc ? "syscall" : "libnuma";
        s += std::string("  ") + via + " full: " + answer(sc, true, true, 1025, addr, a) + "\n";
        s += std::string("  ") + via + " maxnode65: " + answer(sc, true, true, 65, addr, a) + "\n";
        s += std::string("  ") + via + " maxnode4: " + answer(sc, true, true, 4, addr, a) + "\n";
        s += std::string("  ") + via + " maxnode2: " + answer(sc, true, true, 2, addr, a) + "\n";
        s += std::string("  ") + via + " mode-only: " + answer(sc, true, false, 1025, addr, a) +
             "\n";
        s += std::string("  ") + via + " nodes-only: " + answer(sc, false, true, 1025, addr, a) +
             "\n";
        s += std::string("  ") + via +
             " node+nodes: " + answer(sc, true, true, 1025, addr, a | MPOL_F_NODE, false) + "\n";
        s += std::string("  ") + via +
             " mems: " + answer(sc, true, true, 1025, nullptr, MPOL_F_MEMS_ALLOWED) + "\n";
    }
    return s;
}

// The kernel's own answer, read by an inline syscall (libnumakeep.so cannot
// touch it).
std::optional<PolicyReadback> raw_policy(void* addr) {
    return addr ? range_policy(addr) : thread_policy();
}

// What the interposed get_mempolicy answers, as a readback.
std::optional<PolicyReadback> interposed_policy(void* addr) {
    int mode = 0;
    Nodemask nodes;
    if (::get_mempolicy(&mode, nodes.kernel_data(), Nodemask::kKernelMaxnode, addr,
                        addr ? MPOL_F_ADDR : 0) != 0)
        return std::nullopt;
    PolicyReadback p;
    p.mode = static_cast<Mode>(static_cast<unsigned>(mode) & ~unsigned{kModeFlagsMask});
    p.flags = static_cast<std::uint16_t>(static_cast<unsigned>(mode) & kModeFlagsMask);
    p.nodes = nodes;
    return p;
}

PolicyReadback want_policy(const Tracked& t, const Nodemask& m) {
    PolicyReadback p;
    p.mode = t.mode;
    p.nodes = rule(t.rec, m);
    return p;
}

// Places kStepPages fresh pages of `base` (step `step`) and checks the
// nodes they landed on against `want`: exactly `want` for interleave,
// inside it for bind.
void check_placement(Report& r, const std::string& what, void* base, std::size_t step, Mode mode,
                     const Nodemask& want) {
    char* p = static_cast<char*>(base) + step * kStepPages * kPage;
    for (std::size_t i = 0; i < kStepPages; ++i) p[i * kPage] = 1;
    auto counts = pages_per_node(p, kStepPages * kPage);
    if (!counts) {
        r.check(false, "%s: move_pages: %s", what.c_str(), std::strerror(errno));
        return;
    }
    Nodemask on;
    for (unsigned n = 0; n < counts->per_node.size(); ++n)
        if (counts->per_node[n]) on.set(n);
    bool ok = mode == Mode::Interleave ? on == want : (on.subset_of(want) && !on.empty());
    r.check(ok, "%s: new pages on %s (%s), intent %s", what.c_str(), on.to_string().c_str(),
            counts->to_string().c_str(), want.to_string().c_str());
}

// --- the helper thread: its own task policy, checked on its own --------------

struct Helper {
    Tracked t{"thread helper bind 1-2", Mode::Bind, Nodemask{1, 2}};
    std::atomic<int> asked{-1};
    std::atomic<int> done{-1};
    int last = 0;
    std::atomic<bool> stop{false};
    std::function<void(Helper&)> work;
    void* scratch = nullptr;
};

void* helper_main(void* p) {
    auto& h = *static_cast<Helper*>(p);
    h.t.rec.mems_at_request = mems_allowed();
    if (::set_mempolicy(MPOL_BIND, h.t.request.kernel_data(), Nodemask::kKernelMaxnode) != 0)
        die("helper set_mempolicy");
    h.done = 0;
    while (!h.stop.load()) {
        int step = h.asked.load();
        if (step > h.done.load()) {
            h.work(h);
            h.done = step;
        }
        usleep(200);
    }
    return nullptr;
}

void run_on_helper(Helper& h, std::function<void(Helper&)> work) {
    h.work = std::move(work);
    const int n = ++h.last;
    h.asked = n;
    while (h.done.load() < n) usleep(200);
}

[[noreturn]] void reexec(char** argv, const char* assist) {
    const char* lib = std::getenv("NUMAKEEP_PRELOAD");
    if (!lib) skip("NUMAKEEP_PRELOAD is not set (run through tools/vm)");
    ::setenv("LD_PRELOAD", lib, 1);
    ::setenv("NUMAKEEP_SEMANTICS", "intent", 1);
    if (assist[0] == '-')
        ::unsetenv("NUMAKEEP_KERNEL_ASSIST");  // the daemon's default decides
    else
        ::setenv("NUMAKEEP_KERNEL_ASSIST", assist, 1);
    ::setenv("NUMAKEEP_DEBUG", "1", 1);
    ::setenv("NUMAKEEP_TEST_REEXEC", "1", 1);
    ::execv("/proc/self/exe", argv);
    die("execv");
}

std::string popen_text(const std::string& cmd) {
    std::string out;
    if (FILE* f = ::popen(cmd.c_str(), "r")) {
        char buf[4096];
        std::size_t n;
        while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
        ::pclose(f);
    }
    return out;
}

std::size_t count_of(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1))
        ++n;
    return n;
}

}  // namespace

// numakeepd's kernel_assist = yes, no NUMAKEEP_KERNEL_ASSIST: a range made
// before the runtime connected becomes assisted once the daemon welcomed it,
// with no cpuset write.
int daemon_default() {
    Cgroup cg("nkassist", Nodemask::range(0, 3));
    cg.add();
    Report r;
    Mapping m(16 * kPage);
    Nodemask all = Nodemask::range(0, 3);
    if (::mbind(m.data(), m.size(), MPOL_INTERLEAVE, all.kernel_data(), Nodemask::kKernelMaxnode,
                0) != 0)
        die("mbind");
    bool assisted = wait_until(
        [&] {
            auto raw = raw_policy(m.data());
            return raw && (raw->flags & kFlagRelativeNodes);
        },
        std::chrono::milliseconds(5000));
    auto raw = raw_policy(m.data());
    r.check(assisted, "the range made before the daemon's Welcome is held as %s",
            raw ? to_string(*raw).c_str() : "?");
    cg.set_mems(Nodemask::range(0, 1));
    auto got = interposed_policy(m.data());
    r.check(got && got->nodes == Nodemask::range(0, 1) && got->mode == Mode::Interleave,
            "right after the write to 0-1 it reads back as %s",
            got ? to_string(*got).c_str() : "?");
    return r.finish();
}

int main(int argc, char** argv) {
    const std::string what = argc > 1 ? argv[1] : "";
    if (what == "daemon-default") {
        if (!std::getenv("NUMAKEEP_TEST_REEXEC")) reexec(argv, "-");
        return daemon_default();
    }
    const bool transcript = what == "transcript";
    const bool zero_window = what == "zero-window";
    const bool mixed = what == "mixed";
    if (!transcript && !zero_window && !mixed) {
        std::printf("usage: nk-assist-check zero-window|transcript 0|1|mixed|daemon-default\n");
        return 2;
    }
    const char* assist = transcript ? (argc > 2 ? argv[2] : "1") : "1";
    if (!std::getenv("NUMAKEEP_TEST_REEXEC")) reexec(argv, assist);
    const bool assist_on = assist[0] == '1';

    Cgroup cg("nkassist", Nodemask::range(0, 3));
    cg.add();
    Report r;

    std::vector<Tracked> ranges = {
        {"interleave 0-3", Mode::Interleave, Nodemask::range(0, 3), -1, true},
        {"bind 0-3", Mode::Bind, Nodemask::range(0, 3), -1, true},
        {"interleave 1-2", Mode::Interleave, Nodemask{1, 2}, -1, true},
        {"bind 3", Mode::Bind, Nodemask{3}, -1, true},
        {"interleave 0-7 (beyond the mems)", Mode::Interleave, Nodemask::range(0, 7), -1, true},
    };
    if (!zero_window) {
        ranges.push_back({"preferred 3", Mode::Preferred, Nodemask{3}});
        ranges.push_back({"preferred_many 2-3", Mode::PreferredMany, Nodemask{2, 3}});
        ranges.push_back({"bind 2-3 home 3", Mode::Bind, Nodemask{2, 3}, 3, true});
        ranges.push_back({"local", Mode::Local, Nodemask{}});
    }
    for (auto& t : ranges) {
        t.at = ::mmap(nullptr, kLen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (t.at == MAP_FAILED) die("mmap");
        t.rec = Recorded{Request{t.mode, 0, t.request, t.home_node}, mems_allowed()};
        if (::mbind(t.at, kLen, static_cast<int>(t.mode), t.request.kernel_data(),
                    Nodemask::kKernelMaxnode, 0) != 0)
            die(("mbind " + std::string(t.name)).c_str());
        if (t.home_node >= 0 &&
            ::syscall(SYS_set_mempolicy_home_node, t.at, kLen, t.home_node, 0) != 0)
            die("set_mempolicy_home_node");
        // The first page, placed under 0-3 (MPOL_F_NODE answers its node).
        static_cast<char*>(t.at)[0] = 1;
    }
    // Weighted interleave (6.9+): a kernel without it refuses the program's
    // own call, and so it is never assisted.
    {
        void* w =
            ::mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        Nodemask all = Nodemask::range(0, 3);
        long rc = ::mbind(w, kPage, 6, all.kernel_data(), Nodemask::kKernelMaxnode, 0);
        int err = errno;
        auto held = range_policy(w);
        if (rc != 0)
            std::printf(
                "NOTE: weighted interleave refused by this kernel (errno %d): not assisted\n", err);
        else
            r.check(held && (held->flags & kFlagRelativeNodes) == (assist_on ? kRelative : 0),
                    "weighted interleave 0-3 held as %s", held ? to_string(*held).c_str() : "?");
        ::munmap(w, kPage);
    }
    Tracked main_thread{"thread main interleave 0-3", Mode::Interleave, Nodemask::range(0, 3), -1,
                        true};
    main_thread.rec =
        Recorded{Request{main_thread.mode, 0, main_thread.request, -1}, mems_allowed()};
    if (::set_mempolicy(MPOL_INTERLEAVE, main_thread.request.kernel_data(),
                        Nodemask::kKernelMaxnode) != 0)
        die("set_mempolicy");
    Helper helper;
    helper.t.assistable = true;
    helper.t.rec = Recorded{Request{Mode::Bind, 0, helper.t.request, -1}, Nodemask{}};
    pthread_t ht;
    if (pthread_create(&ht, nullptr, helper_main, &helper) != 0) die("pthread_create");
    while (helper.done.load() < 0) usleep(200);
    helper.t.rec.mems_at_request = Nodemask::range(0, 3);

    // Before any write: assisted (or not) as asked.
    for (auto& t : ranges) {
        auto raw = raw_policy(t.at);
        bool assisted = raw && (raw->flags & kFlagRelativeNodes);
        r.check(assisted == (assist_on && t.assistable), "%s: kernel holds %s at the request",
                t.name, raw ? to_string(*raw).c_str() : "?");
    }

    std::string text;
    int step = 0;
    for (const Nodemask& m : kSequence) {
        ++step;
        cg.set_mems(m);
        // Right after the write returns, before any daemon message could
        // have been handled: the assisted ones already carry the intent.
        if (!transcript) {
            std::printf("== cpuset.mems %s\n", m.to_string().c_str());
            for (auto& t : ranges) {
                if (!t.assistable) continue;
                auto raw = raw_policy(t.at);
                r.check(raw && (raw->flags & kFlagRelativeNodes), "%s: kernel holds %s", t.name,
                        raw ? to_string(*raw).c_str() : "?");
                r.expect_policy(std::string(t.name) + ": get_mempolicy", interposed_policy(t.at),
                                want_policy(t, m));
                check_placement(r, t.name, t.at, static_cast<std::size_t>(step), t.mode,
                                rule(t.rec, m));
            }
            {
                auto raw = raw_policy(nullptr);
                r.check(raw && (raw->flags & kFlagRelativeNodes), "%s: kernel holds %s",
                        main_thread.name, raw ? to_string(*raw).c_str() : "?");
                r.expect_policy(std::string(main_thread.name) + ": get_mempolicy",
                                interposed_policy(nullptr), want_policy(main_thread, m));
                Mapping fresh(kStepPages * kPage);
                check_placement(r, main_thread.name, fresh.data(), 0, Mode::Interleave,
                                rule(main_thread.rec, m));
            }
            run_on_helper(helper, [&](Helper& h) {
                auto raw = raw_policy(nullptr);
                r.check(raw && (raw->flags & kFlagRelativeNodes), "%s: kernel holds %s", h.t.name,
                        raw ? to_string(*raw).c_str() : "?");
                r.expect_policy(std::string(h.t.name) + ": get_mempolicy",
                                interposed_policy(nullptr), want_policy(h.t, m));
                Mapping fresh(kStepPages * kPage);
                check_placement(r, h.t.name, fresh.data(), 0, Mode::Bind, rule(h.t.rec, m));
            });
        }
        if (zero_window) continue;

        // Through the daemon: everything converges to the rule (at once for
        // the assisted ones).
        bool converged = wait_until(
            [&] {
                for (auto& t : ranges) {
                    if (t.mode == Mode::Local) continue;
                    auto raw = raw_policy(t.at);
                    auto got = interposed_policy(t.at);
                    if (!got || !raw || *got != want_policy(t, m)) return false;
                    // The kernel's own nodes too, for those not assisted.
                    if (!(raw->flags & kFlagRelativeNodes) && raw->nodes != rule(t.rec, m))
                        return false;
                }
                auto got = interposed_policy(nullptr);
                return got && *got == want_policy(main_thread, m);
            },
            std::chrono::milliseconds(8000));
        bool helper_ok = false;
        run_on_helper(helper, [&](Helper& h) {
            helper_ok = wait_until([&] {
                auto got = interposed_policy(nullptr);
                return got && *got == want_policy(h.t, m);
            });
        });
        r.check(converged && helper_ok, "mems %s: every policy reads back as the rule",
                m.to_string().c_str());
        if (mixed) {
            for (auto& t : ranges) {
                if (t.mode == Mode::Local) continue;
                auto raw = raw_policy(t.at);
                bool assisted = raw && (raw->flags & kFlagRelativeNodes);
                r.check(assisted == t.assistable, "%s: kernel holds %s after the daemon", t.name,
                        raw ? to_string(*raw).c_str() : "?");
            }
        }
        if (transcript) {
            text += "== cpuset.mems " + m.to_string() + "\n";
            for (auto& t : ranges)
                text += std::string("range ") + t.name + "\n" + transcript_of(t.at);
            text += std::string("thread main\n") + transcript_of(nullptr);
            run_on_helper(helper, [&](Helper&) {
                text += std::string("thread helper\n") + transcript_of(nullptr);
            });
            // libnuma's own readers.
            struct bitmask* il = numa_get_interleave_mask();
            struct bitmask* mb = numa_get_membind();
            Nodemask ilm, mbm;
            for (unsigned n = 0; n < 64; ++n) {
                if (numa_bitmask_isbitset(il, n)) ilm.set(n);
                if (numa_bitmask_isbitset(mb, n)) mbm.set(n);
            }
            text += "numa_get_interleave_mask " + ilm.to_string() + "\nnuma_get_membind " +
                    mbm.to_string() + "\nnuma_preferred " + std::to_string(numa_preferred()) + "\n";
            numa_bitmask_free(il);
            numa_bitmask_free(mb);
            // Errors: unmapped address, bad flags.
            void* hole = ::mmap(nullptr, kPage, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            ::munmap(hole, kPage);
            text += "unmapped: " + answer(false, true, true, 1025, hole, MPOL_F_ADDR) + " / " +
                    answer(true, true, true, 1025, hole, MPOL_F_ADDR) + "\n";
            text +=
                "addr without F_ADDR: " + answer(false, true, true, 1025, ranges[0].at, 0) + "\n";
            text +=
                "mems|addr: " +
                answer(false, true, true, 1025, ranges[0].at, MPOL_F_MEMS_ALLOWED | MPOL_F_ADDR) +
                "\n";
        }
    }
    helper.stop = true;
    pthread_join(ht, nullptr);

    if (mixed) {
        std::string pid = std::to_string(::getpid());
        std::string show = popen_text("numakeep show --json " + pid);
        std::string ps = popen_text("numakeep ps --json");
        std::size_t marked = count_of(show, "\"assisted\": true");
        r.check(marked >= 5, "numakeep show marks %zu entries assisted (want >= 5)", marked);
        r.check(ps.find("\"ranges_checked\": 0,") == std::string::npos &&
                    ps.find("\"ranges_checked\"") != std::string::npos,
                "the last rebind checked assisted ranges instead of re-issuing them");
        if (r.failures()) std::printf("%s\n%s\n", show.c_str(), ps.c_str());
    }
    if (transcript) {
        const char* out = std::getenv("NK_TRANSCRIPT");
        if (FILE* f = out ? std::fopen(out, "w") : stdout) {
            std::fputs(text.c_str(), f);
            if (f != stdout) std::fclose(f);
        }
    }
    for (auto& t : ranges) ::munmap(t.at, kLen);
    return r.finish();
}
