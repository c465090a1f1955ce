// Internal lexical helpers shared by the parsers (RFC 3261 §25.1). Not installed.
#pragma once
#include <array>
#include <cstdint>
#include <string_view>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "referkit/core/error.hpp"

namespace referkit::lex {

enum : std::uint16_t {
    k_token = 1 << 0,       // token chars
    k_word = 1 << 1,        // word chars (Call-ID)
    k_unreserved = 1 << 2,  // alphanum / mark
    k_user = 1 << 3,        // unreserved / user-unreserved (escaped handled apart)
    k_password = 1 << 4,
    k_param = 1 << 5,       // paramchar minus escaped
    k_hnv = 1 << 6,         // hname / hvalue chars minus escaped
    k_host = 1 << 7,        // hostname chars (tolerant: '_' allowed)
    k_digit = 1 << 8,
    k_hex = 1 << 9,
    k_alpha = 1 << 10,
    k_ws = 1 << 11,         // SP / HT
    k_scheme = 1 << 12,     // ALPHA / DIGIT / "+" / "-" / "."
    k_tel = 1 << 13,        // tel URI number chars (RFC 3966, tolerant)
    k_lws = 1 << 14,        // SP, HT, CR, LF: where linear white space may start
    k_userinfo = 1 << 15,   // what may precede '@' in a SIP URI: user, ':' password, escapes
};

constexpr std::array<std::uint16_t, 256> make_table() {
    std::array<std::uint16_t, 256> t{};
    auto set = [&t](std::string_view chars, std::uint16_t k) {
        for (char c : chars) t[static_cast<unsigned char>(c)] |= k;
    };
    for (int c = 'a'; c <= 'z'; ++c) t[c] |= k_alpha | k_token | k_word | k_unreserved | k_user | k_password | k_param | k_hnv | k_host | k_scheme | k_tel;
    for (int c = 'A'; c <= 'Z'; ++c) t[c] |= k_alpha | k_token | k_word | k_unreserved | k_user | k_password | k_param | k_hnv | k_host | k_scheme | k_tel;
    for (int c = '0'; c <= '9'; ++c) t[c] |= k_digit | k_hex | k_token | k_word | k_unreserved | k_user | k_password | k_param | k_hnv | k_host | k_scheme | k_tel;
    for (int c = 'a'; c <= 'f'; ++c) t[c] |= k_hex;
    for (int c = 'A'; c <= 'F'; ++c) t[c] |= k_hex;
    set("-.!%*_+`'~", k_token);
    set("-.!%*_+`'~()<>:\\\"/[]?{}", k_word);
    set("-_.!~*'()", k_unreserved | k_user | k_password | k_param | k_hnv);
    set("&=+$,;?/", k_user);
    set("&=+$,", k_password);
    set("[]/:&+$", k_param);
    set("[]/?:+$", k_hnv);
    set("-._", k_host);
    set("+-.", k_scheme);
    set("-.()+*#", k_tel);  // digits, hex, visual separators (RFC 3966); ;params apart
    set(" \t", k_ws);
    set(" \t\r\n", k_lws);
    for (std::size_t c = 0; c < 256; ++c)
        if (t[c] & (k_user | k_password)) t[c] |= k_userinfo;
    set(":%", k_userinfo);
    return t;
}
inline constexpr auto table = make_table();

inline bool is(char c, std::uint16_t k) noexcept { return (table[static_cast<unsigned char>(c)] & k) != 0; }
inline bool is_ws(char c) noexcept { return c == ' ' || c == '\t'; }
inline bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
inline char lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c | 0x20) : c; }
// Value of a hex digit, or -1.
inline int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

inline ParseError error(ErrorCode code, std::size_t offset, std::string_view what, std::uint16_t status = 400) noexcept {
    return ParseError{code, static_cast<std::uint32_t>(offset), status, what};
}

// A cursor over one header value (or URI). Offsets are relative to `begin`.
struct Cursor {
    const char* begin;
    const char* p;
    const char* end;

    explicit Cursor(std::string_view s) noexcept : begin(s.data()), p(s.data()), end(s.data() + s.size()) {}
    [[nodiscard]] bool at_end() const noexcept { return p >= end; }
    [[nodiscard]] char peek() const noexcept { return p < end ? *p : '\0'; }
    [[nodiscard]] std::size_t offset() const noexcept { return static_cast<std::size_t>(p - begin); }
    [[nodiscard]] std::string_view rest() const noexcept { return {p, static_cast<std::size_t>(end - p)}; }
    [[nodiscard]] std::string_view since(const char* from) const noexcept { return {from, static_cast<std::size_t>(p - from)}; }

    // LWS = [*WSP CRLF] 1*WSP (a bare LF is tolerated as a line break). Returns true if any was skipped.
    bool skip_lws() noexcept {
        if (p >= end || !is(*p, k_lws)) return false;
        const char* s = p;
        while (p < end) {
            if (is_ws(*p)) { ++p; continue; }
            if (*p == '\r' && p + 2 < end && p[1] == '\n' && is_ws(p[2])) { p += 3; continue; }
            if (*p == '\n' && p + 1 < end && is_ws(p[1])) { p += 2; continue; }
            break;
        }
        return p != s;
    }
    // Consumes SWS c SWS (the SEMI, EQUAL, COMMA, SLASH, COLON of §25.1); false if c is not next.
    bool separator(char c) noexcept {
        if (p < end && *p == c) {  // the common case: no white space before the separator
            ++p;
            skip_lws();
            return true;
        }
        const char* s = p;
        skip_lws();
        if (p < end && *p == c) { ++p; skip_lws(); return true; }
        p = s;
        return false;
    }
    bool consume(char c) noexcept {
        if (p < end && *p == c) { ++p; return true; }
        return false;
    }
    // Longest run of chars of class k.
    std::string_view take(std::uint16_t k) noexcept {
        const char* s = p;
        while (end - p >= 4) {  // unrolled: one bound check per four characters
            if (!is(p[0], k)) return since(s);
            if (!is(p[1], k)) { p += 1; return since(s); }
            if (!is(p[2], k)) { p += 2; return since(s); }
            if (!is(p[3], k)) { p += 3; return since(s); }
            p += 4;
        }
        while (p < end && is(*p, k)) ++p;
        return since(s);
    }
    // Run of chars of class k or %HH escapes; false on a bad escape (p left at the '%').
    bool take_escaped(std::uint16_t k, std::string_view& out) noexcept {
        const char* s = p;
        while (p < end) {
            if (is(*p, k)) { ++p; continue; }
            if (*p == '%') {
                if (end - p >= 3 && is(p[1], k_hex) && is(p[2], k_hex)) {
                    p += 3;
                    continue;
                }
                out = since(s);
                return false;
            }
            break;
        }
        out = since(s);
        return true;
    }
};

// Quoted string starting at c.p (which must be '"'): returns the view including the quotes, or an
// empty view on an unterminated string (c.p then at the opening quote). RFC 3261 §25.1 quoted-pair
// allows any byte but CR and LF after '\'.
inline std::string_view take_quoted(Cursor& c) noexcept {
    const char* s = c.p;
    const char* q = c.p + 1;
    while (q < c.end) {
        char ch = *q;
        if (ch == '"') {
            c.p = q + 1;
            return {s, static_cast<std::size_t>(c.p - s)};
        }
        if (ch == '\\') {
            if (q + 1 >= c.end || q[1] == '\r' || q[1] == '\n') return {};
            q += 2;
            continue;
        }
        if (ch == '\r' || ch == '\n') {  // only as part of a folded line (LWS)
            if (ch == '\r' && q + 2 < c.end && q[1] == '\n' && is_ws(q[2])) { q += 3; continue; }
            if (ch == '\n' && q + 1 < c.end && is_ws(q[1])) { q += 2; continue; }
            return {};
        }
        if (static_cast<unsigned char>(ch) < 0x20 && ch != '\t') return {};
        ++q;
    }
    return {};
}

// First byte in [p, end) that is a control character (below 0x20) or DEL — or, when stop is
// given, that byte — else end. Sixteen bytes at a time with SSE2 where the target has it.
inline const char* find_control(const char* p, const char* end, char stop = '\x7f') noexcept {
#if defined(__SSE2__)
    const __m128i below = _mm_set1_epi8(0x1f);
    const __m128i del = _mm_set1_epi8(0x7f);
    const __m128i extra = _mm_set1_epi8(stop);
    while (end - p >= 16) {
        __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
        __m128i hit = _mm_or_si128(_mm_cmpeq_epi8(_mm_min_epu8(x, below), x),
                                   _mm_or_si128(_mm_cmpeq_epi8(x, del), _mm_cmpeq_epi8(x, extra)));
        if (int mask = _mm_movemask_epi8(hit)) return p + __builtin_ctz(static_cast<unsigned>(mask));
        p += 16;
    }
#endif
    for (; p < end; ++p) {
        auto c = static_cast<unsigned char>(*p);
        if (c < 0x20 || c == 0x7f || *p == stop) return p;
    }
    return end;
}

// Trims LWS on both ends.
std::string_view trim(std::string_view s) noexcept;

}  // namespace referkit::lex
