// The sans-I/O SIP stack: one object that owns every usage of a user agent — INVITE sessions
// (RFC 3261 §13-15), requests with no usage (§11, digest retries §22), dialogs and their usages
// (§12, RFC 5057), event subscriptions (RFC 6665) and call transfer on both sides (RFC 3515, RFC
// 3891, RFC 4488) — over one TransactionLayer (§17). A runtime drives it through Driven (bytes,
// transport failures and time in; messages to send and one deadline out); the application gives
// commands (time is an argument) and pulls typed events (poll_event, stack_events.hpp).
//
// This is the API for people who write their own runtime or drive the stack in tests; an
// application on real sockets uses referkit/user_agent.hpp, which wraps this object.
//
// Not thread-safe: one stack is driven by one thread (docs/ARCHITECTURE.md).
#pragma once
#include <cstddef>
#include <cstdint>
#include <expected>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "referkit/core/dialog.hpp"
#include "referkit/core/driven.hpp"
#include "referkit/core/ids.hpp"
#include "referkit/core/refer_client_context.hpp"
#include "referkit/core/refer_server.hpp"
#include "referkit/core/stack_config.hpp"
#include "referkit/core/stack_events.hpp"
#include "referkit/core/writer.hpp"

namespace referkit {

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
    // true: a 401/407 the stack answers with credentials also surfaces (ResponseEvent::retried).
    bool report_challenges = false;
};
struct InDialogRequest {
    std::string method{};
    HeaderList headers{};
    std::string content_type{};
    std::string body{};
    bool report_challenges = false;  // as OutOfDialogRequest::report_challenges
};
// A request that went out: its handle and its CSeq number (in a dialog: the dialog's new local CSeq).
struct SentRequest {
    RequestId id{};
    std::uint32_t cseq = 0;
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

// What the stack holds; every count reaches zero once everything has ended (tests assert it).
struct StackCounts {
    std::size_t sessions = 0, dialogs = 0, requests = 0, incoming = 0, transactions = 0, timers = 0;
    // The stack's records of which transaction belongs to what, and the keys of requests without
    // To tag it checks merged requests against (RFC 3261 §8.2.2.2); 0 whenever transactions is 0.
    std::size_t transaction_owners = 0;
    std::size_t transfers = 0;    // transferor: live ReferClientContexts
    std::size_t transferees = 0;  // transferee: live ReferServerContexts
};

// The Allow value of a stack (RFC 3261 §20.5): INVITE, ACK, BYE, CANCEL, OPTIONS (the methods the
// stack handles itself), then each of `app_methods` not among them, in order.
[[nodiscard]] std::string allow_value(std::span<const Method> app_methods);

enum class ReferStartErrc : std::uint8_t {
    bad_target,       // the target does not normalise (detail says why); nothing sent
    not_confirmed,    // the session (or, attended, the other session) is not confirmed
    no_such_session,  // unknown session
    ua_refused,       // the stack refused the request (ua_error)
};
struct ReferStartError {
    ReferStartErrc code = ReferStartErrc::bad_target;
    std::string detail = {};
    std::optional<UaError> ua_error = {};
};

class Stack final : public Driven {
public:
    // Preconditions: config.ua.transaction.random set (the TransactionLayer aborts otherwise). The
    // stack owns a copy of the config, completed as ReferConfig and UserAgentConfig document
    // (Referred-By and default domain from the AOR, option tags and the refer package).
    explicit Stack(StackConfig config);
    ~Stack() override;
    Stack(const Stack&) = delete;
    Stack& operator=(const Stack&) = delete;

    // --- Driven (driven.hpp)
    void receive(SharedBuffer bytes, const Source& from, Time now) override;
    [[nodiscard]] std::optional<Transmit> poll_transmit() override;
    void transport_error(TransactionId id, Time now) override;
    // The earliest of the transaction layer's and the stack's own timer queues: O(1).
    [[nodiscard]] std::optional<Time> next_deadline() const override;
    void on_timer(Time now) override;
    void on_local_address(Transport transport, const Endpoint& local, std::string_view sent_by) override;

    // Events, oldest first; nullopt when none is queued.
    [[nodiscard]] std::optional<StackEvent> poll_event();

    // --- INVITE sessions
    // Sends an INVITE (offer per options.body). Errors: invalid_target, invalid_message,
    // transaction_failed, limit_reached.
    [[nodiscard]] std::expected<SessionId, UaError> invite(const InviteOptions& options, Time now);
    // CANCELs our INVITE (held by the transaction layer until a 1xx, §9.1). The session ends with
    // cancelled when the 487 (or a 2xx, which gets ACK + BYE) arrives. Errors: no_such_session,
    // wrong_state (not a UAC session before its final response).
    [[nodiscard]] std::expected<void, UaError> cancel(SessionId id, Time now);
    // Answers an incoming INVITE: 1xx (early dialog) or 2xx (answer or offer in the body). A 2xx is
    // retransmitted until its ACK (§13.3.1.4); without an ACK within 64*T1 the stack sends BYE and
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
    [[nodiscard]] std::expected<SentRequest, UaError> send_request(const OutOfDialogRequest& request, Time now);
    // A request in dialog `dialog` (its local CSeq advances; SentRequest::cseq says to what).
    // Errors: no_such_dialog, invalid_message, limit_reached, transaction_failed.
    [[nodiscard]] std::expected<SentRequest, UaError> send_in_dialog(DialogId dialog, const InDialogRequest& request,
                                                                     Time now);
    // Answers a RequestEvent. A provisional keeps the IncomingId valid; a final one ends it.
    // Returns the dialog the request belongs to or created (0 when none). Errors: no_such_request
    // (unknown, already answered finally, or its transaction is gone), invalid_message, limit_reached
    // (creates_dialog beyond max_dialogs).
    [[nodiscard]] std::expected<DialogId, UaError> respond(IncomingId id, const UaResponse& response, Time now);
    // RFC 5057 usages: the application keeps a dialog alive; the dialog ends (DialogEndedEvent)
    // when the last usage is removed. Errors: no_such_dialog.
    [[nodiscard]] std::expected<void, UaError> add_usage(DialogId id);
    [[nodiscard]] std::expected<void, UaError> remove_usage(DialogId id, Time now);

    // --- call transfer, transferor side (RFC 3515; events: TransferEvent, TransferResponseEvent)
    // REFER in the dialog of confirmed session `session` to `target` (make_refer_to rules).
    // Errors: no_such_session, not_confirmed, bad_target, ua_refused; nothing is sent on error.
    [[nodiscard]] std::expected<TransferId, ReferStartError> refer(SessionId session, std::string_view target,
                                                                   ReferOptions options, Time now);
    // Attended transfer: REFER in `session` to the remote target of `other` with Replaces
    // (RFC 3891 §6.1). Errors: as refer(); not_confirmed when either session is not confirmed.
    [[nodiscard]] std::expected<TransferId, ReferStartError> refer_attended(SessionId session, SessionId other,
                                                                            ReferOptions options, Time now);
    // REFER outside any dialog to `request_uri` (the transferee) naming `target` (RFC 3515 §2.4.2:
    // its 2xx, or a NOTIFY that beats it, creates the subscription's dialog). Errors: bad_target,
    // ua_refused.
    [[nodiscard]] std::expected<TransferId, ReferStartError> refer_out_of_dialog(std::string_view request_uri,
                                                                                 std::string_view target,
                                                                                 ReferOptions options, Time now);
    // Ends the subscription early (SUBSCRIBE Expires: 0 in its dialog, RFC 6665 §4.1.2.3). False
    // when there is nothing to end (unknown or ended transfer, no dialog yet).
    bool unsubscribe(TransferId id, Time now);
    // The transfer's state machine, shared: it stays readable (its final state) after the transfer
    // ended and the stack forgot it. nullptr for an unknown id.
    [[nodiscard]] std::shared_ptr<const ReferClientContext> transfer(TransferId id) const;

    // --- call transfer, transferee side (events: TransfereeEvent)
    // The server context while its transfer lives (nullptr once transfer_ended is queued).
    [[nodiscard]] const ReferServerContext* transferee(TransfereeId id) const;

    // Ends every transfer (transferor: outcome unknown, cause shut_down; transferee: no more
    // NOTIFYs) and releases their dialog usages; their events are queued. Sessions and requests
    // are left as they are. Idempotent.
    void shut_down(Time now);

    // --- inspection
    [[nodiscard]] std::optional<SessionState> session_state(SessionId id) const;
    [[nodiscard]] std::optional<DialogId> session_dialog(SessionId id) const;
    [[nodiscard]] std::optional<DialogInfo> dialog_info(DialogId id) const;
    // What a request of ours is known by while it waits for its final response: call_id,
    // local_tag (its From tag), local_uri, remote_uri, remote_target (its Request-URI) and
    // local_cseq (the CSeq of its latest attempt; a digest retry raises it). In a dialog (or once
    // one was created for it) the dialog's remaining fields are filled in. nullopt once the final
    // response was reported, or for an unknown id.
    [[nodiscard]] std::optional<DialogInfo> request_info(RequestId id) const;
    [[nodiscard]] StackCounts counts() const;
    // The Allow value this stack writes (allow_value(config.ua.app_methods)); a REFER carries it too.
    [[nodiscard]] std::string allow_value() const;
    // The configuration as completed by the constructor.
    [[nodiscard]] const StackConfig& config() const noexcept;
    [[nodiscard]] const TransactionLayer& transactions() const noexcept;

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace referkit
