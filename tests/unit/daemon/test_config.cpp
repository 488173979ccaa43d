// SPDX-License-Identifier: MIT
#include <doctest/doctest.h>

#include <string>

#include "config.hpp"

using namespace numakeep;
using namespace numakeep::daemon;

namespace {

Config parse_ok(std::string_view text) {
    auto r = parse_config(text, "test.conf");
    if (auto* e = std::get_if<ConfigError>(&r)) FAIL("unexpected error: ", e->message());
    return std::get<Config>(r);
}

ConfigError parse_err(std::string_view text) {
    auto r = parse_config(text, "test.conf");
    REQUIRE(std::holds_alternative<ConfigError>(r));
    return std::get<ConfigError>(r);
}

}  // namespace

TEST_CASE("empty text and comments give the defaults") {
    CHECK(parse_ok("") == Config{});
    CHECK(parse_ok("# nothing\n\n   \t\n# more\n") == Config{});
    Config d;
    CHECK(d.reconcile_ms == 2000);
    CHECK(d.default_semantics == Semantics::Intent);
    CHECK(d.log_level == LogLevel::Info);
}

TEST_CASE("every key is read") {
    Config c = parse_ok(
        "default_semantics = static   # trailing comment\n"
        "placement = no\n"
        "kernel_assist=on\n"
        "reconcile_ms = 500\r\n"
        "rebind_timeout_ms = 250\n"
        "max_connections_per_uid = 10\n"
        "max_connections = 100\n"
        "max_concurrency = 4\n"
        "message_timeout_ms = 1000\n"
        "max_output_kib = 128\n"
        "show_timeout_ms = 900\n"
        "cgroup_root = /tmp/cg/\n"
        "log_level = debug\n"
        "override /batch.slice = relative\n"
        "override   /batch.slice/db.service   =   kernel\n");
    CHECK(c.default_semantics == Semantics::Static);
    CHECK_FALSE(c.placement);
    CHECK(c.kernel_assist);
    CHECK(c.reconcile_ms == 500);
    CHECK(c.rebind_timeout_ms == 250);
    CHECK(c.max_connections_per_uid == 10);
    CHECK(c.max_connections == 100);
    CHECK(c.max_concurrency == 4);
    CHECK(c.message_timeout_ms == 1000);
    CHECK(c.max_output_kib == 128);
    CHECK(c.show_timeout_ms == 900);
    CHECK(c.cgroup_root == "/tmp/cg");
    CHECK(c.log_level == LogLevel::Debug);
    REQUIRE(c.overrides.size() == 2);
    CHECK(c.overrides[1].cgroup_prefix == "/batch.slice/db.service");
}

TEST_CASE("overrides match whole path components, longest prefix first") {
    Config c = parse_ok(
        "override /batch.slice = relative\n"
        "override /batch.slice/db.service = kernel\n");
    CHECK(c.semantics_for("/batch.slice") == Semantics::Relative);
    CHECK(c.semantics_for("/batch.slice/x") == Semantics::Relative);
    CHECK(c.semantics_for("/batch.slice/db.service/sub") == Semantics::Kernel);
    CHECK(c.semantics_for("/batch.slicer") == Semantics::Intent);
    CHECK(c.semantics_for("/") == Semantics::Intent);
    Config root = parse_ok("override / = static\n");
    CHECK(root.semantics_for("/anything") == Semantics::Static);
}

TEST_CASE("every bad line names file, line and reason") {
    struct Case {
        const char* text;
        unsigned line;
        const char* reason_part;
    };
    const Case cases[] = {
        {"\n\nnonsense\n", 3, "expected 'key = value'"},
        {"= 3\n", 1, "missing key"},
        {"reconcile_ms =\n", 1, "missing value for 'reconcile_ms'"},
        {"colour = blue\n", 1, "unknown key 'colour'"},
        {"default_semantics = sideways\n", 1, "unknown semantics 'sideways'"},
        {"move_pages = maybe\n", 1, "wants yes or no"},
        {"log_level = loud\n", 1, "unknown log level 'loud'"},
        {"reconcile_ms = 2s\n", 1, "whole number from 10"},
        {"reconcile_ms = 5\n", 1, "whole number from 10"},
        {"max_concurrency = -1\n", 1, "whole number"},
        {"max_concurrency = 99999999999999999999\n", 1, "whole number"},
        {"override = static\n", 1, "override needs a cgroup path"},
        {"override relative/path = static\n", 1, "bad cgroup path"},
        {"override /a/../b = static\n", 1, "bad cgroup path"},
        {"override /a/ = static\n", 1, "bad cgroup path"},
        {"override /a = weird\n", 1, "unknown semantics 'weird'"},
        {"override /a = static\noverride /a = kernel\n", 2, "given twice"},
        {"overrides /a = static\n", 1, "unknown key 'overrides /a'"},
        {"cgroup_root = relative\n", 1, "absolute"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.text);
        ConfigError e = parse_err(c.text);
        CHECK(e.file == "test.conf");
        CHECK(e.line == c.line);
        CHECK(e.reason.find(c.reason_part) != std::string::npos);
        CHECK(e.message().starts_with("test.conf:" + std::to_string(c.line) + ": "));
    }
}

TEST_CASE("a missing file gives the defaults; an unreadable one is an error") {
    auto r = load_config("/nonexistent/numakeepd.conf");
    CHECK(std::holds_alternative<Config>(r));
    auto d = load_config("/");  // a directory: read fails with EISDIR
    REQUIRE(std::holds_alternative<ConfigError>(d));
    CHECK(std::get<ConfigError>(d).message().starts_with("/: "));
}

TEST_CASE("log levels round-trip") {
    for (auto l : {LogLevel::Trace, LogLevel::Debug, LogLevel::Info, LogLevel::Warn,
                   LogLevel::Error, LogLevel::Critical, LogLevel::Off})
        CHECK(parse_log_level(to_string(l)) == l);
    CHECK(parse_log_level("warning") == LogLevel::Warn);
    CHECK_FALSE(parse_log_level("INFO"));
}
