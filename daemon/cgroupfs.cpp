// SPDX-License-Identifier: MIT
#include "cgroupfs.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>

#include "numakeep/proc_stat.hpp"
#include "proc_parsers.hpp"

namespace numakeep::daemon {

std::optional<std::string> read_small_file(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return std::nullopt;
    std::string out;
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 || out.size() > (1U << 20)) {
            int err = n < 0 ? errno : EFBIG;
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

std::string Cgroupfs::dir(const std::string& cgroup) const {
    return cgroup == "/" ? root_ : root_ + cgroup;
}

bool Cgroupfs::is_cgroup2() const {
    struct statfs fs {};
    return ::statfs(root_.c_str(), &fs) == 0 &&
           static_cast<unsigned long>(fs.f_type) == CGROUP2_SUPER_MAGIC;
}

std::optional<Nodemask> Cgroupfs::effective_mems(const std::string& cgroup) const {
    auto text = read_small_file(dir(cgroup) + "/cpuset.mems.effective");
    if (!text) return std::nullopt;
    auto m = parse_node_list(*text);
    // An empty effective set only shows up without the cpuset controller.
    if (!m || m->empty()) return std::nullopt;
    return m;
}

std::optional<std::vector<int>> Cgroupfs::procs(const std::string& cgroup) const {
    auto text = read_small_file(dir(cgroup) + "/cgroup.procs");
    if (!text) return std::nullopt;
    return parse_pid_list(*text);
}

namespace {
std::string proc_path(pid_t pid, const char* file) {
    return "/proc/" + std::to_string(pid) + "/" + file;
}
}  // namespace

std::optional<std::string> proc_cgroup(pid_t pid) {
    auto text = read_small_file(proc_path(pid, "cgroup"));
    return text ? parse_proc_cgroup(*text) : std::nullopt;
}

std::optional<Nodemask> proc_mems_allowed(pid_t pid) {
    auto text = read_small_file(proc_path(pid, "status"));
    return text ? parse_mems_allowed_list(*text) : std::nullopt;
}

std::optional<std::uint64_t> proc_start_time(pid_t pid) {
    auto text = read_small_file(proc_path(pid, "stat"));
    return text ? stat_start_time(*text) : std::nullopt;
}

std::optional<std::string> proc_comm(pid_t pid) {
    auto text = read_small_file(proc_path(pid, "stat"));
    return text ? parse_stat_comm(*text) : std::nullopt;
}

bool proc_exists(pid_t pid) {
    struct stat st {};
    return ::stat(("/proc/" + std::to_string(pid)).c_str(), &st) == 0;
}

}  // namespace numakeep::daemon
