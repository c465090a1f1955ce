#include "referkit/core/params.hpp"

#include "lex.hpp"
#include "referkit/core/header_id.hpp"
#include "referkit/core/headers.hpp"

namespace referkit {

namespace lex {
std::string_view trim(std::string_view s) noexcept {
    Cursor c(s);
    c.skip_lws();
    const char* b = c.p;
    const char* e = c.end;
    while (e > b) {
        char ch = e[-1];
        if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n') --e;
        else break;
    }
    return {b, static_cast<std::size_t>(e - b)};
}
}  // namespace lex

namespace detail {
std::string_view trim_lws(std::string_view s) noexcept { return lex::trim(s); }

std::size_t find_list_comma(std::string_view text, std::size_t pos) noexcept {
    int angle = 0;
    for (std::size_t i = pos; i < text.size(); ++i) {
        char c = text[i];
        if (c == '"') {
            ++i;
            while (i < text.size() && text[i] != '"') {
                if (text[i] == '\\') ++i;
                ++i;
            }
            if (i >= text.size()) return unbalanced;
        } else if (c == '<') {
            ++angle;
        } else if (c == '>') {
            if (angle > 0) --angle;
        } else if (c == ',' && angle == 0) {
            return i;
        }
    }
    return angle > 0 ? unbalanced : std::string_view::npos;
}
}  // namespace detail

namespace {
// Next ';' outside a quoted string, or npos.
std::size_t find_semi(std::string_view s) noexcept {
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '"') {
            ++i;
            while (i < s.size() && s[i] != '"') {
                if (s[i] == '\\') ++i;
                ++i;
            }
        } else if (s[i] == ';') {
            return i;
        }
    }
    return std::string_view::npos;
}
}  // namespace

void ParamList::iterator::advance() noexcept {
    while (more_) {
        std::size_t semi = find_semi(rest_);
        std::string_view piece = rest_.substr(0, semi);
        if (semi == std::string_view::npos) more_ = false;
        else rest_ = rest_.substr(semi + 1);
        piece = lex::trim(piece);
        if (piece.empty()) continue;
        std::size_t eq = piece.find('=');
        if (eq == std::string_view::npos || piece.find('"') < eq) {
            cur_ = Param{piece, {}, false};
        } else {
            cur_ = Param{lex::trim(piece.substr(0, eq)), lex::trim(piece.substr(eq + 1)), true};
        }
        done_ = false;
        return;
    }
    done_ = true;
}

std::optional<Param> ParamList::find(std::string_view name) const noexcept {
    for (const Param& p : *this)
        if (iequals(p.name, name)) return p;
    return std::nullopt;
}

std::string unquote(std::string_view value) {
    value = lex::trim(value);
    if (value.size() < 2 || value.front() != '"' || value.back() != '"') return std::string(value);
    std::string out;
    out.reserve(value.size() - 2);
    for (std::size_t i = 1; i + 1 < value.size(); ++i) {
        if (value[i] == '\\' && i + 2 < value.size()) ++i;
        out += value[i];
    }
    return out;
}

std::string percent_decode(std::string_view text) {
    auto hex = lex::hex_value;
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '%' && i + 2 < text.size()) {
            int h = hex(text[i + 1]);
            int l = hex(text[i + 2]);
            if (h >= 0 && l >= 0) {
                out += static_cast<char>(h * 16 + l);
                i += 2;
                continue;
            }
        }
        out += text[i];
    }
    return out;
}

std::string percent_encode(std::string_view text, std::string_view keep) {
    static constexpr char digits[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(text.size() + 8);
    for (char c : text) {
        if (lex::is(c, lex::k_unreserved) || keep.find(c) != std::string_view::npos) {
            out += c;
        } else {
            auto u = static_cast<unsigned char>(c);
            out += '%';
            out += digits[u >> 4];
            out += digits[u & 15];
        }
    }
    return out;
}

}  // namespace referkit
