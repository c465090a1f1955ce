// RFC 3261 §7 message parser: start line, header fields (with folding and compact forms), hot
// headers validated here, body delimited per §18.3.
#include <algorithm>
#include <array>
#include <cstring>

#include "header_table.hpp"
#include "lex.hpp"
#include "uri_internal.hpp"
#include "referkit/core/message.hpp"

namespace referkit {

using lex::error;

class MessageParser {
public:
    MessageParser(Message& m, const Limits& limits) : m_(m), limits_(limits) {}

    std::expected<void, ParseError> run(Framing framing);

private:
    using Void = std::expected<void, ParseError>;
    std::size_t off(const char* p) const noexcept { return static_cast<std::size_t>(p - begin_); }
    ParseError shifted(ParseError e, std::string_view within) const noexcept {
        e.offset += static_cast<std::uint32_t>(off(within.data()));
        return e;
    }
    Void start_line(const char* s, const char* e);
    Void request_line(const char* s, const char* e);
    Void status_line(const char* s, const char* e);
    Void hot_header(const HeaderField& h);

    Message& m_;
    const Limits& limits_;
    const char* begin_ = nullptr;
    bool seen_via_ = false, seen_from_ = false, seen_to_ = false, seen_call_id_ = false, seen_cseq_ = false;
};

namespace {
// True when the byte at q follows a backslash that escapes it inside a quoted string
// (quoted-pair, RFC 3261 §25.1) — the only place a control character may appear in a header.
bool escaped_in_quotes(const char* line, const char* q) noexcept {
    bool quoted = false;
    for (const char* p = line; p < q; ++p) {
        if (!quoted) {
            quoted = *p == '"';
        } else if (*p == '\\') {
            if (p + 1 == q) return true;
            ++p;
        } else if (*p == '"') {
            quoted = false;
        }
    }
    return false;
}

// The headers validated while parsing.
constexpr std::array<bool, header_id_count> make_hot() {
    std::array<bool, header_id_count> h{};
    for (HeaderId id : {HeaderId::via, HeaderId::from, HeaderId::to, HeaderId::call_id, HeaderId::cseq,
                        HeaderId::max_forwards, HeaderId::content_length})
        h[static_cast<std::size_t>(id)] = true;
    return h;
}
constexpr std::array<bool, header_id_count> hot = make_hot();

// SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT; "SIP" is case-insensitive (§7.1).
enum class Version { ok, unsupported, bad };
Version check_version(std::string_view v) noexcept {
    if (v.size() < 7 || (v[0] | 0x20) != 's' || (v[1] | 0x20) != 'i' || (v[2] | 0x20) != 'p' || v[3] != '/') return Version::bad;
    std::size_t i = 4, d1 = 0, d2 = 0;
    while (i < v.size() && lex::is_digit(v[i])) ++i, ++d1;
    if (d1 == 0 || i >= v.size() || v[i] != '.') return Version::bad;
    ++i;
    while (i < v.size() && lex::is_digit(v[i])) ++i, ++d2;
    if (d2 == 0 || i != v.size()) return Version::bad;
    return v.substr(4) == "2.0" ? Version::ok : Version::unsupported;
}
}  // namespace

MessageParser::Void MessageParser::request_line(const char* s, const char* e) {
    const char* p = s;
    while (p < e && lex::is(*p, lex::k_token)) ++p;
    if (p == s) return std::unexpected(error(ErrorCode::bad_method, off(s), "method must be a token"));
    if (p >= e || *p != ' ')
        return std::unexpected(error(ErrorCode::bad_start_line, off(p), "Request-Line must be Method SP Request-URI SP SIP-Version"));
    m_.method_text_ = std::string_view(s, static_cast<std::size_t>(p - s));
    m_.method_ = lookup_method(m_.method_text_);
    const char* us = ++p;
    if (p < e && *p == ' ')
        return std::unexpected(error(ErrorCode::bad_start_line, off(p), "exactly one SP must separate Request-Line elements"));
    if (p < e && *p == '<')
        return std::unexpected(error(ErrorCode::bad_request_uri, off(p), "the Request-URI must not be enclosed in <>"));
    if (const void* sp = std::memchr(p, ' ', static_cast<std::size_t>(e - p))) p = static_cast<const char*>(sp);
    else p = e;
    if (p >= e) return std::unexpected(error(ErrorCode::bad_start_line, off(p), "SIP-Version missing from the Request-Line"));
    std::string_view uri(us, static_cast<std::size_t>(p - us));
    if (uri.size() > limits_.max_uri_length)
        return std::unexpected(error(ErrorCode::uri_too_long, off(us), "Request-URI longer than Limits::max_uri_length", 414));
    std::string_view version(p + 1, static_cast<std::size_t>(e - p - 1));
    switch (check_version(version)) {
        case Version::ok: break;
        case Version::unsupported:
            return std::unexpected(error(ErrorCode::unsupported_version, off(p + 1), "SIP version not supported", 505));
        case Version::bad:
            // Extra SP (trailing, or LWS inside the URI) shows up as a malformed version.
            return std::unexpected(error(ErrorCode::bad_start_line, off(p + 1),
                                         "Request-Line must be Method SP Request-URI SP SIP-Version (no other spaces)"));
    }
    auto u = parse_uri(uri, UriContext::request_uri, limits_);
    if (!u) {
        ParseError err = shifted(u.error(), uri);
        if (err.code == ErrorCode::bad_uri) err.code = ErrorCode::bad_request_uri;
        return std::unexpected(err);
    }
    m_.request_uri_ = *u;
    return {};
}

MessageParser::Void MessageParser::status_line(const char* s, const char* e) {
    const char* p = s;
    while (p < e && *p != ' ') ++p;
    std::string_view version(s, static_cast<std::size_t>(p - s));
    switch (check_version(version)) {
        case Version::ok: break;
        case Version::unsupported:
            return std::unexpected(error(ErrorCode::unsupported_version, off(s), "SIP version not supported", 505));
        case Version::bad: return std::unexpected(error(ErrorCode::bad_version, off(s), "malformed SIP-Version"));
    }
    if (p >= e) return std::unexpected(error(ErrorCode::bad_status_code, off(p), "status code missing"));
    const char* cs = ++p;
    while (p < e && lex::is_digit(*p)) ++p;
    if (p - cs != 3 || (p < e && *p != ' '))
        return std::unexpected(error(ErrorCode::bad_status_code, off(cs), "status code must be three digits"));
    int code = (cs[0] - '0') * 100 + (cs[1] - '0') * 10 + (cs[2] - '0');
    if (code < 100 || code > 699) return std::unexpected(error(ErrorCode::bad_status_code, off(cs), "status code must be 100..699"));
    m_.status_ = code;
    // Reason-Phrase = *(reserved / unreserved / escaped / UTF8 / SP / HTAB); tolerate a missing SP
    // when the phrase is empty.
    const char* rs = p < e ? p + 1 : e;  // control characters were refused with the line ending
    m_.reason_ = std::string_view(rs, static_cast<std::size_t>(e - rs));
    return {};
}

MessageParser::Void MessageParser::start_line(const char* s, const char* e) {
    m_.start_line_ = std::string_view(s, static_cast<std::size_t>(e - s));
    if (e - s >= 4 && (s[0] | 0x20) == 's' && (s[1] | 0x20) == 'i' && (s[2] | 0x20) == 'p' && s[3] == '/')
        return status_line(s, e);
    return request_line(s, e);
}

MessageParser::Void MessageParser::hot_header(const HeaderField& h) {
    auto dup = [&]() {
        return std::unexpected(error(ErrorCode::duplicate_header, off(h.name.data()), "header may appear only once"));
    };
    // A lookup over some of the ~70 header ids, not a state machine: the rest fall to default.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wswitch-enum"
    switch (h.id) {
        case HeaderId::via: {
            if (seen_via_) return {};
            seen_via_ = true;
            std::string_view top = h.value;
            // Most Via lines hold one value: only a ',' makes the quote-aware split necessary.
            if (std::memchr(h.value.data(), ',', h.value.size())) {
                std::size_t comma = detail::find_list_comma(h.value, 0);
                if (comma == detail::unbalanced)
                    return std::unexpected(error(ErrorCode::bad_via, off(h.value.data()), "unbalanced quotes in Via"));
                if (comma != std::string_view::npos) top = lex::trim(h.value.substr(0, comma));
            }
            if (auto e = detail::parse_via_into(top, limits_, m_.top_via_)) return std::unexpected(shifted(*e, top));
            return {};
        }
        case HeaderId::from:
        case HeaderId::to: {
            bool& seen = h.id == HeaderId::from ? seen_from_ : seen_to_;
            if (seen) return dup();
            seen = true;
            NameAddr& na = h.id == HeaderId::from ? m_.from_ : m_.to_;
            if (auto e = detail::parse_name_addr_into(h.value, limits_, na)) return std::unexpected(shifted(*e, h.value));
            return {};
        }
        case HeaderId::call_id: {
            if (seen_call_id_) return dup();
            seen_call_id_ = true;
            auto id = parse_call_id(h.value);
            if (!id) return std::unexpected(shifted(id.error(), h.value));
            m_.call_id_ = *id;
            return {};
        }
        case HeaderId::cseq: {
            if (seen_cseq_) return dup();
            seen_cseq_ = true;
            auto cs = parse_cseq(h.value);
            if (!cs) return std::unexpected(shifted(cs.error(), h.value));
            m_.cseq_ = *cs;
            return {};
        }
        case HeaderId::max_forwards: {
            if (m_.max_forwards_) return dup();
            auto n = parse_uint(h.value, 255);
            if (!n) return std::unexpected(shifted(n.error(), h.value));
            m_.max_forwards_ = *n;
            return {};
        }
        case HeaderId::content_length: {
            auto n = parse_uint(h.value, 0xffffffffu);
            if (!n) {
                ParseError err = shifted(n.error(), h.value);
                err.code = ErrorCode::bad_content_length;
                err.what = "Content-Length must be a non-negative decimal number";
                return std::unexpected(err);
            }
            if (m_.content_length_)  // RFC 4475 §3.3.9: several values cannot be trusted
                return std::unexpected(error(ErrorCode::bad_content_length, off(h.name.data()), "more than one Content-Length"));
            m_.content_length_ = *n;
            return {};
        }
        default: return {};
    }
#pragma GCC diagnostic pop
}

std::expected<void, ParseError> MessageParser::run(Framing framing) {
    const std::string_view all = m_.buffer_.view();
    begin_ = all.data();
    const char* p = all.data();
    const char* const end = p + all.size();
    if (all.size() > limits_.max_message_size)
        return std::unexpected(error(ErrorCode::message_too_large, limits_.max_message_size, "message larger than Limits::max_message_size", 513));
    // §7.5: ignore CRLFs before the start line.
    while (p < end && (*p == '\r' || *p == '\n')) {
        if (*p == '\r' && (p + 1 >= end || p[1] != '\n')) return std::unexpected(error(ErrorCode::bad_line_ending, off(p), "CR not followed by LF"));
        ++p;
    }
    if (p >= end) return std::unexpected(error(ErrorCode::empty_message, off(p), "no message, only line endings"));
    const char* msg_begin = p;

    // Start line: ends at the first control character, which must be the line ending.
    const char* ctl = lex::find_control(p, end);
    if (ctl >= end) return std::unexpected(error(ErrorCode::bad_start_line, off(end), "start line not terminated"));
    const char* le = ctl;
    if (*ctl == '\r') {
        if (ctl + 1 >= end || ctl[1] != '\n') return std::unexpected(error(ErrorCode::bad_line_ending, off(ctl), "CR not followed by LF"));
        ++ctl;
    } else if (*ctl != '\n') {
        bool status_line = ctl - p >= 4 && (p[0] | 0x20) == 's' && (p[1] | 0x20) == 'i' && (p[2] | 0x20) == 'p' && p[3] == '/';
        if (status_line && *ctl == '\t') {
            // HTAB is allowed in a reason phrase: look for the real line ending.
            const char* r = ctl;
            while (r < end && (*r == '\t' || static_cast<unsigned char>(*r) >= 0x20) && *r != 0x7f) ++r;
            ctl = r;
            le = r;
            if (r < end && *r == '\r' && r + 1 < end && r[1] == '\n') ++ctl;
            else if (r >= end || *r != '\n')
                return std::unexpected(error(ErrorCode::bad_reason_phrase, off(r), "control character in the reason phrase"));
        } else {
            return std::unexpected(error(status_line ? ErrorCode::bad_reason_phrase : ErrorCode::bad_start_line, off(ctl),
                                         status_line ? "control character in the reason phrase" : "control character in the start line"));
        }
    }
    if (static_cast<std::size_t>(le - p) > limits_.max_line_length) {
        bool request = !(le - p >= 4 && (p[0] | 0x20) == 's' && (p[1] | 0x20) == 'i' && (p[2] | 0x20) == 'p' && p[3] == '/');
        return std::unexpected(error(ErrorCode::line_too_long, off(p) + limits_.max_line_length,
                                     "start line longer than Limits::max_line_length", request ? 414 : 400));
    }
    if (auto r = start_line(p, le); !r) return r;
    p = ctl + 1;

    // RFC 3261 §21.5.14: a Content-Length that makes the message (its head ending at `head_end`)
    // larger than Limits::max_message_size is 513, whether or not the body arrived.
    auto announced_too_large = [&](const char* head_end) {
        return m_.content_length_ &&
               static_cast<std::size_t>(head_end - msg_begin) + *m_.content_length_ > limits_.max_message_size;
    };
    auto too_large = [&](const char* head_end) {
        return std::unexpected(error(ErrorCode::message_too_large, off(head_end),
                                     "Content-Length makes the message larger than Limits::max_message_size", 513));
    };

    // Header fields.
    m_.headers_.reserve(24);
    while (true) {
        if (p >= end) {
            // A datagram may end right after the last header line: no body.
            if (framing == Framing::datagram) break;
            // A stream framer that refused the announced body hands over the headers alone.
            if (announced_too_large(p)) return too_large(p);
            return std::unexpected(error(ErrorCode::bad_header_name, off(p), "headers not closed by an empty line"));
        }
        if (*p == '\n') { ++p; break; }
        if (*p == '\r') {
            if (p + 1 < end && p[1] == '\n') { p += 2; break; }
            return std::unexpected(error(ErrorCode::bad_line_ending, off(p), "CR not followed by LF"));
        }
        const char* ns = p;
        // The first ':' or control character: normally the end of the name.
        const char* colon = lex::find_control(p, end, ':');
        while (colon < end && *colon == '\t') colon = lex::find_control(colon + 1, end, ':');  // HCOLON allows HTAB
        if (colon >= end || *colon != ':') colon = nullptr;
        // Find the end of the (possibly folded) line; every control character on the way must be
        // part of a line ending, a tab, or a quoted-pair (RFC 3261 §25.1).
        const char* q = colon ? colon : p;
        const char* lend;
        bool folded = false;
        while (true) {
            q = lex::find_control(q, end);
            if (q >= end) return std::unexpected(error(ErrorCode::bad_line_ending, off(end), "header line not terminated"));
            const char c = *q;
            const char* nl;
            if (c == '\n') {
                nl = q;
            } else if (c == '\r') {
                if (q + 1 >= end || q[1] != '\n') return std::unexpected(error(ErrorCode::bad_line_ending, off(q), "CR not followed by LF"));
                nl = q + 1;
            } else if (c == '\t' || escaped_in_quotes(ns, q)) {
                ++q;
                continue;
            } else {
                return std::unexpected(error(ErrorCode::bad_header_value, off(q), "control character in a header field"));
            }
            if (nl + 1 < end && lex::is_ws(nl[1])) {  // folded (§7.3.1)
                folded = true;
                q = nl + 1;
                continue;
            }
            lend = q;
            p = nl + 1;
            break;
        }
        if (static_cast<std::size_t>(lend - ns) > limits_.max_line_length)
            return std::unexpected(error(ErrorCode::line_too_long, off(ns), "header field longer than Limits::max_line_length"));
        if (m_.headers_.size() >= std::min<std::size_t>(limits_.max_headers, 65535))  // first_/count_ are 16-bit
            return std::unexpected(error(ErrorCode::too_many_headers, off(ns), "more header fields than Limits::max_headers"));
        const char* ne = colon ? colon : ns;
        while (ne > ns && lex::is_ws(ne[-1])) --ne;
        std::string_view name(ns, static_cast<std::size_t>(ne - ns));
        const HeaderId id = colon ? header_table::lookup(name) : HeaderId::other;
        if (id == HeaderId::other) {
            // A known name matched a canonical token; anything else is checked here: token, then
            // optional white space, then ':'.
            const char* n = ns;
            while (n < lend && lex::is(*n, lex::k_token)) ++n;
            if (n == ns) return std::unexpected(error(ErrorCode::bad_header_name, off(ns), "header name must be a token"));
            while (n < lend && lex::is_ws(*n)) ++n;
            if (n != colon) return std::unexpected(error(ErrorCode::bad_header_name, off(n), "':' expected after the header name"));
        }
        // Trim LWS (including a leading folded break, as in "To :\r\n sip:...").
        const char* vs = colon + 1;
        while (vs < lend && lex::is(*vs, lex::k_lws)) ++vs;
        const char* ve = lend;
        while (ve > vs && lex::is(ve[-1], lex::k_lws)) --ve;
        const auto index = static_cast<std::uint16_t>(m_.headers_.size());
        HeaderField& h = m_.headers_.emplace_back(HeaderField{id, folded, name, std::string_view(vs, static_cast<std::size_t>(ve - vs))});
        if (id != HeaderId::other) {
            const auto i = static_cast<std::size_t>(id);
            if (m_.count_[i]++ == 0) m_.first_[i] = index;
            if (hot[i])
                if (auto r = hot_header(h); !r) return r;
        }
    }

    // Mandatory headers (§8.1.1, §20): a UAS answers 400 when any is missing.
    const char* hdr_end = p;
    auto missing = [&](std::string_view what) { return std::unexpected(error(ErrorCode::missing_header, off(hdr_end), what)); };
    if (!seen_via_) return missing("Via header missing");
    if (!seen_from_) return missing("From header missing");
    if (!seen_to_) return missing("To header missing");
    if (!seen_call_id_) return missing("Call-ID header missing");
    if (!seen_cseq_) return missing("CSeq header missing");
    if (m_.is_request() && m_.cseq_.method_text != m_.method_text_) {
        const HeaderField* cs = m_.find(HeaderId::cseq);
        // RFC 4475 §3.1.2.18: with an unknown method, 501 is the better answer than 400.
        return std::unexpected(error(ErrorCode::cseq_method_mismatch, off(cs->value.data()), "CSeq method differs from the request method",
                                     m_.method_ == Method::other ? 501 : 400));
    }

    // Body (§18.3).
    std::size_t avail = static_cast<std::size_t>(end - p);
    std::size_t body_len = avail;
    if (m_.content_length_) {
        if (announced_too_large(p)) return too_large(p);  // before the truncation check
        if (*m_.content_length_ > avail)
            return std::unexpected(error(ErrorCode::body_truncated, off(p), "Content-Length larger than the bytes received"));
        body_len = *m_.content_length_;
    } else if (framing == Framing::stream) {
        return std::unexpected(error(ErrorCode::missing_content_length, off(p), "Content-Length required on stream transports"));
    }
    m_.body_ = std::string_view(p, body_len);
    m_.bytes_ = std::string_view(msg_begin, static_cast<std::size_t>(p + body_len - msg_begin));
    m_.consumed_ = off(p + body_len);
    return {};
}

std::expected<Message, ParseError> Message::parse(SharedBuffer buffer, const Limits& limits, Framing framing) {
    // One named result returned on every path, so it is built in place (no move of a Message).
    std::expected<Message, ParseError> out(std::in_place, Message::Key{});
    out->buffer_ = std::move(buffer);
    out->limits_ = limits;
    MessageParser parser(*out, limits);
    if (auto r = parser.run(framing); !r) out = std::unexpected(r.error());
    return out;
}

std::expected<Message, ParseError> Message::parse(std::string_view bytes, const Limits& limits, Framing framing) {
    if (bytes.size() > limits.max_message_size)
        return std::unexpected(error(ErrorCode::message_too_large, limits.max_message_size, "message larger than Limits::max_message_size", 513));
    return parse(SharedBuffer::copy_of(bytes), limits, framing);
}

}  // namespace referkit
