// SPDX-License-Identifier: MIT
#include "set_request.hpp"

#include <libcgroup.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "event_loop.hpp"
#include "logging.hpp"
#include "numakeep/policy.hpp"
#include "proc_parsers.hpp"

namespace numakeep::daemon {
namespace {

// How long an agent may take to answer: its thread round waits half a
// second for the threads, and its ranges take one mbind each (with many
// processes on few CPUs, seconds: tools/bench vm, vm.set_to_applied_ms);
// with kSetMove it also respreads the pages, rate limited, which takes as
// long as the memory takes. Both below the CLI's own wait (cmd_set.cpp).
constexpr std::int64_t kAnswerMs = 25000;
constexpr std::int64_t kMoveAnswerMs = 120000;
constexpr unsigned kCapSysNice = 23;  // include/uapi/linux/capability.h

std::int64_t unix_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

bool has_cap_sys_nice(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("CapEff:", 0) != 0) continue;
        std::uint64_t caps = std::strtoull(line.c_str() + 7, nullptr, 16);
        return (caps >> kCapSysNice) & 1;
    }
    return false;
}

// Whether the process maps libnumakeep.so: under the runtime, but with no
// connection to us (it has asked for nothing and was not started with
// NUMAKEEP_AGENT=always).
bool maps_runtime(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/maps");
    std::string line;
    while (std::getline(in, line))
        if (line.find("libnumakeep") != std::string::npos) return true;
    return false;
}

std::string normalize_cgroup(std::string path, const std::string& root) {
    // Accept the path in the mount as well as the cgroup path.
    if (path.rfind(root + "/", 0) == 0) path = path.substr(root.size());
    while (path.size() > 1 && path.back() == '/') path.pop_back();
    if (path.empty() || path[0] != '/') path = "/" + path;
    return path;
}

// libcgroup's walk (cgroup_walk_tree_begin/next/end) over the cpuset
// hierarchy. Works on cgroup v2: cgroup_init() lists the unified mount
// under each controller named in its cgroup.controllers, and the walk is
// fts(3) over the directory. It knows only mounted hierarchies, so a
// cgroup_root elsewhere (the host tests' private one), or a cpuset not
// enabled at the root, is read as plain directories instead.
std::optional<std::vector<std::string>> walk_with_libcgroup(const std::string& root,
                                                            const std::string& cgroup) {
    static const bool initialized = cgroup_init() == 0;
    if (!initialized) return std::nullopt;
    void* handle = nullptr;
    cgroup_file_info info{};
    int base_level = 0;
    int r = cgroup_walk_tree_begin("cpuset", cgroup.c_str(), 0, &handle, &info, &base_level);
    std::vector<std::string> out;
    while (r == 0) {
        if (info.type == CGROUP_FILE_TYPE_DIR && info.full_path) {
            std::string path = normalize_cgroup(info.full_path, root);
            if (path == cgroup || cgroup_within(path, cgroup)) out.push_back(path);
        }
        r = cgroup_walk_tree_next(0, &handle, &info, base_level);
    }
    // cgroup_walk_tree_end() dereferences the handle: only when there is one.
    if (handle) cgroup_walk_tree_end(&handle);
    if (r != ECGEOF || out.empty() || out.front() != cgroup) return std::nullopt;
    return out;
}

std::vector<std::string> walk_directories(const std::string& root, const std::string& cgroup) {
    namespace fs = std::filesystem;
    std::vector<std::string> out{cgroup};
    std::error_code ec;
    const std::string base = cgroup == "/" ? root : root + cgroup;
    for (fs::recursive_directory_iterator it(base, ec), end; !ec && it != end; it.increment(ec))
        if (it->is_directory(ec) && !it->is_symlink(ec))
            out.push_back(normalize_cgroup(it->path().string(), root));
    return out;
}

const char* scope_name(std::uint8_t scope) {
    switch (scope & (proto::kSetTask | proto::kSetRanges)) {
        case proto::kSetTask:
            return "task";
        case proto::kSetRanges:
            return "ranges";
        default:
            return "task and ranges";
    }
}

}  // namespace

bool caller_may_set(pid_t caller_pid, uid_t caller_uid, uid_t target_uid) {
    return caller_uid == 0 || caller_uid == target_uid || has_cap_sys_nice(caller_pid);
}

std::optional<std::vector<std::string>> walk_cgroup_subtree(const std::string& root,
                                                            const std::string& cgroup,
                                                            bool* by_libcgroup) {
    struct stat st {};
    const std::string dir = cgroup == "/" ? root : root + cgroup;
    if (by_libcgroup) *by_libcgroup = false;
    if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return std::nullopt;
    if (root == "/sys/fs/cgroup") {
        if (auto walked = walk_with_libcgroup(root, cgroup)) {
            if (by_libcgroup) *by_libcgroup = true;
            return walked;
        }
    }
    return walk_directories(root, cgroup);
}

std::string describe_policy(std::uint16_t mode, std::uint16_t flags, const Nodemask& nodes,
                            std::int32_t home_node) {
    std::string s(mode < kModeCount ? to_string(static_cast<Mode>(mode)) : "?");
    if (flags & kFlagStaticNodes) s += "=static";
    if (flags & kFlagRelativeNodes) s += "=relative";
    if (flags & kFlagNumaBalancing) s += "+balancing";
    if (!nodes.empty()) s += " " + nodes.to_string();
    if (home_node >= 0) s += " home " + std::to_string(home_node);
    return s;
}

void SetRequests::start(const Connection& cli, std::uint32_t seq, const proto::SetPolicy& req) {
    ++counters_.sets;
    proto::SetPolicy r = req;
    r.cgroup[sizeof r.cgroup - 1] = '\0';
    std::string policy = describe_policy(r.mode, r.flags, r.nodes, r.home_node);
    std::string where = r.pid > 0 ? "pid " + std::to_string(r.pid)
                                  : "cgroup " + normalize_cgroup(r.cgroup, cgroupfs_.root());
    auto refuse = [&](int code, const std::string& why) {
        spdlog::warn("set by pid {} uid {}: {} {} ({}): refused: {}", cli.pid, cli.uid, where,
                     policy, scope_name(r.scope), why);
        server_.send_error(cli.id, seq, code, why);
    };
    if (r.mode >= kModeCount || (r.flags & ~kModeFlagsMask) ||
        !(r.scope & (proto::kSetTask | proto::kSetRanges)))
        return refuse(EINVAL, "malformed set request");

    std::vector<pid_t> pids;
    if (r.pid > 0) {
        pids.push_back(r.pid);
    } else {
        const std::string cg = normalize_cgroup(r.cgroup, cgroupfs_.root());
        bool by_libcgroup = false;
        auto subtree = walk_cgroup_subtree(cgroupfs_.root(), cg, &by_libcgroup);
        if (!subtree) return refuse(ENOENT, "no such cgroup: " + cg);
        where += " (" + std::to_string(subtree->size()) + " cgroups, walked by " +
                 (by_libcgroup ? "libcgroup)" : "reading directories)");
        for (const auto& c : *subtree) {
            auto procs = cgroupfs_.procs(c);
            if (!procs) continue;
            for (int pid : *procs)
                if (registry_.find(pid)) pids.push_back(pid);
        }
        std::sort(pids.begin(), pids.end());
        pids.erase(std::unique(pids.begin(), pids.end()), pids.end());
        if (pids.empty()) return refuse(ESRCH, "no process under numakeep in cgroup " + cg);
    }

    const std::uint64_t id = next_batch_++;
    Batch& b = batches_[id];
    b.cli = cli.id;
    b.seq = seq;
    b.caller_pid = cli.pid;
    b.caller_uid = cli.uid;
    b.wait = (r.options & proto::kSetWait) != 0;
    b.move = (r.options & proto::kSetMove) != 0;
    b.target = where;
    b.policy = policy + " (" + scope_name(r.scope) + ")";
    b.targets.resize(pids.size());
    for (std::size_t i = 0; i < pids.size(); ++i) {
        proto::SetOutcome& o = b.targets[i].outcome;
        o.pid = pids[i];
        Process* p = registry_.find(pids[i]);
        if (!p) {
            bool exists = proc_exists(pids[i]);
            if (exists && maps_runtime(pids[i]))
                finish_target(id, i, ESRCH,
                              "under the runtime but not connected: it has asked for no policy "
                              "yet; start it with `numakeep run`",
                              nullptr);
            else if (exists)
                finish_target(id, i, ESRCH, "not running under numakeep", nullptr);
            else
                finish_target(id, i, ENOENT, "no such process", nullptr);
            continue;
        }
        o.uid = p->uid;
        copy_field(o.comm, p->comm);
        if (!caller_may_set(cli.pid, cli.uid, p->uid)) {
            spdlog::warn("set by pid {} uid {} on pid {} ({}) uid {} refused: permission denied",
                         cli.pid, cli.uid, p->pid, p->comm, p->uid);
            finish_target(id, i, EPERM, "belongs to another user", nullptr);
            continue;
        }
        ask_agent(b, id, i, *p, r);
    }
    answer_if_ready(id);
}

void SetRequests::ask_agent(Batch& b, std::uint64_t batch_id, std::size_t index, Process& p,
                            const proto::SetPolicy& req) {
    proto::SetRequest s;
    s.set_id = next_set_id_++;
    if (next_set_id_ == 0) next_set_id_ = 1;
    s.caller_pid = b.caller_pid;
    s.caller_uid = b.caller_uid;
    s.scope = req.scope;
    s.options = req.options;
    s.mode = req.mode;
    s.flags = req.flags;
    s.home_node = req.home_node;
    s.unix_ms = unix_ms();
    s.range_start = req.range_start;
    s.range_end = req.range_end;
    s.placement_rate_mib = config_.placement_rate_for(p.cgroup);
    s.nodes = req.nodes;
    if (!server_.send(p.conn, proto::MsgType::SetRequest, s.set_id, s)) {
        finish_target(batch_id, index, ENOENT, "its connection failed", nullptr);
        return;
    }
    const std::int64_t budget = (req.options & proto::kSetMove) ? kMoveAnswerMs : kAnswerMs;
    pending_[s.set_id] = Pending{batch_id, index, p.pid, monotonic_ms() + budget};
    b.targets[index].asked = true;
}

void SetRequests::on_applied(const Process& p, const proto::SetApplied& a) {
    auto it = pending_.find(a.set_id);
    if (it == pending_.end() || it->second.pid != p.pid) return;  // late or foreign
    Pending pend = it->second;
    pending_.erase(it);
    int code = 0;
    std::string message;
    if (a.first_errno == EINVAL) {
        code = EINVAL;
        message = "the kernel refused the policy (nodes outside its cpuset?)";
    } else if (a.threads_silent) {
        code = ETIMEDOUT;
        message = std::to_string(a.threads_silent) + " thread(s) did not answer in time";
    } else if (a.threads_unreachable) {
        code = EIO;
        message = std::to_string(a.threads_unreachable) +
                  " thread(s) block numakeep's signal: not changed";
    } else if (a.errors) {
        code = a.first_errno ? a.first_errno : EIO;
        message = std::to_string(a.errors) + " error(s), first: " + std::strerror(code);
    } else if (auto b = batches_.find(pend.batch); b != batches_.end() && b->second.move &&
                                                   (a.ranges_set || a.threads_set) && !a.moved) {
        // Set, and it follows the cpuset; the respread of the change does the pages.
        message = "set; its pages were not moved: the cpuset changed first";
    }
    finish_target(pend.batch, pend.index, code, message, &a);
}

void SetRequests::on_process_gone(pid_t pid) {
    std::vector<Pending> gone;
    for (auto it = pending_.begin(); it != pending_.end();) {
        if (it->second.pid == pid) {
            gone.push_back(it->second);
            it = pending_.erase(it);
        } else {
            ++it;
        }
    }
    for (const Pending& p : gone)
        finish_target(p.batch, p.index, ENOENT, "exited (or disconnected) before it answered",
                      nullptr);
}

void SetRequests::on_connection_closed(ConnId id) {
    for (auto& [bid, b] : batches_)
        if (b.cli == id) b.cli = 0;
}

void SetRequests::expire(std::int64_t now_ms) {
    std::vector<Pending> late;
    for (auto it = pending_.begin(); it != pending_.end();) {
        if (now_ms >= it->second.deadline_ms) {
            late.push_back(it->second);
            it = pending_.erase(it);
        } else {
            ++it;
        }
    }
    for (const Pending& p : late)
        finish_target(p.batch, p.index, ETIMEDOUT, "did not answer in time", nullptr);
}

void SetRequests::finish_target(std::uint64_t batch_id, std::size_t index, int code,
                                const std::string& message, const proto::SetApplied* applied) {
    auto it = batches_.find(batch_id);
    if (it == batches_.end()) return;
    Target& t = it->second.targets[index];
    t.done = true;
    t.outcome.code = code;
    t.outcome.state = code ? proto::kSetFailed : proto::kSetApplied;
    if (applied) t.outcome.applied = *applied;
    copy_field(t.outcome.message, message);
    answer_if_ready(batch_id);
}

void SetRequests::answer_if_ready(std::uint64_t batch_id) {
    auto it = batches_.find(batch_id);
    if (it == batches_.end()) return;
    Batch& b = it->second;
    bool all_done = true, all_reached = true;
    for (const Target& t : b.targets) {
        all_done &= t.done;
        all_reached &= t.done || t.asked;
    }
    // Without kSetWait the CLI has its answer once every agent was asked
    // (those outcomes say kSetSent); the log line waits for the answers.
    if (!b.answered && (all_done || (!b.wait && all_reached))) {
        send_outcomes(b);
        b.answered = true;
    }
    if (all_done) {
        log_batch(b);
        batches_.erase(it);
    }
}

void SetRequests::send_outcomes(Batch& b) {
    if (b.cli == 0) return;
    proto::SetEnd end;
    for (const Target& t : b.targets) {
        if (!server_.send(b.cli, proto::MsgType::SetOutcome, b.seq, t.outcome)) return;
        ++end.processes;
        if (t.outcome.code == 0)
            ++end.applied;
        else
            ++end.failed;
    }
    server_.send(b.cli, proto::MsgType::SetEnd, b.seq, end);
}

void SetRequests::log_batch(const Batch& b) {
    std::size_t ok = 0;
    std::string failed;
    for (const Target& t : b.targets) {
        if (t.outcome.code == 0) {
            ++ok;
            continue;
        }
        if (!failed.empty()) failed += "; ";
        failed += "pid " + std::to_string(t.outcome.pid) + ": " + t.outcome.message;
    }
    auto level = failed.empty() ? spdlog::level::info : spdlog::level::warn;
    spdlog::log(level, "set by pid {} uid {}: {} {}: {} of {} process{} took it{}{}", b.caller_pid,
                b.caller_uid, b.target, b.policy, ok, b.targets.size(),
                b.targets.size() == 1 ? "" : "es", failed.empty() ? "" : "; failed: ", failed);
}

}  // namespace numakeep::daemon
