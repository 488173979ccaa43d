// SPDX-License-Identifier: MIT
// run's checks of COMMAND: PATH lookup, PT_INTERP, set-uid.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdlib>

#include "executable_check.hpp"

using namespace numakeep::cli;

TEST_CASE("a dynamically linked program passes without a warning") {
    auto info = inspect_executable("/proc/self/exe");
    REQUIRE(info);
    CHECK(info->is_elf);
    CHECK(info->has_interpreter);
    CHECK(preload_warning(*info).empty());
}

TEST_CASE("find_in_path follows PATH like execvp") {
    CHECK(find_in_path("sh").find("/sh") != std::string::npos);
    CHECK(find_in_path("./relative/name") == "./relative/name");
    CHECK(find_in_path("no-such-command-numakeep-test").empty());
    CHECK(find_in_path("").empty());
}

TEST_CASE("a script is not an ELF file and gets no warning") {
    char path[] = "/tmp/numakeep-cli-script-XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    REQUIRE(write(fd, "#!/bin/sh\n", 10) == 10);
    close(fd);
    auto info = inspect_executable(path);
    unlink(path);
    REQUIRE(info);
    CHECK(info->is_script);
    CHECK_FALSE(info->is_elf);
    CHECK(preload_warning(*info).empty());
}

TEST_CASE("static and set-uid programs are named in the warning") {
    ExecutableInfo stat_info;
    stat_info.path = "/bin/busybox";
    stat_info.is_elf = true;
    CHECK(preload_warning(stat_info).find("statically linked") != std::string::npos);
    ExecutableInfo suid;
    suid.path = "/usr/bin/passwd";
    suid.is_elf = suid.has_interpreter = suid.setuid = true;
    CHECK(preload_warning(suid).find("set-uid") != std::string::npos);
    CHECK(inspect_executable("/nonexistent/x") == std::nullopt);
}
