// SPDX-License-Identifier: MIT
// nk-hold-vm FILE: a dynamic program (so libnumakeep.so loads into it) that
// lives until FILE exists, checking every 20 ms, then exits 0 silently. The
// programs-shell-pipeline case starts many of them from bash while
// cpuset.mems changes, and checks the task policy of those still alive.
// Busybox's applets are static, so a busybox `sleep` could not stand in.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: nk-hold-vm FILE\n");
        return 2;
    }
    struct stat st;
    while (stat(argv[1], &st) != 0) usleep(20000);
    return 0;
}
