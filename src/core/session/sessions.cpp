// INVITE sessions: the registry, the commands, timers and the end of a session (RFC 3261 §13-15,
// RFC 5057). Responses to our requests are in session_uac.cpp, requests received in session_uas.cpp.
#include <algorithm>

#include "../stack/stack_impl.hpp"
#include "invite_session.hpp"

namespace referkit::stack {

InviteSession* Sessions::find(SessionId id) {
    auto it = sessions_.find(id);
    return it == sessions_.end() ? nullptr : &it->second;
}

const InviteSession* Sessions::find(SessionId id) const {
    auto it = sessions_.find(id);
    return it == sessions_.end() ? nullptr : &it->second;
}

void Sessions::emit(SessionEventKind kind, const InviteSession& s, int status, std::optional<Message> message,
                    MediaDirection direction, EndCause cause) {
    s_.notice(SessionEvent{.kind = kind, .session = s.id, .dialog = s.dialog, .status = status, .cause = cause,
                           .direction = direction, .message = std::move(message)});
}

std::string Sessions::make_offer(InviteSession& s, MediaDirection d) {
    ++s.sdp_version;
    const UserAgentConfig& c = s_.config.ua;
    if (c.sdp.make_offer) return c.sdp.make_offer(s.id, s.sdp_version, d);
    return make_sdp_offer(c.sdp_local, s.sdp_version, d);
}

std::expected<std::string, int> Sessions::make_answer(InviteSession& s, std::string_view offer) {
    ++s.sdp_version;
    const UserAgentConfig& c = s_.config.ua;
    if (c.sdp.make_answer) return c.sdp.make_answer(s.id, s.sdp_version, offer);
    auto sdp = parse_sdp(offer);
    if (!sdp) return std::unexpected(static_cast<int>(sdp.error().status));
    auto a = make_sdp_answer(c.sdp_local, s.sdp_version, *sdp, s.local_direction);
    if (!a) return std::unexpected(488);  // RFC 3264 §6: no acceptable stream
    return *a;
}

bool sdp_body(const Message& m) {
    if (m.body().empty()) return false;
    if (m.find(HeaderId::content_type) == nullptr) return true;  // §7.4.1: default application/sdp
    auto ct = m.content_type();
    return ct && ct->is("application", "sdp");
}

bool Sessions::take_answer(InviteSession& s, std::string_view answer, MediaDirection& direction) {
    auto sdp = parse_sdp(answer);
    if (!sdp) return false;
    direction = audio_direction(*sdp);
    if (s_.config.ua.sdp.take_answer) return s_.config.ua.sdp.take_answer(s.id, answer);
    return true;
}

void Sessions::end_session(InviteSession& s, EndCause cause, int status, std::optional<Message> m, Time now) {
    emit(SessionEventKind::session_ended, s, status, std::move(m), MediaDirection::sendrecv, cause);
    // A UAC INVITE still waiting for its final response (a BYE on the early dialog ended it) holds
    // no timer in Proceeding (§17.1.1.2): the TU ends it.
    if (s.uac && s.invite_tx && (s.state == SessionState::calling || s.state == SessionState::proceeding))
        (void)s_.txl.abandon(s.invite_tx, now);
    s.timer_2xx.cancel(s_.timers);
    s.timer_reinvite.cancel(s_.timers);
    const DialogId d = s.dialog;
    // RFC 3891 §3: the call is remembered by its dialog's identifiers while they are known.
    s_.replacer.on_session_ended(s.id, d, now);
    if (DialogEntry* de = s_.dialogs.find(d); de != nullptr && de->session == s.id) de->session = {};
    if (!s.uac)
        if (auto it = per_source_.find(s.source); it != per_source_.end() && --it->second == 0) per_source_.erase(it);
    sessions_.erase(s.id);  // s is gone from here
    if (d) s_.release_usage(d);  // RFC 5057: BYE ends the INVITE usage only
}

void Sessions::start_bye(InviteSession& s, EndCause cause, int status, Time now) {
    s.pending_2xx.reset();
    s.timer_2xx.cancel(s_.timers);
    s.reinvite_retry_at.reset();
    s.timer_reinvite.cancel(s_.timers);
    s.bye_after_ack = false;
    s.end_cause = cause;
    s.end_status = status;
    DialogEntry* d = s_.dialogs.find(s.dialog);
    if (d == nullptr) {
        end_session(s, cause, status, std::nullopt, now);
        return;
    }
    const std::uint32_t before = d->dialog.info().local_cseq;
    Outgoing o = s_.sender.in_dialog(*d, "BYE", {}, false, false);
    auto tx = s_.sender.send(o, now);
    if (!tx) {
        d->dialog.set_local_cseq(before);
        end_session(s, cause, status != 0 ? status : 503, std::nullopt, now);
        return;
    }
    s.bye = std::move(o);
    s.bye_tx = *tx;
    s.state = SessionState::ending;
    s_.own_client(*tx, ClientRole::bye, s.id.value);
}

std::expected<void, UaError> Sessions::send_reinvite(InviteSession& s, const std::string& body, Time now) {
    DialogEntry* d = s_.dialogs.find(s.dialog);
    if (d == nullptr) return std::unexpected(UaError::no_such_dialog);
    const std::uint32_t before = d->dialog.info().local_cseq;
    Outgoing o = s_.sender.in_dialog(*d, "INVITE", {}, true, true);
    o.request.content_type = body.empty() ? std::string() : std::string("application/sdp");
    o.request.body = body;
    auto tx = s_.sender.send(o, now);
    if (!tx) {
        d->dialog.set_local_cseq(before);
        return std::unexpected(tx.error());
    }
    s.reinvite = std::move(o);
    s.reinvite_tx = *tx;
    s.reinvite_pending = true;
    s_.own_client(*tx, ClientRole::reinvite, s.id.value,
                  std::make_unique<InviteAck>(InviteAck{.ack = std::nullopt, .ack_destination = {}, .to_tag = {},
                                                        .fields = s.reinvite.dialog_fields(), .auth = {}}));
    return {};
}

void Sessions::arm_2xx(InviteSession& s) {
    if (!s.pending_2xx) {
        s.timer_2xx.cancel(s_.timers);
        return;
    }
    s.timer_2xx.set(s_.timers, std::min(s.pending_2xx->next, s.pending_2xx->give_up),
                    TimerRef{.kind = TimerKind::session_2xx, .id = s.id.value});
}

// ---------------------------------------------------------------- timers

void Sessions::on_2xx_timer(SessionId id, Time now) {
    InviteSession* s = find(id);
    if (s == nullptr) return;
    s->timer_2xx.fired();
    if (!s->pending_2xx) return;
    Pending2xx& p = *s->pending_2xx;
    if (now >= p.give_up) {  // §13.3.1.4: no ACK within 64*T1: end the session with BYE
        start_bye(*s, EndCause::no_ack, 0, now);
        return;
    }
    if (now >= p.next) {  // §13.3.1.4: T1, doubling up to T2
        send_2xx(*s, now);
        p.interval = std::min(2 * p.interval, s_.config.ua.transaction.t2);
        p.next = std::min(now + p.interval, p.give_up);
    }
    arm_2xx(*s);
}

void Sessions::on_reinvite_timer(SessionId id, Time now) {
    InviteSession* s = find(id);
    if (s == nullptr) return;
    s->timer_reinvite.fired();
    if (!s->reinvite_retry_at || now < *s->reinvite_retry_at) return;
    if (s->pending_2xx || s->reinvite_tx) {
        s->reinvite_retry_at = now + s_.config.ua.transaction.t1;  // an incoming INVITE is in progress
        s->timer_reinvite.arm(s_.timers, *s->reinvite_retry_at, TimerRef{.kind = TimerKind::session_reinvite, .id = id.value});
        return;
    }
    s->reinvite_retry_at.reset();
    s->reinvite_pending = false;
    if (s->state != SessionState::confirmed) return;
    const std::string body = s->reinvite.request.body;
    if (!send_reinvite(*s, body, now)) {
        s->local_direction = s->previous_direction;
        emit(SessionEventKind::reinvite_failed, *s, 491);
    }
}

// ---------------------------------------------------------------- commands

std::expected<SessionId, UaError> Sessions::invite(const InviteOptions& options, Time now) {
    if (sessions_.size() >= s_.config.ua.max_sessions || s_.dialogs.size() >= s_.config.ua.max_dialogs)
        return std::unexpected(UaError::limit_reached);
    auto o = s_.sender.out_of_dialog("INVITE", options.target, options.headers, true, true);
    if (!o) return std::unexpected(o.error());
    const SessionId id{next_};
    InviteSession s;
    s.id = id;
    s.uac = true;
    s.state = SessionState::calling;
    s.transport = o->destination.transport;
    if (!options.body) {
        o->request.body = make_offer(s, s.local_direction);
        o->request.content_type = "application/sdp";
        s.offered = true;
    } else if (!options.body->empty()) {
        o->request.body = *options.body;
        o->request.content_type = options.content_type;
        s.offered = true;
    }
    auto tx = s_.sender.send(*o, now);
    if (!tx) return std::unexpected(tx.error());
    ++next_;
    s.invite = std::move(*o);
    s.invite_tx = *tx;
    s_.own_client(*tx, ClientRole::invite, id.value,
                  std::make_unique<InviteAck>(InviteAck{.ack = std::nullopt, .ack_destination = {}, .to_tag = {},
                                                        .fields = s.invite.dialog_fields(), .auth = {}}));
    sessions_.emplace(id, std::move(s));
    return id;
}

std::expected<void, UaError> Sessions::cancel(SessionId id, Time now) {
    InviteSession* s = find(id);
    if (s == nullptr) return std::unexpected(UaError::no_such_session);
    if (!s->uac || s->cancel_requested ||
        (s->state != SessionState::calling && s->state != SessionState::proceeding))
        return std::unexpected(UaError::wrong_state);
    auto tx = s_.txl.cancel(s->invite_tx, now);  // §9.1: held by the layer until a provisional response
    if (!tx) return std::unexpected(UaError::wrong_state);
    s->cancel_requested = true;
    s_.own_client(*tx, ClientRole::cancel, id.value);
    return {};
}

std::expected<void, UaError> Sessions::reject(SessionId id, int status, std::string_view reason, Time now) {
    InviteSession* s = find(id);
    if (s == nullptr) return std::unexpected(UaError::no_such_session);
    if (s->uac || s->state != SessionState::incoming || !s->server_tx) return std::unexpected(UaError::wrong_state);
    if (status < 300 || status > 699) return std::unexpected(UaError::invalid_message);
    ResponseSpec spec;
    spec.status = status;
    spec.reason = reason;
    spec.to_tag = s->local_tag;
    if (!s_.txl.respond(s->server_tx, spec, now)) return std::unexpected(UaError::invalid_message);
    end_session(*s, EndCause::rejected, status, std::nullopt, now);
    return {};
}

std::expected<void, UaError> Sessions::bye(SessionId id, Time now) {
    InviteSession* s = find(id);
    if (s == nullptr) return std::unexpected(UaError::no_such_session);
    switch (s->state) {
        case SessionState::confirmed: start_bye(*s, EndCause::bye_local, 0, now); break;
        case SessionState::accepted:
            // §15: the callee sends BYE only after the ACK (or its timeout).
            if (!s->pending_2xx) {
                start_bye(*s, EndCause::bye_local, 0, now);
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
    return {};
}

std::expected<void, UaError> Sessions::reinvite(SessionId id, const ReinviteOptions& options, Time now) {
    InviteSession* s = find(id);
    if (s == nullptr) return std::unexpected(UaError::no_such_session);
    if (s->state != SessionState::confirmed || s->reinvite_pending || s->pending_2xx)
        return std::unexpected(UaError::wrong_state);
    s->previous_direction = s->local_direction;
    s->local_direction = options.direction;
    const std::string body = options.body ? *options.body : make_offer(*s, options.direction);
    auto r = send_reinvite(*s, body, now);
    if (!r) {
        s->local_direction = s->previous_direction;
        return std::unexpected(r.error());
    }
    return {};
}

}  // namespace referkit::stack
