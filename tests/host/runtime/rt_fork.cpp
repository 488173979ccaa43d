// SPDX-License-Identifier: MIT
// Across fork: the child keeps the parent's records (the kernel copied the
// policies), drops the inherited connection, and registers under its own
// pid with the generation it inherited.
#include <numaif.h>
#include <sys/wait.h>

#include "harness.hpp"

using namespace numakeep;
using namespace numakeep::testing;

int main(int argc, char** argv) {
    Harness h(argc, argv);
    unsigned long node0 = 1;
    char* a = map_pages(4);
    h.check(mbind(a, 4 * 4096, MPOL_BIND, &node0, 2, 0) == 0, "parent: mbind");
    h.check(set_mempolicy(MPOL_INTERLEAVE, &node0, 2) == 0, "parent: set_mempolicy");
    std::vector<PolicyEntry> ranges, threads;
    if (h.preloaded()) {
        h.records(ranges, threads);
        proto::RebindDone done{};
        h.check(h.daemon().rebind(7, mems_allowed(), done) && done.generation == 7,
                "parent: generation 7 applied");
    }
    pid_t child = fork();
    if (child == 0) {
        h.check(mbind(a, 4096, MPOL_PREFERRED, &node0, 2, 0) == 0, "child: mbind works");
        if (h.preloaded()) {
            h.forget_connection();
            if (h.records(ranges, threads)) {
                h.check(h.hello().pid == getpid(), "child: registered under its own pid");
                h.check(h.hello().generation_applied == 7, "child: with the inherited generation");
                const PolicyEntry* e = find_range(ranges, a + 4096);
                h.check(e && e->mode == static_cast<std::uint16_t>(Mode::Bind),
                        "child: inherited range record");
                e = find_range(ranges, a);
                h.check(e && e->mode == static_cast<std::uint16_t>(Mode::Preferred),
                        "child: its own new request");
                const PolicyEntry* t = find_thread(threads, gettid_raw());
                h.check(t && t->mode == static_cast<std::uint16_t>(Mode::Interleave),
                        "child: inherited task policy, under the child's tid");
                h.check(threads.size() == 1, "child: only its one thread");
            }
        }
        std::fflush(stdout);
        _exit(h.finish());
    }
    int status = 0;
    h.check(child > 0 && waitpid(child, &status, 0) == child && WIFEXITED(status) &&
                WEXITSTATUS(status) == 0,
            "child passed");
    if (h.preloaded() && h.records(ranges, threads)) {
        const PolicyEntry* e = find_range(ranges, a);
        h.check(e && e->mode == static_cast<std::uint16_t>(Mode::Bind),
                "parent: its records are its own (unchanged by the child's mbind)");
    }
    return h.finish();
}
