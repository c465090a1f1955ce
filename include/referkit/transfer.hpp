// Call transfer on a running UserAgent: the public surface of SIP.js's ReferClientContext (the seed,
// docs/sipjs-mapping.md) with the behaviour of SPEC-REFER.
//
//   Session       a handle on one INVITE session of a UserAgent; session.refer(target, options)
//   Transfer      the transferor's REFER (the seed's ReferClientContext; the core state machine of
//                 the same name is referkit::ReferClientContext, so the runtime one is called
//                 Transfer, alias referkit::sipjs::ReferClientContext)
//
// Threading: like UserAgent, every member is called on the io_context's thread (inside a handler,
// a posted command or before io.run()). Handles are cheap to copy; copies share one state. A
// Transfer handle stays valid after its UserAgent is gone: it then reports the last state it saw
// and refuses commands (TransferErrc::no_user_agent).
#pragma once
#include <chrono>
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "referkit/core/refer.hpp"
#include "referkit/core/refer_agent.hpp"
#include "referkit/core/uri.hpp"
#include "referkit/core/user_agent_core.hpp"

namespace referkit {

class UserAgent;
class Session;
class Transfer;
struct TransferOptions;
struct TransferError;

namespace detail {
// Links handles to their UserAgent; `ua` is cleared when the UserAgent is destroyed.
struct UaAnchor {
    UserAgent* ua = nullptr;
};
struct TransferState;
}  // namespace detail

// A handle on one INVITE session (call) of a UserAgent. Obtained from UserAgent::invite(),
// UserAgent::session(id) or a UaEvent's session id.
class Session {
public:
    Session() = default;  // refers to nothing: every command fails with no_such_session
    [[nodiscard]] SessionId id() const noexcept { return id_; }
    // The session's state now; nullopt when it has ended (or the UserAgent is gone).
    [[nodiscard]] std::optional<SessionState> state() const;
    // The dialog's identifiers (Call-ID, tags, remote target ...); nullopt without a dialog.
    [[nodiscard]] std::optional<DialogInfo> dialog() const;
    // UserAgentCore::answer / reject / bye on this session (see there for the errors).
    [[nodiscard]] std::expected<void, UaError> answer(const AnswerOptions& options = {});
    [[nodiscard]] std::expected<void, UaError> reject(int status, std::string_view reason = {});
    [[nodiscard]] std::expected<void, UaError> bye();
    // Transfers the peer of this (confirmed) session to `target`: the seed's
    // session.refer(target, options) = Transfer(ua, *this, target, options) + refer(). A Session
    // target is an attended transfer (Refer-To with Replaces naming that session's dialog).
    // Errors: see Transfer::refer(); nothing is sent on error.
    [[nodiscard]] std::expected<Transfer, TransferError> refer(const std::variant<std::string, Uri, Session>& target,
                                                                      TransferOptions options);
    [[nodiscard]] std::expected<Transfer, TransferError> refer(const std::variant<std::string, Uri, Session>& target);

private:
    friend class UserAgent;
    friend class Transfer;
    Session(std::shared_ptr<detail::UaAnchor> anchor, SessionId id) : anchor_(std::move(anchor)), id_(id) {}
    std::shared_ptr<detail::UaAnchor> anchor_;
    SessionId id_{};
};

// What to transfer to: URI text ("bob", "sip:bob@host", "tel:+1...", "\"Bob\" <sip:bob@host>",
// normalised per make_refer_to), a parsed URI (its text is used), or another Session (attended).
using TransferTarget = std::variant<std::string, Uri, Session>;

// The applicant of an out-of-dialog REFER: the user agent itself, sending the REFER to
// `recipient` (the transferee; SIP.js read it from applicant.remoteIdentity.uri).
struct OutOfDialog {
    std::string recipient{};
};

// One event of a transfer: the core's ReferEvent plus the message that caused it (the response to
// the REFER for refer_request_accepted/rejected, the NOTIFY for the sipfrag events and `notify` —
// the seed passes that request to 'notify' listeners; nullopt for timers, synthesised responses
// and shut-down).
struct TransferEvent : ReferEvent {
    std::optional<Message> message{};
    // "referRequestAccepted" ... "notify", "ended".
    [[nodiscard]] std::string_view name() const noexcept { return seed_name(kind); }
};

// Handlers of one transfer, called on io's thread after the step that caused the event has queued
// its messages (a handler can never delay or suppress the 200 to a NOTIFY, nor the BYE after it).
// The specific handler runs first, then on_any. A handler may call commands on the UserAgent. An
// exception it throws is caught and logged, and changes nothing on the wire or in the transfer.
struct TransferHandlers {
    using Handler = std::function<void(Transfer&, const TransferEvent&)>;
    Handler on_refer_request_accepted{};  // seed: referRequestAccepted (2xx to the REFER, once)
    Handler on_refer_request_rejected{};  // seed: referRequestRejected (3xx-6xx, synthesised 408/503)
    Handler on_refer_progress{};          // seed: referProgress (NOTIFY, 1xx sipfrag)
    Handler on_refer_accepted{};          // seed: referAccepted (NOTIFY, 2xx sipfrag)
    Handler on_refer_rejected{};          // seed: referRejected (NOTIFY, 3xx-6xx sipfrag)
    Handler on_notify{};                  // seed: notify (every NOTIFY answered 200, after the above)
    Handler on_ended{};                   // terminal, exactly once: outcome() and cause() are final
    Handler on_any{};                     // every event, after the specific handler
};

// The constructor's options (the seed's `options`). Fields as in ReferOptions (refer.hpp).
struct TransferOptions {
    std::vector<std::string> extra_headers{};  // whole lines "Name: value"; replace defaults of the same name
    // Called with every response to the REFER (1xx-6xx, synthesised 408/503), before the event it
    // causes, with the same delivery guarantees as the handlers.
    std::function<void(const Message&)> receive_response{};
    bool active_after_transfer = false;        // keep the call after referAccepted (default: BYE)
    std::string referred_by{};                 // Referred-By (RFC 3892); "" = our AOR
    bool refer_sub = true;                     // false: Refer-Sub: false + Supported: norefersub (RFC 4488)
    std::optional<TargetDialog> target_dialog{};  // Target-Dialog (RFC 4538)
    Duration notify_wait = std::chrono::seconds(32);  // no NOTIFY this long after the 2xx: unknown
    DisplayNamePolicy display_name = DisplayNamePolicy::escape;  // of the Refer-To (attended too)
    TransferHandlers handlers{};
};

// The seed's refer([options]): extra_headers are added after the constructor's (a name given in
// both: this one wins, each header appears once); receive_response, when set, replaces the
// constructor's.
struct ReferCallOptions {
    std::vector<std::string> extra_headers{};
    std::function<void(const Message&)> receive_response{};
};

enum class TransferErrc : std::uint8_t {
    bad_target,       // the target does not normalise (detail says why)
    not_confirmed,    // the session (or, attended, the target session) is not confirmed
    no_such_session,  // unknown or ended session
    ua_refused,       // UserAgentCore refused the request (ua_error)
    already_sent,     // refer() was called before on this Transfer
    no_user_agent,    // the UserAgent is gone or stopped
};
[[nodiscard]] std::string_view to_string(TransferErrc code) noexcept;

struct TransferError {
    TransferErrc code = TransferErrc::bad_target;
    std::string detail{};
    std::optional<UaError> ua_error{};
};

// The transferor's REFER (the seed's ReferClientContext). Constructing sends nothing; refer()
// sends the REFER. Events reach options.handlers; state(), outcome() and cause() are queryable at
// any time, also after the end and after the UserAgent is gone.
class Transfer {
public:
    // In dialog: the REFER goes in `applicant`'s dialog (confirmed at refer() time).
    // Ownership: `ua` is not owned; the handle may outlive it.
    Transfer(UserAgent& ua, const Session& applicant, TransferTarget target, TransferOptions options = {});
    // Out of dialog: the REFER goes to applicant.recipient with a new Call-ID (SPEC-REFER).
    Transfer(UserAgent& ua, OutOfDialog applicant, TransferTarget target, TransferOptions options = {});

    // Sends the REFER. Errors (nothing sent, the transfer stays idle except for already_sent):
    // bad_target, not_confirmed, no_such_session, ua_refused, already_sent, no_user_agent. The
    // seed returns the context for chaining; here the handle is `*this`.
    [[nodiscard]] std::expected<void, TransferError> refer(ReferCallOptions options = {});
    // Ends the subscription early (SUBSCRIBE Expires: 0, RFC 6665 §4.1.2.3); the transfer ends at
    // the final NOTIFY or after notify_wait (unknown, unsubscribed). False when there is nothing to
    // end (not sent, ended, no dialog yet).
    bool unsubscribe();

    [[nodiscard]] ReferState state() const noexcept;
    [[nodiscard]] ReferOutcome outcome() const noexcept;
    [[nodiscard]] ReferCause cause() const noexcept;
    [[nodiscard]] bool ended() const noexcept { return state() == ReferState::ended; }
    // The subscription id (the REFER's CSeq); 0 before refer().
    [[nodiscard]] std::uint32_t id() const noexcept;
    [[nodiscard]] std::optional<int> final_response_status() const noexcept;
    [[nodiscard]] std::optional<int> final_sipfrag_status() const noexcept;
    // The applicant session (in dialog) or an empty Session (out of dialog).
    [[nodiscard]] SessionId session() const noexcept;
    // The handle the ReferAgent knows the transfer by (0 before refer()).
    [[nodiscard]] ReferHandle handle() const noexcept;
    // The handlers, changeable until (and while) events arrive.
    [[nodiscard]] TransferHandlers& handlers() noexcept;

private:
    friend class UserAgent;
    explicit Transfer(std::shared_ptr<detail::TransferState> state) : state_(std::move(state)) {}
    std::shared_ptr<detail::TransferState> state_;
};

namespace detail {
// Shared by the copies of a Transfer handle and, while the transfer lives, by its UserAgent.
struct TransferState {
    std::shared_ptr<UaAnchor> anchor{};
    SessionId session{};         // in dialog
    bool out_of_dialog = false;
    std::string recipient{};     // out of dialog
    TransferTarget target{};
    TransferOptions options{};
    ReferHandle handle{};
    bool sent = false;
    // Last state seen (kept after the end and after the UserAgent is gone).
    ReferState state = ReferState::idle;
    ReferOutcome outcome = ReferOutcome::pending;
    ReferCause cause = ReferCause::none;
    std::uint32_t id = 0;
    std::optional<int> final_response_status{};
    std::optional<int> final_sipfrag_status{};
};
}  // namespace detail

// Names as the seed spells them (docs/sipjs-mapping.md).
namespace sipjs {
using ReferClientContext = referkit::Transfer;
}

}  // namespace referkit
