// INVITE sessions (RFC 3261 §13-15, RFC 3264 offer/answer, RFC 5057 usages): one InviteSession per
// call, the Sessions registry with the commands, and what an INVITE client transaction keeps for
// the ACKs of its 2xx. Split across sessions.cpp (registry, commands, timers, the end),
// session_uac.cpp (our INVITEs, re-INVITEs and BYEs: their responses and ACKs) and session_uas.cpp
// (the INVITEs, re-INVITEs, BYEs, CANCELs and ACKs we receive).
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "../stack/stack_timers.hpp"
#include "../ua/sender.hpp"
#include "referkit/core/stack.hpp"

namespace referkit::stack {

struct DialogEntry;

// The message carries a session description (a body typed application/sdp, or untyped: §7.4.1).
[[nodiscard]] bool sdp_body(const Message& m);

// A 2xx we retransmit until its ACK (§13.3.1.4).
struct Pending2xx {
    TransactionId tx{};
    std::uint32_t cseq = 0;
    int status = 200;
    std::string reason{};
    HeaderList headers{};
    std::string content_type{};
    std::string body{};
    bool offer = false;  // the 2xx carried our offer: the ACK carries the answer
    bool initial = true; // to the dialog-creating INVITE (else a re-INVITE)
    Duration interval{};
    Time next{};
    Time give_up{};
};

// What an INVITE or re-INVITE client transaction keeps until it ends: the ACK sent for its 2xx,
// sent again for each retransmission (§13.2.2.4), and what a 2xx from another fork needs.
struct InviteAck {
    std::optional<OutgoingRequest> ack{};
    Destination ack_destination{};
    std::string to_tag{};              // the To tag of the 2xx acknowledged
    DialogRequestFields fields{};      // to build a dialog for another fork's 2xx
    std::vector<Outgoing::Auth> auth{};
};

struct InviteSession {
    SessionId id{};
    bool uac = false;
    SessionState state = SessionState::calling;
    DialogId dialog{};
    Transport transport = Transport::udp;
    ConnectionId connection = 0;
    std::uint64_t sdp_version = 0;
    MediaDirection local_direction = MediaDirection::sendrecv;
    // UAC
    TransactionId invite_tx{};
    Outgoing invite{};
    bool offered = false;
    bool cancel_requested = false;
    // UAS
    TransactionId server_tx{};
    std::optional<Message> request{};
    std::string local_tag{};
    bool remote_offer = false;
    std::string source{};  // the address its INVITE came from (max_sessions_per_source)
    std::optional<Pending2xx> pending_2xx{};
    StackTimer timer_2xx{};
    bool bye_after_ack = false;
    // Outgoing re-INVITE.
    TransactionId reinvite_tx{};
    Outgoing reinvite{};
    bool reinvite_pending = false;
    std::optional<Time> reinvite_retry_at{};
    StackTimer timer_reinvite{};
    MediaDirection previous_direction = MediaDirection::sendrecv;
    // BYE (ours): the session ends with this cause when it completes.
    TransactionId bye_tx{};
    Outgoing bye{};
    EndCause end_cause = EndCause::bye_local;
    int end_status = 0;  // 0: the BYE's final status
    bool bye_resent = false;  // the BYE was sent again after a 500 (see on_bye_response)
};

class Sessions {
public:
    explicit Sessions(Stack::Impl& stack) : s_(stack) {}

    [[nodiscard]] InviteSession* find(SessionId id);
    [[nodiscard]] const InviteSession* find(SessionId id) const;
    [[nodiscard]] std::size_t size() const noexcept { return sessions_.size(); }

    // --- commands (stack.hpp documents them)
    [[nodiscard]] std::expected<SessionId, UaError> invite(const InviteOptions& options, Time now);
    [[nodiscard]] std::expected<void, UaError> cancel(SessionId id, Time now);
    [[nodiscard]] std::expected<void, UaError> answer(SessionId id, const AnswerOptions& options, Time now);
    [[nodiscard]] std::expected<void, UaError> reject(SessionId id, int status, std::string_view reason, Time now);
    [[nodiscard]] std::expected<void, UaError> bye(SessionId id, Time now);
    [[nodiscard]] std::expected<void, UaError> reinvite(SessionId id, const ReinviteOptions& options, Time now);

    // --- UAS (session_uas.cpp): requests received
    // A new INVITE outside a dialog: a session in state incoming (incoming_call). Returns it (0 when
    // refused: 486 at the limits, the SDP's status when it does not parse).
    SessionId on_invite(TransactionEvent& ev, Time now);
    void on_reinvite(TransactionEvent& ev, DialogEntry& d, Time now);
    void on_bye(TransactionEvent& ev, DialogEntry& d, Time now);
    void on_cancel(TransactionEvent& ev, Time now);
    void on_ack(TransactionEvent& ev, Time now);
    // Server transaction of a session's INVITE failed (transport) or ended.
    void on_server_transport_error(SessionId id, TransactionId tx, Time now);
    void on_server_terminated(SessionId id, TransactionId tx, Time now);

    // --- UAC (session_uac.cpp): responses to our INVITE, re-INVITE and BYE
    void on_invite_response(InviteSession& s, TransactionEvent& ev, const Message* m, Time now);
    void on_reinvite_response(InviteSession& s, TransactionEvent& ev, const Message* m, Time now);
    void on_bye_response(InviteSession& s, TransactionEvent& ev, const Message* m, Time now);
    // A further 2xx to an INVITE or re-INVITE in the Accepted state (RFC 6026 §8.4): ACK it again,
    // or, from another fork, ACK and BYE it (§13.2.2.4).
    void on_repeated_2xx(InviteAck& ack, bool initial_invite, const Message& m, Time now);

    // --- timers (sessions.cpp)
    void on_2xx_timer(SessionId id, Time now);
    void on_reinvite_timer(SessionId id, Time now);

private:
    std::string make_offer(InviteSession& s, MediaDirection d);
    std::expected<std::string, int> make_answer(InviteSession& s, std::string_view offer);
    bool take_answer(InviteSession& s, std::string_view answer, MediaDirection& direction);
    void emit(SessionEventKind kind, const InviteSession& s, int status = 0,
              std::optional<Message> message = std::nullopt, MediaDirection direction = MediaDirection::sendrecv,
              EndCause cause = EndCause::failed);
    void ack_and_bye_fork(const DialogRequestFields& fields, const std::vector<Outgoing::Auth>& auth,
                          const Message& m, Transport t, Time now);
    void send_ack(InviteAck& owner, DialogEntry& d, std::uint32_t cseq, const std::string& body, Time now);
    void send_2xx(InviteSession& s, Time now);
    void arm_2xx(InviteSession& s);
    void start_bye(InviteSession& s, EndCause cause, int status, Time now);
    // Ends the session (session_ended) and releases its INVITE usage; `s` is gone afterwards.
    void end_session(InviteSession& s, EndCause cause, int status, std::optional<Message> m, Time now);
    std::expected<void, UaError> send_reinvite(InviteSession& s, const std::string& body, Time now);

    Stack::Impl& s_;
    std::unordered_map<SessionId, InviteSession, IdHash> sessions_;
    std::unordered_map<std::string, std::size_t> per_source_;  // incoming sessions by source address
    std::uint64_t next_ = 1;
};

}  // namespace referkit::stack
