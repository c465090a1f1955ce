// Printing messages: canonical header names, unfolded values, a Content-Length that is always
// right. Used both to re-print a parsed message and to build new ones.
#pragma once
#include <array>
#include <cstdint>
#include <expected>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "referkit/core/header_id.hpp"
#include "referkit/core/message.hpp"

namespace referkit {

// Appends the message to out with canonical header names ("v" -> "Via"), folded values joined with
// one space, and a Content-Length equal to the body (written where the original had it, else
// after the last header).
void print(const Message& message, std::string& out);
[[nodiscard]] std::string print(const Message& message);

// Appends a header value with each folded line break, and the white space around it, replaced by
// one SP (RFC 3261 §7.3.1), as it is printed on one line.
void append_unfolded(std::string& out, std::string_view value);

// A caller's mistake while building a message (not a peer's error).
struct BuildError {
    std::string what;
};

// Header fields to add, in order: (name, value).
using HeaderList = std::vector<std::pair<std::string, std::string>>;

// A request as fields rather than bytes: what a transaction user hands the transaction layer,
// which writes it once (write_request, its own Via on top) and keeps the fields it needs later
// (CANCEL, the ACK of a non-2xx, synthesised responses), so that it never parses its own output.
struct OutgoingRequest {
    std::string method{};               // a token: "INVITE", "REFER", "X-FOO"
    std::string request_uri{};
    std::vector<std::string> routes{};  // Route values in order ("<sip:proxy;lr>")
    std::uint32_t max_forwards = 70;
    std::string from{};                 // From value, with its tag
    std::string to{};                   // To value
    std::string call_id{};
    std::uint32_t cseq = 0;             // CSeq number; its method is `method`
    HeaderList headers{};               // every other header, in order
    std::string content_type{};         // "" = no Content-Type
    std::string body{};
};

// Appends `request` to `out`: the request line, "Via: <via>" when `via` is not empty, Route,
// Max-Forwards, From, To, Call-ID, CSeq, `headers` in order, Content-Type, and a Content-Length
// computed from the body. Checked as MessageWriter checks (nothing rejected is written; `out` is
// unchanged on error). Errors: the method is not a token, the Request-URI does not parse, a header
// name is not a token, a value holds a control character (header injection), `headers` names a
// field the request carries itself (Via, Route, Max-Forwards, From, To, Call-ID, CSeq,
// Content-Type, Content-Length), or From, To or Call-ID is empty.
[[nodiscard]] std::expected<void, BuildError> write_request(const OutgoingRequest& request, std::string_view via,
                                                            std::string& out);

// Builds a message. Everything is checked before it is written: names must be tokens, values must
// hold no control characters but HTAB (no header injection, nothing our own parser would refuse),
// a single-value header (From, To, Call-ID, CSeq, Content-Type ...) may be given once, and
// Content-Length is always computed. The first error is kept and returned by finish(); nothing
// rejected is ever written.
class MessageWriter {
public:
    [[nodiscard]] static MessageWriter request(std::string_view method, std::string_view request_uri);
    [[nodiscard]] static MessageWriter response(int status, std::string_view reason = {});

    MessageWriter& header(HeaderId id, std::string_view value);
    MessageWriter& header(std::string_view name, std::string_view value);  // known names are canonicalised
    MessageWriter& header(HeaderId id, std::uint64_t value);
    // Sets the body and its Content-Type (omitted when content_type is empty; a Content-Type given
    // here and with header() is an error).
    MessageWriter& body(std::string_view content_type, std::string_view bytes);

    // The finished message with Content-Length last, or the first error. Call it once: the writer
    // is empty afterwards and a second call is an error.
    [[nodiscard]] std::expected<std::string, BuildError> finish();

private:
    MessageWriter() = default;
    void fail(std::string what);
    [[nodiscard]] bool usable() const noexcept { return error_.empty() && !finished_; }
    std::string out_;
    std::string content_type_;
    std::string body_;
    std::string error_;
    std::array<std::uint8_t, header_id_count> written_{};
    bool finished_ = false;
};

}  // namespace referkit
