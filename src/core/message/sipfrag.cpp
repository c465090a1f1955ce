// message/sipfrag (RFC 3420). RFC 3515 §2.4.5 makes the status line the part a REFER needs, so the
// start line is checked strictly and everything after it tolerantly.
#include "referkit/core/sipfrag.hpp"

#include "lex.hpp"
#include "referkit/core/validate.hpp"

namespace referkit {
namespace {

using lex::error;

// One line [s, e) and the start of the next; bare LF and a missing final line ending tolerated.
struct Line {
    std::string_view text;
    const char* next;
};
Line line_at(const char* s, const char* end) {
    const char* p = s;
    while (p < end && *p != '\n') ++p;
    const char* e = (p > s && p[-1] == '\r') ? p - 1 : p;
    return {std::string_view(s, static_cast<std::size_t>(e - s)), p < end ? p + 1 : end};
}

bool sip_20(std::string_view v) {
    return v.size() == 7 && (v[0] | 0x20) == 's' && (v[1] | 0x20) == 'i' && (v[2] | 0x20) == 'p' && v.substr(3) == "/2.0";
}

}  // namespace

std::expected<Sipfrag, ParseError> parse_sipfrag(std::string_view body, const Limits& limits, SipfragMode mode) {
    const char* const begin = body.data();
    const char* const end = begin + body.size();
    auto off = [&](const char* p) { return static_cast<std::size_t>(p - begin); };
    if (body.size() > limits.max_message_size)
        return std::unexpected(error(ErrorCode::message_too_large, limits.max_message_size, "sipfrag larger than Limits::max_message_size", 513));
    const char* p = begin;
    while (p < end && (*p == '\r' || *p == '\n' || lex::is_ws(*p))) ++p;
    if (p >= end) return std::unexpected(error(ErrorCode::bad_sipfrag, off(p), "empty sipfrag: a status line is required"));

    Sipfrag f;
    Line sl = line_at(p, end);
    std::string_view s = sl.text;
    if (s.size() > limits.max_line_length)
        return std::unexpected(error(ErrorCode::line_too_long, off(p), "sipfrag start line longer than Limits::max_line_length"));
    for (const char& ch : s) {  // the start line is text: no control characters but HTAB
        auto u = static_cast<unsigned char>(ch);
        if ((u < 0x20 && ch != '\t') || u == 0x7f)
            return std::unexpected(error(ErrorCode::bad_sipfrag, off(&ch), "control character in the sipfrag start line"));
    }
    std::size_t sp = s.find(' ');
    std::string_view first = s.substr(0, sp);
    if (first.size() >= 4 && (first[0] | 0x20) == 's' && (first[1] | 0x20) == 'i' && (first[2] | 0x20) == 'p' && first[3] == '/') {
        if (!sip_20(first)) return std::unexpected(error(ErrorCode::bad_sipfrag, off(p), "sipfrag status line must start with SIP/2.0"));
        if (sp == std::string_view::npos) return std::unexpected(error(ErrorCode::bad_sipfrag, off(p) + s.size(), "status code missing"));
        std::size_t i = sp;
        while (i < s.size() && s[i] == ' ') ++i;
        std::size_t cs = i;
        while (i < s.size() && lex::is_digit(s[i])) ++i;
        if (i - cs != 3 || (i < s.size() && !lex::is_ws(s[i])))
            return std::unexpected(error(ErrorCode::bad_sipfrag, off(p) + cs, "status code must be three digits"));
        int code = (s[cs] - '0') * 100 + (s[cs + 1] - '0') * 10 + (s[cs + 2] - '0');
        if (code < 100 || code > 699) return std::unexpected(error(ErrorCode::bad_sipfrag, off(p) + cs, "status code must be 100..699"));
        f.is_response = true;
        f.status = code;
        f.reason = lex::trim(s.substr(i));
    } else {
        // Request-Line fragment: Method SP Request-URI SP SIP/2.0.
        std::size_t sp2 = sp == std::string_view::npos ? sp : s.find(' ', sp + 1);
        if (!is_token(first) || sp2 == std::string_view::npos || !sip_20(s.substr(sp2 + 1)))
            return std::unexpected(error(ErrorCode::bad_sipfrag, off(p), "sipfrag must start with a status line or a request line"));
        f.is_response = false;
        f.method = first;
        f.request_uri = s.substr(sp + 1, sp2 - sp - 1);
        if (auto u = parse_uri(f.request_uri, UriContext::request_uri, limits); !u)
            return std::unexpected(error(ErrorCode::bad_sipfrag, off(f.request_uri.data()) + u.error().offset, "malformed Request-URI in sipfrag"));
    }
    p = sl.next;

    // Header lines, then an optional blank line and body. Anything else is tolerated junk.
    while (p < end) {
        if (*p == '\n' || (*p == '\r' && p + 1 < end && p[1] == '\n')) {
            p += *p == '\n' ? 1 : 2;
            f.body = std::string_view(p, static_cast<std::size_t>(end - p));
            break;
        }
        const char* ns = p;
        while (p < end && lex::is(*p, lex::k_token)) ++p;
        const char* ne = p;
        while (p < end && lex::is_ws(*p)) ++p;
        if (f.headers.size() >= limits.max_headers)
            return std::unexpected(error(ErrorCode::too_many_headers, off(ns), "more sipfrag header fields than Limits::max_headers"));
        if (ne == ns || p >= end || *p != ':') {
            if (mode == SipfragMode::strict)
                return std::unexpected(error(ErrorCode::bad_sipfrag, off(ns), "line is neither a header field nor the blank line before a body"));
            f.junk_offset = static_cast<std::uint32_t>(off(ns));
            break;
        }
        ++p;
        const char* vs = p;
        Line l = line_at(p, end);
        while (l.next < end && lex::is_ws(*l.next)) l = line_at(l.next, end);  // folding
        std::string_view value(vs, static_cast<std::size_t>(l.text.data() + l.text.size() - vs));
        if (static_cast<std::size_t>(l.text.data() + l.text.size() - ns) > limits.max_line_length)
            return std::unexpected(error(ErrorCode::line_too_long, off(ns), "sipfrag header field longer than Limits::max_line_length"));
        std::string_view name(ns, static_cast<std::size_t>(ne - ns));
        SipfragHeader& h = f.headers.emplace_back(SipfragHeader{lookup_header(name), name, lex::trim(value)});
        p = l.next;
        if (mode == SipfragMode::strict && h.id != HeaderId::other) {
            if (auto e = check_header_value(h.id, h.value, limits)) {
                e->offset += static_cast<std::uint32_t>(off(h.value.data()));
                return std::unexpected(*e);
            }
            if (is_single_header(h.id))
                for (std::size_t i = 0; i + 1 < f.headers.size(); ++i)
                    if (f.headers[i].id == h.id)
                        return std::unexpected(error(ErrorCode::duplicate_header, off(ns), "header may appear only once"));
        }
    }
    return f;
}

}  // namespace referkit
