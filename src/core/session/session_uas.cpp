// INVITE sessions, the requests we receive (RFC 3261 §13.3, §14.2, §15.1.2, §9.2): a new INVITE,
// answering it (the 2xx retransmitted until its ACK, §13.3.1.4), re-INVITE, BYE, CANCEL and ACK.
#include <algorithm>

#include "../stack/stack_impl.hpp"
#include "invite_session.hpp"
#include "referkit/core/header_id.hpp"

namespace referkit::stack {

SessionId Sessions::on_invite(TransactionEvent& ev, Time now) {
    const Message& m = *ev.message;
    if (sessions_.size() >= s_.config.ua.max_sessions || s_.dialogs.size() >= s_.config.ua.max_dialogs) {
        s_.sender.respond_simple(ev.id, 486, {}, now);
        return {};
    }
    if (const std::size_t bound = s_.config.ua.max_sessions_per_source; bound != 0) {
        // One source's calls (INVITEs never ACKed included) cannot take max_sessions from others.
        if (auto it = per_source_.find(ev.source.remote.host); it != per_source_.end() && it->second >= bound) {
            s_.sender.respond_simple(ev.id, 503, {{"Retry-After", "5"}}, now);
            return {};
        }
    }
    const bool offer = sdp_body(m);
    std::optional<Sdp> sdp;
    if (offer) {
        auto parsed = parse_sdp(m.body());
        if (!parsed) {
            s_.sender.respond_simple(ev.id, parsed.error().status, {}, now);
            return {};
        }
        sdp = std::move(*parsed);
    }
    const SessionId id{next_++};
    InviteSession& s = sessions_[id];
    s.id = id;
    s.uac = false;
    s.state = SessionState::incoming;
    s.server_tx = ev.id;
    s.request = m;
    s.local_tag = hex(s_.random());
    s.transport = ev.source.transport;
    s.connection = ev.source.connection;
    s.remote_offer = offer;
    s.source = ev.source.remote.host;
    ++per_source_[s.source];
    s_.servers[ev.id.value] = ServerOwner{.role = ServerRole::invite, .owner = id.value};
    emit(SessionEventKind::incoming_call, s, 0, m);
    if (sdp) emit(SessionEventKind::offer_received, s, 0, std::nullopt, audio_direction(*sdp));
    return id;
}

void Sessions::send_2xx(InviteSession& s, Time now) {
    if (!s.pending_2xx) return;
    const Pending2xx& p = *s.pending_2xx;
    ResponseSpec spec;
    spec.status = p.status;
    spec.reason = p.reason;
    spec.to_tag = s.local_tag;
    auto v = views(p.headers);
    spec.headers = v;
    spec.content_type = p.content_type;
    spec.body = p.body;
    (void)s_.txl.respond(p.tx, spec, now);
}

std::expected<void, UaError> Sessions::answer(SessionId id, const AnswerOptions& options, Time now) {
    InviteSession* s = find(id);
    if (s == nullptr) return std::unexpected(UaError::no_such_session);
    if (s->uac || s->state != SessionState::incoming || !s->server_tx || !s->request)
        return std::unexpected(UaError::wrong_state);
    if (options.status < 101 || options.status > 299) return std::unexpected(UaError::invalid_message);
    const bool ok = options.status >= 200;
    if (!s->dialog) {  // §12.1.1: the dialog (early with a 1xx) of our To tag
        auto made = Dialog::as_uas(*s->request, s->local_tag);
        if (!made) return std::unexpected(UaError::invalid_message);
        DialogEntry& d = s_.dialogs.add(std::move(*made), s->transport, s->connection, 1);
        d.session = s->id;
        s->dialog = d.id;
    }
    HeaderList h;
    if (!Sender::has_header(options.headers, "Contact")) h.emplace_back("Contact", s_.sender.contact_value(s->transport));
    s_.sender.add_standard(h, options.headers, ok);
    for (const auto& p : options.headers) h.push_back(p);
    if (!ok) {
        ResponseSpec spec;
        spec.status = options.status;
        spec.reason = options.reason;
        spec.to_tag = s->local_tag;
        auto v = views(h);
        spec.headers = v;
        if (options.body && !options.body->empty()) {
            spec.content_type = "application/sdp";
            spec.body = *options.body;
        }
        if (!s_.txl.respond(s->server_tx, spec, now)) return std::unexpected(UaError::invalid_message);
        return {};
    }
    std::string body;
    bool offer = false;
    if (options.body) {
        body = *options.body;
        offer = !s->remote_offer && !body.empty();
    } else if (s->remote_offer) {
        auto a = make_answer(*s, s->request->body());
        if (!a) {  // RFC 3264 §6: the offer cannot be answered; the call is refused
            s_.sender.respond_simple(s->server_tx, a.error(), {}, now);
            end_session(*s, EndCause::rejected, a.error(), std::nullopt, now);
            return {};
        }
        body = std::move(*a);
    } else {
        body = make_offer(*s, s->local_direction);  // §13.3.1: no offer in the INVITE: ours in the 2xx
        offer = true;
    }
    const Duration t1 = s_.config.ua.transaction.t1;
    s->pending_2xx = Pending2xx{.tx = s->server_tx, .cseq = s->request->cseq().number, .status = options.status,
                                .reason = options.reason, .headers = std::move(h),
                                .content_type = body.empty() ? std::string() : std::string("application/sdp"),
                                .body = std::move(body), .offer = offer, .initial = true, .interval = t1,
                                .next = now + t1, .give_up = now + 64 * t1};
    {
        const Pending2xx& p = *s->pending_2xx;
        ResponseSpec spec;
        spec.status = p.status;
        spec.reason = p.reason;
        spec.to_tag = s->local_tag;
        auto v = views(p.headers);
        spec.headers = v;
        spec.content_type = p.content_type;
        spec.body = p.body;
        if (!s_.txl.respond(s->server_tx, spec, now)) {
            s->pending_2xx.reset();
            return std::unexpected(UaError::invalid_message);
        }
    }
    arm_2xx(*s);
    if (DialogEntry* d = s_.dialogs.find(s->dialog)) d->dialog.confirm(nullptr);
    s->state = SessionState::accepted;
    emit(SessionEventKind::session_answered, *s, options.status);
    return {};
}

void Sessions::on_cancel(TransactionEvent& ev, Time now) {
    auto it = s_.servers.find(ev.id.value);
    if (it == s_.servers.end() || it->second.role != ServerRole::invite) return;
    InviteSession* s = find(SessionId{it->second.owner});
    if (s == nullptr || s->state != SessionState::incoming || s->server_tx != ev.id) return;
    s_.sender.respond_simple(ev.id, 487, {}, now);  // §9.2: the INVITE is answered 487 (same To tag as the CANCEL's 200)
    end_session(*s, EndCause::cancelled, 487, ev.message, now);
}

void Sessions::on_ack(TransactionEvent& ev, Time now) {
    if (!ev.message) return;
    const Message& m = *ev.message;
    DialogEntry* d = s_.dialogs.find(m.call_id(), m.to().tag, m.from().tag);
    if (d == nullptr) return;
    InviteSession* s = find(d->session);
    if (s == nullptr || !s->pending_2xx || m.cseq().number != s->pending_2xx->cseq) return;
    const Pending2xx p = std::move(*s->pending_2xx);
    s->pending_2xx.reset();
    s->timer_2xx.cancel(s_.timers);
    if (p.offer) {  // §13.3.1: our offer was in the 2xx, the answer is in the ACK
        MediaDirection dir = MediaDirection::sendrecv;
        if (!sdp_body(m) || !take_answer(*s, m.body(), dir)) {
            start_bye(*s, EndCause::failed, 488, now);
            return;
        }
        emit(SessionEventKind::answer_received, *s, 0, std::nullopt, dir);
    }
    if (s->bye_after_ack) {  // §15: the BYE the application asked for waited for this ACK
        start_bye(*s, EndCause::bye_local, 0, now);
        return;
    }
    if (s->state == SessionState::accepted) s->state = SessionState::confirmed;
    emit(SessionEventKind::session_confirmed, *s, 0, m);
}

void Sessions::on_reinvite(TransactionEvent& ev, DialogEntry& d, Time now) {
    const Message& m = *ev.message;
    InviteSession* s = find(d.session);
    if (s == nullptr || s->state == SessionState::ending) {
        s_.sender.respond_simple(ev.id, 481, {}, now);  // no INVITE usage in this dialog (RFC 5057 §5.2)
        return;
    }
    if (s->reinvite_tx) {
        s_.sender.respond_simple(ev.id, 491, {}, now);  // §14.2: our own INVITE on this dialog is in progress
        return;
    }
    if (s->pending_2xx || s->state != SessionState::confirmed) {
        // §14.2: an earlier INVITE we received is not finished: 500 with Retry-After 0-10 s.
        s_.sender.respond_simple(ev.id, 500, {{"Retry-After", std::to_string(s_.random() % 11)}}, now);
        return;
    }
    d.dialog.refresh_target(m);  // §12.2.2: target refresh
    std::string body;
    bool offer = false;
    if (sdp_body(m)) {
        auto sdp = parse_sdp(m.body());
        if (!sdp) {
            s_.sender.respond_simple(ev.id, sdp.error().status, {}, now);
            return;
        }
        emit(SessionEventKind::offer_received, *s, 0, m, audio_direction(*sdp));
        auto a = make_answer(*s, m.body());
        if (!a) {  // §14.2: 488 refuses the re-INVITE only; the session stays as it was
            s_.sender.respond_simple(ev.id, a.error(), {}, now);
            return;
        }
        body = std::move(*a);
    } else {
        body = make_offer(*s, s->local_direction);  // §14.2: no offer: ours goes in the 2xx
        offer = true;
    }
    s_.servers[ev.id.value] = ServerOwner{.role = ServerRole::reinvite, .owner = s->id.value};
    HeaderList h{{"Contact", s_.sender.contact_value(s->transport)}};
    s_.sender.add_standard(h, {}, true);
    const Duration t1 = s_.config.ua.transaction.t1;
    s->pending_2xx = Pending2xx{.tx = ev.id, .cseq = m.cseq().number, .status = 200, .reason = {},
                                .headers = std::move(h), .content_type = "application/sdp", .body = std::move(body),
                                .offer = offer, .initial = false, .interval = t1, .next = now + t1,
                                .give_up = now + 64 * t1};
    send_2xx(*s, now);
    arm_2xx(*s);
}

void Sessions::on_bye(TransactionEvent& ev, DialogEntry& d, Time now) {
    InviteSession* s = find(d.session);
    if (s == nullptr) {
        s_.sender.respond_simple(ev.id, 481, {}, now);  // §15.1.2
        return;
    }
    s_.sender.respond_simple(ev.id, 200, {}, now);
    if (s->state == SessionState::incoming && s->server_tx)
        s_.sender.respond_simple(s->server_tx, 487, {}, now);  // §15.1.2: BYE on an early dialog
    end_session(*s, EndCause::bye_remote, 0, ev.message, now);
}

void Sessions::on_server_transport_error(SessionId id, TransactionId tx, Time now) {
    InviteSession* s = find(id);
    if (s != nullptr && s->state == SessionState::incoming && s->server_tx == tx)
        end_session(*s, EndCause::failed, 503, std::nullopt, now);
}

void Sessions::on_server_terminated(SessionId id, TransactionId tx, Time now) {
    InviteSession* s = find(id);
    if (s == nullptr || s->server_tx != tx) return;
    s->server_tx = {};
    if (s->state == SessionState::incoming) end_session(*s, EndCause::failed, 0, std::nullopt, now);
}

}  // namespace referkit::stack
