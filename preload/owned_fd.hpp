// SPDX-License-Identifier: MIT
// A descriptor of ours and the identity (device, inode) it had when we
// opened it. The program may close the number under us and reuse it (a
// thread of its own, a close-everything loop before exec): nothing is
// written to it or closed unless still_ours() says the number still names
// what we opened.
#pragma once

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

namespace numakeep::preload {

struct OwnedFd {
    int fd = -1;
    dev_t dev = 0;
    ino_t ino = 0;

    // Takes `raw_fd` (moved high, close-on-exec) and notes its identity;
    // false, and nothing held, when it cannot.
    bool adopt(int raw_fd) {
        fd = move_high(raw_fd);
        struct stat st {};
        if (fd < 0 || fstat(fd, &st) != 0) {
            forget();
            return false;
        }
        dev = st.st_dev;
        ino = st.st_ino;
        return true;
    }
    // True while the number still names what we opened.
    bool still_ours() const {
        if (fd < 0) return false;
        struct stat st {};
        return fstat(fd, &st) == 0 && st.st_dev == dev && st.st_ino == ino;
    }
    // Closes it when it is still ours; otherwise the program owns the
    // number now and we only forget it.
    void release() {
        if (still_ours()) close(fd);
        forget();
    }
    void forget() { fd = -1; }

    // F_DUPFD_CLOEXEC to the top of the descriptor table, out of the way of
    // programs that assume small numbers are theirs.
    static int move_high(int raw_fd) {
        if (raw_fd < 0) return -1;
        rlimit rl{};
        long top = 1024;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
            static_cast<long>(rl.rlim_cur) < top)
            top = static_cast<long>(rl.rlim_cur);
        int base = static_cast<int>(top > 64 ? top - 32 : 3);
        int high = fcntl(raw_fd, F_DUPFD_CLOEXEC, base);
        if (high < 0) return raw_fd;  // table full up there: keep the low one
        close(raw_fd);
        return high;
    }
};

}  // namespace numakeep::preload
