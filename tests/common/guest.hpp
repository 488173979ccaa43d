// SPDX-License-Identifier: MIT
// Helpers for test programs that run in the 4-node guest (tools/vm).
//
// Header-only and independent of libnumakeep.so: policies are read with
// get_mempolicy/move_pages issued by an inline syscall instruction (never
// libnuma, never libc's interposable syscall()), so what a test prints is
// what the kernel holds, with or without the preload. Programs that must be seen
// by the preload make their own mbind/set_mempolicy calls (libnuma's
// <numaif.h> wrappers, which the preload interposes); sys_mbind() and
// sys_set_mempolicy() here are for tests of the kernel alone.
//
// Use from a tests/vm/<dir>/meson.build:
//   executable('my-test', 'my-test.cpp', dependencies: core_dep,
//              include_directories: test_common_inc)
// and `#include "guest.hpp"`.
//
// Conventions (tests/vm): print what you check, exit 0 = pass, 77 = skip,
// anything else = fail. Report below prints "PASS: ..." / "FAIL: ..." lines
// and gives the exit status.
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "numakeep/mpol.hpp"
#include "numakeep/nodemask.hpp"
#include "numakeep/policy.hpp"
#include "numakeep/proc_stat.hpp"

namespace numakeep::guest {

inline constexpr const char* kCgroupRoot = "/sys/fs/cgroup";

// --- failures --------------------------------------------------------------

// Prints "FAIL: <what>: <strerror(err)>" and exits 1: for setup steps a test
// cannot go on without (creating its cgroup, mapping memory).
[[noreturn]] inline void die(const char* what, int err = errno) {
    std::printf("FAIL: %s: %s\n", what, std::strerror(err));
    std::fflush(stdout);
    std::exit(1);
}
// Prints "SKIP: <why>" and exits 77 (meson's skip status).
[[noreturn]] inline void skip(const char* why) {
    std::printf("SKIP: %s\n", why);
    std::fflush(stdout);
    std::exit(77);
}

// --- node lists --------------------------------------------------------------

// Parses the kernel's list format ("0-3,7", "" = empty, trailing newline
// allowed); nullopt on anything else.
inline std::optional<Nodemask> parse_nodes(std::string_view s) {
    Nodemask m;
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.remove_suffix(1);
    std::size_t i = 0;
    auto number = [&](unsigned& out) {
        if (i >= s.size() || s[i] < '0' || s[i] > '9') return false;
        unsigned v = 0;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
            v = v * 10 + static_cast<unsigned>(s[i++] - '0');
            if (v >= kMaxNodes) return false;
        }
        out = v;
        return true;
    };
    while (i < s.size()) {
        unsigned lo = 0, hi = 0;
        if (!number(lo)) return std::nullopt;
        hi = lo;
        if (i < s.size() && s[i] == '-') {
            ++i;
            if (!number(hi) || hi < lo) return std::nullopt;
        }
        for (unsigned n = lo; n <= hi; ++n) m.set(n);
        if (i < s.size()) {
            if (s[i] != ',') return std::nullopt;
            ++i;
            if (i == s.size()) return std::nullopt;
        }
    }
    return m;
}

// --- files -------------------------------------------------------------------

// Writes `text` to an existing file in one write(2) (cgroup files want
// exactly that). Returns 0 or the errno of the failing call.
inline int write_file(const std::string& path, std::string_view text) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return errno;
    ssize_t n;
    do {
        n = ::write(fd, text.data(), text.size());
    } while (n < 0 && errno == EINTR);
    int err = n < 0 ? errno : (static_cast<std::size_t>(n) == text.size() ? 0 : EIO);
    ::close(fd);
    return err;
}
// The whole file, or nullopt (errno set) when it cannot be read.
inline std::optional<std::string> read_file(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return std::nullopt;
    std::string out;
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            int err = errno;
            ::close(fd);
            errno = err;
            return std::nullopt;
        }
        if (n == 0) break;
        out.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return out;
}

// A "Field:  N kB" line of /proc/PID/status, in KiB ("VmRSS", "RssAnon"),
// or -1 when the process or the field is not there.
inline long proc_status_kib(pid_t pid, std::string_view field) {
    auto status = read_file("/proc/" + std::to_string(pid) + "/status");
    if (!status) return -1;
    const std::string key = "\n" + std::string(field) + ":";
    auto at = status->find(key);
    return at == std::string::npos ? -1
                                   : std::strtol(status->c_str() + at + key.size(), nullptr, 10);
}

// CPU time of a process so far, user and system (fields 14 and 15 of
// /proc/PID/stat), in clock ticks; -1 when it cannot be read.
inline long cpu_ticks(pid_t pid) {
    auto stat = read_file("/proc/" + std::to_string(pid) + "/stat");
    if (!stat) return -1;
    auto utime = stat_field(*stat, kStatUtime);
    auto stime = stat_field(*stat, kStatStime);
    return utime && stime ? static_cast<long>(*utime + *stime) : -1;
}

// --- cgroups -------------------------------------------------------------------

// Writes a cgroup's cpuset.mems ("0-1"). Returns 0 or errno (EINVAL for
// nodes outside the parent's mems, as cpuset_write_resmask answers).
inline int write_mems(const std::string& cgroup_path, const Nodemask& mems) {
    return write_file(cgroup_path + "/cpuset.mems", mems.to_string());
}
// Moves a task (0 = the caller) into a cgroup. Returns 0 or errno.
inline int move_pid(const std::string& cgroup_path, pid_t pid = 0) {
    if (pid == 0) pid = ::getpid();
    return write_file(cgroup_path + "/cgroup.procs", std::to_string(pid));
}
// Makes the cpuset controller available to a cgroup's children
// ("+cpuset" into cgroup.subtree_control). Returns 0 or errno.
inline int enable_cpuset(const std::string& cgroup_path) {
    return write_file(cgroup_path + "/cgroup.subtree_control", "+cpuset");
}

// A child of /sys/fs/cgroup (or of `parent`) with its own cpuset.mems.
// The destructor moves whatever is still inside back to the parent and
// removes it, so a test leaves the guest's hierarchy as it found it.
class Cgroup {
  public:
    // Creates (or reuses) parent/name and writes mems; dies on failure.
    Cgroup(const std::string& name, const Nodemask& mems, const std::string& parent = kCgroupRoot)
        : parent_(parent), path_(parent + "/" + name) {
        if (::mkdir(path_.c_str(), 0755) != 0 && errno != EEXIST) die(("mkdir " + path_).c_str());
        set_mems(mems);
    }
    Cgroup(const Cgroup&) = delete;
    Cgroup& operator=(const Cgroup&) = delete;
    ~Cgroup() { remove(); }

    const std::string& path() const { return path_; }

    // Writes cpuset.mems; dies on failure (use try_set_mems to test errors).
    void set_mems(const Nodemask& mems) const {
        if (int err = write_mems(path_, mems); err != 0)
            die(("write " + path_ + "/cpuset.mems = " + mems.to_string()).c_str(), err);
    }
    int try_set_mems(const Nodemask& mems) const { return write_mems(path_, mems); }
    // cpuset.mems.effective as the kernel reports it.
    Nodemask effective_mems() const {
        auto text = read_file(path_ + "/cpuset.mems.effective");
        if (!text) die(("read " + path_ + "/cpuset.mems.effective").c_str());
        auto m = parse_nodes(*text);
        if (!m) die(("parse cpuset.mems.effective: " + *text).c_str(), EINVAL);
        return *m;
    }
    // Moves a task (0 = the caller) in; dies on failure.
    void add(pid_t pid = 0) const {
        if (int err = move_pid(path_, pid); err != 0) die(("move into " + path_).c_str(), err);
    }
    // Moves every task back to the parent and removes the cgroup; quiet and
    // idempotent (a destructor must not die).
    void remove() {
        if (removed_) return;
        removed_ = true;
        if (auto procs = read_file(path_ + "/cgroup.procs")) {
            std::size_t at = 0;
            while (at < procs->size()) {
                std::size_t end = procs->find('\n', at);
                if (end == std::string::npos) end = procs->size();
                if (end > at) write_file(parent_ + "/cgroup.procs", procs->substr(at, end - at));
                at = end + 1;
            }
        }
        ::rmdir(path_.c_str());
    }

  private:
    std::string parent_;
    std::string path_;
    bool removed_ = false;
};

// Mems_allowed_list of /proc/PID/status (0 = self): the task's ground truth.
inline Nodemask mems_allowed(pid_t pid = 0) {
    std::string path = pid == 0 ? "/proc/self/status" : "/proc/" + std::to_string(pid) + "/status";
    auto text = read_file(path);
    if (!text) die(("read " + path).c_str());
    constexpr std::string_view key = "Mems_allowed_list:";
    std::size_t at = text->find(key);
    if (at == std::string::npos) die(("no Mems_allowed_list in " + path).c_str(), ENOENT);
    at += key.size();
    while (at < text->size() && (*text)[at] == '\t') ++at;
    std::size_t end = text->find('\n', at);
    auto m = parse_nodes(std::string_view(*text).substr(at, end - at));
    if (!m) die(("parse Mems_allowed_list in " + path).c_str(), EINVAL);
    return *m;
}

// --- policies ------------------------------------------------------------------

// A policy as get_mempolicy(2) returns it: the mode, the mode flags the
// kernel reports in the high bits (MPOL_F_STATIC_NODES / RELATIVE_NODES,
// see do_get_mempolicy), and the nodes (for static/relative policies the
// kernel returns the user's mask, mpol_store_user_nodemask()).
struct PolicyReadback {
    Mode mode = Mode::Default;
    std::uint16_t flags = 0;
    Nodemask nodes;
    friend bool operator==(const PolicyReadback&, const PolicyReadback&) = default;
};

// A system call issued by an inline `syscall` instruction, not through
// libc's syscall(): libnumakeep.so interposes syscall() (and get_mempolicy),
// and what a test reads back must be the kernel's own answer. Returns like
// syscall(2): -1 with errno set on failure.
inline long kernel_syscall(long nr, long a1 = 0, long a2 = 0, long a3 = 0, long a4 = 0, long a5 = 0,
                           long a6 = 0) {
#if defined(__x86_64__)
    long ret;
    register long r10 __asm__("r10") = a4;
    register long r8 __asm__("r8") = a5;
    register long r9 __asm__("r9") = a6;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    if (ret < 0 && ret > -4096) {
        errno = static_cast<int>(-ret);
        return -1;
    }
    return ret;
#else
    return ::syscall(nr, a1, a2, a3, a4, a5, a6);
#endif
}
template <typename... A>
long kernel_call(long nr, A... args) {
    return kernel_syscall(nr, (long)args...);
}

inline long sys_get_mempolicy(int* mode, unsigned long* nodes, unsigned long maxnode,
                              const void* addr, unsigned long flags) {
    return kernel_call(SYS_get_mempolicy, mode, nodes, maxnode, addr, flags);
}
// Raw mbind/set_mempolicy: never seen by libnumakeep.so (no libc or libnuma
// symbol is involved). `mode` may carry kFlag* bits.
inline long sys_mbind(void* addr, unsigned long len, int mode, const Nodemask& nodes,
                      unsigned flags = 0) {
    return kernel_call(SYS_mbind, addr, len, mode, nodes.kernel_data(), Nodemask::kKernelMaxnode,
                       flags);
}
inline long sys_set_mempolicy(int mode, const Nodemask& nodes) {
    return kernel_call(SYS_set_mempolicy, mode, nodes.kernel_data(), Nodemask::kKernelMaxnode);
}

namespace detail {
inline std::optional<PolicyReadback> read_policy(const void* addr, unsigned long flags) {
    int mode = 0;
    Nodemask nodes;
    // get_mempolicy copies maxnode bits: kMaxNodes is exactly our buffer.
    if (sys_get_mempolicy(&mode, nodes.kernel_data(), kMaxNodes, addr, flags) != 0)
        return std::nullopt;
    PolicyReadback p;
    p.mode = static_cast<Mode>(static_cast<unsigned>(mode) & ~unsigned{kModeFlagsMask});
    p.flags = static_cast<std::uint16_t>(static_cast<unsigned>(mode) & kModeFlagsMask);
    p.nodes = nodes;
    return p;
}
}  // namespace detail

// The policy of the VMA holding `addr` (get_mempolicy MPOL_F_ADDR): the
// range's own policy, Mode::Default when it has none. nullopt (errno set)
// when addr is not mapped.
inline std::optional<PolicyReadback> range_policy(const void* addr) {
    return detail::read_policy(addr, mpol::kGetAddr);
}
// The calling thread's task policy (set_mempolicy).
inline std::optional<PolicyReadback> thread_policy() {
    return detail::read_policy(nullptr, 0);
}

// "interleave 0-3", "preferred 3", "bind relative:0-1", "default".
inline std::string to_string(const PolicyReadback& p) {
    std::string s(numakeep::to_string(p.mode));
    if (p.mode == Mode::Default || p.mode == Mode::Local) return s;
    s += ' ';
    if (p.flags & kFlagStaticNodes) s += "static:";
    if (p.flags & kFlagRelativeNodes) s += "relative:";
    s += p.nodes.to_string();
    return s;
}

// --- pages -----------------------------------------------------------------------

// Where the pages of a range are: count per node (index = node id) plus the
// pages not faulted in (move_pages status -ENOENT) and other failures.
struct PageCounts {
    std::vector<unsigned long> per_node;
    unsigned long not_present = 0;
    unsigned long failed = 0;
    unsigned long on(unsigned node) const { return node < per_node.size() ? per_node[node] : 0; }
    // "0:8192 1:8192" for every node that holds pages.
    std::string to_string() const {
        std::string s;
        for (std::size_t n = 0; n < per_node.size(); ++n)
            if (per_node[n]) {
                if (!s.empty()) s += ' ';
                s += std::to_string(n) + ':' + std::to_string(per_node[n]);
            }
        if (not_present)
            s += (s.empty() ? "" : " ") + std::string("absent:") + std::to_string(not_present);
        return s.empty() ? "none" : s;
    }
};

// Counts a range's pages per node with move_pages(2) in query mode (nodes
// NULL: nothing moves). nullopt (errno set) when the syscall fails.
inline std::optional<PageCounts> pages_per_node(const void* addr, std::size_t len) {
    const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    const auto base = reinterpret_cast<std::uintptr_t>(addr) & ~(page - 1);
    const std::size_t count =
        (reinterpret_cast<std::uintptr_t>(addr) + len - base + page - 1) / page;
    PageCounts out;
    constexpr std::size_t kBatch = 4096;
    std::vector<void*> pages(kBatch);
    std::vector<int> status(kBatch);
    for (std::size_t done = 0; done < count; done += kBatch) {
        std::size_t n = std::min(kBatch, count - done);
        for (std::size_t i = 0; i < n; ++i)
            pages[i] = reinterpret_cast<void*>(base + (done + i) * page);
        if (kernel_call(SYS_move_pages, 0, n, pages.data(), nullptr, status.data(), 0) != 0)
            return std::nullopt;
        for (std::size_t i = 0; i < n; ++i) {
            int st = status[i];
            if (st >= 0) {
                if (static_cast<std::size_t>(st) >= out.per_node.size())
                    out.per_node.resize(static_cast<std::size_t>(st) + 1);
                ++out.per_node[static_cast<std::size_t>(st)];
            } else if (st == -ENOENT) {
                ++out.not_present;
            } else {
                ++out.failed;
            }
        }
    }
    return out;
}

// An anonymous private mapping, unmapped on destruction. Dies when mmap fails.
class Mapping {
  public:
    explicit Mapping(std::size_t len) : len_(len) {
        addr_ = ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (addr_ == MAP_FAILED) die("mmap");
    }
    Mapping(const Mapping&) = delete;
    Mapping& operator=(const Mapping&) = delete;
    ~Mapping() { ::munmap(addr_, len_); }
    void* data() const { return addr_; }
    std::size_t size() const { return len_; }
    // Writes one byte per page so every page is faulted in.
    void touch() const {
        const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
        auto* p = static_cast<volatile char*>(addr_);
        for (std::size_t off = 0; off < len_; off += page) p[off] = 1;
    }

  private:
    void* addr_;
    std::size_t len_;
};

// --- waiting -----------------------------------------------------------------------

// Polls `done` every few milliseconds until it is true or `timeout` passes;
// returns its last value. For a rebind that arrives asynchronously.
template <typename Pred>
bool wait_until(Pred done, std::chrono::milliseconds timeout = std::chrono::milliseconds(2000)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        if (done()) return true;
        if (std::chrono::steady_clock::now() >= deadline) return done();
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

// --- reporting -----------------------------------------------------------------------

// Prints one "PASS: ..." or "FAIL: ..." line per check and gives the exit
// status at the end:
//   Report r;
//   r.check(x == 1, "x is %d", x);
//   r.expect_nodes("interleave range", got.nodes, Nodemask::range(0, 1));
//   return r.finish();
class Report {
  public:
    __attribute__((format(printf, 3, 4))) bool check(bool ok, const char* fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        line(ok, fmt, ap);
        va_end(ap);
        return ok;
    }
    bool expect_nodes(const std::string& what, const Nodemask& got, const Nodemask& want) {
        bool ok = got == want;
        if (ok) return check(true, "%s = %s", what.c_str(), got.to_string().c_str());
        return check(false, "%s = %s, want %s", what.c_str(), got.to_string().c_str(),
                     want.to_string().c_str());
    }
    bool expect_policy(const std::string& what, const std::optional<PolicyReadback>& got,
                       const PolicyReadback& want) {
        if (!got) return check(false, "%s: get_mempolicy: %s", what.c_str(), std::strerror(errno));
        if (*got == want) return check(true, "%s = %s", what.c_str(), to_string(*got).c_str());
        return check(false, "%s = %s, want %s", what.c_str(), to_string(*got).c_str(),
                     to_string(want).c_str());
    }
    unsigned failures() const { return failed_; }
    unsigned checks() const { return total_; }
    // Prints "N checks, M failed" and returns the exit status (0 or 1).
    int finish() const {
        std::printf("%u checks, %u failed\n", total_, failed_);
        std::fflush(stdout);
        return failed_ == 0 ? 0 : 1;
    }

  private:
    void line(bool ok, const char* fmt, va_list ap) {
        ++total_;
        if (!ok) ++failed_;
        std::fputs(ok ? "PASS: " : "FAIL: ", stdout);
        std::vprintf(fmt, ap);
        std::fputc('\n', stdout);
        std::fflush(stdout);
    }
    unsigned total_ = 0;
    unsigned failed_ = 0;
};

}  // namespace numakeep::guest
