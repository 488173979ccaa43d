// SPDX-License-Identifier: MIT
#include <doctest/doctest.h>

#include "numakeep/proc_stat.hpp"
#include "proc_parsers.hpp"

using namespace numakeep;
using namespace numakeep::daemon;

TEST_CASE("node lists in the kernel's format") {
    CHECK(parse_node_list("0-3\n") == Nodemask::range(0, 3));
    CHECK(parse_node_list("0,2-3,7") == Nodemask{0, 2, 3, 7});
    CHECK(parse_node_list("") == Nodemask{});
    CHECK(parse_node_list("\n") == Nodemask{});
    CHECK(parse_node_list("1023") == Nodemask{1023});
    CHECK_FALSE(parse_node_list("1024"));
    CHECK_FALSE(parse_node_list("3-1"));
    CHECK_FALSE(parse_node_list("0,"));
    CHECK_FALSE(parse_node_list(",0"));
    CHECK_FALSE(parse_node_list("0-"));
    CHECK_FALSE(parse_node_list("a"));
    CHECK_FALSE(parse_node_list("0 1"));
    CHECK_FALSE(parse_node_list("-1"));
    CHECK_FALSE(parse_node_list("99999999999999999999"));
}

TEST_CASE("/proc/PID/cgroup: the unified line") {
    CHECK(parse_proc_cgroup("0::/a/b\n") == "/a/b");
    CHECK(parse_proc_cgroup("0::/\n") == "/");
    CHECK(parse_proc_cgroup("9:name=systemd:/\n3:cpuset:/x\n0::/user.slice\n") == "/user.slice");
    CHECK(parse_proc_cgroup("0::/gone (deleted)\n") == "/gone");
    CHECK(parse_proc_cgroup("0::/no-newline") == "/no-newline");
    CHECK_FALSE(parse_proc_cgroup("3:cpuset:/x\n"));
    CHECK_FALSE(parse_proc_cgroup(""));
    CHECK_FALSE(parse_proc_cgroup("0::\n"));
    CHECK_FALSE(parse_proc_cgroup("0::relative\n"));
    CHECK_FALSE(parse_proc_cgroup("10::/not-zero\n"));
}

TEST_CASE("/proc/PID/status: Mems_allowed_list") {
    const char* status =
        "Name:\tcat\nState:\tR (running)\n"
        "Mems_allowed:\t00000000,0000000f\n"
        "Mems_allowed_list:\t0-1,3\n"
        "voluntary_ctxt_switches:\t0\n";
    CHECK(parse_mems_allowed_list(status) == Nodemask{0, 1, 3});
    // Mems_allowed (the hex form) must not be mistaken for the list.
    CHECK_FALSE(parse_mems_allowed_list("Mems_allowed:\t0000000f\n"));
    CHECK_FALSE(parse_mems_allowed_list("Name:\tx\n"));
    CHECK_FALSE(parse_mems_allowed_list("Mems_allowed_list:\tjunk\n"));
    CHECK(parse_mems_allowed_list("Mems_allowed_list:\t0") == Nodemask{0});
}

TEST_CASE("/proc/PID/stat: start time and comm, even with ') ' in comm") {
    const char* plain =
        "1234 (cat) R 1 1234 1234 0 -1 4194304 97 0 0 0 0 0 0 0 20 0 1 0 5678 5877760 "
        "226 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n";
    CHECK(stat_start_time(plain) == 5678u);
    CHECK(stat_field(plain, kStatUtime) == 0u);
    CHECK(stat_field(plain, 4) == 1u);
    CHECK_FALSE(stat_field(plain, 3));  // the state is a letter
    CHECK(parse_stat_comm(plain) == "cat");
    const char* evil =
        "99 (a) b ) c) S 1 99 99 0 -1 4194304 97 0 0 0 0 0 0 0 20 0 1 0 424242 5877760 226\n";
    CHECK(stat_start_time(evil) == 424242u);
    CHECK(parse_stat_comm(evil) == "a) b ) c");
    CHECK_FALSE(stat_start_time("1234 (cat) R 1 2 3\n"));
    CHECK_FALSE(stat_start_time("no parens at all"));
    CHECK_FALSE(stat_start_time("1 (x) R 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 12x 0\n"));
    CHECK_FALSE(parse_stat_comm("1 x) (y"));
}

TEST_CASE("cgroup.procs pid lists") {
    CHECK(parse_pid_list("") == std::vector<int>{});
    CHECK(parse_pid_list("1\n22\n333\n") == std::vector<int>{1, 22, 333});
    CHECK(parse_pid_list("7") == std::vector<int>{7});
    CHECK_FALSE(parse_pid_list("1\nx\n"));
    CHECK_FALSE(parse_pid_list("0\n"));
    CHECK_FALSE(parse_pid_list("-5\n"));
}

TEST_CASE("cgroup paths: ancestors and containment") {
    CHECK(cgroup_and_ancestors("/a/b/c") == std::vector<std::string>{"/a/b/c", "/a/b", "/a", "/"});
    CHECK(cgroup_and_ancestors("/") == std::vector<std::string>{"/"});
    CHECK(cgroup_and_ancestors("/a/") == std::vector<std::string>{"/a", "/"});
    CHECK(cgroup_within("/a/b", "/a"));
    CHECK(cgroup_within("/a", "/a"));
    CHECK(cgroup_within("/a", "/"));
    CHECK_FALSE(cgroup_within("/ab", "/a"));
    CHECK_FALSE(cgroup_within("/a", "/a/b"));
}
