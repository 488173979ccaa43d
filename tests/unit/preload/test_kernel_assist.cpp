// SPDX-License-Identifier: MIT
// The runtime's half of kernel assistance (preload/kernel_assist.hpp): how
// an answer is written into a caller's get_mempolicy buffer. What is
// issued and how a readback is recognised are the core's
// (tests/unit/core/test_issue_plan.cpp).
#include <doctest/doctest.h>

#include "kernel_assist.hpp"

using namespace numakeep;
using namespace numakeep::preload;

TEST_CASE("write_user_nodes writes the words the kernel wrote, no more") {
    unsigned long buf[20];
    for (auto& w : buf) w = 0xaaUL;
    Nodemask n{1, 3, 64};
    write_user_nodes(buf, 65, n);  // ALIGN(64, 64) bits: one word
    CHECK(buf[0] == 0b1010UL);
    CHECK(buf[1] == 0xaaUL);
    write_user_nodes(buf, 66, n);  // 65 bits: two words
    CHECK(buf[1] == 1UL);
    CHECK(buf[2] == 0xaaUL);
    write_user_nodes(buf, 1025, Nodemask{2});
    CHECK(buf[0] == 0b100UL);
    CHECK(buf[15] == 0UL);
    CHECK(buf[16] == 0xaaUL);
    write_user_nodes(buf, 1, Nodemask{0});  // maxnode 1: nothing
    CHECK(buf[0] == 0b100UL);
    write_user_nodes(nullptr, 1025, Nodemask{0});  // no buffer: nothing
}
