// SPDX-License-Identifier: MIT
// shmdt: the detached segment's records go, a neighbouring mapping that
// shares one record with it keeps its part.
#include <numaif.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>

#include "harness.hpp"

using namespace numakeep;
using namespace numakeep::testing;

int main(int argc, char** argv) {
    Harness h(argc, argv);
    unsigned long node0 = 1;
    constexpr std::size_t P = 4096;
    int id = shmget(IPC_PRIVATE, 4 * P, IPC_CREAT | 0600);
    if (id < 0) {
        std::printf("SKIP: shmget: %s\n", std::strerror(errno));
        return 77;
    }
    char* region = map_pages(8);
    munmap(region, 4 * P);
    char* seg = static_cast<char*>(shmat(id, region, 0));
    shmctl(id, IPC_RMID, nullptr);
    h.check(seg == region, "shmat at the start of a reserved region");
    h.check(mbind(region, 8 * P, MPOL_BIND, &node0, 2, 0) == 0,
            "one mbind over the segment and the anonymous pages after it");
    h.check(shmdt(seg) == 0, "shmdt");
    errno = 0;
    h.check(shmdt(seg) == -1 && errno == EINVAL, "second shmdt: -1 EINVAL");
    if (!h.preloaded()) return h.finish();
    std::vector<PolicyEntry> ranges, threads;
    if (!h.records(ranges, threads)) return h.finish();
    h.check(!any_record_in(ranges, region, 4 * P), "the segment's pages have no record");
    const PolicyEntry* e = find_range(ranges, region + 4 * P);
    h.check(e && e->end == reinterpret_cast<std::uint64_t>(region + 8 * P),
            "the anonymous neighbour keeps its record");
    return h.finish();
}
