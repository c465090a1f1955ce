// Splits a byte stream (TCP, TLS) into SIP messages by Content-Length (RFC 3261 §18.3) and
// recognises RFC 5626 §3.5.1 keep-alives. Bytes already scanned are never scanned again: the
// search for the end of the headers resumes where the previous feed stopped.
#pragma once
#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>

#include "referkit/core/buffer.hpp"
#include "referkit/core/error.hpp"
#include "referkit/core/limits.hpp"

namespace referkit {

// Who opened the connection decides what a bare CRLF means (RFC 5626 §3.5.1): the client sends
// a double-CRLF "ping", the server answers a single-CRLF "pong".
enum class StreamRole : std::uint8_t { server, client };

struct Frame {
    enum class Kind : std::uint8_t { message, ping, pong };
    Kind kind = Kind::message;
    SharedBuffer bytes;  // one whole message (start line to end of body) for Kind::message
};

class StreamFramer {
public:
    explicit StreamFramer(StreamRole role, const Limits& limits = {}) : limits_(limits), role_(role) {}

    // Appends bytes received on the connection. Fails (and the framer stays failed) when the
    // bytes held for an incomplete message exceed Limits::max_pending_stream_bytes (513).
    std::expected<void, ParseError> feed(std::string_view bytes);

    // The next complete frame, nullopt when more bytes are needed, or an error: a message whose
    // headers lack a usable Content-Length (400), whose headers are larger than max_message_size
    // (513), or whose announced body would make it larger (513, RFC 3261 §21.5.14).
    // After an error the stream cannot be resynchronised: close the connection.
    std::expected<std::optional<Frame>, ParseError> next();

    [[nodiscard]] std::size_t pending() const noexcept { return buf_.size() - start_; }
    [[nodiscard]] bool failed() const noexcept { return failed_.has_value(); }
    // Total bytes consumed so far (offsets in errors count from the start of the stream).
    [[nodiscard]] std::uint64_t stream_offset() const noexcept { return base_ + start_; }

private:
    std::expected<std::optional<Frame>, ParseError> fail(ParseError e);
    void compact();

    Limits limits_;
    StreamRole role_;
    std::string buf_;
    std::size_t start_ = 0;       // first byte of the current frame in buf_
    std::size_t scan_ = 0;        // where the search for the header end resumes
    std::size_t body_start_ = 0;  // set once the header end is found (0: not yet)
    std::size_t body_len_ = 0;
    std::uint64_t base_ = 0;      // stream offset of buf_[0]
    std::optional<ParseError> failed_;
};

}  // namespace referkit
