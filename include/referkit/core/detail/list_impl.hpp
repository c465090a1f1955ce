#pragma once
// Implementation of for_each_element (header-only because it takes a callable).
#include <cstddef>
#include <expected>
#include <string_view>

#include "referkit/core/error.hpp"

namespace referkit {
namespace detail {
// Offset of the next top-level ',' in text starting at pos (quotes and <> respected), or npos.
// Returns npos-1 on an unbalanced quote, reported as an error by the caller.
std::size_t find_list_comma(std::string_view text, std::size_t pos) noexcept;
inline constexpr std::size_t unbalanced = static_cast<std::size_t>(-2);
std::string_view trim_lws(std::string_view s) noexcept;
}  // namespace detail

template <class F>
std::expected<void, ParseError> for_each_element(std::string_view text, F&& f) {
    std::size_t pos = 0;
    while (true) {
        std::size_t comma = detail::find_list_comma(text, pos);
        if (comma == detail::unbalanced)
            return std::unexpected(ParseError{ErrorCode::bad_quoted_string, static_cast<std::uint32_t>(pos), 400,
                                              "unterminated quoted string or <"});
        std::size_t end = comma == std::string_view::npos ? text.size() : comma;
        std::string_view raw = text.substr(pos, end - pos);
        std::string_view elem = detail::trim_lws(raw);
        auto off = static_cast<std::uint32_t>(elem.empty() ? pos : static_cast<std::size_t>(elem.data() - text.data()));
        if (elem.empty())
            return std::unexpected(ParseError{ErrorCode::bad_token, off, 400, "empty element in a comma-separated list"});
        if (auto r = f(elem, off); !r) {  // f reports offsets relative to elem
            ParseError e = r.error();
            e.offset += off;
            return std::unexpected(e);
        }
        if (comma == std::string_view::npos) return {};
        pos = comma + 1;
    }
}
}  // namespace referkit
