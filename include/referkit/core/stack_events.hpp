// What a Stack (include/referkit/core/stack.hpp) tells its user: one type per kind of event, pulled
// with Stack::poll_event() as one StackEvent (a std::variant), in the order they happened. Every
// event is queued after the messages of the step that caused it (the 200 to a NOTIFY before the
// transfer events it raises, the BYE after a transfer before its `ended`).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "referkit/core/ids.hpp"
#include "referkit/core/message.hpp"
#include "referkit/core/refer_client_context.hpp"
#include "referkit/core/refer_server.hpp"
#include "referkit/core/sdp.hpp"
#include "referkit/core/transaction_layer.hpp"

namespace referkit {

// A command's local error (never a peer's: those are answered on the wire or reported as events).
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

// --- INVITE sessions (RFC 3261 §13-15, RFC 3264)

enum class SessionEventKind : std::uint8_t {
    incoming_call,      // a new INVITE (message): answer(), reject()
    session_progress,   // UAC: 1xx (status, message)
    session_answered,   // a 2xx received (UAC) or sent (UAS)
    session_confirmed,  // 2xx + ACK (UAS: the ACK is message)
    session_ended,      // cause, status (final status of the failure, or of our BYE)
    offer_received,     // an offer from the peer (INVITE, re-INVITE or 2xx); direction = its audio direction
    answer_received,    // the answer to our offer; direction = its audio direction (recvonly = we hold)
    reinvite_failed,    // our re-INVITE was refused (status); the session stays up
};
[[nodiscard]] std::string_view to_string(SessionEventKind k) noexcept;

// A session's events carry `dialog` once there is one. Synthesised failures (timeout 408,
// transport error 503) end a session with cause failed.
struct SessionEvent {
    SessionEventKind kind = SessionEventKind::session_ended;
    SessionId session{};
    DialogId dialog{};
    int status = 0;                                    // progress, answered, ended, reinvite_failed
    EndCause cause = EndCause::failed;                 // session_ended
    MediaDirection direction = MediaDirection::sendrecv;  // offer_received, answer_received
    std::optional<Message> message{};                  // the message that caused it, when there is one
};

// --- requests the application handles (UserAgentConfig::app_methods)

// A request for the application: answer it with Stack::respond(incoming, ...). `dialog`: the
// dialog it arrived in (0 outside one). A NOTIFY that arrives before the 2xx to a dialog-creating
// request of ours (RFC 6665 §4.1.2.4), or from another fork of it, creates that dialog (one usage,
// owned by the requester, who calls remove_usage) and carries `created_by` = that request.
struct RequestEvent {
    IncomingId incoming{};
    DialogId dialog{};
    RequestId created_by{};
    Method method = Method::other;  // Method::other: read message.method_text()
    Message message;
    std::string authenticated_user{};  // the digest user it authenticated as (ServerAuth); "" = none
};

// A response to send_request / send_in_dialog (provisional and final). A 401/407 the stack
// answered with credentials (§22.2) surfaces only for a request sent with report_challenges: then
// as an informational event (final = false, retried = true; the retry's responses follow under the
// same RequestId, with its CSeq). A challenge it cannot answer surfaces as the final response. A
// final the transaction layer synthesised (408, 503, §8.1.3.1) has `origin` timeout or
// transport_error. dialog: the request's dialog, or the one its 2xx created (creates_dialog: one
// usage owned by the requester, who calls remove_usage).
struct ResponseEvent {
    RequestId request{};
    DialogId dialog{};
    Method method = Method::other;
    std::uint32_t cseq = 0;          // the CSeq of the attempt this response answers
    int status = 0;
    bool final = false;              // status >= 200
    ResponseOrigin origin = ResponseOrigin::wire;
    bool retried = false;            // a 401/407 answered with credentials (report_challenges)
    std::optional<Message> message{};
};

// A dialog has no usage left and is gone (RFC 5057 §3).
struct DialogEndedEvent {
    DialogId dialog{};
};

// --- transfers we started (the transferor, RFC 3515 §2.4)

// One event of a transfer: the ReferClientContext's event and the message that caused it (the
// response to the REFER for refer_request_accepted/rejected, the NOTIFY for the sipfrag events and
// `notify`; nullopt for timers, synthesised responses and shut-down).
struct TransferEvent : ReferEvent {
    TransferId transfer{};
    std::optional<Message> message{};
    // The SIP.js name ("referRequestAccepted" ... "notify"), or "ended".
    [[nodiscard]] std::string_view name() const noexcept { return sipjs_name(kind); }
};

// Every response to a transfer's REFER (1xx-6xx, a 401/407 answered with credentials, the
// synthesised 408/503), queued before the transfer events it causes (SIP.js's receiveResponse).
struct TransferResponseEvent {
    TransferId transfer{};
    Message response;
};

// --- transfers asked of us (the transferee, RFC 3515 §2.4.4-§2.4.7, and Replaces, RFC 3891)

enum class TransfereeEventKind : std::uint8_t {
    refer_received,     // a valid REFER was answered: status 2xx (accepted) or 3xx-6xx (rejected); target set
    transfer_started,   // the INVITE to the target was placed: session
    transfer_notified,  // a NOTIFY was answered 2xx: status = its sipfrag status
    transfer_ended,     // an accepted transfer is over (last event of its handle): status = the INVITE's
                        // final status (0 when unknown), cause = how the subscription ended
    replaced,           // an INVITE with Replaces was answered 200: session (new) replaces `replaced`,
                        // which gets BYE (confirmed) or CANCEL (our early INVITE)
    replace_rejected,   // an INVITE with Replaces was refused: session, status (400/403/481/486/603)
};
[[nodiscard]] std::string_view to_string(TransfereeEventKind kind) noexcept;

struct TransfereeEvent {
    TransfereeEventKind kind = TransfereeEventKind::transfer_ended;
    TransfereeId handle = {};           // REFER events
    SessionId session = {};             // the INVITE to the target, or the new call (Replaces)
    SessionId replaced = {};            // replaced: the old call
    int status = 0;
    std::string target = {};            // refer_received: Request-URI of the INVITE to place
    ReferServerCause cause = ReferServerCause::none;  // transfer_ended
};

using StackEvent = std::variant<SessionEvent, RequestEvent, ResponseEvent, DialogEndedEvent, TransferEvent,
                                TransferResponseEvent, TransfereeEvent>;

}  // namespace referkit
