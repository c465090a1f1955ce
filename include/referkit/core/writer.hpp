// Printing messages: canonical header names, unfolded values, a Content-Length that is always
// right. Used both to re-print a parsed message and to build new ones.
#pragma once
#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

#include "referkit/core/header_id.hpp"
#include "referkit/core/message.hpp"

namespace referkit {

// Appends the message to out with canonical header names ("v" -> "Via"), folded values joined with
// one space, and a Content-Length equal to the body (written where the original had it, else
// after the last header).
void print(const Message& message, std::string& out);
[[nodiscard]] std::string print(const Message& message);

// A caller's mistake while building a message (not a peer's error).
struct BuildError {
    std::string what;
};

// Builds a message. Values are checked: CR, LF and NUL are refused (no header injection), names
// must be tokens. The first error is kept and returned by finish().
class MessageWriter {
public:
    [[nodiscard]] static MessageWriter request(std::string_view method, std::string_view request_uri);
    [[nodiscard]] static MessageWriter response(int status, std::string_view reason = {});

    MessageWriter& header(HeaderId id, std::string_view value);
    MessageWriter& header(std::string_view name, std::string_view value);  // known names are canonicalised
    MessageWriter& header(HeaderId id, std::uint64_t value);
    // Sets the body and its Content-Type (omitted when content_type is empty).
    MessageWriter& body(std::string_view content_type, std::string_view bytes);

    // The finished message with Content-Length last, or the first error.
    // The writer is left empty afterwards.
    [[nodiscard]] std::expected<std::string, BuildError> finish();

private:
    MessageWriter() = default;
    void fail(std::string what);
    std::string out_;
    std::string content_type_;
    std::string body_;
    std::string error_;
};

}  // namespace referkit
