// SPDX-License-Identifier: MIT
// numakeep run's policy options on a 4-node allowed set (the host has one
// node; the host suite compares accept/reject with the real numactl there).
#include <doctest/doctest.h>

#include "cli_error.hpp"
#include "policy_options.hpp"

using namespace numakeep;
using namespace numakeep::cli;

namespace {
const Nodemask kFour = Nodemask::range(0, 3);

Nodemask parse_ok(const char* text, const Nodemask& allowed = kFour) {
    NodeListResult r = parse_node_list(text, allowed);
    CAPTURE(text);
    CAPTURE(r.error);
    CHECK(r.ok);
    return r.nodes;
}

std::string parse_error(const char* text, const Nodemask& allowed = kFour) {
    NodeListResult r = parse_node_list(text, allowed);
    CAPTURE(text);
    CHECK_FALSE(r.ok);
    return r.error;
}

TaskPolicy apply(char opt, const char* arg, std::vector<std::string>* warnings = nullptr) {
    TaskPolicy p;
    std::vector<std::string> w;
    apply_policy_option(p, opt, arg, kFour, warnings ? *warnings : w);
    return p;
}
}  // namespace

TEST_CASE("node lists as numactl writes them, on four nodes") {
    CHECK(parse_ok("0-3") == kFour);
    CHECK(parse_ok("all") == kFour);
    CHECK(parse_ok("0,2") == Nodemask{0, 2});
    CHECK(parse_ok("1-2,0") == Nodemask{0, 1, 2});
    CHECK(parse_ok("!1") == Nodemask{0, 2, 3});
    CHECK(parse_ok("!1-2") == Nodemask{0, 3});
    CHECK(parse_ok("+1-2") == Nodemask{1, 2});
    CHECK(parse_ok("0,all") == kFour);
    CHECK(parse_ok("").empty());
}

TEST_CASE("relative and inverted lists inside a sparse cpuset") {
    const Nodemask sparse{0, 2, 5, 7};
    CHECK(parse_ok("+0-1", sparse) == Nodemask{0, 2});
    CHECK(parse_ok("+3", sparse) == Nodemask{7});
    CHECK(parse_ok("!+0", sparse) == Nodemask{2, 5, 7});
    CHECK(parse_ok("2-7", sparse) == Nodemask{2, 5, 7});  // only allowed nodes in a range
    CHECK(parse_ok("all", sparse) == sparse);
    CHECK(parse_error("+4", sparse).find("\"4\"") != std::string::npos);
    CHECK(parse_error("1", sparse).find("allowed now: 0,2,5,7") != std::string::npos);
}

TEST_CASE("bad node lists name the bad token") {
    CHECK(parse_error("0,x").find("\"x\"") != std::string::npos);
    CHECK(parse_error("3-1").find("\"3-1\"") != std::string::npos);
    CHECK(parse_error("1,,2").find("bad node list \"1,,2\"") != std::string::npos);
    CHECK(parse_error("1024").find("\"1024\"") != std::string::npos);
    CHECK(parse_error("4").find("\"4\"") != std::string::npos);
    CHECK(parse_error("all,0").find(": \"all\"") != std::string::npos);  // the token, after the list
    CHECK(parse_error("netdev:eth0").find("device names") != std::string::npos);
}

TEST_CASE("each option sets its mode") {
    CHECK(apply('i', "all").mode == Mode::Interleave);
    CHECK(apply('m', "0-1").mode == Mode::Bind);
    CHECK(apply('m', "0-1").nodes == Nodemask{0, 1});
    CHECK(apply('p', "2").mode == Mode::Preferred);
    CHECK(apply('P', "2-3").mode == Mode::PreferredMany);
    CHECK(apply('w', "0-3").mode == Mode::WeightedInterleave);
    TaskPolicy local = apply('l', "");
    CHECK(local.mode == Mode::Local);
    CHECK(local.nodes.empty());
    CHECK(apply('i', "0-3").option == "--interleave");
}

TEST_CASE("what numactl refuses, and what it does silently") {
    // --preferred takes one node, as numactl's nnodes != 1 check.
    CHECK_THROWS_AS(apply('p', "0-1"), CliError);
    CHECK(apply('p', "+2").nodes == Nodemask{2});
    // An empty set: an error for every mode but interleave, where numactl
    // (libnuma's numa_set_interleave_mask) quietly sets the default policy.
    CHECK_THROWS_AS(apply('m', "!all"), CliError);
    CHECK_THROWS_AS(apply('P', ""), CliError);
    std::vector<std::string> warnings;
    TaskPolicy p = apply('i', "!0-3", &warnings);
    CHECK(p.mode == Mode::Default);
    REQUIRE(warnings.size() == 1);
    CHECK(warnings[0].find("default policy") != std::string::npos);
    // Two policies conflict, as in numactl.
    TaskPolicy twice;
    std::vector<std::string> w;
    apply_policy_option(twice, 'i', "0", kFour, w);
    try {
        apply_policy_option(twice, 'm', "0", kFour, w);
        FAIL("a second policy option must be refused");
    } catch (const CliError& e) {
        CHECK(e.code() == ExitCode::Usage);
        CHECK(std::string(e.what()).find("conflicting") != std::string::npos);
    }
}

TEST_CASE("a bad list is a usage error naming the option and the token") {
    try {
        apply('i', "0,7");
        FAIL("must throw");
    } catch (const CliError& e) {
        CHECK(e.code() == ExitCode::Usage);
        std::string what = e.what();
        CHECK(what.find("--interleave") != std::string::npos);
        CHECK(what.find("\"7\"") != std::string::npos);
        CHECK_FALSE(e.hint().empty());
    }
}
