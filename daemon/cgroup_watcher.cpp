// SPDX-License-Identifier: MIT
#include "cgroup_watcher.hpp"

#include <dirent.h>
#include <spdlog/spdlog.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace numakeep::daemon {

CgroupWatcher::CgroupWatcher(EventLoop& loop, std::string root, std::int64_t coalesce_ms,
                             std::function<void(const Changes&)> on_changes)
    : loop_(loop),
      root_(std::move(root)),
      coalesce_ms_(coalesce_ms),
      on_changes_(std::move(on_changes)),
      coalesce_(loop, [this] { deliver(); }) {}

CgroupWatcher::~CgroupWatcher() {
    if (fd_) loop_.remove(fd_.get());
}

bool CgroupWatcher::start() {
    fd_.reset(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
    if (!fd_) {
        spdlog::error("inotify_init1: {}; cpuset changes are seen by the reconcile only",
                      std::strerror(errno));
        return false;
    }
    loop_.add(fd_.get(), EPOLLIN, [this](std::uint32_t) { on_readable(); });
    watch_tree("/");
    spdlog::debug("watching {} with {} inotify watches", root_, by_wd_.size());
    return true;
}

void CgroupWatcher::add_watch(const std::string& cgroup, const std::string& file, Kind kind,
                              std::uint32_t mask) {
    std::string dir = cgroup == "/" ? root_ : root_ + cgroup;
    std::string path = file.empty() ? dir : dir + "/" + file;
    int wd = ::inotify_add_watch(fd_.get(), path.c_str(), mask);
    if (wd < 0) {
        // The root has no cpuset.mems; a cgroup may vanish while we look.
        if (errno != ENOENT) spdlog::warn("inotify_add_watch {}: {}", path, std::strerror(errno));
        return;
    }
    by_wd_[wd] = Watch{cgroup, kind};
}

void CgroupWatcher::watch_tree(const std::string& cgroup) {
    add_watch(cgroup, "", Kind::Dir, IN_CREATE | IN_DELETE_SELF | IN_ONLYDIR);
    add_watch(cgroup, "cpuset.mems", Kind::Mems, IN_MODIFY | IN_CLOSE_WRITE);
    add_watch(cgroup, "cgroup.procs", Kind::Procs, IN_MODIFY);
    std::string dir = cgroup == "/" ? root_ : root_ + cgroup;
    DIR* d = ::opendir(dir.c_str());
    if (!d) return;
    while (dirent* e = ::readdir(d)) {
        if (e->d_type != DT_DIR || e->d_name[0] == '.') continue;
        watch_tree((cgroup == "/" ? "" : cgroup) + "/" + e->d_name);
    }
    ::closedir(d);
}

void CgroupWatcher::on_readable() {
    alignas(inotify_event) char buf[16384];
    bool any = false;
    for (;;) {
        ssize_t n = ::read(fd_.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        for (char* p = buf; p < buf + n;) {
            auto* ev = reinterpret_cast<inotify_event*>(p);
            p += sizeof(inotify_event) + ev->len;
            if (ev->mask & IN_Q_OVERFLOW) {
                // Lost events: treat the whole tree as written; the owner
                // re-reads every registered cgroup.
                ++overflows_;
                spdlog::warn("inotify queue overflow: re-reading every cgroup");
                pending_.mems.insert("/");
                pending_.procs.insert("/");
                any = true;
                continue;
            }
            auto it = by_wd_.find(ev->wd);
            if (it == by_wd_.end()) continue;
            const Watch w = it->second;
            spdlog::trace("inotify: {} {} mask {:#x}", w.cgroup,
                          w.kind == Kind::Dir    ? "dir"
                          : w.kind == Kind::Mems ? "cpuset.mems"
                                                 : "cgroup.procs",
                          ev->mask);
            if (ev->mask & IN_IGNORED) {
                by_wd_.erase(it);
                continue;
            }
            switch (w.kind) {
                case Kind::Dir:
                    if ((ev->mask & IN_CREATE) && (ev->mask & IN_ISDIR) && ev->len > 0) {
                        std::string child =
                            (w.cgroup == "/" ? "" : w.cgroup) + "/" + std::string(ev->name);
                        watch_tree(child);
                        // A task may have been moved in before our watch existed.
                        pending_.procs.insert(child);
                        any = true;
                    }
                    if (ev->mask & IN_DELETE_SELF) {
                        pending_.removed.insert(w.cgroup);
                        any = true;
                    }
                    break;
                case Kind::Mems:
                    if (ev->mask & (IN_MODIFY | IN_CLOSE_WRITE)) {
                        pending_.mems.insert(w.cgroup);
                        any = true;
                    }
                    if (ev->mask & IN_CLOSE_WRITE) {
                        ++pending_.mems_writes;
                        ++pending_.mems_closes[w.cgroup];
                    }
                    break;
                case Kind::Procs:
                    if (ev->mask & IN_MODIFY) {
                        pending_.procs.insert(w.cgroup);
                        any = true;
                    }
                    break;
            }
        }
    }
    if (any && !armed_) {
        armed_ = true;
        pending_.first_event_ms = monotonic_ms();
        if (coalesce_ms_ <= 0)
            deliver();
        else
            coalesce_.arm_once(coalesce_ms_);
    }
}

void CgroupWatcher::deliver() {
    armed_ = false;
    Changes c = std::move(pending_);
    pending_ = Changes{};
    on_changes_(c);
}

}  // namespace numakeep::daemon
