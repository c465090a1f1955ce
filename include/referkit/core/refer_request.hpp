// The header fields of an outgoing REFER (RFC 3515 §2.1, RFC 3892, RFC 4488, RFC 4538), as
// (name, value) pairs for the Stack's transferor.
#pragma once
#include <expected>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "referkit/core/refer_client_context.hpp"
#include "referkit/core/writer.hpp"

namespace referkit {

// Option tags we implement and list in Supported of a REFER.
// (Not tdialog: we send Target-Dialog but do not act on a received one, RFC 4538 §4.)
inline constexpr std::string_view refer_supported = "replaces, norefersub";

// Target-Dialog value (RFC 4538 §3, syntax §7): tags as the *recipient* sees them, so remote-tag = our local
// tag and local-tag = our remote tag.
[[nodiscard]] std::string target_dialog_value(const TargetDialog& dialog);

// Refer-To (as given, e.g. from make_refer_to), Referred-By (options.referred_by, else `our_aor`
// written as "<aor>"), Allow (`allow`: the stack's, Stack::allow_value(); empty = that of a
// default UserAgentConfig), Supported, Refer-Sub: false when !options.refer_sub, Target-Dialog
// when set, then options.extra_headers. A user header whose name (full or compact form, any case)
// equals a default replaces it in place (the first of that name); every user header goes out exactly
// once, in order. Contact is not added (the UA core writes exactly one).
// Errors (ReferTargetError::bad_target): an extra header without "Name:" or with a non-token name,
// or with CR/LF in it; Refer-To, Referred-By, Refer-Sub or Target-Dialog given twice.
[[nodiscard]] std::expected<HeaderList, ReferTargetError> refer_request_headers(
    std::string_view refer_to, const ReferOptions& options, std::string_view our_aor, std::string_view allow = {});

}  // namespace referkit
