// Calls and call transfer on a running UserAgent (user_agent.hpp): the handles an application
// holds. Session is one call; Transfer is one REFER we send with its implicit subscription — SIP.js's
// ReferClientContext (docs/sipjs-mapping.md; alias referkit::sipjs::ReferClientContext).
//
// Threading: like UserAgent, every member is called on the io_context's thread (inside a handler,
// a posted command or before io.run()). Handles are cheap to copy; copies share one state. A handle
// stays valid after its UserAgent is gone: a Transfer then reports the last state it reached, and
// commands fail (TransferErrc::no_user_agent, UaError::no_such_session).
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

#include "referkit/core/refer_client_context.hpp"
#include "referkit/core/stack.hpp"
#include "referkit/core/uri.hpp"

namespace referkit {

class UserAgent;
class Transfer;
struct TransferOptions;
struct TransferError;

namespace detail {
struct UaLink;  // what a handle knows of its UserAgent (src/runtime); cleared when the UserAgent goes
}  // namespace detail

// A handle on one INVITE session (call) of a UserAgent. Obtained from UserAgent::invite(),
// UserAgent::session(id) or a SessionEvent's session id.
class Session {
public:
    Session() = default;  // refers to nothing: every command fails with no_such_session
    [[nodiscard]] SessionId id() const noexcept { return id_; }
    // The session's state now; nullopt when it has ended (or the UserAgent is gone).
    [[nodiscard]] std::optional<SessionState> state() const;
    // The dialog's identifiers (Call-ID, tags, remote target ...); nullopt without a dialog.
    [[nodiscard]] std::optional<DialogInfo> dialog() const;
    // Stack::answer / reject / bye / cancel / reinvite on this session (see stack.hpp for the
    // rules and errors). cancel() ends a call we placed before its final response (CANCEL, §9.1).
    [[nodiscard]] std::expected<void, UaError> answer(const AnswerOptions& options = {});
    [[nodiscard]] std::expected<void, UaError> reject(int status, std::string_view reason = {});
    [[nodiscard]] std::expected<void, UaError> bye();
    [[nodiscard]] std::expected<void, UaError> cancel();
    [[nodiscard]] std::expected<void, UaError> reinvite(const ReinviteOptions& options);
    // A re-INVITE putting the call on hold (our stream sendonly, RFC 3264 §8.4) or back (sendrecv).
    // The answer arrives as SessionEvent answer_received (or reinvite_failed).
    [[nodiscard]] std::expected<void, UaError> hold();
    [[nodiscard]] std::expected<void, UaError> unhold();
    // Transfers the peer of this (confirmed) session to `target`: SIP.js's session.refer(target,
    // options) = Transfer(ua, *this, target, options) + refer(). A Session target is an attended
    // transfer (Refer-To with Replaces naming that session's dialog). Errors: see Transfer::refer();
    // nothing is sent on error.
    [[nodiscard]] std::expected<Transfer, TransferError> refer(const std::variant<std::string, Uri, Session>& target,
                                                                      TransferOptions options);
    [[nodiscard]] std::expected<Transfer, TransferError> refer(const std::variant<std::string, Uri, Session>& target);

private:
    friend class UserAgent;
    friend class Transfer;
    Session(std::shared_ptr<detail::UaLink> link, SessionId id) : link_(std::move(link)), id_(id) {}
    // Runs a stack command on the session's UserAgent (defined in src/runtime/transfer.cpp).
    template <class F>
    std::expected<void, UaError> command(F&& f);
    std::shared_ptr<detail::UaLink> link_;
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

// Handlers of one transfer, called on io's thread after the step that caused the event has queued
// its messages (a handler can never delay or suppress the 200 to a NOTIFY, nor the BYE after it).
// The specific handler runs first, then on_any. A handler may call commands on the UserAgent. An
// exception it throws is caught and logged, and changes nothing on the wire or in the transfer.
struct TransferHandlers {
    using Handler = std::function<void(Transfer&, const TransferEvent&)>;
    Handler on_refer_request_accepted{};  // SIP.js referRequestAccepted (2xx to the REFER, once)
    Handler on_refer_request_rejected{};  // referRequestRejected (3xx-6xx, synthesised 408/503)
    Handler on_refer_progress{};          // referProgress (NOTIFY, 1xx sipfrag)
    Handler on_refer_accepted{};          // referAccepted (NOTIFY, 2xx sipfrag)
    Handler on_refer_rejected{};          // referRejected (NOTIFY, 3xx-6xx sipfrag)
    Handler on_notify{};                  // notify (every NOTIFY answered 200, after the above)
    Handler on_ended{};                   // terminal, exactly once: outcome() and cause() are final
    Handler on_any{};                     // every event, after the specific handler
};

// The constructor's options (SIP.js's `options`): the REFER's own (refer_client_context.hpp), the
// response hook and the handlers.
struct TransferOptions {
    ReferOptions refer{};
    // Called with every response to the REFER (1xx-6xx, a 401/407 answered with credentials, the
    // synthesised 408/503) before the event it causes, with the handlers' delivery guarantees
    // (SIP.js's receiveResponse).
    std::function<void(const Message&)> receive_response{};
    TransferHandlers handlers{};
};

// SIP.js's refer([options]): extra_headers are added after the constructor's (a name given in
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
    ua_refused,       // the stack refused the request (ua_error)
    already_sent,     // refer() was called before on this Transfer
    no_user_agent,    // the UserAgent is gone or stopped
};
[[nodiscard]] std::string_view to_string(TransferErrc code) noexcept;

struct TransferError {
    TransferErrc code = TransferErrc::bad_target;
    std::string detail{};
    std::optional<UaError> ua_error{};
};

// The transferor's REFER (SIP.js's ReferClientContext). Constructing sends nothing; refer() sends
// the REFER. Events reach options.handlers; state(), outcome() and cause() are queryable at any
// time, also after the end and after the UserAgent is gone: they read the transfer's one state
// machine (context()), shared with the stack.
class Transfer {
public:
    // In dialog: the REFER goes in `applicant`'s dialog (confirmed at refer() time).
    // Ownership: `ua` is not owned; the handle may outlive it.
    Transfer(UserAgent& ua, const Session& applicant, TransferTarget target, TransferOptions options = {});
    // Out of dialog: the REFER goes to applicant.recipient with a new Call-ID.
    Transfer(UserAgent& ua, OutOfDialog applicant, TransferTarget target, TransferOptions options = {});

    // Sends the REFER. Errors (nothing sent, the transfer stays idle except for already_sent):
    // bad_target, not_confirmed, no_such_session, ua_refused, already_sent, no_user_agent. SIP.js
    // returns the context for chaining; here the handle is `*this`.
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
    // The applicant session (in dialog) or 0 (out of dialog).
    [[nodiscard]] SessionId session() const noexcept;
    // What the stack knows the transfer by (0 before refer()).
    [[nodiscard]] TransferId transfer_id() const noexcept;
    // The transfer's state machine (nullptr before refer()).
    [[nodiscard]] std::shared_ptr<const ReferClientContext> context() const noexcept;
    // The handlers, changeable until (and while) events arrive.
    [[nodiscard]] TransferHandlers& handlers() noexcept;

    struct State;  // shared by the copies of a handle and, while the transfer lives, its UserAgent

private:
    friend class UserAgent;
    explicit Transfer(std::shared_ptr<State> state) : state_(std::move(state)) {}
    std::shared_ptr<State> state_;
};

// Names as SIP.js spells them (docs/sipjs-mapping.md).
namespace sipjs {
using ReferClientContext = referkit::Transfer;
}

}  // namespace referkit
