// INVITEs with Replaces inside the Stack (RFC 3891 §3): see replacer.hpp.
#include "replacer.hpp"

#include <vector>

#include "../stack/stack_impl.hpp"
#include "referkit/core/header_id.hpp"
#include "referkit/core/replaces.hpp"

namespace referkit::stack {

bool Replacer::takes(const SessionEvent& e) const {
    return s_.config.refer.handle_replaces && e.message && e.message->count(HeaderId::replaces) > 0;
}

void Replacer::forget_old(Time now) {
    // Calls ended longer ago than the memory (RFC 3891 §3's 603 window) are forgotten.
    while (!ended_order_.empty() && now - ended_order_.front().second > s_.config.refer.ended_memory) {
        ended_.erase(ended_order_.front().first);
        ended_order_.pop_front();
    }
}

void Replacer::on_session_ended(SessionId session, DialogId dialog, Time now) {
    forget_old(now);
    const DialogEntry* d = s_.dialogs.find(dialog);
    if (d == nullptr) return;
    const DialogInfo& i = d->dialog.info();
    if (i.remote_tag.empty()) return;
    std::string key = dialog_key(i.call_id, i.local_tag, i.remote_tag);
    ended_[key] = session;
    ended_order_.emplace_back(std::move(key), now);
}

void Replacer::on_invite(SessionId session, const Message& invite, Time now) {
    forget_old(now);
    // The dialog the Replaces value names (§3: to-tag is our tag, from-tag the peer's), live or
    // ended recently: at most one candidate, found by index.
    std::vector<ReplacesCandidate> candidates;
    std::string remote_uri;  // the matched live call's remote party (R39)
    if (auto r = invite.replaces(); r && !r->call_id.empty()) {
        const std::string key = dialog_key(r->call_id, r->to_tag, r->from_tag);
        ReplacesCandidate c{.key = 0, .call_id = std::string(r->call_id), .local_tag = std::string(r->to_tag),
                            .remote_tag = std::string(r->from_tag), .state = ReplacesDialogState::confirmed,
                            .we_are_uac = false, .invite_dialog = true};
        const DialogEntry* d = s_.dialogs.find(r->call_id, r->to_tag, r->from_tag);
        const InviteSession* live = d != nullptr ? s_.sessions.find(d->session) : nullptr;
        if (live != nullptr && live->id != session) {
            c.key = live->id.value;
            switch (live->state) {
                case SessionState::calling:
                case SessionState::proceeding: c.state = ReplacesDialogState::early; c.we_are_uac = true; break;
                case SessionState::incoming: c.state = ReplacesDialogState::early; break;
                case SessionState::accepted:
                case SessionState::confirmed: c.state = ReplacesDialogState::confirmed; break;
                case SessionState::ending: c.state = ReplacesDialogState::terminated; break;
            }
            remote_uri = d->dialog.info().remote_uri;
            candidates.push_back(std::move(c));
        } else if (auto it = ended_.find(key); it != ended_.end()) {
            c.key = it->second.value;
            c.state = ReplacesDialogState::terminated;  // gone, still remembered
            candidates.push_back(std::move(c));
        }
    }
    auto decision = decide_replaces(invite, candidates);
    if (!decision) return;
    ReplacesDecision d = *decision;
    const SessionId old{d.key};
    const ReferConfig& c = s_.config.refer;
    // §3: a match with a live call (to replace, or 486 for early-only) needs the initiator's
    // authorization: by default only the call's remote party or one it referred (R39).
    if (d.action != ReplacesAction::reject || d.status == 486) {
        const ReplaceRelation relation = replace_relation(invite, remote_uri);
        const bool allowed = c.authorize_replace ? c.authorize_replace(invite, old, relation)
                                                 : default_authorize_replace(relation);
        if (!allowed)
            d = ReplacesDecision{.action = ReplacesAction::reject, .status = 403, .reason = "Forbidden", .key = d.key};
    }
    auto event = [&](TransfereeEventKind kind, int status) {
        s_.emit(TransfereeEvent{.kind = kind, .handle = {}, .session = session, .replaced = old, .status = status,
                                .target = {}, .cause = ReferServerCause::none});
    };
    switch (d.action) {
        case ReplacesAction::reject:
            (void)s_.sessions.reject(session, d.status, d.reason, now);
            event(TransfereeEventKind::replace_rejected, d.status);
            return;
        case ReplacesAction::replace_confirmed:
        case ReplacesAction::replace_early: {
            // §3: accept the new INVITE, then shut the matched dialog down.
            auto answered = s_.sessions.answer(session, AnswerOptions{.status = 200, .reason = {}, .headers = {},
                                                                       .body = std::nullopt},
                                               now);
            if (!answered) {
                // §3: if the new INVITE cannot be accepted, the matched dialog stays unchanged.
                (void)s_.sessions.reject(session, 500, {}, now);
                event(TransfereeEventKind::replace_rejected, 500);
                return;
            }
            if (d.action == ReplacesAction::replace_confirmed) (void)s_.sessions.bye(old, now);
            else (void)s_.sessions.cancel(old, now);
            event(TransfereeEventKind::replaced, 200);
            return;
        }
    }
}

}  // namespace referkit::stack
