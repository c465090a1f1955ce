// REFER glue over UserAgentCore (RFC 3515, RFC 6665, RFC 5057 usages).
#include "referkit/core/refer_agent.hpp"

#include <algorithm>

#include "referkit/core/header_id.hpp"

namespace referkit {

ReferAgent::ReferAgent(UserAgentCore& ua, ReferAgentConfig config) : ua_(ua), config_(std::move(config)) {}

namespace {
ReferStartError start_error(const ReferTargetError& e) {
    switch (e.code) {
        case ReferTargetErrc::not_confirmed: return ReferStartError{.code = ReferStartErrc::not_confirmed, .detail = e.detail};
        case ReferTargetErrc::empty:
        case ReferTargetErrc::bad_target:
        case ReferTargetErrc::bad_scheme:
        case ReferTargetErrc::no_domain: break;
    }
    return ReferStartError{.code = ReferStartErrc::bad_target, .detail = e.detail};
}

HeaderList to_ua(ReferHeaderList h) {
    HeaderList out;
    out.reserve(h.size());
    for (auto& p : h) out.emplace_back(std::move(p.first), std::move(p.second));
    return out;
}
}  // namespace

std::expected<ReferHandle, ReferStartError> ReferAgent::refer(SessionId session, std::string_view target,
                                                              ReferOptions options, Time now) {
    auto state = ua_.session_state(session);
    if (!state) return std::unexpected(ReferStartError{.code = ReferStartErrc::no_such_session});
    if (*state != SessionState::confirmed)
        return std::unexpected(ReferStartError{.code = ReferStartErrc::not_confirmed, .detail = "session not confirmed"});
    auto refer_to = make_refer_to(target, ReferToOptions{.display_name = options.display_name,
                                                         .default_domain = config_.default_domain,
                                                         .default_scheme = config_.default_scheme});
    if (!refer_to) return std::unexpected(start_error(refer_to.error()));
    return start(session, std::move(*refer_to), std::move(options), now);
}

std::expected<ReferHandle, ReferStartError> ReferAgent::refer_attended(SessionId session, SessionId other,
                                                                       ReferOptions options, Time now) {
    for (SessionId s : {session, other}) {
        auto state = ua_.session_state(s);
        if (!state) return std::unexpected(ReferStartError{.code = ReferStartErrc::no_such_session});
        if (*state != SessionState::confirmed)
            return std::unexpected(ReferStartError{.code = ReferStartErrc::not_confirmed, .detail = "session not confirmed"});
    }
    auto dialog = ua_.session_dialog(other);
    std::optional<DialogInfo> info = dialog ? ua_.dialog_info(*dialog) : std::nullopt;
    if (!info) return std::unexpected(ReferStartError{.code = ReferStartErrc::not_confirmed, .detail = "no dialog"});
    auto refer_to = make_attended_refer_to(*info, AttendedReferToOptions{.display_name = options.display_name});
    if (!refer_to) return std::unexpected(start_error(refer_to.error()));
    return start(session, std::move(*refer_to), std::move(options), now);
}

std::expected<ReferHandle, ReferStartError> ReferAgent::refer_out_of_dialog(std::string_view request_uri,
                                                                            std::string_view target,
                                                                            ReferOptions options, Time now) {
    auto refer_to = make_refer_to(target, ReferToOptions{.display_name = options.display_name,
                                                         .default_domain = config_.default_domain,
                                                         .default_scheme = config_.default_scheme});
    if (!refer_to) return std::unexpected(start_error(refer_to.error()));
    auto headers = refer_request_headers(*refer_to, options, config_.aor, ua_.allow_value());
    if (!headers) return std::unexpected(start_error(headers.error()));
    auto sent = ua_.send_request(OutOfDialogRequest{.method = "REFER", .target = std::string(request_uri),
                                                    .headers = to_ua(std::move(*headers)), .content_type = {},
                                                    .body = {}, .creates_dialog = true,
                                                    .report_challenges = true},  // SPEC: receiveResponse sees 401/407 too
                                 now);
    if (!sent) return std::unexpected(ReferStartError{.code = ReferStartErrc::ua_refused,
                                                      .detail = std::string(to_string(sent.error())),
                                                      .ua_error = sent.error()});
    ReferHandle h{next_handle_++};
    entries_.push_back(Entry{.handle = h, .ctx = ReferClientContext(std::move(options)), .request = *sent,
                             .session = {}, .dialog = {}, .usage = false});
    entries_.back().ctx.refer_sent(now, 1);  // RFC 3261 §8.1.1.5: a new Call-ID starts at CSeq 1 (corrected by the response)
    return h;
}

std::expected<ReferHandle, ReferStartError> ReferAgent::start(SessionId session, std::string refer_to,
                                                              ReferOptions options, Time now) {
    auto dialog = ua_.session_dialog(session);
    if (!dialog) return std::unexpected(ReferStartError{.code = ReferStartErrc::not_confirmed, .detail = "no dialog"});
    auto headers = refer_request_headers(refer_to, options, config_.aor, ua_.allow_value());
    if (!headers) return std::unexpected(start_error(headers.error()));
    auto sent = ua_.send_in_dialog(*dialog, InDialogRequest{.method = "REFER", .headers = to_ua(std::move(*headers)),
                                                            .content_type = {}, .body = {},
                                                            .report_challenges = true},
                                   now);
    if (!sent) return std::unexpected(ReferStartError{.code = ReferStartErrc::ua_refused,
                                                      .detail = std::string(to_string(sent.error())),
                                                      .ua_error = sent.error()});
    auto info = ua_.dialog_info(*dialog);
    std::uint32_t cseq = info ? info->local_cseq : 0;  // send_in_dialog advanced it to the REFER's CSeq
    bool usage = ua_.add_usage(*dialog).has_value();  // RFC 5057: the subscription is a dialog usage
    ReferHandle h{next_handle_++};
    entries_.push_back(Entry{.handle = h, .ctx = ReferClientContext(std::move(options)), .request = *sent,
                             .session = session, .dialog = *dialog, .usage = usage});
    entries_.back().ctx.refer_sent(now, cseq);
    return h;
}

ReferAgent::Entry* ReferAgent::by_request(RequestId id) {
    for (Entry& e : entries_)
        if (e.request == id) return &e;
    return nullptr;
}

ReferAgent::Entry* ReferAgent::by_handle(ReferHandle h) {
    for (Entry& e : entries_)
        if (e.handle == h) return &e;
    return nullptr;
}

void ReferAgent::sync_ids(Time now) {
    for (Entry& e : entries_) {
        if (e.ctx.state() != ReferState::requesting) continue;
        // RFC 3261 §22.2: the retry with credentials has a higher CSeq; NOTIFYs carry it as id
        // (RFC 3515 §2.4.6), possibly before its final response.
        if (auto info = ua_.request_info(e.request); info && info->local_cseq != e.ctx.id())
            e.ctx.refer_resent(now, info->local_cseq);
    }
}

bool ReferAgent::on_orphan_response(const UaEvent& ev, Time now) {
    auto it = std::find_if(orphans_.begin(), orphans_.end(), [&](const Orphan& o) { return o.request == ev.request; });
    if (it == orphans_.end()) return false;
    if (!ev.final) return true;
    // A 2xx to an out-of-dialog REFER whose context already ended: the dialog it created (with a
    // usage for us) has nothing to carry.
    if (it->release_created_dialog && ev.status < 300 && ev.dialog) (void)ua_.remove_usage(ev.dialog, now);
    orphans_.erase(it);
    return true;
}

bool ReferAgent::handle(const UaEvent& ev, Time now) {
    sync_ids(now);
    switch (ev.kind) {
        case UaEventKind::response: {
            if (on_orphan_response(ev, now)) return true;
            for (Entry& s : entries_) {
                if (!s.subscribe || s.subscribe != ev.request) continue;
                // Our refreshing/unsubscribing SUBSCRIBE (RFC 6665 §4.1.2.2): ours, never the application's.
                if (ev.final) {
                    s.subscribe = {};
                    s.ctx.subscribe_failed(now, ev.status);
                    collect(now);
                }
                return true;
            }
            Entry* e = by_request(ev.request);
            if (e == nullptr) {
                // The final response to one of our NOTIFYs (transferee side).
                for (ServerEntry& s : servers_) {
                    if (!s.notify || s.notify != ev.request) continue;
                    if (!ev.final) return true;
                    s.notify = {};
                    s.ctx.notify_answered(now, ev.status);
                    pump_server(s, now);
                    collect_servers(now);
                    return true;
                }
                return false;
            }
            if (ev.message && e->ctx.options().receive_response) e->ctx.options().receive_response(*ev.message);
            // A 401/407 the core answered with credentials (RFC 3261 §22.2): seen by receive_response
            // only; the REFER is still pending (sync_ids follows the retry's CSeq).
            if (ev.retried) return true;
            ReferResponse r;
            if (ev.message && ev.origin == ResponseOrigin::wire) {
                r = refer_response_from(*ev.message);
                // A digest retry (RFC 3261 §22.2) went out with a higher CSeq: NOTIFYs carry it as id.
                std::uint32_t cseq = ev.message->cseq().number;
                if (cseq != e->ctx.id()) e->ctx.refer_resent(now, cseq);
            } else {
                // Synthesised by the core (with or without a message): 408 for a timeout, 503 for a
                // transport error (RFC 3261 §8.1.3.1). The outcome is failed, not rejected.
                r.status = ev.status;
                r.reason = std::string(reason_phrase(ev.status));
                switch (ev.origin) {
                    case ResponseOrigin::timeout: r.source = ResponseSource::timeout; break;
                    case ResponseOrigin::transport_error: r.source = ResponseSource::transport_error; break;
                    case ResponseOrigin::wire:  // no message from the wire: trust the status
                        r.source = ev.status == 408 ? ResponseSource::timeout : ResponseSource::transport_error;
                        break;
                }
            }
            if (ev.final && r.status < 300 && ev.dialog && !e->dialog) {
                // Out of dialog: the 2xx created the subscription's dialog, with one usage that the
                // core gave to us (RFC 5057; released when the context ends).
                e->dialog = ev.dialog;
                e->usage = true;
            }
            e->ctx.on_response(now, r);
            collect(now);
            return true;
        }
        case UaEventKind::request: {
            if (ev.method == "REFER" && ev.message) return on_refer(ev, now);
            if (ev.method == "SUBSCRIBE" && ev.message) return on_subscribe(ev, now);
            if (ev.method != "NOTIFY" || !ev.message || !ev.dialog) return false;
            if (ev.request) {
                // RFC 6665 §4.1.2.4: this NOTIFY to our out-of-dialog REFER created a dialog (and
                // gave us its usage): before the 2xx, or from another fork.
                Entry* e = by_request(ev.request);
                if (e != nullptr && e->ctx.live() && !e->dialog) {
                    e->dialog = ev.dialog;
                    e->usage = true;
                } else if (e != nullptr && e->ctx.live()) {
                    if (!e->carries(ev.dialog)) e->forks.push_back(ev.dialog);
                } else if (auto package = ev.message->event(); e != nullptr || (package && iequals(package->package, "refer"))) {
                    // Our REFER's context has ended (only a REFER makes refer-package subscriptions):
                    // no subscription for this notifier (§4.1.3); the dialog made for it goes with
                    // our usage.
                    (void)ua_.respond(ev.incoming, UaResponse{.status = 481, .reason = std::string(reason_phrase(481)),
                                                              .headers = {}, .content_type = {}, .body = {},
                                                              .creates_dialog = false},
                                      now);
                    discarded_.push_back(ev.dialog);  // its dialog_ended is ours too
                    (void)ua_.remove_usage(ev.dialog, now);
                    return true;
                }
            }
            auto event = ev.message->event();
            bool refer_package = event && iequals(event->package, "refer");
            // Another event package's NOTIFY (dialog, message-summary, ...) is the application's, even
            // while a refer subscription lives in the same dialog (RFC 6665 §4.1.3: dialog usages are
            // told apart by Event).
            if (event && !refer_package) return false;
            std::vector<std::uint32_t> live;
            for (const Entry& e : entries_)
                if (e.carries(ev.dialog) && e.ctx.live()) live.push_back(e.ctx.id());
            if (live.empty() && !refer_package) return false;  // no Event and nothing of ours: not ours
            ReferNotifyVerdict v = classify_refer_notify(*ev.message, live);
            UaResponse answer{.status = v.status, .reason = std::string(reason_phrase(v.status)), .headers = {},
                              .content_type = {}, .body = {}, .creates_dialog = false};
            if (v.add_accept_sipfrag) answer.headers.emplace_back("Accept", "message/sipfrag");
            (void)ua_.respond(ev.incoming, answer, now);  // SPEC: answer first, then raise events
            if (v.id) {
                for (Entry& e : entries_)
                    if (e.carries(ev.dialog) && e.ctx.live() && e.ctx.id() == *v.id) {
                        e.ctx.on_notify(now, v);
                        break;
                    }
            }
            collect(now);
            return true;
        }
        case UaEventKind::session_ended:
            track(ev, now);
            for (Entry& e : entries_)
                if (e.session == ev.session && ev.session) e.ctx.dialog_terminated(now);
            collect(now);
            for (ServerEntry& s : servers_) {
                if (!ev.session || s.invite != ev.session || s.invite_done) continue;
                s.invite_done = true;
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
                s.ctx.reference_final(now, status, ev.message ? ev.message->reason() : std::string_view{});
                pump_server(s, now);
            }
            collect_servers(now);
            return false;
        case UaEventKind::dialog_ended:
            if (auto it = std::find(discarded_.begin(), discarded_.end(), ev.dialog); it != discarded_.end()) {
                discarded_.erase(it);
                return true;  // a dialog only a late NOTIFY made, never the application's
            }
            for (Entry& e : entries_)
                std::erase(e.forks, ev.dialog);  // a fork's dialog went: the others carry on
            for (Entry& e : entries_)
                if (e.dialog == ev.dialog && ev.dialog) {
                    e.usage = false;  // the dialog is gone with its usages
                    e.ctx.dialog_terminated(now);
                }
            collect(now);
            for (ServerEntry& s : servers_)
                if (ev.dialog && s.dialog == ev.dialog) {
                    s.usage = false;
                    s.notify = {};
                    s.ctx.dialog_terminated();
                }
            collect_servers(now);
            return false;
        case UaEventKind::incoming_call:
            if (config_.handle_replaces && ev.message && ev.message->count(HeaderId::replaces) > 0)
                return on_replaces(ev, now);
            track(ev, now);
            return false;
        case UaEventKind::session_progress:
        case UaEventKind::session_answered:
            track(ev, now);
            for (ServerEntry& s : servers_) {
                if (!ev.session || s.invite != ev.session || s.invite_done) continue;
                std::string_view reason = ev.message ? ev.message->reason() : std::string_view{};
                if (ev.kind == UaEventKind::session_progress) {
                    s.ctx.reference_progress(now, ev.status, reason);
                } else {
                    s.invite_done = true;
                    s.ctx.reference_final(now, ev.status >= 200 && ev.status < 300 ? ev.status : 200, reason);
                }
                pump_server(s, now);
            }
            collect_servers(now);
            return false;
        case UaEventKind::session_confirmed:
        case UaEventKind::offer_received:
        case UaEventKind::answer_received:
        case UaEventKind::reinvite_failed:
            track(ev, now);
            return false;
    }
    return false;
}

// ---------------------------------------------------------------- transferee side

bool ReferAgent::on_refer(const UaEvent& ev, Time now) {
    const Message& m = *ev.message;
    auto ctx = ReferServerContext::from_request(m, config_.server);
    if (!ctx) {
        // RFC 3515 §2.4.2: a malformed REFER gets 400; no context, no event.
        (void)ua_.respond(ev.incoming, UaResponse{.status = ctx.error().status, .reason = ctx.error().reason,
                                                  .headers = {}, .content_type = {}, .body = {},
                                                  .creates_dialog = false},
                          now);
        return true;
    }
    ReferServerAnswer answer = ctx->decide(config_.refer_policy, now);
    const bool ok = answer.status >= 200 && answer.status < 300;
    // Out of dialog, the 2xx creates the subscription's dialog (RFC 3515 §2.4.4), unless there is
    // no subscription (RFC 4488 §4: no dialog either).
    const bool creates = ok && !ev.dialog && ctx->subscription();
    auto d = ua_.respond(ev.incoming, UaResponse{.status = answer.status, .reason = answer.reason,
                                                 .headers = std::move(answer.headers), .content_type = {},
                                                 .body = {}, .creates_dialog = creates},
                         now);
    TransfereeHandle h{next_server_handle_++};
    server_event(TransfereeEvent{.kind = TransfereeEventKind::refer_received, .handle = h, .session = {},
                                 .replaced = {}, .status = answer.status, .target = ctx->target().uri,
                                 .cause = ReferServerCause::none});
    if (!ok || !d) return true;  // rejected, or the core refused the 2xx: no transfer
    ServerEntry e{.handle = h, .ctx = std::move(*ctx), .dialog = ev.dialog, .usage = false, .invite = {},
                  .invite_done = true, .notify = {}};
    if (creates && *d) {
        e.dialog = *d;
        e.usage = true;  // the dialog was made with one usage, ours
    } else if (e.dialog && e.ctx.subscription()) {
        e.usage = ua_.add_usage(e.dialog).has_value();  // RFC 5057: the subscription is a usage
    }
    servers_.push_back(std::move(e));
    ServerEntry& s = servers_.back();
    pump_server(s, now);  // NOTIFY 100 Trying at once (RFC 3515 §2.4.4)
    auto session = ua_.invite(InviteOptions{.target = s.ctx.target().uri, .headers = s.ctx.invite_headers(),
                                            .body = std::nullopt, .content_type = "application/sdp"},
                              now);
    if (session) {
        s.invite = *session;
        s.invite_done = false;
        known_.push_back(KnownSession{.id = *session, .info = std::nullopt, .ended_at = std::nullopt});
        server_event(TransfereeEvent{.kind = TransfereeEventKind::transfer_started, .handle = h, .session = *session,
                                     .replaced = {}, .status = 0, .target = s.ctx.target().uri,
                                     .cause = ReferServerCause::none});
    } else {
        s.ctx.reference_final(now, 503, {});  // RFC 3515 §2.4.5: the reference failed
    }
    pump_server(s, now);
    collect_servers(now);
    return true;
}

bool ReferAgent::on_subscribe(const UaEvent& ev, Time now) {
    const Message& m = *ev.message;
    auto event = m.event();
    if (!event || !iequals(event->package, "refer")) return false;  // another package: not ours
    ServerEntry* match = nullptr;
    std::size_t candidates = 0;
    for (ServerEntry& s : servers_) {
        if (!ev.dialog || s.dialog != ev.dialog) continue;
        switch (s.ctx.state()) {
            case ReferServerState::active:
            case ReferServerState::terminating: break;  // terminating: on_subscribe answers 481
            case ReferServerState::received:
            case ReferServerState::done: continue;
        }
        if (event->has_id) {
            auto id = parse_uint(event->id, 0xffffffffu);
            if (id && *id == s.ctx.id()) {
                match = &s;
                candidates = 1;
                break;
            }
        } else {
            match = &s;
            ++candidates;
        }
    }
    if (match == nullptr || candidates != 1) {
        // RFC 3515 §2.4.4: only REFER creates a refer subscription: a SUBSCRIBE for one that does
        // not exist gets 403.
        (void)ua_.respond(ev.incoming, UaResponse{.status = 403, .reason = "Forbidden", .headers = {},
                                                  .content_type = {}, .body = {}, .creates_dialog = false},
                          now);
        return true;
    }
    std::optional<std::uint32_t> expires;
    if (m.count(HeaderId::expires) > 0) {
        auto e = m.expires();
        if (!e) {
            (void)ua_.respond(ev.incoming, UaResponse{.status = 400, .reason = "Bad Request", .headers = {},
                                                      .content_type = {}, .body = {}, .creates_dialog = false},
                              now);
            return true;
        }
        expires = *e;
    }
    ReferServerAnswer a = match->ctx.on_subscribe(now, expires);
    (void)ua_.respond(ev.incoming, UaResponse{.status = a.status, .reason = a.reason, .headers = std::move(a.headers),
                                              .content_type = {}, .body = {}, .creates_dialog = false},
                      now);
    pump_server(*match, now);  // RFC 6665 §4.2.1.2: the NOTIFY follows the 200
    collect_servers(now);
    return true;
}

void ReferAgent::pump_server(ServerEntry& e, Time now) {
    while (!e.notify && e.dialog) {
        auto n = e.ctx.poll_notify(now);
        if (!n) return;
        auto sent = ua_.send_in_dialog(e.dialog, InDialogRequest{.method = "NOTIFY", .headers = std::move(n->headers),
                                                                 .content_type = std::move(n->content_type),
                                                                 .body = std::move(n->body)},
                                       now);
        if (sent) {
            e.notify = *sent;
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

void ReferAgent::collect_servers(Time now) {
    for (ServerEntry& s : servers_) {
        while (auto ev = s.ctx.poll_event()) {
            switch (ev->kind) {
                case ReferServerEventKind::notified:
                    server_event(TransfereeEvent{.kind = TransfereeEventKind::transfer_notified, .handle = s.handle,
                                                 .session = s.invite, .replaced = {}, .status = ev->status,
                                                 .target = {}, .cause = ReferServerCause::none});
                    break;
                case ReferServerEventKind::ended:
                    if (s.usage && s.dialog) (void)ua_.remove_usage(s.dialog, now);
                    s.usage = false;
                    break;
            }
        }
    }
    std::erase_if(servers_, [&](ServerEntry& s) {
        if (!s.ctx.done() || !s.invite_done) return false;
        server_event(TransfereeEvent{.kind = TransfereeEventKind::transfer_ended, .handle = s.handle,
                                     .session = s.invite, .replaced = {},
                                     .status = s.ctx.reference_final_status().value_or(0), .target = {},
                                     .cause = s.ctx.cause()});
        return true;
    });
}

void ReferAgent::track(const UaEvent& ev, Time now) {
    if (!ev.session) return;
    auto it = std::find_if(known_.begin(), known_.end(), [&](const KnownSession& k) { return k.id == ev.session; });
    if (it == known_.end()) {
        if (ev.kind == UaEventKind::session_ended) return;
        known_.push_back(KnownSession{.id = ev.session, .info = std::nullopt, .ended_at = std::nullopt});
        it = known_.end() - 1;
    }
    if (ev.dialog)
        if (auto info = ua_.dialog_info(ev.dialog)) it->info = std::move(*info);
    if (ev.kind == UaEventKind::session_ended) it->ended_at = now;
    // Forget calls ended longer ago than the memory (RFC 3891 §3's 603 window).
    std::erase_if(known_, [&](const KnownSession& k) { return k.ended_at && now - *k.ended_at > config_.ended_memory; });
}

bool ReferAgent::on_replaces(const UaEvent& ev, Time now) {
    track(ev, now);
    std::vector<ReplacesCandidate> candidates;
    for (const KnownSession& k : known_) {
        if (k.id == ev.session) continue;
        auto state = ua_.session_state(k.id);
        ReplacesCandidate c{.key = k.id.value, .call_id = {}, .local_tag = {}, .remote_tag = {},
                            .state = ReplacesDialogState::confirmed, .we_are_uac = false, .invite_dialog = true};
        std::optional<DialogInfo> info = k.info;
        if (state) {
            if (auto d = ua_.session_dialog(k.id))
                if (auto fresh = ua_.dialog_info(*d)) info = std::move(fresh);
            switch (*state) {
                case SessionState::calling:
                case SessionState::proceeding: c.state = ReplacesDialogState::early; c.we_are_uac = true; break;
                case SessionState::incoming: c.state = ReplacesDialogState::early; break;
                case SessionState::accepted:
                case SessionState::confirmed: c.state = ReplacesDialogState::confirmed; break;
                case SessionState::ending: c.state = ReplacesDialogState::terminated; break;
            }
        } else {
            c.state = ReplacesDialogState::terminated;  // gone from the UA, still remembered
        }
        if (!info || info->remote_tag.empty()) continue;
        c.call_id = info->call_id;
        c.local_tag = info->local_tag;
        c.remote_tag = info->remote_tag;
        candidates.push_back(std::move(c));
    }
    auto decision = decide_replaces(*ev.message, candidates);
    if (!decision) return false;
    ReplacesDecision d = *decision;
    const SessionId old{d.key};
    if (d.action != ReplacesAction::reject && config_.authorize_replace && !config_.authorize_replace(*ev.message, old))
        d = ReplacesDecision{.action = ReplacesAction::reject, .status = 403, .reason = "Forbidden", .key = d.key};
    switch (d.action) {
        case ReplacesAction::reject:
            (void)ua_.reject(ev.session, d.status, d.reason, now);
            server_event(TransfereeEvent{.kind = TransfereeEventKind::replace_rejected, .handle = {},
                                         .session = ev.session, .replaced = old, .status = d.status, .target = {},
                                         .cause = ReferServerCause::none});
            return true;
        case ReplacesAction::replace_confirmed:
        case ReplacesAction::replace_early: {
            // §3: accept the new INVITE, then shut the matched dialog down.
            auto answered = ua_.answer(ev.session, AnswerOptions{.status = 200, .reason = {}, .headers = {},
                                                                 .body = std::nullopt},
                                       now);
            if (!answered) {
                // §3: if the new INVITE cannot be accepted, the matched dialog stays unchanged.
                (void)ua_.reject(ev.session, 500, {}, now);
                server_event(TransfereeEvent{.kind = TransfereeEventKind::replace_rejected, .handle = {},
                                             .session = ev.session, .replaced = old, .status = 500, .target = {},
                                             .cause = ReferServerCause::none});
                return true;
            }
            if (d.action == ReplacesAction::replace_confirmed) (void)ua_.bye(old, now);
            else (void)ua_.cancel(old, now);
            server_event(TransfereeEvent{.kind = TransfereeEventKind::replaced, .handle = {}, .session = ev.session,
                                         .replaced = old, .status = 200, .target = {},
                                         .cause = ReferServerCause::none});
            return true;
        }
    }
    return true;
}

std::optional<TransfereeEvent> ReferAgent::poll_transferee_event() {
    if (server_events_head_ >= server_events_.size()) {
        server_events_.clear();
        server_events_head_ = 0;
        return std::nullopt;
    }
    return std::move(server_events_[server_events_head_++]);
}

const ReferServerContext* ReferAgent::transferee(TransfereeHandle handle) const {
    for (const ServerEntry& s : servers_)
        if (s.handle == handle) return &s.ctx;
    return nullptr;
}

void ReferAgent::on_timer(Time now) {
    for (Entry& e : entries_) {
        e.ctx.on_timer(now);
        if (e.ctx.take_refresh() && e.dialog) {
            // RFC 6665 §4.1.2.2 / RFC 3515 §2.4.6: refresh with SUBSCRIBE carrying Event: refer;id.
            HeaderList h{{"Event", "refer;id=" + std::to_string(e.ctx.id())},
                         {"Expires", std::to_string(config_.refresh_expires)}};
            auto sent = ua_.send_in_dialog(e.dialog, InDialogRequest{.method = "SUBSCRIBE", .headers = std::move(h),
                                                                     .content_type = {}, .body = {}},
                                           now);
            if (sent) track_subscribe(e, *sent);
        }
    }
    collect(now);
    for (ServerEntry& s : servers_) {
        s.ctx.on_timer(now);
        pump_server(s, now);
    }
    collect_servers(now);
}

std::optional<Time> ReferAgent::next_deadline() const {
    std::optional<Time> best;
    for (const Entry& e : entries_)
        if (auto d = e.ctx.next_deadline(); d && (!best || *d < *best)) best = d;
    for (const ServerEntry& s : servers_)
        if (auto d = s.ctx.next_deadline(); d && (!best || *d < *best)) best = d;
    return best;
}

bool ReferAgent::unsubscribe(ReferHandle handle, Time now) {
    Entry* e = by_handle(handle);
    if (e == nullptr || !e->dialog || !e->ctx.unsubscribe(now)) return false;
    HeaderList h{{"Event", "refer;id=" + std::to_string(e->ctx.id())}, {"Expires", "0"}};  // RFC 6665 §4.1.2.3
    auto sent = ua_.send_in_dialog(e->dialog, InDialogRequest{.method = "SUBSCRIBE", .headers = std::move(h),
                                                              .content_type = {}, .body = {}},
                                   now);
    if (sent) track_subscribe(*e, *sent);
    return true;
}

void ReferAgent::shut_down(Time now) {
    for (Entry& e : entries_) e.ctx.shut_down(now);
    collect(now);
    for (ServerEntry& s : servers_) {
        s.ctx.shut_down();
        s.invite_done = true;  // the INVITE session is the application's from now on
    }
    collect_servers(now);
}

std::optional<std::pair<ReferHandle, ReferEvent>> ReferAgent::poll_event() {
    if (events_head_ >= events_.size()) {
        events_.clear();
        events_head_ = 0;
        return std::nullopt;
    }
    return std::move(events_[events_head_++]);
}

const ReferClientContext* ReferAgent::context(ReferHandle handle) const {
    for (const Entry& e : entries_)
        if (e.handle == handle) return &e.ctx;
    return nullptr;
}

void ReferAgent::track_subscribe(Entry& e, RequestId sent) {
    // A newer SUBSCRIBE supersedes the one in flight; the older one's responses are still ours.
    if (e.subscribe) orphans_.push_back(Orphan{.request = e.subscribe, .release_created_dialog = false});
    e.subscribe = sent;
}

void ReferAgent::collect(Time now) {
    for (Entry& e : entries_) {
        while (auto ev = e.ctx.poll_event()) {
            if (ev->kind == ReferEventKind::ended) {
                // The NOTIFY that ended it was answered already; the BYE goes after that 200.
                if (ev->hang_up && e.session) (void)ua_.bye(e.session, now);
                // RFC 3261 §12.2.1.2 (policy): a 481/408 to the REFER ended the dialog for the peer.
                const auto st = e.ctx.final_response_status();
                if (config_.bye_on_refer_481_408 && e.session && st && (*st == 481 || *st == 408) &&
                    ua_.session_state(e.session) == SessionState::confirmed)
                    (void)ua_.bye(e.session, now);
                if (e.usage && e.dialog) (void)ua_.remove_usage(e.dialog, now);
                e.usage = false;
                for (DialogId f : std::exchange(e.forks, {})) (void)ua_.remove_usage(f, now);
                // Responses still to come for this context's requests stay the agent's.
                if (ua_.request_info(e.request))
                    orphans_.push_back(Orphan{.request = e.request, .release_created_dialog = !e.dialog});
                if (e.subscribe) orphans_.push_back(Orphan{.request = e.subscribe, .release_created_dialog = false});
                e.subscribe = {};
            }
            events_.emplace_back(e.handle, std::move(*ev));
        }
    }
    std::erase_if(entries_, [](const Entry& e) { return e.ctx.ended(); });
}

}  // namespace referkit
