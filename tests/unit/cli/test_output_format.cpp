// SPDX-License-Identifier: MIT
// The CLI's output pieces: JSON writer, terminal-sized tables, cell formats.
#include <doctest/doctest.h>

#include "entry_format.hpp"
#include "json_writer.hpp"
#include "numakeep/policy.hpp"
#include "table.hpp"

using namespace numakeep;
using namespace numakeep::cli;

TEST_CASE("JSON writer: nesting, commas, escapes, node arrays") {
    JsonWriter j;
    j.begin_object();
    j.key("s").value("a\"b\\c\n\x01");
    j.key("n").value(std::int64_t{-3});
    j.key("b").value(true);
    j.key("z").null();
    j.key("nodes").value(Nodemask{0, 2, 3});
    j.key("empty").begin_array();
    j.end_array();
    j.key("list").begin_array();
    j.value(1);
    j.value(2);
    j.end_array();
    j.end_object();
    CHECK(j.str() ==
          "{\n  \"s\": \"a\\\"b\\\\c\\n\\u0001\",\n  \"n\": -3,\n  \"b\": true,\n  \"z\": null,\n"
          "  \"nodes\": [0, 2, 3],\n  \"empty\": [],\n  \"list\": [\n    1,\n    2\n  ]\n}\n");
}

TEST_CASE("JSON writer: bytes that are not UTF-8 become U+FFFD, UTF-8 passes") {
    JsonWriter j;
    j.value(std::string_view("caf\xc3\xa9 \xff"));
    CHECK(j.str() == "\"caf\xc3\xa9 \\ufffd\"\n");
}

TEST_CASE("tables: aligned, cut to the width on shrinkable columns only") {
    Table t({{"PID", true}, {"COMMAND", false, true, 4}, {"MEMS"}});
    t.add_row({"1", "a-very-long-command-name", "0-3"});
    t.add_row({"12345", "sh", "0"});
    CHECK(t.render(0) ==
          "  PID  COMMAND                   MEMS\n"
          "    1  a-very-long-command-name  0-3\n"
          "12345  sh                        0\n");
    std::string cut = t.render(20);
    CHECK(cut ==
          "  PID  COMMAND  MEMS\n"
          "    1  a-very~  0-3\n"
          "12345  sh       0\n");
    // Nothing left to shrink: the row stays wider than asked.
    CHECK(t.render(5).find("0-3") != std::string::npos);
}

TEST_CASE("cell formats") {
    CHECK(size_text(4096) == "4K");
    CHECK(size_text(1536 * 1024) == "1.5M");
    CHECK(size_text(100) == "100B");
    CHECK(size_text(std::uint64_t{3} << 30) == "3G");
    CHECK(mode_text(static_cast<std::uint16_t>(Mode::Interleave), 0) == "interleave");
    CHECK(mode_text(static_cast<std::uint16_t>(Mode::Bind), kFlagStaticNodes) ==
          "bind|static_nodes");
    CHECK(mode_text(42, 0) == "mode 42");
    CHECK(mode_of(3 | kFlagRelativeNodes) == 3);
    CHECK(flags_of(3 | kFlagRelativeNodes) == kFlagRelativeNodes);
    CHECK(nodes_text(Nodemask{}) == "-");
    CHECK(nodes_text(Nodemask{0, 1, 2, 5}) == "0-2,5");
    CHECK(ago_text(0, 1000) == "never");
    CHECK(ago_text(1000, 6000) == "5s ago");
    CHECK(ago_text(1000, 1000 + 600 * 1000) == "10m ago");
    CHECK(errno_name(22) == "EINVAL");
    CHECK(errno_name(0).empty());
    CHECK(semantics_text(0) == "intent");
    CHECK(semantics_text(9) == "semantics 9");
}

TEST_CASE("the differ mark compares the rule's nodes with the kernel's") {
    proto::PolicyEntry e;
    e.kernel_ok = 1;
    e.rule_now = Nodemask{0, 1};
    e.kernel_now = Nodemask{0, 1};
    CHECK_FALSE(entry_differs(e));
    e.kernel_now = Nodemask{0};
    CHECK(entry_differs(e));
    e.kernel_ok = 0;
    CHECK_FALSE(entry_differs(e));
}
