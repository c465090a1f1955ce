// Header fields of an outgoing REFER.
#include "referkit/core/refer_request.hpp"

#include "referkit/core/header_id.hpp"
#include "referkit/core/headers.hpp"

#include <vector>

namespace referkit {

std::string target_dialog_value(const TargetDialog& d) {
    // RFC 4538 §3: remote-tag/local-tag from the perspective of the recipient of the request.
    return d.call_id + ";local-tag=" + d.remote_tag + ";remote-tag=" + d.local_tag;
}

namespace {
std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

bool same_header(std::string_view a, std::string_view b) noexcept {
    HeaderId ia = lookup_header(a);
    HeaderId ib = lookup_header(b);
    if (ia != HeaderId::other || ib != HeaderId::other) return ia == ib;
    return iequals(a, b);
}
}  // namespace

std::expected<HeaderList, ReferTargetError> refer_request_headers(std::string_view refer_to,
                                                                        const ReferOptions& options,
                                                                        std::string_view our_aor,
                                                                        std::string_view allow) {
    HeaderList out;
    out.emplace_back("Refer-To", std::string(refer_to));
    std::string by = options.referred_by;
    if (by.empty()) by = std::string("<").append(our_aor).append(">");  // RFC 3892 §3: name-addr of the referrer
    out.emplace_back("Referred-By", std::move(by));
    // The Allow of a stack with the default UserAgentConfig::app_methods.
    constexpr std::string_view default_allow = "INVITE, ACK, BYE, CANCEL, OPTIONS, MESSAGE, INFO, REFER, NOTIFY, SUBSCRIBE";
    out.emplace_back("Allow", allow.empty() ? std::string(default_allow) : std::string(allow));
    out.emplace_back("Supported", std::string(refer_supported));
    if (!options.refer_sub) out.emplace_back("Refer-Sub", "false");  // RFC 4488 §4
    if (options.target_dialog) out.emplace_back("Target-Dialog", target_dialog_value(*options.target_dialog));

    // docs/transfer-rules.md R1, R15: each user header goes out exactly once, in order; the first of a name replaces the
    // default of that name. Headers a REFER carries once (RFC 3515 §2.1, RFC 3892, RFC 4488,
    // RFC 4538) cannot be given twice.
    const std::size_t defaults = out.size();
    std::vector<bool> user_set(defaults, false);
    const auto twice = [](std::string_view once) {
        return std::unexpected(ReferTargetError{.code = ReferTargetErrc::bad_target,
                                                .detail = "a REFER carries one " + std::string(once) +
                                                          ", given twice in extra headers"});
    };
    for (const std::string& line : options.extra_headers) {
        std::size_t colon = line.find(':');
        std::string_view name = colon == std::string::npos ? std::string_view{} : trim(std::string_view(line).substr(0, colon));
        if (name.empty() || !is_token(name) || line.find_first_of("\r\n") != std::string::npos)
            return std::unexpected(ReferTargetError{.code = ReferTargetErrc::bad_target,
                                                    .detail = "malformed extra header: " + line});
        std::string value(trim(std::string_view(line).substr(colon + 1)));
        for (std::string_view once : {"Refer-To", "Referred-By", "Refer-Sub", "Target-Dialog"}) {
            if (!same_header(name, once)) continue;
            for (std::size_t i = defaults; i < out.size(); ++i)
                if (same_header(out[i].first, once)) return twice(once);
            for (std::size_t i = 0; i < defaults; ++i)
                if (user_set[i] && same_header(out[i].first, once)) return twice(once);
        }
        bool placed = false;
        for (std::size_t i = 0; i < defaults && !placed; ++i) {
            if (user_set[i] || !same_header(out[i].first, name)) continue;
            out[i].first = std::string(name);  // the user's spelling
            out[i].second = value;
            user_set[i] = true;
            placed = true;
        }
        if (!placed) out.emplace_back(std::string(name), std::move(value));
    }
    return out;
}

}  // namespace referkit
