// A parsed SIP message (RFC 3261 §7): views into one shared buffer. The start line and the hot
// headers (top Via, From, To, Call-ID, CSeq, plus Max-Forwards and Content-Length) are validated
// when the message is parsed; every other header is kept as text and parsed when it is asked for.
#pragma once
#include <array>
#include <cstdint>
#include <expected>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "referkit/core/buffer.hpp"
#include "referkit/core/error.hpp"
#include "referkit/core/header_id.hpp"
#include "referkit/core/headers.hpp"
#include "referkit/core/limits.hpp"
#include "referkit/core/uri.hpp"

namespace referkit {

struct HeaderField {
    HeaderId id = HeaderId::other;
    bool folded = false;     // the value spans several lines (§7.3.1)
    std::string_view name;   // as written ("v", "VIA", "X-Foo")
    std::string_view value;  // trimmed; may contain folded line breaks (CRLF followed by SP/HT)
};

// How the body is delimited (RFC 3261 §18.3).
enum class Framing : std::uint8_t {
    datagram,  // Content-Length optional; missing = rest of the datagram; extra bytes discarded
    stream,    // Content-Length required; bytes after the body belong to the next message
};

class Message {
public:
    // Parses the message at the start of buffer. Leading CRLFs are skipped (§7.5). Returns the
    // message, whose size() tells how many bytes it used, or the first error found with its offset
    // within the buffer and the status a UAS answers with (400, 414, 505, 513).
    [[nodiscard]] static std::expected<Message, ParseError> parse(SharedBuffer buffer, const Limits& limits = {},
                                                                  Framing framing = Framing::datagram);
    // Convenience: copies bytes into a new SharedBuffer first.
    [[nodiscard]] static std::expected<Message, ParseError> parse(std::string_view bytes, const Limits& limits = {},
                                                                  Framing framing = Framing::datagram);

    // --- start line
    [[nodiscard]] bool is_request() const noexcept { return status_ == 0; }
    [[nodiscard]] bool is_response() const noexcept { return status_ != 0; }
    [[nodiscard]] Method method() const noexcept { return method_; }
    [[nodiscard]] std::string_view method_text() const noexcept { return method_text_; }
    [[nodiscard]] const Uri& request_uri() const noexcept { return request_uri_; }
    [[nodiscard]] int status() const noexcept { return status_; }
    [[nodiscard]] std::string_view reason() const noexcept { return reason_; }
    [[nodiscard]] std::string_view start_line() const noexcept { return start_line_; }

    // --- hot headers, always present and valid in a parsed message
    [[nodiscard]] const Via& top_via() const noexcept { return top_via_; }
    [[nodiscard]] const NameAddr& from() const noexcept { return from_; }
    [[nodiscard]] const NameAddr& to() const noexcept { return to_; }
    [[nodiscard]] std::string_view call_id() const noexcept { return call_id_; }
    [[nodiscard]] const CSeq& cseq() const noexcept { return cseq_; }
    [[nodiscard]] std::optional<std::uint32_t> max_forwards() const noexcept { return max_forwards_; }
    // Content-Length as written (absent on datagrams = body size).
    [[nodiscard]] std::optional<std::uint32_t> content_length() const noexcept { return content_length_; }

    // --- all header fields, in order
    [[nodiscard]] std::span<const HeaderField> headers() const noexcept { return headers_; }
    [[nodiscard]] const HeaderField* find(HeaderId id) const noexcept;
    [[nodiscard]] const HeaderField* find(std::string_view name) const noexcept;  // any name, case-insensitive
    [[nodiscard]] std::size_t count(HeaderId id) const noexcept {
        return id == HeaderId::other ? count_other() : count_[static_cast<std::size_t>(id)];
    }

    // --- typed access, parsed on each call; errors carry offsets within the buffer.
    // header_absent when the header is missing; duplicate_header where only one is allowed.
    [[nodiscard]] std::expected<std::vector<Via>, ParseError> vias() const;
    [[nodiscard]] std::expected<std::vector<NameAddr>, ParseError> name_addrs(HeaderId id) const;  // Route, Record-Route, Contact...
    [[nodiscard]] std::expected<NameAddr, ParseError> single_name_addr(HeaderId id) const;         // Refer-To, Referred-By...
    [[nodiscard]] std::expected<NameAddr, ParseError> refer_to() const { return single_name_addr(HeaderId::refer_to); }
    [[nodiscard]] std::expected<NameAddr, ParseError> referred_by() const { return single_name_addr(HeaderId::referred_by); }
    // Contact: "*" gives is_star = true and no entries.
    struct ContactList { bool is_star = false; std::vector<NameAddr> entries; };
    [[nodiscard]] std::expected<ContactList, ParseError> contacts() const;
    [[nodiscard]] std::expected<ContentType, ParseError> content_type() const;
    [[nodiscard]] std::expected<Event, ParseError> event() const;
    [[nodiscard]] std::expected<SubscriptionState, ParseError> subscription_state() const;
    // The same two read tolerantly (headers.hpp: Tolerated): a malformed parameter is skipped and
    // named in `ignored` (offset in the message) instead of failing the header.
    [[nodiscard]] std::expected<Tolerated<Event>, ParseError> event_tolerant() const;
    [[nodiscard]] std::expected<Tolerated<SubscriptionState>, ParseError> subscription_state_tolerant() const;
    [[nodiscard]] std::expected<ReferSub, ParseError> refer_sub() const;
    [[nodiscard]] std::expected<DialogRef, ParseError> replaces() const;
    [[nodiscard]] std::expected<DialogRef, ParseError> target_dialog() const;
    [[nodiscard]] std::expected<std::uint32_t, ParseError> expires() const;
    // Every token of every instance of a token-list header (Supported, Require, Allow ...).
    [[nodiscard]] std::expected<std::vector<std::string_view>, ParseError> tokens(HeaderId id) const;
    // Every challenge (WWW-/Proxy-Authenticate) or credentials (Authorization ...) in order.
    [[nodiscard]] std::expected<std::vector<AuthParams>, ParseError> auth(HeaderId id) const;

    // --- body and bytes
    [[nodiscard]] std::string_view body() const noexcept { return body_; }
    [[nodiscard]] std::string_view bytes() const noexcept { return bytes_; }  // the message's bytes, no trailing extra
    [[nodiscard]] std::size_t size() const noexcept { return consumed_; }     // bytes of the buffer used, incl. leading CRLFs
    [[nodiscard]] const SharedBuffer& buffer() const noexcept { return buffer_; }
    // The limits the message was parsed with; typed accessors apply them too.
    [[nodiscard]] const Limits& limits() const noexcept { return limits_; }
    // Offset of a view within the buffer (for error reporting of derived parsers).
    [[nodiscard]] std::uint32_t offset_of(std::string_view v) const noexcept {
        return static_cast<std::uint32_t>(v.data() - buffer_.data());
    }

    // Only the parser makes messages (the key keeps the constructor usable by std::expected).
    class Key {
        friend class Message;
        Key() = default;
    };
    explicit Message(Key) {}

private:
    friend class MessageParser;

    std::expected<const HeaderField*, ParseError> single(HeaderId id) const;
    std::size_t count_other() const noexcept;
    ParseError relocate(ParseError e, std::string_view within) const noexcept;

    SharedBuffer buffer_;
    Limits limits_;
    std::string_view bytes_, start_line_, method_text_, reason_, call_id_, body_;
    Uri request_uri_;
    Via top_via_;
    NameAddr from_, to_;
    CSeq cseq_;
    std::optional<std::uint32_t> max_forwards_, content_length_;
    std::vector<HeaderField> headers_;
    std::array<std::uint16_t, header_id_count> first_{};  // index of the first field of each id
    std::array<std::uint16_t, header_id_count> count_{};  // fields of each id
    std::size_t consumed_ = 0;
    int status_ = 0;
    Method method_ = Method::other;
};

}  // namespace referkit
