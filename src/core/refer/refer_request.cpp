// Header fields of an outgoing REFER.
#include "referkit/core/refer_request.hpp"

#include "referkit/core/header_id.hpp"
#include "referkit/core/headers.hpp"

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

std::expected<ReferHeaderList, ReferTargetError> refer_request_headers(std::string_view refer_to,
                                                                        const ReferOptions& options,
                                                                        std::string_view our_aor) {
    ReferHeaderList out;
    out.emplace_back("Refer-To", std::string(refer_to));
    std::string by = options.referred_by;
    if (by.empty()) by = "<" + std::string(our_aor) + ">";  // RFC 3892 §3: name-addr of the referrer
    out.emplace_back("Referred-By", std::move(by));
    out.emplace_back("Allow", std::string(refer_allow));
    out.emplace_back("Supported", std::string(refer_supported));
    if (!options.refer_sub) out.emplace_back("Refer-Sub", "false");  // RFC 4488 §4
    if (options.target_dialog) out.emplace_back("Target-Dialog", target_dialog_value(*options.target_dialog));

    std::size_t defaults = out.size();
    for (const std::string& line : options.extra_headers) {
        std::size_t colon = line.find(':');
        std::string_view name = colon == std::string::npos ? std::string_view{} : trim(std::string_view(line).substr(0, colon));
        if (name.empty() || !is_token(name) || line.find_first_of("\r\n") != std::string::npos)
            return std::unexpected(ReferTargetError{.code = ReferTargetErrc::bad_target,
                                                    .detail = "malformed extra header: " + line});
        std::string value(trim(std::string_view(line).substr(colon + 1)));
        bool replaced = false;
        for (std::size_t i = 0; i < out.size(); ++i) {
            if (!same_header(out[i].first, name)) continue;
            if (i < defaults) out[i].first = std::string(name);  // the user's spelling
            out[i].second = value;
            replaced = true;
            break;
        }
        if (!replaced) out.emplace_back(std::string(name), std::move(value));
    }
    return out;
}

}  // namespace referkit
