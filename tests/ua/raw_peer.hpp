// Helpers for scripted peers on a bare TransactionLayer (tests/support/core_node.hpp): building
// requests by hand, so that tests can send what a UserAgentCore never would.
#pragma once
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "referkit/core/writer.hpp"

namespace referkit::test {

struct RawRequest {
    std::string method = "OPTIONS";
    std::string uri;
    std::string from;  // full From value with tag
    std::string to;    // full To value (tag or not)
    std::string call_id = "raw@test";
    std::string cseq = "1";
    std::vector<std::pair<std::string, std::string>> headers = {};
    std::string content_type = {};
    std::string body = {};
};

inline std::string build(const RawRequest& r) {
    auto w = MessageWriter::request(r.method, r.uri);
    w.header(HeaderId::max_forwards, std::uint64_t{70})
        .header(HeaderId::from, r.from)
        .header(HeaderId::to, r.to)
        .header(HeaderId::call_id, r.call_id)
        .header(HeaderId::cseq, r.cseq + " " + r.method);
    for (const auto& [n, v] : r.headers) w.header(n, v);
    if (!r.body.empty()) w.body(r.content_type, r.body);
    auto b = w.finish();
    return b ? *b : std::string();
}

inline const char* audio_answer =
    "v=0\r\no=srv 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\n"
    "a=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n";

}  // namespace referkit::test
