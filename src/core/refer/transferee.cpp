// The transferee's side of REFER inside the Stack (RFC 3515 §2.4.4-§2.4.7, RFC 4488, RFC 6665
// §4.2, RFC 5057 usages): see transferee.hpp.
#include "transferee.hpp"

#include <algorithm>

#include "../stack/stack_impl.hpp"
#include "referkit/core/header_id.hpp"

namespace referkit::stack {

const ReferServerContext* Transferee::find(TransfereeId id) const {
    auto it = transfers_.find(id);
    return it == transfers_.end() ? nullptr : &it->second.ctx;
}

void Transferee::emit(TransfereeEvent e) { s_.emit(std::move(e)); }

void Transferee::rearm(Entry& e) {
    e.timer.set(s_.timers, e.ctx.next_deadline(), TimerRef{.kind = TimerKind::transferee, .id = e.id.value});
}

void Transferee::on_refer(ServerRequest& r, Time now) {
    const ReferConfig& c = s_.config.refer;
    // R40: a referrer that authenticated (ServerAuth) is approved, unless allow_refer_from also
    // restricts who may ask; then both must hold (authentication was enforced before this point).
    const auto approved = [&] {
        const auto& asked = s_.config.ua.server_auth.methods;
        const bool authenticated = !r.authenticated_user.empty();
        if (!authenticated && std::find(asked.begin(), asked.end(), Method::refer) != asked.end()) return false;
        if (c.allow_refer_from) return c.allow_refer_from(r.message, r.source);
        return authenticated;
    };
    if (!r.dialog && c.out_of_dialog_refer != OutOfDialogRefer::allow && !approved()) {
        // R38 (RFC 3515 §5.2): a REFER from outside our dialogs, from a referrer nobody approved,
        // is refused before it is read: 403, no event, nothing placed.
        (void)s_.respond(r, UaResponse{.status = 403, .reason = "Forbidden", .headers = {}, .content_type = {},
                                       .body = {}, .creates_dialog = false},
                         now);
        return;
    }
    auto ctx = ReferServerContext::from_request(r.message, c.server);
    if (!ctx) {
        // RFC 3515 §2.4.2: a malformed REFER gets 400; no context, no event.
        (void)s_.respond(r, UaResponse{.status = ctx.error().status, .reason = ctx.error().reason, .headers = {},
                                       .content_type = {}, .body = {}, .creates_dialog = false},
                         now);
        return;
    }
    ReferServerAnswer answer = ctx->decide(c.refer_policy, now);
    const bool ok = answer.status >= 200 && answer.status < 300;
    // Out of dialog, the 2xx creates the subscription's dialog (RFC 3515 §2.4.4), unless there is
    // no subscription (RFC 4488 §4: no dialog either).
    const bool creates = ok && !r.dialog && ctx->subscription();
    auto d = s_.respond(r, UaResponse{.status = answer.status, .reason = answer.reason,
                                      .headers = std::move(answer.headers), .content_type = {}, .body = {},
                                      .creates_dialog = creates},
                        now);
    if (ok && !d) {
        // The 2xx could not be sent (its dialog would exceed max_dialogs): the REFER is refused
        // 503 instead, so that it is answered and nobody is told it was accepted.
        (void)s_.respond(r, UaResponse{.status = 503, .reason = "Service Unavailable", .headers = {{"Retry-After", "5"}},
                                       .content_type = {}, .body = {}, .creates_dialog = false},
                         now);
        answer.status = 503;
    }
    const TransfereeId id{next_++};
    emit(TransfereeEvent{.kind = TransfereeEventKind::refer_received, .handle = id, .session = {}, .replaced = {},
                         .status = answer.status, .target = ctx->target().uri, .cause = ReferServerCause::none});
    if (!ok || !d) return;  // rejected, or the 2xx could not be sent: no transfer
    Entry& e = transfers_.emplace(id, Entry{.id = id, .ctx = std::move(*ctx), .dialog = r.dialog, .usage = false,
                                            .invite = {}, .invite_done = true, .notify = {}, .timer = {}})
                   .first->second;
    if (creates && *d) {
        e.dialog = *d;
        e.usage = true;  // the dialog was made with one usage, ours
    } else if (e.dialog && e.ctx.subscription()) {
        e.usage = s_.dialogs.use(e.dialog);  // RFC 5057: the subscription is a usage
    }
    if (e.dialog) by_dialog_[e.dialog].push_back(id);
    pump(e, now);  // NOTIFY 100 Trying at once (RFC 3515 §2.4.4)
    auto session = s_.sessions.invite(InviteOptions{.target = e.ctx.target().uri, .headers = e.ctx.invite_headers(),
                                                    .body = std::nullopt, .content_type = "application/sdp"},
                                      now);
    if (session) {
        e.invite = *session;
        e.invite_done = false;
        by_invite_[*session] = id;
        emit(TransfereeEvent{.kind = TransfereeEventKind::transfer_started, .handle = id, .session = *session,
                             .replaced = {}, .status = 0, .target = e.ctx.target().uri,
                             .cause = ReferServerCause::none});
    } else {
        e.ctx.reference_final(now, 503, {});  // RFC 3515 §2.4.5: the reference failed
    }
    pump(e, now);
    collect(e, now);
}

void Transferee::on_subscribe(ServerRequest& r, const Event& event, Time now) {
    const Message& m = r.message;
    Entry* match = nullptr;
    std::size_t candidates = 0;
    if (auto it = r.dialog ? by_dialog_.find(r.dialog) : by_dialog_.end(); it != by_dialog_.end()) {
        for (TransfereeId id : it->second) {
            auto eit = transfers_.find(id);
            if (eit == transfers_.end()) continue;
            Entry& e = eit->second;
            switch (e.ctx.state()) {
                case ReferServerState::active:
                case ReferServerState::terminating: break;  // terminating: on_subscribe answers 481
                case ReferServerState::received:
                case ReferServerState::done: continue;
            }
            if (event.has_id) {
                auto n = parse_uint(event.id, 0xffffffffu);
                if (n && *n == e.ctx.id()) {
                    match = &e;
                    candidates = 1;
                    break;
                }
            } else {
                match = &e;
                ++candidates;
            }
        }
    }
    auto answer = [&](int status, std::string reason, HeaderList headers = {}) {
        (void)s_.respond(r, UaResponse{.status = status, .reason = std::move(reason), .headers = std::move(headers),
                                       .content_type = {}, .body = {}, .creates_dialog = false},
                         now);
    };
    if (match == nullptr || candidates != 1) {
        // RFC 3515 §2.4.4: only REFER creates a refer subscription: a SUBSCRIBE for one that does
        // not exist gets 403.
        answer(403, "Forbidden");
        return;
    }
    std::optional<std::uint32_t> expires;
    if (m.count(HeaderId::expires) > 0) {
        auto e = m.expires();
        if (!e) {
            answer(400, "Bad Request");
            return;
        }
        expires = *e;
    }
    ReferServerAnswer a = match->ctx.on_subscribe(now, expires);
    answer(a.status, std::move(a.reason), std::move(a.headers));
    pump(*match, now);  // RFC 6665 §4.2.1.2: the NOTIFY follows the 200
    collect(*match, now);
}

void Transferee::pump(Entry& e, Time now) {
    while (!e.notify && e.dialog) {
        auto n = e.ctx.poll_notify(now);
        if (!n) return;
        auto sent = s_.requests.send(e.dialog, InDialogRequest{.method = "NOTIFY", .headers = std::move(n->headers),
                                                               .content_type = std::move(n->content_type),
                                                               .body = std::move(n->body)},
                                     RequestOwner::transferee, now);
        if (sent) {
            e.notify = sent->id;
            by_notify_[sent->id] = e.id;
            return;
        }
        if (sent.error() == UaError::no_such_dialog) {
            e.usage = false;
            e.ctx.dialog_terminated();
            return;
        }
        e.ctx.notify_answered(now, 503);  // could not be sent (RFC 3261 §8.1.3.1 treats it as 503)
    }
}

bool Transferee::collect(Entry& e, Time now) {
    while (auto ev = e.ctx.poll_event()) {
        switch (ev->kind) {
            case ReferServerEventKind::notified:
                emit(TransfereeEvent{.kind = TransfereeEventKind::transfer_notified, .handle = e.id, .session = e.invite,
                                     .replaced = {}, .status = ev->status, .target = {},
                                     .cause = ReferServerCause::none});
                break;
            case ReferServerEventKind::ended:
                if (e.usage && e.dialog) s_.release_usage(e.dialog);
                e.usage = false;
                break;
        }
    }
    (void)now;
    if (!e.ctx.done() || !e.invite_done) {
        rearm(e);
        return false;
    }
    emit(TransfereeEvent{.kind = TransfereeEventKind::transfer_ended, .handle = e.id, .session = e.invite,
                         .replaced = {}, .status = e.ctx.reference_final_status().value_or(0), .target = {},
                         .cause = e.ctx.cause()});
    e.timer.cancel(s_.timers);
    if (auto it = by_dialog_.find(e.dialog); it != by_dialog_.end()) {
        std::erase(it->second, e.id);
        if (it->second.empty()) by_dialog_.erase(it);
    }
    if (auto it = by_invite_.find(e.invite); it != by_invite_.end() && it->second == e.id) by_invite_.erase(it);
    if (e.notify) by_notify_.erase(e.notify);
    transfers_.erase(e.id);  // e is gone from here
    return true;
}

void Transferee::on_response(const ResponseEvent& r, Time now) {
    auto it = by_notify_.find(r.request);
    if (it == by_notify_.end()) return;
    if (!r.final) return;
    const TransfereeId id = it->second;
    by_notify_.erase(it);
    auto eit = transfers_.find(id);
    if (eit == transfers_.end() || eit->second.notify != r.request) return;
    Entry& e = eit->second;
    e.notify = {};
    e.ctx.notify_answered(now, r.status);
    pump(e, now);
    collect(e, now);
}

void Transferee::on_session_event(const SessionEvent& ev, Time now) {
    auto it = by_invite_.find(ev.session);
    if (it == by_invite_.end()) return;
    auto eit = transfers_.find(it->second);
    if (eit == transfers_.end()) return;
    Entry& e = eit->second;
    if (e.invite_done) return;
    const std::string_view reason = ev.message ? ev.message->reason() : std::string_view{};
    switch (ev.kind) {
        case SessionEventKind::session_progress: e.ctx.reference_progress(now, ev.status, reason); break;
        case SessionEventKind::session_answered:
            e.invite_done = true;
            e.ctx.reference_final(now, ev.status >= 200 && ev.status < 300 ? ev.status : 200, reason);
            break;
        case SessionEventKind::session_ended: {
            e.invite_done = true;
            int status = ev.status;
            if (status < 300) {
                // Ended before a final status we saw (a 2xx would have raised session_answered).
                switch (ev.cause) {
                    case EndCause::cancelled: status = 487; break;
                    case EndCause::no_ack: status = 408; break;
                    case EndCause::rejected:
                    case EndCause::failed:
                    case EndCause::bye_local:
                    case EndCause::bye_remote: status = 503; break;  // RFC 3515 §2.4.5: reference failed
                }
            }
            e.ctx.reference_final(now, status, reason);
            break;
        }
        case SessionEventKind::incoming_call:
        case SessionEventKind::session_confirmed:
        case SessionEventKind::offer_received:
        case SessionEventKind::answer_received:
        case SessionEventKind::reinvite_failed: return;
    }
    pump(e, now);
    collect(e, now);
}

void Transferee::on_dialog_ended(DialogId dialog, Time now) {
    auto it = by_dialog_.find(dialog);
    if (it == by_dialog_.end()) return;
    const std::vector<TransfereeId> ids = std::move(it->second);
    by_dialog_.erase(it);
    for (TransfereeId id : ids) {
        auto eit = transfers_.find(id);
        if (eit == transfers_.end()) continue;
        Entry& e = eit->second;
        e.usage = false;
        e.notify = {};
        e.ctx.dialog_terminated();
        collect(e, now);
    }
}

void Transferee::on_timer(TransfereeId id, Time now) {
    auto it = transfers_.find(id);
    if (it == transfers_.end()) return;
    Entry& e = it->second;
    e.timer.fired();
    e.ctx.on_timer(now);
    pump(e, now);
    collect(e, now);
}

void Transferee::shut_down(Time now) {
    std::vector<TransfereeId> ids;
    ids.reserve(transfers_.size());
    for (const auto& [id, e] : transfers_) ids.push_back(id);
    std::sort(ids.begin(), ids.end());
    for (TransfereeId id : ids) {
        auto it = transfers_.find(id);
        if (it == transfers_.end()) continue;
        it->second.ctx.shut_down();
        it->second.invite_done = true;  // the INVITE session is the application's from now on
        collect(it->second, now);
    }
}

}  // namespace referkit::stack
