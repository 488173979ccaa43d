// SPDX-License-Identifier: MIT
// A program that closes every descriptor, then one that dup2s a file over
// every descriptor: the agent notices its connection is gone, reconnects,
// and never writes into what is now the program's descriptor.
#include <fcntl.h>
#include <numaif.h>
#include <sys/stat.h>

#include "harness.hpp"

using namespace numakeep;
using namespace numakeep::testing;

int main(int argc, char** argv) {
    Harness h(argc, argv);
    unsigned long node0 = 1;
    char* a = map_pages(2);
    h.check(mbind(a, 2 * 4096, MPOL_BIND, &node0, 2, 0) == 0, "mbind (starts the agent)");
    std::vector<PolicyEntry> ranges, threads;
    if (h.preloaded()) h.records(ranges, threads);
    FakeDaemon& d = h.daemon();
    auto spared = [&](int fd) { return fd == d.listen_fd() || fd == d.conn_fd(); };

    // 1. close everything.
    for (int fd = 3; fd < 1024; ++fd)
        if (!spared(fd)) close(fd);
    if (h.preloaded()) {
        proto::RebindDone done{};
        d.rebind(1, mems_allowed(), done);  // wakes the agent; its descriptor is gone
        proto::Hello hello{};
        h.check(d.accept_agent(hello) && hello.ranges == 1,
                "after close-all: the agent reconnected (%u ranges)", hello.ranges);
        h.check(d.rebind(2, mems_allowed(), done) && done.ranges_rebound == 1,
                "after close-all: the new connection serves a rebind");
    }

    // 2. dup2 a file of the program's over every descriptor.
    char path[] = "/tmp/numakeep-fdh-XXXXXX";
    int file = mkstemp(path);
    unlink(path);
    for (int fd = 3; fd < 1024; ++fd)
        if (!spared(fd) && fd != file) dup2(file, fd);
    // Leave the agent a little room below the top (RLIMIT_NOFILE may be
    // 1024): numbers 100-109 free again, every other one the program's file.
    for (int fd = 100; fd < 110; ++fd)
        if (!spared(fd) && fd != file) close(fd);
    if (h.preloaded()) {
        proto::RebindDone done{};
        d.rebind(3, mems_allowed(), done);
        proto::Hello hello{};
        h.check(d.accept_agent(hello), "after dup2-all: the agent reconnected");
        h.check(d.rebind(4, mems_allowed(), done) && done.ranges_rebound == 1,
                "after dup2-all: the new connection serves a rebind");
    }
    struct stat st {};
    fstat(file, &st);
    h.check(st.st_size == 0, "nothing was written into the program's file (%lld bytes)",
            static_cast<long long>(st.st_size));
    return h.finish();
}
