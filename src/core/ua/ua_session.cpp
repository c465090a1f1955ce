// INVITE sessions of UserAgentCore (RFC 3261 §13-15, RFC 3264 offer/answer, RFC 5057 usages).
#include <algorithm>
#include <iterator>

#include "referkit/core/header_id.hpp"
#include "referkit/core/writer.hpp"
#include "ua_impl.hpp"

namespace referkit {

using namespace ua;

namespace {

UaEvent event(UaEventKind kind, SessionId s, DialogId d) {
    return UaEvent{.kind = kind, .session = s, .dialog = d, .request = {}, .incoming = {}, .message = std::nullopt,
                   .method = {}, .status = 0, .final = false, .cause = EndCause::failed,
                   .direction = MediaDirection::sendrecv};
}

bool sdp_body(const Message& m) {
    if (m.body().empty()) return false;
    if (m.find(HeaderId::content_type) == nullptr) return true;  // §7.4.1: default application/sdp
    auto ct = m.content_type();
    return ct && ct->is("application", "sdp");
}

DialogRequestFields fields_of(const Outgoing& o) {
    return DialogRequestFields{.call_id = o.call_id, .local_tag = o.from_tag, .local_uri = o.from_uri,
                               .remote_uri = o.to_uri, .request_uri = o.request_uri, .cseq = o.cseq};
}

}  // namespace

Session* UserAgentCore::Impl::session(SessionId id) {
    auto it = sessions.find(id.value);
    return it == sessions.end() ? nullptr : &it->second;
}

std::string UserAgentCore::Impl::make_offer(Session& s, MediaDirection d) {
    ++s.sdp_version;
    if (config.sdp.make_offer) return config.sdp.make_offer(s.id, s.sdp_version, d);
    return make_sdp_offer(config.sdp_local, s.sdp_version, d);
}

std::expected<std::string, int> UserAgentCore::Impl::make_answer(Session& s, std::string_view offer) {
    ++s.sdp_version;
    if (config.sdp.make_answer) return config.sdp.make_answer(s.id, s.sdp_version, offer);
    auto sdp = parse_sdp(offer);
    if (!sdp) return std::unexpected(static_cast<int>(sdp.error().status));
    auto a = make_sdp_answer(config.sdp_local, s.sdp_version, *sdp, s.local_direction);
    if (!a) return std::unexpected(488);  // RFC 3264 §6: no acceptable stream
    return *a;
}

bool UserAgentCore::Impl::take_answer(Session& s, std::string_view answer, MediaDirection& direction) {
    auto sdp = parse_sdp(answer);
    if (!sdp) return false;
    direction = audio_direction(*sdp);
    if (config.sdp.take_answer) return config.sdp.take_answer(s.id, answer);
    return true;
}

void UserAgentCore::Impl::end_session(Session& s, EndCause cause, int status, std::optional<Message> m) {
    UaEvent e = event(UaEventKind::session_ended, s.id, s.dialog);
    e.cause = cause;
    e.status = status;
    e.message = std::move(m);
    emit(std::move(e));
    // A UAC INVITE still waiting for its final response (a BYE on the early dialog ended it) holds
    // no timer in Proceeding (§17.1.1.2): the TU ends it.
    if (s.uac && s.invite_tx && (s.state == SessionState::calling || s.state == SessionState::proceeding))
        (void)txl.abandon(s.invite_tx, Time{});
    const DialogId d = s.dialog;
    if (DialogEntry* de = dialog(d); de != nullptr && de->session == s.id) de->session = {};
    sessions.erase(s.id.value);  // s is gone from here
    if (d) release_usage(d);     // RFC 5057: BYE ends the INVITE usage only
}

// ---------------------------------------------------------------- UAC

void UserAgentCore::Impl::on_invite_response(Session& s, TransactionEvent& ev, const Message* m, Time now) {
    const int status = m != nullptr ? m->status() : (ev.kind == EventKind::timeout ? 408 : 503);
    if (status < 200) {
        if (m == nullptr || status == 100) return;
        if (!m->to().tag.empty() && !s.dialog) {  // §12.1.2: an early dialog
            auto made = Dialog::as_uac(fields_of(s.invite), *m);
            if (made && dialogs.size() < config.max_dialogs) {
                DialogEntry& d = add_dialog(std::move(*made), s.transport, ev.source.connection, 1);
                d.session = s.id;
                s.dialog = d.id;
            }
        }
        if (s.dialog) s.state = SessionState::proceeding;
        UaEvent e = event(UaEventKind::session_progress, s.id, s.dialog);
        e.status = status;
        e.message = *m;
        emit(std::move(e));
        return;
    }
    if (status < 300 && m != nullptr && ev.kind == EventKind::response) {
        auto cit = clients.find(ev.id.value);
        if (cit == clients.end()) return;
        ClientOwner& owner = cit->second;
        const std::string tag(m->to().tag);
        DialogEntry* d = dialog(s.dialog);
        if (d != nullptr && d->dialog.info().remote_tag != tag) {  // the early dialog of another fork
            const DialogId old = s.dialog;
            d->session = {};
            s.dialog = {};
            release_usage(old);
            d = nullptr;
        }
        if (d == nullptr) {
            auto made = Dialog::as_uac(owner.fields, *m);
            if (!made) {
                s.invite_tx = {};
                end_session(s, EndCause::failed, status, *m);
                return;
            }
            // The connection the answer came on carries the dialog's later requests (RFC 7118 §5: a WS
            // peer's Contact is not reachable, only its connection is).
            d = &add_dialog(std::move(*made), s.transport, ev.source.connection, 1);
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
        UaEvent answered = event(UaEventKind::session_answered, s.id, s.dialog);
        answered.status = status;
        answered.message = *m;
        emit(std::move(answered));
        std::string ack_body;
        bool failed = false;
        if (s.offered) {  // RFC 3264: the 2xx carries the answer
            MediaDirection dir = MediaDirection::sendrecv;
            if (!sdp_body(*m) || !take_answer(s, m->body(), dir)) {
                failed = true;
            } else {
                UaEvent a = event(UaEventKind::answer_received, s.id, s.dialog);
                a.direction = dir;
                emit(std::move(a));
            }
        } else if (!sdp_body(*m)) {  // §13.2.1: no offer in the INVITE: the 2xx must carry one
            failed = true;
        } else {
            auto sdp = parse_sdp(m->body());
            UaEvent o = event(UaEventKind::offer_received, s.id, s.dialog);
            o.direction = sdp ? audio_direction(*sdp) : MediaDirection::sendrecv;
            emit(std::move(o));
            auto a = make_answer(s, m->body());
            if (a) ack_body = std::move(*a);
            else failed = true;
        }
        send_ack(owner, *d, owner.fields.cseq, ack_body, now);  // §13.2.2.4
        if (failed) {  // §13.2.2.4: acknowledge, then end the session
            start_bye(s, EndCause::failed, 488, now);
            return;
        }
        UaEvent c = event(UaEventKind::session_confirmed, s.id, s.dialog);
        c.status = status;
        emit(std::move(c));
        return;
    }
    if ((status == 401 || status == 407) && m != nullptr && !s.cancel_requested) {
        if (auto id = retry_with_credentials(s.invite, *m, now)) {
            s.invite_tx = *id;
            clients[id->value] = ClientOwner{.role = ClientRole::invite, .owner = s.id.value, .ack = {},
                                             .ack_destination = {}, .to_tag = {}, .fields = fields_of(s.invite),
                                             .auth = s.invite.auth};
            return;
        }
    }
    s.invite_tx = {};  // the final response arrived: the layer ends the transaction itself
    EndCause cause = ev.kind == EventKind::response ? EndCause::rejected : EndCause::failed;
    if (s.cancel_requested) cause = EndCause::cancelled;
    end_session(s, cause, status, m != nullptr ? std::optional<Message>(*m) : std::nullopt);
}

void UserAgentCore::Impl::send_ack(ClientOwner& owner, DialogEntry& d, std::uint32_t cseq, const std::string& body,
                                   Time now) {
    // §13.2.2.4: built like any request in the dialog, with the INVITE's CSeq number and credentials.
    MessageWriter w = d.dialog.start_request("ACK", cseq);
    for (const Outgoing::Auth& a : owner.auth) w.header(a.header, a.value);
    if (!config.user_agent.empty()) w.header(HeaderId::user_agent, config.user_agent);
    if (!body.empty()) w.body("application/sdp", body);
    auto bytes = w.finish();
    auto dest = dialog_destination(d);
    if (!bytes || !dest) return;
    owner.ack = std::move(*bytes);
    owner.ack_destination = *dest;
    (void)txl.send_stateless(owner.ack, owner.ack_destination, now);
}

void UserAgentCore::Impl::on_repeated_2xx(ClientOwner& owner, const Message& m, Time now) {
    if (owner.role != ClientRole::invite && owner.role != ClientRole::reinvite) return;
    if (m.to().tag == owner.to_tag && !owner.ack.empty()) {
        (void)txl.send_stateless(owner.ack, owner.ack_destination, now);  // §13.2.2.4: ACK each 2xx
        return;
    }
    if (owner.role == ClientRole::invite && !m.to().tag.empty() && m.to().tag != owner.to_tag) {
        const Transport t = owner.ack.empty() ? config.default_transport : owner.ack_destination.transport;
        ack_and_bye_fork(owner.fields, owner.auth, m, t, now);
    }
}

void UserAgentCore::Impl::ack_and_bye_fork(const DialogRequestFields& fields, const std::vector<Outgoing::Auth>& auth,
                                           const Message& m, Transport t, Time now) {
    // §13.2.2.4: a 2xx from a second fork is acknowledged, then that dialog is ended with BYE.
    auto made = Dialog::as_uac(fields, m);
    if (!made) return;
    DialogEntry tmp;
    tmp.dialog = std::move(*made);
    tmp.transport = t;
    ClientOwner ack_owner;
    ack_owner.auth = auth;
    send_ack(ack_owner, tmp, fields.cseq, {}, now);
    Outgoing o = in_dialog(tmp, "BYE", {}, false, false);
    if (auto tx = send(o, now))
        clients[tx->value] = ClientOwner{.role = ClientRole::detached, .owner = 0, .ack = {}, .ack_destination = {},
                                         .to_tag = {}, .fields = {}, .auth = {}};
}

void UserAgentCore::Impl::start_bye(Session& s, EndCause cause, int status, Time now) {
    s.pending_2xx.reset();
    s.reinvite_retry_at.reset();
    s.bye_after_ack = false;
    s.end_cause = cause;
    s.end_status = status;
    DialogEntry* d = dialog(s.dialog);
    if (d == nullptr) {
        end_session(s, cause, status, std::nullopt);
        return;
    }
    const std::uint32_t before = d->dialog.info().local_cseq;
    Outgoing o = in_dialog(*d, "BYE", {}, false, false);
    auto tx = send(o, now);
    if (!tx) {
        d->dialog.set_local_cseq(before);
        end_session(s, cause, status != 0 ? status : 503, std::nullopt);
        return;
    }
    s.bye = std::move(o);
    s.bye_tx = *tx;
    s.state = SessionState::ending;
    clients[tx->value] = ClientOwner{.role = ClientRole::bye, .owner = s.id.value, .ack = {}, .ack_destination = {},
                                     .to_tag = {}, .fields = {}, .auth = {}};
}

void UserAgentCore::Impl::on_bye_response(Session& s, TransactionEvent& ev, const Message* m, Time now) {
    const int status = m != nullptr ? m->status() : (ev.kind == EventKind::timeout ? 408 : 503);
    if (status < 200) return;
    if ((status == 401 || status == 407) && m != nullptr) {
        if (auto id = retry_with_credentials(s.bye, *m, now)) {
            s.bye_tx = *id;
            clients[id->value] = ClientOwner{.role = ClientRole::bye, .owner = s.id.value, .ack = {},
                                             .ack_destination = {}, .to_tag = {}, .fields = {}, .auth = {}};
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
                m != nullptr ? std::optional<Message>(*m) : std::nullopt);
}

std::expected<void, UaError> UserAgentCore::Impl::send_reinvite(Session& s, const std::string& body, Time now) {
    DialogEntry* d = dialog(s.dialog);
    if (d == nullptr) return std::unexpected(UaError::no_such_dialog);
    const std::uint32_t before = d->dialog.info().local_cseq;
    Outgoing o = in_dialog(*d, "INVITE", {}, true, true);
    o.content_type = body.empty() ? std::string() : std::string("application/sdp");
    o.body = body;
    auto tx = send(o, now);
    if (!tx) {
        d->dialog.set_local_cseq(before);
        return std::unexpected(tx.error());
    }
    s.reinvite = std::move(o);
    s.reinvite_tx = *tx;
    s.reinvite_pending = true;
    clients[tx->value] = ClientOwner{.role = ClientRole::reinvite, .owner = s.id.value, .ack = {},
                                     .ack_destination = {}, .to_tag = {}, .fields = fields_of(s.reinvite),
                                     .auth = {}};
    return {};
}

void UserAgentCore::Impl::on_reinvite_response(Session& s, TransactionEvent& ev, const Message* m, Time now) {
    const int status = m != nullptr ? m->status() : (ev.kind == EventKind::timeout ? 408 : 503);
    if (status < 200) return;
    if (status < 300 && m != nullptr && ev.kind == EventKind::response) {
        s.reinvite_pending = false;
        s.reinvite_tx = {};
        auto cit = clients.find(ev.id.value);
        DialogEntry* d = dialog(s.dialog);
        // A re-INVITE without offer (RFC 3261 §14.1): the 2xx carries the peer's offer, the ACK our answer.
        const bool offered = !s.reinvite.body.empty();
        std::string ack_body;
        bool answer_failed = false;
        if (!offered && s.state != SessionState::ending) {
            auto sdp = sdp_body(*m) ? parse_sdp(m->body()) : std::expected<Sdp, ParseError>(std::unexpected(ParseError{}));
            if (sdp) {
                UaEvent o = event(UaEventKind::offer_received, s.id, s.dialog);
                o.direction = audio_direction(*sdp);
                o.message = *m;
                emit(std::move(o));
                auto a = make_answer(s, m->body());
                if (a) ack_body = std::move(*a);
                else answer_failed = true;
            } else {
                answer_failed = true;
            }
        }
        if (cit != clients.end() && d != nullptr) {
            cit->second.to_tag = std::string(m->to().tag);
            cit->second.auth = s.reinvite.auth;
            d->dialog.refresh_target(*m);  // §12.2.1.2: a 2xx to a target refresh
            send_ack(cit->second, *d, s.reinvite.cseq, ack_body, now);  // §13.2.2.4
        }
        if (s.state == SessionState::ending) return;
        if (!offered) {
            if (answer_failed) {  // §13.2.2.4 / RFC 3264: no usable offer: acknowledged, then ended
                start_bye(s, EndCause::failed, 488, now);
                return;
            }
            UaEvent c = event(UaEventKind::session_confirmed, s.id, s.dialog);
            c.status = status;
            emit(std::move(c));
            return;
        }
        MediaDirection dir = MediaDirection::sendrecv;
        if (sdp_body(*m) && take_answer(s, m->body(), dir)) {
            UaEvent a = event(UaEventKind::answer_received, s.id, s.dialog);
            a.direction = dir;
            a.message = *m;
            emit(std::move(a));
        } else {
            s.local_direction = s.previous_direction;
            UaEvent f = event(UaEventKind::reinvite_failed, s.id, s.dialog);
            f.status = 488;
            f.message = *m;
            emit(std::move(f));
        }
        return;
    }
    if ((status == 401 || status == 407) && m != nullptr && s.state != SessionState::ending) {
        if (auto id = retry_with_credentials(s.reinvite, *m, now)) {
            s.reinvite_tx = *id;
            clients[id->value] = ClientOwner{.role = ClientRole::reinvite, .owner = s.id.value, .ack = {},
                                             .ack_destination = {}, .to_tag = {}, .fields = fields_of(s.reinvite),
                                             .auth = s.reinvite.auth};
            return;
        }
    }
    s.reinvite_tx = {};
    s.reinvite_pending = false;
    if (s.state == SessionState::ending) return;
    if (status == 491) {
        // §14.1: the Call-ID's owner (the dialog's UAC) waits 2.1-4 s, the other 0-2 s, in 10 ms units.
        const std::uint64_t r = random();
        const Duration wait = s.uac ? std::chrono::milliseconds(2100 + static_cast<std::int64_t>(r % 191) * 10)
                                    : std::chrono::milliseconds(static_cast<std::int64_t>(r % 201) * 10);
        s.reinvite_retry_at = now + wait;
        s.reinvite_pending = true;
        return;
    }
    // §12.2.1.2, RFC 5057 §5.1 Table 1: 481 destroys the usage; 404, 410, 416, 482-485, 502 and 604
    // the whole dialog. Either way the INVITE usage is over, without a BYE.
    static constexpr int usage_gone[] = {481, 404, 410, 416, 482, 483, 484, 485, 502, 604};
    if (std::find(std::begin(usage_gone), std::end(usage_gone), status) != std::end(usage_gone)) {
        end_session(s, EndCause::failed, status, m != nullptr ? std::optional<Message>(*m) : std::nullopt);
        return;
    }
    if (status == 408) {  // §12.2.1.2: terminate the dialog
        start_bye(s, EndCause::failed, 408, now);
        return;
    }
    s.local_direction = s.previous_direction;
    UaEvent f = event(UaEventKind::reinvite_failed, s.id, s.dialog);
    f.status = status;
    if (m != nullptr) f.message = *m;
    emit(std::move(f));
}

// ---------------------------------------------------------------- UAS

void UserAgentCore::Impl::on_invite(TransactionEvent& ev, Time now) {
    const Message& m = *ev.message;
    if (sessions.size() >= config.max_sessions || dialogs.size() >= config.max_dialogs) {
        respond_simple(ev.id, 486, {}, now);
        return;
    }
    const bool offer = sdp_body(m);
    std::optional<Sdp> sdp;
    if (offer) {
        auto parsed = parse_sdp(m.body());
        if (!parsed) {
            respond_simple(ev.id, parsed.error().status, {}, now);
            return;
        }
        sdp = std::move(*parsed);
    }
    const SessionId id{next_session++};
    Session& s = sessions[id.value];
    s.id = id;
    s.uac = false;
    s.state = SessionState::incoming;
    s.server_tx = ev.id;
    s.request = m;
    s.local_tag = hex(random());
    s.transport = ev.source.transport;
    s.connection = ev.source.connection;
    s.remote_offer = offer;
    servers[ev.id.value] = ServerOwner{.role = ServerRole::invite, .owner = id.value};
    UaEvent in = event(UaEventKind::incoming_call, id, {});
    in.message = m;
    in.method = "INVITE";
    emit(std::move(in));
    if (sdp) {
        UaEvent o = event(UaEventKind::offer_received, id, {});
        o.direction = audio_direction(*sdp);
        emit(std::move(o));
    }
}

void UserAgentCore::Impl::send_2xx(Session& s, Time now) {
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
    (void)txl.respond(p.tx, spec, now);
}

void UserAgentCore::Impl::on_cancel(TransactionEvent& ev, Time now) {
    auto it = servers.find(ev.id.value);
    if (it == servers.end() || it->second.role != ServerRole::invite) return;
    Session* s = session(SessionId{it->second.owner});
    if (s == nullptr || s->state != SessionState::incoming || s->server_tx != ev.id) return;
    respond_simple(ev.id, 487, {}, now);  // §9.2: the INVITE is answered 487 (same To tag as the CANCEL's 200)
    end_session(*s, EndCause::cancelled, 487, ev.message);
}

void UserAgentCore::Impl::on_ack(TransactionEvent& ev, Time now) {
    if (!ev.message) return;
    const Message& m = *ev.message;
    DialogEntry* d = find_dialog(m.call_id(), m.to().tag, m.from().tag);
    if (d == nullptr) return;
    Session* s = session(d->session);
    if (s == nullptr || !s->pending_2xx || m.cseq().number != s->pending_2xx->cseq) return;
    const Pending2xx p = std::move(*s->pending_2xx);
    s->pending_2xx.reset();
    if (p.offer) {  // §13.3.1: our offer was in the 2xx, the answer is in the ACK
        MediaDirection dir = MediaDirection::sendrecv;
        if (!sdp_body(m) || !take_answer(*s, m.body(), dir)) {
            start_bye(*s, EndCause::failed, 488, now);
            return;
        }
        UaEvent a = event(UaEventKind::answer_received, s->id, s->dialog);
        a.direction = dir;
        emit(std::move(a));
    }
    if (s->bye_after_ack) {  // §15: the BYE the application asked for waited for this ACK
        start_bye(*s, EndCause::bye_local, 0, now);
        return;
    }
    if (s->state == SessionState::accepted) s->state = SessionState::confirmed;
    UaEvent c = event(UaEventKind::session_confirmed, s->id, s->dialog);
    c.message = m;
    emit(std::move(c));
}

void UserAgentCore::Impl::on_reinvite(TransactionEvent& ev, DialogEntry& d, Time now) {
    const Message& m = *ev.message;
    Session* s = session(d.session);
    if (s == nullptr || s->state == SessionState::ending) {
        respond_simple(ev.id, 481, {}, now);  // no INVITE usage in this dialog (RFC 5057 §5.2)
        return;
    }
    if (s->reinvite_tx) {
        respond_simple(ev.id, 491, {}, now);  // §14.2: our own INVITE on this dialog is in progress
        return;
    }
    if (s->pending_2xx || s->state != SessionState::confirmed) {
        // §14.2: an earlier INVITE we received is not finished: 500 with Retry-After 0-10 s.
        respond_simple(ev.id, 500, {{"Retry-After", std::to_string(random() % 11)}}, now);
        return;
    }
    d.dialog.refresh_target(m);  // §12.2.2: target refresh
    std::string body;
    bool offer = false;
    if (sdp_body(m)) {
        auto sdp = parse_sdp(m.body());
        if (!sdp) {
            respond_simple(ev.id, sdp.error().status, {}, now);
            return;
        }
        UaEvent o = event(UaEventKind::offer_received, s->id, d.id);
        o.direction = audio_direction(*sdp);
        o.message = m;
        emit(std::move(o));
        auto a = make_answer(*s, m.body());
        if (!a) {  // §14.2: 488 refuses the re-INVITE only; the session stays as it was
            respond_simple(ev.id, a.error(), {}, now);
            return;
        }
        body = std::move(*a);
    } else {
        body = make_offer(*s, s->local_direction);  // §14.2: no offer: ours goes in the 2xx
        offer = true;
    }
    servers[ev.id.value] = ServerOwner{.role = ServerRole::reinvite, .owner = s->id.value};
    HeaderList h{{"Contact", contact_value(s->transport)}};
    add_standard(h, {}, true);
    s->pending_2xx = Pending2xx{.tx = ev.id, .cseq = m.cseq().number, .status = 200, .reason = {}, .headers = std::move(h),
                                .content_type = "application/sdp", .body = std::move(body), .offer = offer,
                                .initial = false, .interval = config.transaction.t1,
                                .next = now + config.transaction.t1, .give_up = now + 64 * config.transaction.t1};
    send_2xx(*s, now);
}

void UserAgentCore::Impl::on_bye(TransactionEvent& ev, DialogEntry& d, Time now) {
    Session* s = session(d.session);
    if (s == nullptr) {
        respond_simple(ev.id, 481, {}, now);  // §15.1.2
        return;
    }
    respond_simple(ev.id, 200, {}, now);
    if (s->state == SessionState::incoming && s->server_tx)
        respond_simple(s->server_tx, 487, {}, now);  // §15.1.2: BYE on an early dialog
    end_session(*s, EndCause::bye_remote, 0, ev.message);
}

// ---------------------------------------------------------------- timers

void UserAgentCore::Impl::session_timers(Time now) {
    std::vector<std::uint64_t> ids;
    for (const auto& [id, s] : sessions)
        if (s.pending_2xx || s.reinvite_retry_at) ids.push_back(id);
    for (std::uint64_t id : ids) {
        Session* s = session(SessionId{id});
        if (s == nullptr) continue;
        if (s->pending_2xx) {
            Pending2xx& p = *s->pending_2xx;
            if (now >= p.give_up) {  // §13.3.1.4: no ACK within 64*T1: end the session with BYE
                start_bye(*s, EndCause::no_ack, 0, now);
                continue;
            }
            if (now >= p.next) {  // §13.3.1.4: T1, doubling up to T2
                send_2xx(*s, now);
                p.interval = std::min(2 * p.interval, config.transaction.t2);
                p.next = std::min(now + p.interval, p.give_up);
            }
        }
        if (s->reinvite_retry_at && now >= *s->reinvite_retry_at) {
            if (s->pending_2xx || s->reinvite_tx) {
                s->reinvite_retry_at = now + config.transaction.t1;  // an incoming INVITE is in progress
                continue;
            }
            s->reinvite_retry_at.reset();
            s->reinvite_pending = false;
            if (s->state != SessionState::confirmed) continue;
            const std::string body = s->reinvite.body;
            if (!send_reinvite(*s, body, now)) {
                s->local_direction = s->previous_direction;
                UaEvent f = event(UaEventKind::reinvite_failed, s->id, s->dialog);
                f.status = 491;
                emit(std::move(f));
            }
        }
    }
}

std::optional<Time> UserAgentCore::Impl::session_deadline() const {
    std::optional<Time> best;
    auto take = [&](Time t) {
        if (!best || t < *best) best = t;
    };
    for (const auto& [id, s] : sessions) {
        if (s.pending_2xx) take(std::min(s.pending_2xx->next, s.pending_2xx->give_up));
        if (s.reinvite_retry_at) take(*s.reinvite_retry_at);
    }
    return best;
}

std::size_t UserAgentCore::Impl::session_timer_count() const {
    std::size_t n = 0;
    for (const auto& [id, s] : sessions) n += (s.pending_2xx ? 1 : 0) + (s.reinvite_retry_at ? 1 : 0);
    return n;
}

// ---------------------------------------------------------------- commands

std::expected<SessionId, UaError> UserAgentCore::invite(const InviteOptions& options, Time now) {
    Impl& I = *impl_;
    if (I.sessions.size() >= I.config.max_sessions || I.dialogs.size() >= I.config.max_dialogs)
        return std::unexpected(UaError::limit_reached);
    auto o = I.out_of_dialog("INVITE", options.target, options.headers, true, true);
    if (!o) return std::unexpected(o.error());
    const SessionId id{I.next_session};
    Session s;
    s.id = id;
    s.uac = true;
    s.state = SessionState::calling;
    s.transport = o->destination.transport;
    if (!options.body) {
        o->body = I.make_offer(s, s.local_direction);
        o->content_type = "application/sdp";
        s.offered = true;
    } else if (!options.body->empty()) {
        o->body = *options.body;
        o->content_type = options.content_type;
        s.offered = true;
    }
    auto tx = I.send(*o, now);
    if (!tx) return std::unexpected(tx.error());
    ++I.next_session;
    s.invite = std::move(*o);
    s.invite_tx = *tx;
    I.clients[tx->value] = ClientOwner{.role = ClientRole::invite, .owner = id.value, .ack = {}, .ack_destination = {},
                                       .to_tag = {}, .fields = fields_of(s.invite), .auth = {}};
    I.sessions.emplace(id.value, std::move(s));
    I.drain(now);
    return id;
}

std::expected<void, UaError> UserAgentCore::cancel(SessionId id, Time now) {
    Impl& I = *impl_;
    Session* s = I.session(id);
    if (s == nullptr) return std::unexpected(UaError::no_such_session);
    if (!s->uac || s->cancel_requested ||
        (s->state != SessionState::calling && s->state != SessionState::proceeding))
        return std::unexpected(UaError::wrong_state);
    auto tx = I.txl.cancel(s->invite_tx, now);  // §9.1: held by the layer until a provisional response
    if (!tx) return std::unexpected(UaError::wrong_state);
    s->cancel_requested = true;
    I.clients[tx->value] = ClientOwner{.role = ClientRole::cancel, .owner = id.value, .ack = {}, .ack_destination = {},
                                       .to_tag = {}, .fields = {}, .auth = {}};
    I.drain(now);
    return {};
}

std::expected<void, UaError> UserAgentCore::answer(SessionId id, const AnswerOptions& options, Time now) {
    Impl& I = *impl_;
    Session* s = I.session(id);
    if (s == nullptr) return std::unexpected(UaError::no_such_session);
    if (s->uac || s->state != SessionState::incoming || !s->server_tx || !s->request)
        return std::unexpected(UaError::wrong_state);
    if (options.status < 101 || options.status > 299) return std::unexpected(UaError::invalid_message);
    const bool ok = options.status >= 200;
    if (!s->dialog) {  // §12.1.1: the dialog (early with a 1xx) of our To tag
        auto made = Dialog::as_uas(*s->request, s->local_tag);
        if (!made) return std::unexpected(UaError::invalid_message);
        DialogEntry& d = I.add_dialog(std::move(*made), s->transport, s->connection, 1);
        d.session = s->id;
        s->dialog = d.id;
    }
    HeaderList h;
    if (!Impl::has_header(options.headers, "Contact")) h.emplace_back("Contact", I.contact_value(s->transport));
    I.add_standard(h, options.headers, ok);
    if (!ok) {
        ResponseSpec spec;
        spec.status = options.status;
        spec.reason = options.reason;
        spec.to_tag = s->local_tag;
        auto v = I.views(h);
        spec.headers = v;
        if (options.body && !options.body->empty()) {
            spec.content_type = "application/sdp";
            spec.body = *options.body;
        }
        if (!I.txl.respond(s->server_tx, spec, now)) return std::unexpected(UaError::invalid_message);
        I.drain(now);
        return {};
    }
    std::string body;
    bool offer = false;
    if (options.body) {
        body = *options.body;
        offer = !s->remote_offer && !body.empty();
    } else if (s->remote_offer) {
        auto a = I.make_answer(*s, s->request->body());
        if (!a) {  // RFC 3264 §6: the offer cannot be answered; the call is refused
            I.respond_simple(s->server_tx, a.error(), {}, now);
            I.end_session(*s, EndCause::rejected, a.error(), std::nullopt);
            I.drain(now);
            return {};
        }
        body = std::move(*a);
    } else {
        body = I.make_offer(*s, s->local_direction);  // §13.3.1: no offer in the INVITE: ours in the 2xx
        offer = true;
    }
    const Duration t1 = I.config.transaction.t1;
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
        auto v = I.views(p.headers);
        spec.headers = v;
        spec.content_type = p.content_type;
        spec.body = p.body;
        if (!I.txl.respond(s->server_tx, spec, now)) {
            s->pending_2xx.reset();
            return std::unexpected(UaError::invalid_message);
        }
    }
    if (DialogEntry* d = I.dialog(s->dialog)) d->dialog.confirm(nullptr);
    s->state = SessionState::accepted;
    UaEvent e = event(UaEventKind::session_answered, s->id, s->dialog);
    e.status = options.status;
    I.emit(std::move(e));
    I.drain(now);
    return {};
}

std::expected<void, UaError> UserAgentCore::reject(SessionId id, int status, std::string_view reason, Time now) {
    Impl& I = *impl_;
    Session* s = I.session(id);
    if (s == nullptr) return std::unexpected(UaError::no_such_session);
    if (s->uac || s->state != SessionState::incoming || !s->server_tx) return std::unexpected(UaError::wrong_state);
    if (status < 300 || status > 699) return std::unexpected(UaError::invalid_message);
    ResponseSpec spec;
    spec.status = status;
    spec.reason = reason;
    spec.to_tag = s->local_tag;
    if (!I.txl.respond(s->server_tx, spec, now)) return std::unexpected(UaError::invalid_message);
    I.end_session(*s, EndCause::rejected, status, std::nullopt);
    I.drain(now);
    return {};
}

std::expected<void, UaError> UserAgentCore::bye(SessionId id, Time now) {
    Impl& I = *impl_;
    Session* s = I.session(id);
    if (s == nullptr) return std::unexpected(UaError::no_such_session);
    switch (s->state) {
        case SessionState::confirmed: I.start_bye(*s, EndCause::bye_local, 0, now); break;
        case SessionState::accepted:
            // §15: the callee sends BYE only after the ACK (or its timeout).
            if (!s->pending_2xx) {
                I.start_bye(*s, EndCause::bye_local, 0, now);
                break;
            }
            s->bye_after_ack = true;
            s->state = SessionState::ending;
            break;
        case SessionState::calling:
        case SessionState::proceeding:
        case SessionState::incoming:
        case SessionState::ending: return std::unexpected(UaError::wrong_state);
    }
    I.drain(now);
    return {};
}

std::expected<void, UaError> UserAgentCore::reinvite(SessionId id, const ReinviteOptions& options, Time now) {
    Impl& I = *impl_;
    Session* s = I.session(id);
    if (s == nullptr) return std::unexpected(UaError::no_such_session);
    if (s->state != SessionState::confirmed || s->reinvite_pending || s->pending_2xx)
        return std::unexpected(UaError::wrong_state);
    s->previous_direction = s->local_direction;
    s->local_direction = options.direction;
    const std::string body = options.body ? *options.body : I.make_offer(*s, options.direction);
    auto r = I.send_reinvite(*s, body, now);
    if (!r) {
        s->local_direction = s->previous_direction;
        return std::unexpected(r.error());
    }
    I.drain(now);
    return {};
}

}  // namespace referkit
