// Private to src/core/auth: reading auth-params and comparing secrets, shared by the client side
// (digest.cpp) and the server side (digest_server.cpp).
#pragma once
#include <cstddef>
#include <optional>
#include <string_view>

#include "referkit/core/headers.hpp"
#include "referkit/core/params.hpp"

namespace referkit::auth_detail {

// The raw (as written) value of an auth-param, if present.
inline std::optional<std::string_view> raw_param(const AuthParams& a, std::string_view name) noexcept {
    for (const Param& p : a.params)
        if (iequals(p.name, name)) return p.value;
    return std::nullopt;
}

// Equality that does not stop at the first difference (no timing oracle on the response).
inline bool constant_time_iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    unsigned diff = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        auto x = static_cast<unsigned char>(a[i]), y = static_cast<unsigned char>(b[i]);
        if (x >= 'A' && x <= 'Z') x = static_cast<unsigned char>(x | 0x20U);
        if (y >= 'A' && y <= 'Z') y = static_cast<unsigned char>(y | 0x20U);
        diff |= static_cast<unsigned>(x ^ y);
    }
    return diff == 0;
}

}  // namespace referkit::auth_detail
