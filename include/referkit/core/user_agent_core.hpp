// The sans-I/O user-agent core: a TransactionLayer (RFC 3261 §17) with, on top of it, dialogs
// (§12, usages per RFC 5057), INVITE sessions (§13-15, offer/answer per RFC 3264), digest retries
// (§22) and the requests that need no usage (§11 OPTIONS, 405, 420). A runtime drives it through
// Driven; the application gives commands and pulls UaEvents.
//
// Not thread-safe: one core is driven by one thread (docs/ARCHITECTURE.md).
#pragma once
#include <compare>
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "referkit/core/dialog.hpp"
#include "referkit/core/digest.hpp"
#include "referkit/core/driven.hpp"
#include "referkit/core/message.hpp"
#include "referkit/core/sdp.hpp"
#include "referkit/core/transaction_layer.hpp"

namespace referkit {

// Opaque handles, 0 = none, never reused by one core.
struct SessionId {
    std::uint64_t value = 0;
    explicit operator bool() const noexcept { return value != 0; }
    friend auto operator<=>(const SessionId&, const SessionId&) = default;
};
// A request we sent with send_request / send_in_dialog.
struct RequestId {
    std::uint64_t value = 0;
    explicit operator bool() const noexcept { return value != 0; }
    friend auto operator<=>(const RequestId&, const RequestId&) = default;
};
// A received request waiting for the application's respond().
struct IncomingId {
    std::uint64_t value = 0;
    explicit operator bool() const noexcept { return value != 0; }
    friend auto operator<=>(const IncomingId&, const IncomingId&) = default;
};

// Extra header fields, in order (name, value).
using HeaderList = std::vector<std::pair<std::string, std::string>>;

// Offer/answer hooks (RFC 3264). Any member left empty uses the default from sdp.hpp (one audio
// stream described by UserAgentConfig::sdp_local).
struct SessionDescriptionHandler {
    // The offer body (application/sdp) of session `session`, o= version `version`, in `direction`.
    std::function<std::string(SessionId session, std::uint64_t version, MediaDirection direction)> make_offer{};
    // The answer to `offer`, or the status to reject it with (488: the call, or the re-INVITE
    // only, is refused; the session stays up on a re-INVITE).
    std::function<std::expected<std::string, int>(SessionId session, std::uint64_t version, std::string_view offer)>
        make_answer{};
    // Takes the answer to our offer; false when it is unusable (the core then ends the session
    // with failed(488) after acknowledging the 2xx, RFC 3261 §13.2.2.4).
    std::function<bool(SessionId session, std::string_view answer)> take_answer{};
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
    // OPTIONS are the core's. Any other method is answered 405 with Allow (§8.2.1).
    std::vector<Method> app_methods = {Method::message, Method::info, Method::refer, Method::notify,
                                       Method::subscribe};
    std::vector<std::string> supported{};           // option tags (Supported; 420 for others in Require)
    // Event packages (RFC 6665 §7.2) whose SUBSCRIBEs and NOTIFYs this UA takes: one naming another
    // package is answered 489 Bad Event with Allow-Events (§8.2.2, SPEC: 489 only for a different
    // package). Empty = no check: every package reaches the application. The runtime UserAgent
    // always adds "refer" (its ReferAgent's).
    std::vector<std::string> event_packages{};
    // Bodies we accept (415 for others, §8.2.3); OPTIONS's Accept lists them.
    std::vector<std::string> accept = {"application/sdp", "message/sipfrag", "text/plain", "application/dtmf-relay"};
    SessionDescriptionHandler sdp{};
    SdpLocal sdp_local{};
    std::size_t max_sessions = 1024;              // beyond: incoming INVITE 486 ... invite() limit_reached
    std::size_t max_dialogs = 4096;
    std::size_t max_requests = 4096;              // our generic requests waiting + incoming waiting
    // How long the (Call-ID, From tag, CSeq) of a NOTIFY answered 2xx that said
    // Subscription-State: terminated is remembered, so that an exact duplicate arriving after its
    // server transaction is gone (reliable transports: Timer J = 0, RFC 3261 §17.2.2) is answered
    // 200 again without any event instead of 481. nullopt = 64*T1 (Timer J on UDP); zero = never.
    std::optional<Duration> final_notify_memory{};
    std::size_t max_final_notifies = 1024;        // bound of that memory (oldest forgotten first)
    // A request handed to the application (UaEventKind::request) that it has not answered finally
    // this long is answered 408 by the core and forgotten, so that an application that ignores
    // requests leaks neither transactions nor memory. 64*T1 by default (the peer's Timer F has
    // fired by then, RFC 3261 §17.1.2.2); zero = never.
    Duration unanswered_request_timeout = std::chrono::seconds(32);
};

enum class UaError : std::uint8_t {
    no_such_session, no_such_dialog, no_such_request,
    wrong_state,        // the command does not fit the session/dialog/request state now
    invalid_target,     // the URI does not parse or cannot be routed (next_hop)
    invalid_message,    // headers/body the writer refuses, or a method that cannot be used here
    transaction_failed, // the transaction layer refused (too many transactions, ...)
    limit_reached,      // UserAgentConfig max_* reached
};
[[nodiscard]] std::string_view to_string(UaError e) noexcept;

enum class SessionState : std::uint8_t {
    calling,     // UAC: INVITE sent, no provisional with To tag yet
    proceeding,  // UAC: 1xx received (early dialog)
    incoming,    // UAS: INVITE received, not answered finally (1xx may have been sent)
    accepted,    // UAS: 2xx sent, waiting for the ACK (§13.3.1.4)
    confirmed,   // 2xx + ACK: the call is up
    ending,      // BYE sent, waiting for its final response
};

enum class EndCause : std::uint8_t { bye_local, bye_remote, cancelled, rejected, failed, no_ack };
[[nodiscard]] std::string_view to_string(EndCause c) noexcept;

enum class UaEventKind : std::uint8_t {
    // Session events carry `session` and, once there is one, `dialog`. Synthesised failures
    // (timeout 408, transport error 503) end a session with cause failed.
    incoming_call,      // a new INVITE (message); answer(), reject()
    session_progress,   // UAC: 1xx (status, message)
    session_answered,   // a 2xx received (UAC) or sent (UAS)
    session_confirmed,  // 2xx + ACK (UAS: the ACK is message)
    session_ended,      // cause, status (final status of the failure, or of our BYE)
    offer_received,     // an offer from the peer (INVITE, re-INVITE or 2xx); direction = its audio direction
    answer_received,    // the answer to our offer; direction = its audio direction (recvonly = we hold)
    reinvite_failed,    // our re-INVITE was refused (status); the session stays up
    // A request the application handles: respond(incoming, ...). dialog: the dialog it arrived in
    // (0 outside one). A NOTIFY that arrives before the 2xx to a creates_dialog request of ours
    // (RFC 6665 §4.1.2.4) creates that dialog (one usage, owned by the requester) and carries
    // `request` = that request's RequestId. So does a NOTIFY from another fork (a From tag no dialog
    // has yet) while the request waits or for 64*T1 after its 2xx: one more dialog per fork.
    request,
    // A response to send_request/send_in_dialog (provisional and final). 401/407 that the core
    // answered with credentials (§22.2) surface only for a request sent with report_challenges:
    // then as an informational event (final = false, retried = true; the retry's responses follow
    // under the same RequestId); without it they never surface. A challenge it cannot answer (no
    // matching credentials, the same realm refused twice) surfaces as the final response. A final the
    // transaction layer synthesised (408 on timeout, 503 on a transport error, §8.1.3.1) has
    // status set and message set to the synthesised response; code must still accept
    // message == nullopt with status set; `origin` says which (wire for a received one).
    // dialog: the request's dialog, or the dialog its 2xx created (creates_dialog: one usage owned
    // by the requester, who calls remove_usage).
    response,
    dialog_ended,       // the dialog has no usage left and is gone
};
[[nodiscard]] std::string_view to_string(UaEventKind k) noexcept;

// Where the status of a response event came from.
enum class ResponseOrigin : std::uint8_t {
    wire,             // received from the network
    timeout,          // synthesised 408: Timer B/F fired (RFC 3261 §8.1.3.1)
    transport_error,  // synthesised 503: the transport failed (RFC 3261 §8.1.3.1)
};

struct UaEvent {
    UaEventKind kind = UaEventKind::dialog_ended;
    SessionId session{};
    DialogId dialog{};
    RequestId request{};
    IncomingId incoming{};
    std::optional<Message> message{};
    std::string method{};      // request/response events: the method
    int status = 0;          // responses, session_ended, reinvite_failed
    bool final = false;      // response events: status >= 200
    EndCause cause = EndCause::failed;
    MediaDirection direction = MediaDirection::sendrecv;
    ResponseOrigin origin = ResponseOrigin::wire;  // response events: received or synthesised
    // Response events: a 401/407 the core answered by resending with credentials (RFC 3261 §22.2);
    // only for requests sent with report_challenges. final is false: the request is still pending.
    bool retried = false;
};

struct InviteOptions {
    std::string target{};                   // Request-URI and To ("sip:bob@host")
    HeaderList headers{};                   // extra headers
    std::optional<std::string> body{};      // nullopt = default offer; "" = no offer (answer goes in ACK)
    std::string content_type = "application/sdp";
};
struct AnswerOptions {
    int status = 200;                     // 180/183 provisional or 2xx
    std::string reason{};
    HeaderList headers{};
    std::optional<std::string> body{};      // nullopt: 2xx carries the answer (or our offer); 1xx none
};
struct ReinviteOptions {
    MediaDirection direction = MediaDirection::sendrecv;  // sendonly = hold, sendrecv = unhold
    // Overrides the generated offer; "" = no offer (the 2xx carries the peer's offer, the ACK our answer).
    std::optional<std::string> body{};
};
struct OutOfDialogRequest {
    std::string method{};
    std::string target{};
    HeaderList headers{};
    std::string content_type{};
    std::string body{};
    bool creates_dialog = false;  // SUBSCRIBE, REFER: a 2xx (or an early NOTIFY) creates a dialog
    // true: a 401/407 the core answers with credentials also surfaces (response event, retried = true).
    bool report_challenges = false;
};
struct InDialogRequest {
    std::string method{};
    HeaderList headers{};
    std::string content_type{};
    std::string body{};
    bool report_challenges = false;  // as OutOfDialogRequest::report_challenges
};
struct UaResponse {
    int status = 200;
    std::string reason{};
    HeaderList headers{};
    std::string content_type{};
    std::string body{};
    // A 2xx to a request outside a dialog creates a UAS dialog (Contact added), with one usage
    // owned by the caller (remove_usage).
    bool creates_dialog = false;
};

struct UaCounts {
    std::size_t sessions = 0, dialogs = 0, requests = 0, incoming = 0, transactions = 0, timers = 0;
    // The core's records of which transaction belongs to what; 0 whenever transactions is 0.
    std::size_t transaction_owners = 0;
};

// The Allow value of a UA core (RFC 3261 §20.5): INVITE, ACK, BYE, CANCEL, OPTIONS (the methods the
// core handles), then each of `app_methods` not among them, in order.
[[nodiscard]] std::string allow_value(std::span<const Method> app_methods);

class UserAgentCore final : public Driven {
public:
    // Preconditions: config.transaction.random set (the TransactionLayer aborts otherwise). The core
    // owns a copy of the config.
    explicit UserAgentCore(UserAgentConfig config);
    ~UserAgentCore() override;
    UserAgentCore(const UserAgentCore&) = delete;
    UserAgentCore& operator=(const UserAgentCore&) = delete;

    // --- Driven
    void receive(SharedBuffer bytes, const Source& from, Time now) override;
    [[nodiscard]] std::optional<Transmit> poll_transmit() override;
    void transport_error(TransactionId id, Time now) override;
    [[nodiscard]] std::optional<Time> next_deadline() const override;
    void on_timer(Time now) override;
    void on_local_address(Transport transport, const Endpoint& local, std::string_view sent_by) override;

    // Events, oldest first; nullopt when none is queued.
    [[nodiscard]] std::optional<UaEvent> poll_event();

    // --- INVITE sessions
    // Sends an INVITE (offer per options.body). Errors: invalid_target, invalid_message,
    // transaction_failed, limit_reached.
    [[nodiscard]] std::expected<SessionId, UaError> invite(const InviteOptions& options, Time now);
    // CANCELs our INVITE (held by the transaction layer until a 1xx, §9.1). The session ends with
    // cancelled when the 487 (or a 2xx, which gets ACK + BYE) arrives. Errors: no_such_session,
    // wrong_state (not a UAC session before its final response).
    [[nodiscard]] std::expected<void, UaError> cancel(SessionId id, Time now);
    // Answers an incoming INVITE: 1xx (early dialog) or 2xx (answer or offer in the body). A 2xx is
    // retransmitted until its ACK (§13.3.1.4); without an ACK within 64*T1 the core sends BYE and
    // the session ends with no_ack. When the INVITE's offer cannot be answered (make_answer's
    // status; 488 by default) the call is refused with that status instead and session_ended
    // (rejected) follows; the call still returns success.
    // Errors: no_such_session, wrong_state, invalid_message (status not 101..299 or bad headers).
    [[nodiscard]] std::expected<void, UaError> answer(SessionId id, const AnswerOptions& options, Time now);
    // Refuses an incoming INVITE (status 300..699). Errors: no_such_session, wrong_state, invalid_message.
    [[nodiscard]] std::expected<void, UaError> reject(SessionId id, int status, std::string_view reason, Time now);
    // Sends BYE on a confirmed session; session_ended(bye_local) follows its final response (a
    // timeout or transport error ends it too, status 408/503). On a UAS session whose 2xx is not
    // acknowledged yet, the BYE waits for the ACK (§15) and the state is `ending` meanwhile.
    // Errors: no_such_session, wrong_state (not confirmed or accepted).
    [[nodiscard]] std::expected<void, UaError> bye(SessionId id, Time now);
    // Sends a re-INVITE (hold = sendonly). 491 is retried after the §14.1 wait. The outcome is
    // answer_received (or offer_received + session_confirmed without offer) or reinvite_failed
    // (status; the session stays up); 481 and the dialog-destroying codes of RFC 5057 §5.1 end the
    // session (failed), 408 ends it with BYE. Errors: no_such_session, wrong_state (not confirmed,
    // a re-INVITE of ours is pending, or an incoming one waits for its ACK).
    [[nodiscard]] std::expected<void, UaError> reinvite(SessionId id, const ReinviteOptions& options, Time now);

    // --- generic requests
    // A request outside any dialog. Errors: invalid_target, invalid_message (INVITE/ACK/CANCEL/BYE
    // are not generic), transaction_failed, limit_reached.
    [[nodiscard]] std::expected<RequestId, UaError> send_request(const OutOfDialogRequest& request, Time now);
    // A request in dialog `dialog` (local CSeq advances). Errors: no_such_dialog, invalid_message.
    [[nodiscard]] std::expected<RequestId, UaError> send_in_dialog(DialogId dialog, const InDialogRequest& request,
                                                                   Time now);
    // Answers a request event. A provisional keeps the IncomingId valid; a final one ends it.
    // Returns the dialog the request belongs to or created (0 when none). Errors: no_such_request
    // (unknown, already answered finally, or its transaction is gone), invalid_message, limit_reached
    // (creates_dialog beyond max_dialogs).
    [[nodiscard]] std::expected<DialogId, UaError> respond(IncomingId id, const UaResponse& response, Time now);
    // RFC 5057 usages: another layer keeps a dialog alive; the dialog ends (dialog_ended) when the
    // last usage is removed. Errors: no_such_dialog.
    [[nodiscard]] std::expected<void, UaError> add_usage(DialogId id);
    [[nodiscard]] std::expected<void, UaError> remove_usage(DialogId id, Time now);

    // --- inspection
    [[nodiscard]] std::optional<SessionState> session_state(SessionId id) const;
    [[nodiscard]] std::optional<DialogId> session_dialog(SessionId id) const;
    [[nodiscard]] std::optional<DialogInfo> dialog_info(DialogId id) const;
    // What a request of ours (send_request/send_in_dialog) is known by, while it waits for its
    // final response: call_id, local_tag (its From tag), local_uri, remote_uri, remote_target (its
    // Request-URI) and local_cseq (the CSeq of its latest attempt; a digest retry raises it). In a
    // dialog (or once one was created for it) the dialog's remaining fields are filled in.
    // nullopt once the final response was reported, or for an unknown id.
    [[nodiscard]] std::optional<DialogInfo> request_info(RequestId id) const;
    [[nodiscard]] UaCounts counts() const;
    // The Allow value this core writes (allow_value(config.app_methods)); a REFER carries it too.
    [[nodiscard]] std::string allow_value() const;
    [[nodiscard]] const TransactionLayer& transactions() const noexcept;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace referkit
