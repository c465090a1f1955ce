// INVITE sessions, our side of each transaction (RFC 3261 §13.2, §14.1, §15): the responses to our
// INVITE, re-INVITE and BYE, the ACK of each 2xx (§13.2.2.4) and 2xx from other forks.
#include <algorithm>
#include <iterator>

#include "../stack/stack_impl.hpp"
#include "invite_session.hpp"
#include "referkit/core/header_id.hpp"

namespace referkit::stack {

void Sessions::on_invite_response(InviteSession& s, TransactionEvent& ev, const Message* m, Time now) {
    const int status = m != nullptr ? m->status() : (ev.kind == EventKind::timeout ? 408 : 503);
    if (status < 200) {
        if (m == nullptr || status == 100) return;
        if (!m->to().tag.empty() && !s.dialog) {  // §12.1.2: an early dialog
            auto made = Dialog::as_uac(s.invite.dialog_fields(), *m);
            if (made && s_.dialogs.size() < s_.config.ua.max_dialogs) {
                DialogEntry& d = s_.dialogs.add(std::move(*made), s.transport, ev.source.connection, 1);
                d.session = s.id;
                s.dialog = d.id;
            }
        }
        if (s.dialog) s.state = SessionState::proceeding;
        emit(SessionEventKind::session_progress, s, status, *m);
        return;
    }
    if (status < 300 && m != nullptr && ev.kind == EventKind::response) {
        auto cit = s_.clients.find(ev.id.value);
        if (cit == s_.clients.end() || !cit->second.ack) return;
        InviteAck& owner = *cit->second.ack;
        const std::string tag(m->to().tag);
        DialogEntry* d = s_.dialogs.find(s.dialog);
        if (d != nullptr && d->dialog.info().remote_tag != tag) {  // the early dialog of another fork
            const DialogId old = s.dialog;
            d->session = {};
            s.dialog = {};
            s_.release_usage(old);
            d = nullptr;
        }
        if (d == nullptr) {
            auto made = Dialog::as_uac(owner.fields, *m);
            if (!made) {
                s.invite_tx = {};
                end_session(s, EndCause::failed, status, *m, now);
                return;
            }
            // The connection the answer came on carries the dialog's later requests (RFC 7118 §5: a WS
            // peer's Contact is not reachable, only its connection is).
            d = &s_.dialogs.add(std::move(*made), s.transport, ev.source.connection, 1);
            d->session = s.id;
            s.dialog = d->id;
        } else {
            d->dialog.confirm(m);
        }
        owner.to_tag = tag;
        s.state = SessionState::confirmed;
        if (s.cancel_requested) {  // §15: a 2xx after our CANCEL is acknowledged, then the call is ended
            send_ack(owner, *d, owner.fields.cseq, {}, now);
            start_bye(s, EndCause::cancelled, 0, now);
            return;
        }
        emit(SessionEventKind::session_answered, s, status, *m);
        std::string ack_body;
        bool failed = false;
        if (s.offered) {  // RFC 3264: the 2xx carries the answer
            MediaDirection dir = MediaDirection::sendrecv;
            if (!sdp_body(*m) || !take_answer(s, m->body(), dir)) failed = true;
            else emit(SessionEventKind::answer_received, s, 0, std::nullopt, dir);
        } else if (!sdp_body(*m)) {  // §13.2.1: no offer in the INVITE: the 2xx must carry one
            failed = true;
        } else {
            auto sdp = parse_sdp(m->body());
            emit(SessionEventKind::offer_received, s, 0, std::nullopt,
                 sdp ? audio_direction(*sdp) : MediaDirection::sendrecv);
            auto a = make_answer(s, m->body());
            if (a) ack_body = std::move(*a);
            else failed = true;
        }
        send_ack(owner, *d, owner.fields.cseq, ack_body, now);  // §13.2.2.4
        if (failed) {  // §13.2.2.4: acknowledge, then end the session
            start_bye(s, EndCause::failed, 488, now);
            return;
        }
        emit(SessionEventKind::session_confirmed, s, status);
        return;
    }
    if ((status == 401 || status == 407) && m != nullptr && !s.cancel_requested) {
        if (auto id = s_.sender.retry_with_credentials(s.invite, *m, now)) {
            s.invite_tx = *id;
            s_.own_client(*id, ClientRole::invite, s.id.value,
                          std::make_unique<InviteAck>(InviteAck{.ack = std::nullopt, .ack_destination = {},
                                                                .to_tag = {}, .fields = s.invite.dialog_fields(),
                                                                .auth = s.invite.auth}));
            return;
        }
    }
    s.invite_tx = {};  // the final response arrived: the layer ends the transaction itself
    EndCause cause = ev.kind == EventKind::response ? EndCause::rejected : EndCause::failed;
    if (s.cancel_requested) cause = EndCause::cancelled;
    end_session(s, cause, status, m != nullptr ? std::optional<Message>(*m) : std::nullopt, now);
}

void Sessions::send_ack(InviteAck& owner, DialogEntry& d, std::uint32_t cseq, const std::string& body, Time now) {
    // §13.2.2.4: built like any request in the dialog, with the INVITE's CSeq number and credentials.
    OutgoingRequest ack = d.dialog.request("ACK", cseq);
    for (const Outgoing::Auth& a : owner.auth) ack.headers.emplace_back(a.header, a.value);
    if (!s_.config.ua.user_agent.empty()) ack.headers.emplace_back("User-Agent", s_.config.ua.user_agent);
    if (!body.empty()) {
        ack.content_type = "application/sdp";
        ack.body = body;
    }
    auto dest = s_.sender.dialog_destination(d);
    if (!dest) return;
    owner.ack = std::move(ack);
    owner.ack_destination = *dest;
    (void)s_.txl.send_stateless(*owner.ack, owner.ack_destination, now);
}

void Sessions::on_repeated_2xx(InviteAck& owner, bool initial_invite, const Message& m, Time now) {
    if (m.to().tag == owner.to_tag && owner.ack) {
        (void)s_.txl.send_stateless(*owner.ack, owner.ack_destination, now);  // §13.2.2.4: ACK each 2xx
        return;
    }
    if (initial_invite && !m.to().tag.empty() && m.to().tag != owner.to_tag) {
        const Transport t = owner.ack ? owner.ack_destination.transport : s_.config.ua.default_transport;
        ack_and_bye_fork(owner.fields, owner.auth, m, t, now);
    }
}

void Sessions::ack_and_bye_fork(const DialogRequestFields& fields, const std::vector<Outgoing::Auth>& auth,
                                const Message& m, Transport t, Time now) {
    // §13.2.2.4: a 2xx from a second fork is acknowledged, then that dialog is ended with BYE.
    auto made = Dialog::as_uac(fields, m);
    if (!made) return;
    DialogEntry tmp;
    tmp.dialog = std::move(*made);
    tmp.transport = t;
    InviteAck ack_owner;
    ack_owner.auth = auth;
    send_ack(ack_owner, tmp, fields.cseq, {}, now);
    Outgoing o = s_.sender.in_dialog(tmp, "BYE", {}, false, false);
    if (auto tx = s_.sender.send(o, now)) s_.own_client(*tx, ClientRole::detached, 0);
}

void Sessions::on_bye_response(InviteSession& s, TransactionEvent& ev, const Message* m, Time now) {
    const int status = m != nullptr ? m->status() : (ev.kind == EventKind::timeout ? 408 : 503);
    if (status < 200) return;
    if ((status == 401 || status == 407) && m != nullptr) {
        if (auto id = s_.sender.retry_with_credentials(s.bye, *m, now)) {
            s.bye_tx = *id;
            s_.own_client(*id, ClientRole::bye, s.id.value);
            return;
        }
    }
    if (status == 500 && m != nullptr && !s.bye_resent) {
        // RFC 3261 §12.2.2: the peer refuses 500 a request whose CSeq is lower than one it already
        // took; a later request of ours in this dialog (a NOTIFY, say) may have overtaken the BYE.
        // Send the BYE once more with a fresh CSeq, or the peer keeps a call we consider over.
        s.bye_resent = true;
        start_bye(s, s.end_cause, s.end_status, now);
        return;
    }
    end_session(s, s.end_cause, s.end_status != 0 ? s.end_status : status,
                m != nullptr ? std::optional<Message>(*m) : std::nullopt, now);
}

void Sessions::on_reinvite_response(InviteSession& s, TransactionEvent& ev, const Message* m, Time now) {
    const int status = m != nullptr ? m->status() : (ev.kind == EventKind::timeout ? 408 : 503);
    if (status < 200) return;
    if (status < 300 && m != nullptr && ev.kind == EventKind::response) {
        s.reinvite_pending = false;
        s.reinvite_tx = {};
        auto cit = s_.clients.find(ev.id.value);
        DialogEntry* d = s_.dialogs.find(s.dialog);
        // A re-INVITE without offer (RFC 3261 §14.1): the 2xx carries the peer's offer, the ACK our answer.
        const bool offered = !s.reinvite.request.body.empty();
        std::string ack_body;
        bool answer_failed = false;
        if (!offered && s.state != SessionState::ending) {
            auto sdp = sdp_body(*m) ? parse_sdp(m->body()) : std::expected<Sdp, ParseError>(std::unexpected(ParseError{}));
            if (sdp) {
                emit(SessionEventKind::offer_received, s, 0, *m, audio_direction(*sdp));
                auto a = make_answer(s, m->body());
                if (a) ack_body = std::move(*a);
                else answer_failed = true;
            } else {
                answer_failed = true;
            }
        }
        if (cit != s_.clients.end() && cit->second.ack && d != nullptr) {
            InviteAck& owner = *cit->second.ack;
            owner.to_tag = std::string(m->to().tag);
            owner.auth = s.reinvite.auth;
            d->dialog.refresh_target(*m);  // §12.2.1.2: a 2xx to a target refresh
            send_ack(owner, *d, s.reinvite.request.cseq, ack_body, now);  // §13.2.2.4
        }
        if (s.state == SessionState::ending) return;
        if (!offered) {
            if (answer_failed) {  // §13.2.2.4 / RFC 3264: no usable offer: acknowledged, then ended
                start_bye(s, EndCause::failed, 488, now);
                return;
            }
            emit(SessionEventKind::session_confirmed, s, status);
            return;
        }
        MediaDirection dir = MediaDirection::sendrecv;
        if (sdp_body(*m) && take_answer(s, m->body(), dir)) {
            emit(SessionEventKind::answer_received, s, 0, *m, dir);
        } else {
            s.local_direction = s.previous_direction;
            emit(SessionEventKind::reinvite_failed, s, 488, *m);
        }
        return;
    }
    if ((status == 401 || status == 407) && m != nullptr && s.state != SessionState::ending) {
        if (auto id = s_.sender.retry_with_credentials(s.reinvite, *m, now)) {
            s.reinvite_tx = *id;
            s_.own_client(*id, ClientRole::reinvite, s.id.value,
                          std::make_unique<InviteAck>(InviteAck{.ack = std::nullopt, .ack_destination = {},
                                                                .to_tag = {}, .fields = s.reinvite.dialog_fields(),
                                                                .auth = s.reinvite.auth}));
            return;
        }
    }
    s.reinvite_tx = {};
    s.reinvite_pending = false;
    if (s.state == SessionState::ending) return;
    if (status == 491) {
        // §14.1: the Call-ID's owner (the dialog's UAC) waits 2.1-4 s, the other 0-2 s, in 10 ms units.
        const std::uint64_t r = s_.random();
        const Duration wait = s.uac ? std::chrono::milliseconds(2100 + static_cast<std::int64_t>(r % 191) * 10)
                                    : std::chrono::milliseconds(static_cast<std::int64_t>(r % 201) * 10);
        s.reinvite_retry_at = now + wait;
        s.timer_reinvite.arm(s_.timers, *s.reinvite_retry_at,
                             TimerRef{.kind = TimerKind::session_reinvite, .id = s.id.value});
        s.reinvite_pending = true;
        return;
    }
    // §12.2.1.2, RFC 5057 §5.1 Table 1: 481 destroys the usage; 404, 410, 416, 482-485, 502 and 604
    // the whole dialog. Either way the INVITE usage is over, without a BYE.
    static constexpr int usage_gone[] = {481, 404, 410, 416, 482, 483, 484, 485, 502, 604};
    if (std::find(std::begin(usage_gone), std::end(usage_gone), status) != std::end(usage_gone)) {
        end_session(s, EndCause::failed, status, m != nullptr ? std::optional<Message>(*m) : std::nullopt, now);
        return;
    }
    if (status == 408) {  // §12.2.1.2: terminate the dialog
        start_bye(s, EndCause::failed, 408, now);
        return;
    }
    s.local_direction = s.previous_direction;
    emit(SessionEventKind::reinvite_failed, s, status, m != nullptr ? std::optional<Message>(*m) : std::nullopt);
}

}  // namespace referkit::stack
