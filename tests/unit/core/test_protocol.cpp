// SPDX-License-Identifier: MIT
#include <doctest/doctest.h>

#include "numakeep/protocol.hpp"

using namespace numakeep::proto;

TEST_CASE("frames round-trip and headers validate") {
    Rebind r;
    r.generation = 42;
    r.mems = numakeep::Nodemask{0, 1};
    unsigned char buf[kMaxFrame];
    auto n = encode(MsgType::Rebind, 7, r, buf);
    CHECK(n == sizeof(FrameHeader) + sizeof(Rebind));
    FrameHeader h;
    std::memcpy(&h, buf, sizeof h);
    CHECK(check_header(h) == HeaderCheck::Ok);
    Rebind back;
    CHECK(decode(h, buf + sizeof h, back));
    CHECK(back.generation == 42);
    CHECK(back.mems == r.mems);

    h.payload_size += 1;
    CHECK(check_header(h) == HeaderCheck::BadSize);
    h.payload_size -= 1;
    h.version = 99;
    CHECK(check_header(h) == HeaderCheck::BadVersion);
    h.version = kProtocolVersion;
    h.type = 12345;
    CHECK(check_header(h) == HeaderCheck::UnknownType);
    h.magic = 0;
    CHECK(check_header(h) == HeaderCheck::BadMagic);
}

TEST_CASE("empty payload messages") {
    unsigned char buf[kMaxFrame];
    CHECK(encode(MsgType::QueryList, 1, Empty{}, buf) == sizeof(FrameHeader));
}
