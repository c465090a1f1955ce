// Helpers shared by the Message::parse tests: RFC 4475 vector files, offsets in a message, a 180 Ringing.
#pragma once
#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>

#include "test_support.hpp"

#ifndef REFERKIT_VECTORS_DIR
#error "REFERKIT_VECTORS_DIR must name tests/conformance/vectors"
#endif

namespace referkit {
namespace {

inline std::string read_vector(std::string_view name) {
    std::string path = std::string(REFERKIT_VECTORS_DIR) + "/" + std::string(name);
    std::ifstream in(path, std::ios::binary);
    EXPECT_TRUE(in.good()) << "cannot open " << path;
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline std::uint32_t last(std::string_view text, std::string_view needle) {
    std::size_t pos = text.rfind(needle);
    EXPECT_NE(pos, std::string_view::npos) << "test bug: '" << needle << "' not in the text";
    return static_cast<std::uint32_t>(pos);
}

inline std::uint32_t end_of_headers(std::string_view text) {
    std::size_t pos = text.find("\r\n\r\n");
    EXPECT_NE(pos, std::string_view::npos);
    return static_cast<std::uint32_t>(pos + 4);
}

inline const std::string k_ringing = test::crlf_lines({
    "SIP/2.0 180 Ringing",
    "Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds;received=192.0.2.1",
    "To: Bob <sip:bob@biloxi.com>;tag=a6c85cf",
    "From: Alice <sip:alice@atlanta.com>;tag=1928301774",
    "Call-ID: a84b4c76e66710@pc33.atlanta.com",
    "CSeq: 314159 INVITE",
    "Content-Length: 0",
    "",
});

// A response with the given status line and the mandatory headers.
inline std::string response_with_status_line(std::string_view status_line) {
    std::string s(status_line);
    s += "\r\n";
    s += k_ringing.substr(k_ringing.find("\r\n") + 2);
    return s;
}

}  // namespace
}  // namespace referkit
