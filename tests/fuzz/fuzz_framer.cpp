// libFuzzer target: the stream framer. The first byte picks the role and a split point; the
// frames (and error) must not depend on how the bytes were split.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "referkit/core/framer.hpp"

using namespace referkit;

namespace {
std::vector<std::string> frames(std::string_view bytes, std::size_t step, StreamRole role) {
    Limits limits;
    limits.max_message_size = 4096;
    limits.max_pending_stream_bytes = 8192;
    StreamFramer f(role, limits);
    std::vector<std::string> out;
    for (std::size_t pos = 0; pos < bytes.size(); pos += step) {
        if (!f.feed(bytes.substr(pos, step))) { out.push_back("feed-error"); return out; }
        while (true) {
            auto r = f.next();
            if (!r) { out.push_back("error"); return out; }
            if (!*r) break;
            out.emplace_back((*r)->kind == Frame::Kind::message ? std::string((*r)->bytes.view()) : (*r)->kind == Frame::Kind::ping ? "ping" : "pong");
        }
    }
    return out;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    StreamRole role = (data[0] & 1) ? StreamRole::client : StreamRole::server;
    std::size_t step = 1 + (data[0] >> 1);
    std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);
    // Feeding limits can trip at different points for different step sizes only through
    // max_pending_stream_bytes, which is far above what any input here can hold unframed.
    if (bytes.size() > 4096) return 0;
    auto whole = frames(bytes, bytes.size() ? bytes.size() : 1, role);
    auto split = frames(bytes, step, role);
    // A whole-feed run sees everything at once; a split run may stop at the same error earlier but
    // must agree on every frame it produced.
    for (std::size_t i = 0; i < std::min(whole.size(), split.size()); ++i)
        if (whole[i] != split[i] && !(i + 1 == split.size() && split[i] == "error")) std::abort();
    return 0;
}
