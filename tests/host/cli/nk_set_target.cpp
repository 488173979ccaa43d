// SPDX-License-Identifier: MIT
// nk-set-target DIR THREADS MIB POLICY: the program `numakeep set` is tried
// on (tests/host/cli set case, tests/vm/set). A dynamic program (so
// libnumakeep.so loads into it) that maps MIB MiB, mbind()s it itself when
// POLICY is "interleave" (every allowed node; "none": no policy of its
// own), touches it, starts THREADS threads that only wait, writes
// "PID ADDR LEN" to DIR/info and the thread ids to DIR/tids, then obeys
// files that appear in DIR (checked every 20 ms):
//   mbind   mbind(MPOL_BIND, node 0) over the first half of the region, once
//           (its own call after a set: it must win); then DIR/mbind.done
//   spawn   start 2 more threads (created after a set --task); their ids
//           go to DIR/spawned
//   touch   fault the region in again (after a policy change); DIR/touch.done
//   quit    exit 0
// nk-set-target --as-uid UID COMMAND [ARG...]: runs COMMAND as UID (gid
// too), without capabilities: the guest's busybox has no setpriv.
// POLICY "ranges:N": instead of one region, N one-page ranges, every other
// page of a mapping, each mbind()-ed by itself (interleave over every
// allowed node): the records `set --ranges` re-issues (tools/bench vm).
// nk-set-target --bare-mbind ROUNDS N: the floor of that work, ROUNDS x N
// mbind calls over N such ranges (bind and interleave in turn) in a plain
// loop in this one process; prints "bare_ms MS".
#include <grp.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>

namespace {

std::string g_dir;

bool exists(const char* name) {
    struct stat st;
    return stat((g_dir + "/" + name).c_str(), &st) == 0;
}

void write_file(const char* name, const std::string& text) {
    std::string tmp = g_dir + "/" + name + ".tmp";
    FILE* f = std::fopen(tmp.c_str(), "w");
    if (!f) return;
    std::fputs(text.c_str(), f);
    std::fclose(f);
    std::rename(tmp.c_str(), (g_dir + "/" + name).c_str());
}

pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
std::string g_tids;

void* waiter(void*) {
    pthread_mutex_lock(&g_lock);
    g_tids += std::to_string(syscall(SYS_gettid)) + "\n";
    pthread_mutex_unlock(&g_lock);
    for (;;) pause();
    return nullptr;
}

void start_threads(int n) {
    for (int i = 0; i < n; ++i) {
        pthread_t t;
        pthread_create(&t, nullptr, waiter, nullptr);
        pthread_detach(t);
    }
}

std::string wait_tids(std::size_t lines) {
    for (;;) {
        pthread_mutex_lock(&g_lock);
        std::string s = g_tids;
        pthread_mutex_unlock(&g_lock);
        std::size_t n = 0;
        for (char c : s) n += c == '\n';
        if (n >= lines) return s;
        usleep(1000);
    }
}

double now_ms() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return double(ts.tv_sec) * 1e3 + double(ts.tv_nsec) / 1e6;
}

// N one-page ranges, every other page of a fresh mapping, each mbind()-ed
// to interleave over `nodes`; the mapping's start, or nullptr.
char* bind_pages(unsigned n, const unsigned long* nodes) {
    const std::size_t len = std::size_t(2) * n * 4096;
    auto* p = static_cast<char*>(
        mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (p == MAP_FAILED) return nullptr;
    for (unsigned i = 0; i < n; ++i)
        if (syscall(SYS_mbind, p + std::size_t(2) * i * 4096, 4096UL, 3, nodes, 1025UL, 0U) != 0)
            return nullptr;
    return p;
}

void touch(char* p, std::size_t len) {
    for (std::size_t off = 0; off < len; off += 4096) p[off] = static_cast<char>(off);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc >= 4 && std::strcmp(argv[1], "--as-uid") == 0) {
        const auto id = static_cast<unsigned>(std::atoi(argv[2]));
        if (setgroups(0, nullptr) != 0 || setgid(id) != 0 || setuid(id) != 0) {
            std::perror("nk-set-target: setuid");
            return 2;
        }
        execvp(argv[3], argv + 3);
        std::perror("nk-set-target: exec");
        return 127;
    }
    if (argc == 4 && std::strcmp(argv[1], "--bare-mbind") == 0) {
        const int rounds = std::atoi(argv[2]);
        const auto n = static_cast<unsigned>(std::atoi(argv[3]));
        unsigned long allowed[16] = {};
        syscall(SYS_get_mempolicy, nullptr, allowed, 1024UL, nullptr, 4UL);
        // One set of ranges, re-bound ROUNDS times (a mapping per round would
        // run into vm.max_map_count).
        char* p = bind_pages(n, allowed);
        if (!p) return 1;
        const double t0 = now_ms();
        for (int r = 0; r < rounds; ++r)
            for (unsigned i = 0; i < n; ++i)
                if (syscall(SYS_mbind, p + std::size_t(2) * i * 4096, 4096UL, r % 2 ? 3 : 2,
                            allowed, 1025UL, 0U) != 0)
                    return 1;
        std::printf("bare_ms %.1f\n", now_ms() - t0);
        return 0;
    }
    if (argc != 5) {
        std::fprintf(stderr, "usage: nk-set-target DIR THREADS MIB interleave|none\n");
        return 2;
    }
    g_dir = argv[1];
    const int threads = std::atoi(argv[2]);
    const std::size_t len = std::size_t(std::atoi(argv[3])) << 20;
    auto* p = static_cast<char*>(
        mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (p == MAP_FAILED) return 1;
    if (std::strncmp(argv[4], "ranges:", 7) == 0) {
        unsigned long allowed[16] = {};
        syscall(SYS_get_mempolicy, nullptr, allowed, 1024UL, nullptr, 4UL);
        if (!bind_pages(static_cast<unsigned>(std::atoi(argv[4] + 7)), allowed)) {
            std::perror("mbind");
            return 1;
        }
    } else if (std::strcmp(argv[4], "interleave") == 0) {
        unsigned long allowed[16] = {};
        syscall(SYS_get_mempolicy, nullptr, allowed, 1024UL, nullptr, 4UL);  // MPOL_F_MEMS_ALLOWED
        if (syscall(SYS_mbind, p, len, 3 /* MPOL_INTERLEAVE */, allowed, 1025UL, 0U) != 0) {
            std::perror("mbind");
            return 1;
        }
    }
    touch(p, len);
    start_threads(threads);
    std::string tids = std::to_string(getpid()) + "\n" + wait_tids(std::size_t(threads));
    write_file("tids", tids);
    char info[96];
    std::snprintf(info, sizeof info, "%d %p %zu\n", getpid(), static_cast<void*>(p), len);
    write_file("info", info);
    bool mbound = false, spawned = false;
    for (;;) {
        if (exists("quit")) return 0;
        if (!mbound && exists("mbind")) {
            mbound = true;
            unsigned long node0 = 1;
            long r = syscall(SYS_mbind, p, len / 2, 2 /* MPOL_BIND */, &node0, 2UL, 0U);
            write_file("mbind.done", r == 0 ? "0\n" : std::string(std::strerror(errno)) + "\n");
        }
        if (!spawned && exists("spawn")) {
            spawned = true;
            start_threads(2);
            write_file("spawned", wait_tids(std::size_t(threads) + 2));
        }
        if (exists("touch") && !exists("touch.done")) {
            touch(p, len);
            write_file("touch.done", "0\n");
        }
        usleep(20000);
    }
}
