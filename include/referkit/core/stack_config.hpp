// The configuration of a Stack (include/referkit/core/stack.hpp): the user agent's identity,
// capabilities and limits (UserAgentConfig), and how it takes part in transfers (ReferConfig).
// Aggregates with documented defaults; hooks are pure policies the stack calls inside a step.
#pragma once
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "referkit/core/digest.hpp"
#include "referkit/core/digest_server.hpp"
#include "referkit/core/ids.hpp"
#include "referkit/core/message.hpp"
#include "referkit/core/refer_server.hpp"
#include "referkit/core/replaces.hpp"
#include "referkit/core/sdp.hpp"
#include "referkit/core/transaction_layer.hpp"
#include "referkit/core/transport.hpp"
#include "referkit/core/uri.hpp"

namespace referkit {

// Offer/answer hooks (RFC 3264), called inside the step that needs the body. Any member left
// empty uses the default from sdp.hpp (one audio stream described by UserAgentConfig::sdp_local).
struct SessionDescriptionHandler {
    // The offer body (application/sdp) of session `session`, o= version `version`, in `direction`.
    std::function<std::string(SessionId session, std::uint64_t version, MediaDirection direction)> make_offer{};
    // The answer to `offer`, or the status to reject it with (488: the call, or the re-INVITE
    // only, is refused; the session stays up on a re-INVITE).
    std::function<std::expected<std::string, int>(SessionId session, std::uint64_t version, std::string_view offer)>
        make_answer{};
    // Takes the answer to our offer; false when it is unusable (the stack then ends the session
    // with failed(488) after acknowledging the 2xx, RFC 3261 §13.2.2.4).
    std::function<bool(SessionId session, std::string_view answer)> take_answer{};
};

// The app_methods the stack's own components take as well (REFER, and the NOTIFY and SUBSCRIBE of
// the refer package). An application that answers no request event keeps only these, so that
// MESSAGE, INFO and the like get 405 at once (RFC 3261 §8.2.1) and leave Allow.
[[nodiscard]] constexpr bool taken_by_stack(Method m) noexcept {
    return m == Method::refer || m == Method::notify || m == Method::subscribe;
}

// Requests the stack asks to authenticate itself (the UAS side of digest, RFC 3261 §22.2): one
// without a correct answer gets 401 with WWW-Authenticate and goes no further; one that
// authenticates carries the user name (RequestEvent::authenticated_user) and, for an out-of-dialog
// REFER, is an approved referrer (docs/transfer-rules.md R40).
struct ServerAuth {
    std::vector<Method> methods = {};  // e.g. {Method::refer}; empty = nothing is challenged
    bool in_dialog = false;            // false: only requests outside a dialog (no To tag)
    DigestServerConfig digest = {};    // realm, accounts, algorithms, nonce lifetime, replay table
};

struct UserAgentConfig {
    std::string aor = "sip:referkit@localhost";   // From of requests outside a dialog
    std::string display_name{};                     // "" = none
    std::string contact_user = "referkit";        // user part of our Contact
    std::vector<Credentials> credentials{};         // per realm ("" = any realm)
    std::vector<std::string> route_set{};           // preloaded Route URIs (outbound proxy first; lr)
    std::string user_agent = "referkit";
    TransactionOptions transaction{};               // random is required (see TransactionLayer)
    DigestHash digest_hash{};                       // required to answer challenges
    Transport default_transport = Transport::udp; // sip: URIs without transport parameter
    // Non-INVITE methods the application handles (request events); INVITE, ACK, BYE, CANCEL and
    // OPTIONS are the stack's. Any other method is answered 405 with Allow (§8.2.1).
    // An application that answers no request keeps only those taken_by_stack() (below).
    std::vector<Method> app_methods = {Method::message, Method::info, Method::refer, Method::notify,
                                       Method::subscribe};
    std::vector<std::string> supported{};           // option tags (Supported; 420 for others in Require)
    // Event packages (RFC 6665 §7.2) whose SUBSCRIBEs and NOTIFYs this UA takes: one naming another
    // package is answered 489 Bad Event with Allow-Events (§8.2.2: 489 only for a package we do
    // not take). The stack adds "refer" when it handles REFER (ReferConfig::handle_refer, the
    // default), so the application lists every other package it takes. Empty (only possible
    // without handle_refer) = no check: every package reaches the application.
    std::vector<std::string> event_packages{};
    // Bodies we accept (415 for others, §8.2.3); OPTIONS's Accept lists them.
    std::vector<std::string> accept = {"application/sdp", "message/sipfrag", "text/plain", "application/dtmf-relay"};
    SessionDescriptionHandler sdp{};
    SdpLocal sdp_local{};
    std::size_t max_sessions = 1024;              // beyond: incoming INVITE 486 ... invite() limit_reached
    // Incoming calls (ringing, answered and waiting for the ACK, or up) from one source address
    // (IP, any port): beyond it that source's INVITEs get 503 with Retry-After, so that one sender
    // (say, INVITEs never ACKed) cannot take max_sessions. 0 = no per-source bound; behind one
    // proxy, raise it to max_sessions.
    std::size_t max_sessions_per_source = 256;
    // Dialogs. A request that would create one beyond it (an incoming INVITE, REFER or SUBSCRIBE,
    // a NOTIFY forking a subscription, our dialog-creating requests) is refused. A call admitted
    // under both bounds keeps the right to its one dialog when it is answered, so the count can
    // exceed max_dialogs by fewer than max_sessions.
    std::size_t max_dialogs = 4096;
    // Bytes of Record-Route values a request that may create a dialog can carry (the route set a
    // dialog keeps for its life, RFC 3261 §12.1.1): beyond it the request is answered 400, so
    // that dialogs of strangers cannot hold large route sets. 0 = no bound.
    std::size_t max_route_set_bytes = 4096;
    std::size_t max_requests = 4096;              // our generic requests waiting + incoming waiting
    // Requests waiting for the application (RequestEvents not yet answered finally) that came from
    // one source address (IP, any port): beyond it that source gets 503 with Retry-After while
    // others are served, so one sender cannot take max_requests. 0 = no per-source bound.
    std::size_t max_requests_per_source = 256;
    // How long the (Call-ID, From tag, CSeq) of a NOTIFY answered 2xx that said
    // Subscription-State: terminated is remembered, so that an exact duplicate arriving after its
    // server transaction is gone (reliable transports: Timer J = 0, RFC 3261 §17.2.2) is answered
    // 200 again without any event instead of 481. nullopt = 64*T1 (Timer J on UDP); zero = never.
    std::optional<Duration> final_notify_memory{};
    std::size_t max_final_notifies = 1024;        // bound of that memory (oldest forgotten first)
    // A request handed to the application (RequestEvent) that it has not answered finally this
    // long is answered 408 by the stack and forgotten, so that an application that ignores
    // requests leaks neither transactions nor memory. 64*T1 by default (the peer's Timer F has
    // fired by then, RFC 3261 §17.1.2.2); zero = never.
    Duration unanswered_request_timeout = std::chrono::seconds(32);
    ServerAuth server_auth{};
};

// Out-of-dialog REFERs: refused (403) unless allowed (docs/transfer-rules.md R38).
enum class OutOfDialogRefer : std::uint8_t {
    refuse,  // 403, unless ReferConfig::allow_refer_from allows the request
    allow,   // every one reaches refer_policy (the behaviour before R38)
};

// The default authorization of a replacement (docs/transfer-rules.md R39): the requester is the
// replaced call's remote party, or was referred by it (RFC 3891 §3).
[[nodiscard]] constexpr bool default_authorize_replace(ReplaceRelation relation) noexcept {
    return relation != ReplaceRelation::unrelated;
}

// How the stack takes part in call transfer (RFC 3515, RFC 3891, RFC 4488).
struct ReferConfig {
    std::string aor = {};             // our AOR: default Referred-By; "" = UserAgentConfig::aor
    std::string default_domain = {};  // completes bare user names in targets; "" = the AOR's host
    Scheme default_scheme = Scheme::sip;
    std::uint32_t refresh_expires = 60;  // Expires of a refreshing SUBSCRIBE (RFC 6665 §4.1.2.2)
    // --- transferee side
    // true: the stack is a transferee. It answers REFERs itself (refer_policy), places the INVITE
    // to the target and NOTIFYs its progress, answers SUBSCRIBEs of the refer package, answers 481
    // a refer NOTIFY that belongs to none of its transfers, registers "refer" as an event package
    // and lists norefersub (when server.allow_no_subscription). false: those requests reach the
    // application as RequestEvents (it answers them); transfers it starts still work.
    bool handle_refer = true;
    ReferPolicy refer_policy = {};        // accept or reject a valid REFER; empty = default_refer_policy
    // A REFER outside any dialog of ours (no call, no subscription: anyone who can reach us) is
    // refused 403 before it is read further, unless allowed here (docs/transfer-rules.md R38;
    // RFC 3515 §5.2: REFERs are accepted by policy only from referrers the user approved). An
    // allowed one is then validated and refer_policy decides on it. A REFER within a dialog we have
    // is not concerned (in-dialog REFERs are accepted by refer_policy alone).
    OutOfDialogRefer out_of_dialog_refer = OutOfDialogRefer::refuse;
    // With refuse: when set, asked for each out-of-dialog REFER (the request, where it came from);
    // true allows it. Its From is the sender's claim, not an authenticated identity. Unset, a
    // REFER that authenticated (UserAgentConfig::server_auth lists REFER) is allowed (R40); set,
    // it decides, after the authentication server_auth asks for.
    std::function<bool(const Message& refer, const Source& source)> allow_refer_from = {};
    ReferServerOptions server = {};       // subscription duration, Refer-Sub, embedded headers, queue bound
    // Act on incoming INVITEs with Replaces (RFC 3891 §3) and list "replaces" in Supported (so a
    // peer's `Require: replaces` is not answered 420). false: such INVITEs reach the application
    // as ordinary incoming calls.
    bool handle_replaces = true;
    // Authorises a replacement the RFC 3891 rules accept, i.e. one that names a live call of ours
    // (§3: the UA MUST verify that the initiator is authorized to replace it). `relation` says how
    // the INVITE's From or Referred-By relates to that call's remote party (replaces.hpp). Empty =
    // default_authorize_replace: only a related requester (docs/transfer-rules.md R39). Returning
    // false rejects the INVITE 403 and leaves the call as it is.
    std::function<bool(const Message& invite, SessionId replaced, ReplaceRelation relation)> authorize_replace = {};
    // How long an ended call is remembered so that a Replaces naming it gets 603 (§3), not 481.
    Duration ended_memory = std::chrono::seconds(32);
    // --- transferor side
    // RFC 3261 §12.2.1.2: a 481 or 408 (received or synthesised on timeout) to an in-dialog REFER
    // means the dialog is gone for the peer. true: the stack then hangs up the call the REFER was
    // sent in (BYE) once the transfer has ended. false (default): the call is left to the application.
    bool bye_on_refer_481_408 = false;
};

struct StackConfig {
    UserAgentConfig ua{};
    ReferConfig refer{};
};

}  // namespace referkit
