// The Replaces decision (RFC 3891 §3): see include/referkit/core/replaces.hpp.
#include "referkit/core/replaces.hpp"

#include "referkit/core/header_id.hpp"

namespace referkit {

ReplacesDecision decide_replaces(const DialogRef& replaces, std::span<const ReplacesCandidate> dialogs) {
    const ReplacesCandidate* match = nullptr;
    std::size_t matches = 0;
    for (const ReplacesCandidate& d : dialogs) {
        // §3: to-tag is compared with our local tag, from-tag with our remote tag; Call-ID exactly.
        if (d.call_id == replaces.call_id && d.local_tag == replaces.to_tag && d.remote_tag == replaces.from_tag) {
            match = &d;
            ++matches;
        }
    }
    auto reject = [](int status, std::string_view reason, std::uint64_t key) {
        return ReplacesDecision{.action = ReplacesAction::reject, .status = status, .reason = reason, .key = key};
    };
    // §3: several matches are treated as none; no match, or a non-INVITE dialog: 481.
    if (matches != 1 || match == nullptr) return reject(481, "Call/Transaction Does Not Exist", 0);
    if (!match->invite_dialog) return reject(481, "Call/Transaction Does Not Exist", 0);
    switch (match->state) {
        case ReplacesDialogState::terminated: return reject(603, "Declined", match->key);  // §3: SHOULD 603
        case ReplacesDialogState::confirmed:
            if (replaces.early_only) return reject(486, "Busy Here", match->key);  // §3: early-only flag
            return ReplacesDecision{.action = ReplacesAction::replace_confirmed, .status = 200, .reason = "OK",
                                    .key = match->key};
        case ReplacesDialogState::early:
            if (match->we_are_uac)
                return ReplacesDecision{.action = ReplacesAction::replace_early, .status = 200, .reason = "OK",
                                        .key = match->key};
            return reject(481, "Call/Transaction Does Not Exist", 0);  // §3: an early dialog we did not initiate
    }
    return reject(481, "Call/Transaction Does Not Exist", 0);
}

std::optional<ReplacesDecision> decide_replaces(const Message& request, std::span<const ReplacesCandidate> dialogs) {
    if (request.count(HeaderId::replaces) == 0) return std::nullopt;
    auto bad_request = ReplacesDecision{.action = ReplacesAction::reject, .status = 400, .reason = "Bad Request",
                                        .key = 0};
    // §3: Replaces in a request other than INVITE, or more than one: 400.
    if (!request.is_request() || request.method() != Method::invite || request.count(HeaderId::replaces) != 1)
        return bad_request;
    // §3: a header with contradictory semantics (Join, RFC 3911 §4) alongside: 400.
    if (request.find("Join") != nullptr) return bad_request;
    auto r = request.replaces();
    if (!r || r->call_id.empty()) return bad_request;
    return decide_replaces(*r, dialogs);
}

std::string_view to_string(ReplaceRelation r) noexcept {
    switch (r) {
        case ReplaceRelation::same_party: return "same_party";
        case ReplaceRelation::referred_by: return "referred_by";
        case ReplaceRelation::unrelated: return "unrelated";
    }
    return "unrelated";
}

bool same_party(const Uri& a, const Uri& b) {
    // RFC 3261 §10.3 step 5: an address-of-record without its parameters (and headers); §19.1.4
    // compares the rest. A port given on one side only is not held against it: a dialog's remote
    // URI may be the address we dialled, the party's own AOR omits it.
    Uri x = a, y = b;
    x.params = ParamList{};
    y.params = ParamList{};
    x.headers = {};
    y.headers = {};
    x.password = {};
    y.password = {};
    if (x.port == 0 || y.port == 0) x.port = y.port = 0;
    return uri_equivalent(x, y);
}

ReplaceRelation replace_relation(const Message& invite, std::string_view remote_uri) {
    auto remote = parse_name_addr(remote_uri);
    if (!remote) return ReplaceRelation::unrelated;
    // §3: the initiator is the user being replaced.
    if (same_party(invite.from().uri, remote->uri)) return ReplaceRelation::same_party;
    // §3: Referred-By corresponds to the user being replaced (RFC 3892 §3: one value).
    if (invite.count(HeaderId::referred_by) == 1)
        if (auto by = invite.referred_by(); by && same_party(by->uri, remote->uri)) return ReplaceRelation::referred_by;
    return ReplaceRelation::unrelated;
}

}  // namespace referkit
