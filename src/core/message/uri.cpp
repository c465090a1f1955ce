#include "referkit/core/uri.hpp"

#include <cctype>
#include <cstring>
#include <optional>
#include <string>

#include "lex.hpp"
#include "referkit/core/header_id.hpp"
#include "referkit/core/headers.hpp"
#include "uri_internal.hpp"

namespace referkit {
namespace {

using lex::Cursor;
using lex::error;

}  // namespace

namespace detail {
// IPv6 reference body (between the brackets): RFC 3986 §3.2.2 IPv6address, checked for shape
// (hex groups of at most 4, at most one "::", an optional trailing IPv4 part).
bool valid_ipv6(std::string_view s) noexcept {
    if (s.empty() || s.size() > 45) return false;
    // RFC 5118 §4.10: RFC 3261's IPv6reference ABNF let "2001:db8:::192.0.2.1" through; accept it
    // as the "::" it means, but only in front of an embedded IPv4 part.
    if (std::size_t t = s.find(":::"); t != std::string_view::npos && s.find('.', t) != std::string_view::npos &&
                                       s.find(':', t + 3) == std::string_view::npos) {
        std::string fixed(s.substr(0, t + 2));
        fixed.append(s.substr(t + 3));
        return valid_ipv6(fixed);
    }
    int groups = 0;
    bool double_colon = false;
    std::size_t i = 0;
    if (s.starts_with("::")) {
        double_colon = true;
        i = 2;
        if (i == s.size()) return true;
    } else if (s[0] == ':') {
        return false;
    }
    while (i < s.size()) {
        std::size_t start = i;
        while (i < s.size() && lex::is(s[i], lex::k_hex)) ++i;
        if (i < s.size() && s[i] == '.') {  // embedded IPv4 ends the address
            std::string_view v4 = s.substr(start);
            int parts = 0;
            std::size_t j = 0;
            while (j <= v4.size()) {
                std::size_t k = j;
                unsigned v = 0;
                while (k < v4.size() && lex::is_digit(v4[k])) v = v * 10 + static_cast<unsigned>(v4[k++] - '0');
                if (k == j || k - j > 3 || v > 255) return false;
                ++parts;
                if (k == v4.size()) break;
                if (v4[k] != '.') return false;
                j = k + 1;
            }
            // the IPv4 part stands for two groups
            return parts == 4 && (double_colon ? groups + 2 <= 7 : groups + 2 == 8);
        }
        std::size_t len = i - start;
        if (len == 0 || len > 4) return false;
        ++groups;
        if (i == s.size()) break;
        if (s[i] != ':') return false;
        ++i;
        if (i < s.size() && s[i] == ':') {
            if (double_colon) return false;
            double_colon = true;
            ++i;
            if (i == s.size()) break;
        } else if (i == s.size()) {
            return false;  // trailing single ':'
        }
    }
    return double_colon ? groups <= 7 : groups == 8;
}
}  // namespace detail

namespace {

bool parse_ipv4(std::string_view s) noexcept {
    int parts = 0;
    std::size_t i = 0;
    while (true) {
        std::size_t start = i;
        unsigned v = 0;
        while (i < s.size() && lex::is_digit(s[i])) v = v * 10 + static_cast<unsigned>(s[i++] - '0');
        if (i == start || i - start > 3 || v > 255) return false;
        ++parts;
        if (i == s.size()) return parts == 4;
        if (s[i] != '.' || parts == 4) return false;
        ++i;
    }
}

}  // namespace

namespace detail {

std::expected<HostPort, ParseError> parse_hostport(Cursor& c, bool allow_port) {
    HostPort hp;
    const char* start = c.p;
    if (c.peek() == '[') {
        const void* close = std::memchr(c.p, ']', static_cast<std::size_t>(c.end - c.p));
        if (!close) return std::unexpected(error(ErrorCode::bad_host, c.offset(), "IPv6 reference without ']'"));
        const char* q = static_cast<const char*>(close);
        std::string_view inner(c.p + 1, static_cast<std::size_t>(q - c.p - 1));
        if (!detail::valid_ipv6(inner)) return std::unexpected(error(ErrorCode::bad_host, c.offset() + 1, "malformed IPv6 address"));
        c.p = q + 1;
        hp.host = c.since(start);
        hp.kind = HostKind::ipv6;
    } else {
        std::string_view h = c.take(lex::k_host);
        if (h.empty()) return std::unexpected(error(ErrorCode::bad_host, c.offset(), "host expected"));
        hp.kind = HostKind::name;
        if (lex::is_digit(h.front()) || h.front() == '.') {
            // A name may start with a digit (RFC 1123); only all digits and dots make an IPv4 address.
            const bool ipv4 = parse_ipv4(h);
            bool numeric = ipv4;
            if (!numeric) {
                numeric = true;
                for (char ch : h) numeric = numeric && (lex::is_digit(ch) || ch == '.');
            }
            if (numeric) {
                if (!ipv4) {
                    bool v6 = c.peek() == ':' && c.p + 1 < c.end && (lex::is(c.p[1], lex::k_hex) || c.p[1] == ':');
                    return std::unexpected(error(ErrorCode::bad_host, static_cast<std::size_t>(start - c.begin),
                                                 v6 ? "IPv6 address not enclosed in [ ] (RFC 5118 §4.2)" : "malformed IPv4 address"));
                }
                hp.kind = HostKind::ipv4;
            }
        }
        if (h.front() == '-' || h.front() == '.' || h.front() == '_')
            return std::unexpected(error(ErrorCode::bad_host, static_cast<std::size_t>(start - c.begin), "hostname must start with a letter or digit"));
        hp.host = h;
    }
    if (allow_port && c.peek() == ':') {
        const char* colon = c.p;
        ++c.p;
        std::string_view digits = c.take(lex::k_digit);
        unsigned long v = 0;
        for (char ch : digits) {
            v = v * 10 + static_cast<unsigned>(ch - '0');
            if (v > 65535) break;
        }
        if (digits.empty() || digits.size() > 5 || v == 0 || v > 65535)
            return std::unexpected(error(ErrorCode::bad_port, static_cast<std::size_t>(colon - c.begin) + 1, "port must be 1..65535"));
        hp.port = static_cast<std::uint16_t>(v);
    }
    return hp;
}

std::optional<ParseError> parse_uri_into(Cursor& c, UriContext ctx, const Limits& limits, Uri& u) {
    const char* start = c.p;
    std::string_view scheme = c.take(lex::k_scheme);
    if (scheme.empty() || !lex::is(scheme.front(), lex::k_alpha) || c.peek() != ':')
        return error(ErrorCode::bad_uri, static_cast<std::size_t>(start - c.begin), "URI must start with scheme ':'");
    ++c.p;
    u.scheme_text = scheme;
    u.scheme = Scheme::other;
    if (scheme.size() == 3) {
        if ((scheme[0] | 0x20) == 's' && (scheme[1] | 0x20) == 'i' && (scheme[2] | 0x20) == 'p') u.scheme = Scheme::sip;
        else if (iequals(scheme, "tel")) u.scheme = Scheme::tel;
    } else if (iequals(scheme, "sips")) {
        u.scheme = Scheme::sips;
    }
    auto too_many = [&](std::size_t n) { return n > limits.max_params; };

    auto parse_params = [&]() -> std::optional<ParseError> {
        const char* params_start = c.p + 1;
        std::size_t n = 0;
        while (c.peek() == ';') {
            ++c.p;
            std::string_view name;
            if (!c.take_escaped(lex::k_param, name))
                return error(ErrorCode::bad_escape, c.offset(), "'%' must be followed by two hex digits");
            if (name.empty()) return error(ErrorCode::bad_param, c.offset(), "empty URI parameter name");
            if (c.consume('=')) {
                std::string_view value;
                if (!c.take_escaped(lex::k_param, value))
                    return error(ErrorCode::bad_escape, c.offset(), "'%' must be followed by two hex digits");
                if (value.empty()) return error(ErrorCode::bad_param, c.offset(), "empty URI parameter value");
            }
            if (too_many(++n)) return error(ErrorCode::too_many_params, c.offset(), "too many URI parameters");
        }
        if (n) u.params = ParamList(std::string_view(params_start, static_cast<std::size_t>(c.p - params_start)));
        return std::nullopt;
    };

    switch (u.scheme) {
        case Scheme::sip:
        case Scheme::sips: {
            // userinfo = user [":" password] "@": present when an '@' follows only user/password
            // characters and escapes (checked in the same pass that splits it).
            if (const void* found = std::memchr(c.p, '@', static_cast<std::size_t>(c.end - c.p))) {
                const char* at_sign = static_cast<const char*>(found);
                const char* colon = nullptr;
                const char* q = c.p;
                for (; q < at_sign; ++q) {
                    char ch = *q;
                    if (ch == '%') {
                        if (at_sign - q < 3 || !lex::is(q[1], lex::k_hex) || !lex::is(q[2], lex::k_hex))
                            return error(ErrorCode::bad_escape, static_cast<std::size_t>(q - c.begin), "'%' must be followed by two hex digits");
                        q += 2;
                    } else if (ch == ':' && !colon) {
                        colon = q;
                    } else if (!lex::is(ch, colon ? lex::k_password : lex::k_user)) {
                        break;
                    }
                }
                if (q == at_sign) {
                    const char* user_end = colon ? colon : at_sign;
                    if (user_end == c.p) return error(ErrorCode::bad_uri, c.offset(), "empty user part before '@'");
                    u.user = std::string_view(c.p, static_cast<std::size_t>(user_end - c.p));
                    if (colon) u.password = std::string_view(colon + 1, static_cast<std::size_t>(at_sign - colon - 1));
                    c.p = at_sign + 1;
                }
            }
            auto hp = parse_hostport(c, true);
            if (!hp) return hp.error();
            u.host = hp->host;
            u.host_kind = hp->kind;
            u.port = hp->port;
            if (ctx != UriContext::addr_spec) {
                if (auto r = parse_params()) return r;
                if (c.peek() == '?') {
                    if (ctx == UriContext::request_uri)
                        return error(ErrorCode::bad_request_uri, c.offset(), "headers are not allowed in a Request-URI");
                    ++c.p;
                    const char* hs = c.p;
                    while (true) {
                        std::string_view name, value;
                        if (!c.take_escaped(lex::k_hnv, name))
                            return error(ErrorCode::bad_escape, c.offset(), "'%' must be followed by two hex digits");
                        if (name.empty()) return error(ErrorCode::bad_uri, c.offset(), "empty URI header name");
                        if (!c.consume('=')) return error(ErrorCode::bad_uri, c.offset(), "URI header needs '='");
                        if (!c.take_escaped(lex::k_hnv, value))
                            return error(ErrorCode::bad_escape, c.offset(), "'%' must be followed by two hex digits");
                        if (!c.consume('&')) break;
                    }
                    u.headers = c.since(hs);
                }
            }
            break;
        }
        case Scheme::tel: {
            std::string_view number;
            if (!c.take_escaped(lex::k_tel, number))
                return error(ErrorCode::bad_escape, c.offset(), "'%' must be followed by two hex digits");
            if (number.empty()) return error(ErrorCode::bad_uri, c.offset(), "tel URI without a number");
            u.user = number;
            if (ctx != UriContext::addr_spec)
                if (auto r = parse_params()) return r;
            break;
        }
        case Scheme::other: {
            // absoluteURI (RFC 3261 §25.1): any non-space, non-delimiting characters.
            const char* s = c.p;
            while (c.p < c.end) {
                auto ch = static_cast<unsigned char>(*c.p);
                if (ch <= 0x20 || ch == 0x7f || ch == '<' || ch == '>' || ch == '"') break;
                if (ctx == UriContext::addr_spec && (ch == ';' || ch == ',')) break;
                ++c.p;
            }
            u.user = c.since(s);
            if (u.user.empty()) return error(ErrorCode::bad_uri, c.offset(), "empty URI after the scheme");
            break;
        }
    }
    u.text = c.since(start);
    if (u.text.size() > limits.max_uri_length)  // 414 names the Request-URI only (§21.4.12)
        return error(ErrorCode::uri_too_long, static_cast<std::size_t>(start - c.begin), "URI longer than Limits::max_uri_length",
                     ctx == UriContext::request_uri ? 414 : 400);
    return std::nullopt;
}

}  // namespace detail

std::expected<Uri, ParseError> parse_uri(std::string_view text, UriContext ctx, const Limits& limits) {
    if (text.size() > limits.max_uri_length)
        return std::unexpected(error(ErrorCode::uri_too_long, 0, "URI longer than Limits::max_uri_length",
                                     ctx == UriContext::request_uri ? 414 : 400));
    Cursor c(text);
    std::expected<Uri, ParseError> u;
    if (auto e = detail::parse_uri_into(c, ctx, limits, *u)) return std::unexpected(*e);
    if (!c.at_end()) {
        if (ctx == UriContext::request_uri)
            return std::unexpected(error(ErrorCode::bad_request_uri, c.offset(), "unexpected character in Request-URI"));
        return std::unexpected(error(ErrorCode::bad_uri, c.offset(), "unexpected character in URI"));
    }
    return u;
}

std::string_view Uri::host_address() const noexcept {
    if (host_kind == HostKind::ipv6 && host.size() >= 2) return host.substr(1, host.size() - 2);
    return host;
}

std::optional<std::string_view> Uri::header(std::string_view name) const noexcept {
    std::string_view rest = headers;
    while (!rest.empty()) {
        std::size_t amp = rest.find('&');
        std::string_view h = rest.substr(0, amp);
        std::size_t eq = h.find('=');
        if (eq != std::string_view::npos && iequals(h.substr(0, eq), name)) return h.substr(eq + 1);
        if (amp == std::string_view::npos) break;
        rest = rest.substr(amp + 1);
    }
    return std::nullopt;
}

std::string_view Uri::transport() const noexcept {
    if (auto p = params.find("transport")) return p->value;
    return {};
}

namespace {
// RFC 3261 §19.1.4 / RFC 3986 §6.2.2.2: an escape of an unreserved character equals the character;
// an escape of anything else stays an escape (with upper-case hex digits).
std::string normalized(std::string_view s) {
    auto hex = lex::hex_value;
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
            char d = static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
            if (lex::is(d, lex::k_unreserved)) {
                out += d;
            } else {
                out += '%';
                out += static_cast<char>(std::toupper(static_cast<unsigned char>(s[i + 1])));
                out += static_cast<char>(std::toupper(static_cast<unsigned char>(s[i + 2])));
            }
            i += 2;
            continue;
        }
        out += s[i];
    }
    return out;
}
std::string lowered(std::string_view s) {
    std::string out(s);
    for (char& ch : out) ch = lex::lower(ch);
    return out;
}
}  // namespace

bool uri_equivalent(const Uri& a, const Uri& b) {
    if (a.scheme != b.scheme) return false;
    if (a.scheme == Scheme::other)
        return iequals(a.scheme_text, b.scheme_text) && normalized(a.user) == normalized(b.user);
    if (a.scheme == Scheme::tel) {
        auto strip = [](std::string_view n) {
            std::string s;
            for (char ch : normalized(n))
                if (ch != '-' && ch != '.' && ch != '(' && ch != ')') s += lex::lower(ch);
            return s;
        };
        if (strip(a.user) != strip(b.user)) return false;
    } else {
        // RFC 3261 §19.1.4: user and password case-sensitive after unescaping; host case-insensitive.
        if (normalized(a.user) != normalized(b.user)) return false;
        if (normalized(a.password) != normalized(b.password)) return false;
        if (lowered(normalized(a.host)) != lowered(normalized(b.host))) return false;
        if (a.port != b.port) return false;
    }
    // user, ttl, method, maddr, transport must match when present in either; others when in both.
    auto check = [](const Uri& x, const Uri& y) {
        for (const Param& p : x.params) {
            if (x.params.find(p.name)->name.data() != p.name.data()) continue;  // a repeated name: the first counts
            auto q = y.params.find(p.name);
            bool must = iequals(p.name, "user") || iequals(p.name, "ttl") || iequals(p.name, "method") ||
                        iequals(p.name, "maddr") || iequals(p.name, "transport");
            if (!q) {
                if (must) return false;
                continue;
            }
            if (lowered(normalized(p.value)) != lowered(normalized(q->value))) return false;
        }
        return true;
    };
    if (!check(a, b) || !check(b, a)) return false;
    // Headers must all match (names case-insensitive, values after unescaping).
    auto headers_in = [](const Uri& x, const Uri& y) {
        std::string_view rest = x.headers;
        while (!rest.empty()) {
            std::size_t amp = rest.find('&');
            std::string_view h = rest.substr(0, amp);
            std::size_t eq = h.find('=');
            auto mine = x.header(h.substr(0, eq));
            if (mine && mine->data() + mine->size() != h.data() + h.size()) {  // a repeated name: the first counts
                if (amp == std::string_view::npos) break;
                rest = rest.substr(amp + 1);
                continue;
            }
            auto other = y.header(h.substr(0, eq));
            if (!other || normalized(*other) != normalized(eq == std::string_view::npos ? std::string_view{} : h.substr(eq + 1)))
                return false;
            if (amp == std::string_view::npos) break;
            rest = rest.substr(amp + 1);
        }
        return true;
    };
    return headers_in(a, b) && headers_in(b, a);
}

}  // namespace referkit
